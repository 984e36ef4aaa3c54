"""Bitcoin Core's sighash.json (500 legacy signature hashes), and BIP-0143's worked examples."""

import json

import pytest

from coin.primitives import Transaction
from coin.script.sighash import PrecomputedTxData, legacy_sighash, segwit_v0_sighash


def _rows():
    from paths import VECTORS

    rows = json.loads((VECTORS / "sighash.json").read_text())
    return [(n, r) for n, r in enumerate(rows) if len(r) == 5]


ROWS = _rows()


def test_row_count():
    assert len(ROWS) == 500


@pytest.mark.parametrize(
    "row", [r for _, r in ROWS],
    ids=[f"sighash[{n}]-in{r[2]}-type{r[3] & 0xffffffff:#x}" for n, r in ROWS],
)
def test_sighash_vector(row):
    raw_tx, script_hex, index, hash_type, expected = row
    tx = Transaction.from_bytes(bytes.fromhex(raw_tx))
    got = legacy_sighash(tx, index, bytes.fromhex(script_hex), hash_type)
    assert got[::-1].hex() == expected
    # The same through a shared precomputation.
    pre = PrecomputedTxData(tx)
    assert legacy_sighash(tx, index, bytes.fromhex(script_hex), hash_type, pre)[::-1].hex() == expected


# BIP-0143's native P2WPKH example (bip-0143.mediawiki), input 1.
def _bip143_example(vectors_dir):
    text = (vectors_dir / "bips" / "bip-0143.mediawiki").read_text()
    return text


def test_bip143_native_p2wpkh(vectors_dir):
    text = _bip143_example(vectors_dir)
    # Pull the example's unsigned transaction, scriptCode and sigHash from the BIP text.
    start = text.index("=== Native P2WPKH ===")
    section = text[start:text.index("=== P2SH-P2WPKH ===")]
    unsigned = _field(section, "The following is an unsigned transaction:")
    script_code = _field(section, "scriptCode:")
    sighash = _field(section, "sigHash:")
    tx = Transaction.from_bytes(bytes.fromhex(unsigned))
    code = bytes.fromhex(script_code)[1:]  # drop the length prefix
    got = segwit_v0_sighash(tx, 1, code, 600000000, 1)
    assert got.hex() == sighash


def test_bip143_p2sh_p2wpkh(vectors_dir):
    text = _bip143_example(vectors_dir)
    start = text.index("=== P2SH-P2WPKH ===")
    section = text[start:text.index("=== Native P2WSH ===")]
    unsigned = _field(section, "The following is an unsigned transaction:")
    script_code = _field(section, "scriptCode:")
    sighash = _field(section, "sigHash:")
    tx = Transaction.from_bytes(bytes.fromhex(unsigned))
    code = bytes.fromhex(script_code)[1:]
    got = segwit_v0_sighash(tx, 0, code, 1000000000, 1)
    assert got.hex() == sighash


def _field(section: str, label: str) -> str:
    i = section.index(label) + len(label)
    rest = section[i:].lstrip(" :\n")
    word = rest.split()[0]
    return word
