"""BIP-0032 test vectors 1-5 and the BIP-0039 English vectors, read from ../shared/vectors.

The BIP-0032 vectors are parsed out of the text of bip-0032.mediawiki itself; the
BIP-0039 rows come from the reference implementation's JSON (passphrase "TREZOR").
Parametrisation happens at collection time from the same directory the `vectors_dir`
fixture points at (the project root's ../shared/vectors).
"""

import json
import re
from pathlib import Path

import pytest

from coin.params import get_params
from coin.wallet.bip32 import HARDENED, ExtendedKey, decode_extended_key
from coin.wallet.bip39 import (
    InvalidMnemonic,
    entropy_to_mnemonic,
    mnemonic_to_entropy,
    mnemonic_to_seed,
    validate_mnemonic,
)

MAIN = get_params("main")


def _vectors(config) -> Path:
    return Path(config.rootpath).parent / "shared" / "vectors"


def bip32_chains(text: str):
    """[(vector_no, seed_hex, path, xpub, xprv)] for test vectors 1-4, in text order."""
    rows = []
    parts = re.split(r"^===Test vector (\d+)===$", text, flags=re.M)
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        seed = re.search(r"^Seed \(hex\): ([0-9a-f]+)$", body, flags=re.M)
        if seed is None:
            continue
        chain = pub = None
        for line in body.splitlines():
            if m := re.match(r"^\* Chain (m\S*)$", line):
                chain = m.group(1).replace("<sub>H</sub>", "'")
            elif m := re.match(r"^\*\* ext pub: (\w+)$", line):
                pub = m.group(1)
            elif m := re.match(r"^\*\* ext prv: (\w+)$", line):
                rows.append((int(number), seed.group(1), chain, pub, m.group(1)))
    return rows


def bip32_invalid(text: str):
    """[(serialised_key, reason)] from test vector 5."""
    body = re.split(r"^===Test vector 5===$", text, flags=re.M)[1]
    body = body.split("==Acknowledgements==")[0]
    return re.findall(r"^\* (\w+) \((.+)\)$", body, flags=re.M)


def bip39_english(vectors: Path):
    return json.loads((vectors / "bips" / "bip-0039-vectors.json").read_text())["english"]


def pytest_generate_tests(metafunc):
    vectors = _vectors(metafunc.config)
    if not vectors.is_dir():
        return  # the vectors_dir fixture reports the missing directory
    text = (vectors / "bips" / "bip-0032.mediawiki").read_text()
    if "bip32_chain" in metafunc.fixturenames:
        rows = bip32_chains(text)
        metafunc.parametrize(
            "bip32_chain", rows, ids=[f"tv{r[0]}-{r[2]}" for r in rows]
        )
    if "bip32_bad" in metafunc.fixturenames:
        rows = bip32_invalid(text)
        ids = [f"{i}-{re.sub(r'[^a-z0-9]+', '_', r[1].lower()).strip('_')}" for i, r in enumerate(rows)]
        metafunc.parametrize("bip32_bad", rows, ids=ids)
    if "bip39_row" in metafunc.fixturenames:
        rows = bip39_english(vectors)
        metafunc.parametrize(
            "bip39_row", rows, ids=[f"{len(r[0]) * 4}bit-{r[0][:8]}" for r in rows]
        )


def test_vectors_were_found(vectors_dir):
    text = (vectors_dir / "bips" / "bip-0032.mediawiki").read_text()
    rows = bip32_chains(text)
    assert sorted({r[0] for r in rows}) == [1, 2, 3, 4]
    assert len(rows) == 6 + 6 + 2 + 3
    assert len(bip32_invalid(text)) == 16
    assert len(bip39_english(vectors_dir)) == 24


def test_bip32_derivation(vectors_dir, bip32_chain):
    number, seed, chain, xpub, xprv = bip32_chain
    master = ExtendedKey.from_seed(bytes.fromhex(seed))
    node = master.derive(chain)
    assert node.xprv(MAIN) == xprv
    assert node.xpub(MAIN) == xpub
    assert ExtendedKey.from_string(xprv, MAIN) == node
    assert ExtendedKey.from_string(xpub, MAIN) == node.neuter()
    if node.depth and not node.child_number & HARDENED:
        # CKDpub from the parent's public node gives the same public child.
        parent = master.derive(chain.rsplit("/", 1)[0])
        assert parent.neuter().child(node.child_number).xpub(MAIN) == xpub


def test_bip32_invalid_keys_rejected(vectors_dir, bip32_bad):
    text, reason = bip32_bad
    with pytest.raises(ValueError) as excinfo:
        decode_extended_key(text)
    assert str(excinfo.value)  # a message, not a bare ValueError


def test_bip32_invalid_reasons(vectors_dir):
    """The message names the BIP's reason for the cases where the wording is ours to match."""
    keywords = {
        "pubkey version / prvkey mismatch": "public key version",
        "prvkey version / pubkey mismatch": "private key version",
        "invalid pubkey prefix 04": "prefix 04",
        "invalid prvkey prefix 04": "private key version",
        "invalid pubkey prefix 01": "prefix 01",
        "invalid prvkey prefix 01": "private key version",
        "zero depth with non-zero parent fingerprint": "parent fingerprint",
        "zero depth with non-zero index": "child index",
        "unknown extended key version": "unknown extended key version",
        "private key 0 not in 1..n-1": "1..n-1",
        "private key n not in 1..n-1": "1..n-1",
        "invalid checksum": "checksum",
    }
    text = (vectors_dir / "bips" / "bip-0032.mediawiki").read_text()
    for key, reason in bip32_invalid(text):
        with pytest.raises(ValueError) as excinfo:
            decode_extended_key(key)
        want = keywords.get(reason, "curve" if reason.startswith("invalid pubkey 02") else None)
        assert want is not None, reason
        assert want in str(excinfo.value), (reason, str(excinfo.value))


def test_bip39_vector(vectors_dir, bip39_row):
    entropy_hex, words, seed_hex, xprv = bip39_row
    assert entropy_to_mnemonic(bytes.fromhex(entropy_hex)) == words
    assert mnemonic_to_entropy(words) == bytes.fromhex(entropy_hex)
    assert validate_mnemonic(words) == words
    seed = mnemonic_to_seed(words, "TREZOR")
    assert seed.hex() == seed_hex
    assert ExtendedKey.from_seed(seed).xprv(MAIN) == xprv


def test_bip39_vector_checksum_detects_swapped_words(vectors_dir, bip39_row):
    words = bip39_row[1].split()
    swapped = [words[1], words[0], *words[2:]]
    if swapped == words:
        swapped = words[:-1] + [words[-2]]  # "zoo zoo ... wrong": change the last word
    with pytest.raises(InvalidMnemonic):
        mnemonic_to_entropy(" ".join(swapped))
