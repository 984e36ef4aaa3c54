"""coin.crypto.ecc: Core's CPubKey::Verify semantics, RFC 6979 signing, key helpers,
and the two backends (libsecp256k1 via coincurve, pure-Python ecdsa) kept in agreement.

Oracles: Bitcoin Core's script_tests.json (P2PK/P2PKH/P2WPKH rows, with sighashes from
python-bitcoinlib), the worked signatures in BIP-0143, the BIP-0032 test vectors, the
``ecdsa`` package's textbook arithmetic and python-bitcoinlib's OpenSSL keys.
"""

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coin.crypto import ecc
from coin.crypto.base58 import b58check_decode
from coin.crypto.der import SECP256K1_ORDER, encode_der, parse_der_lax

N = SECP256K1_ORDER
P = ecc.SECP256K1_P
G_X = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798

BACKENDS = ecc.available_backends()
both = pytest.mark.skipif(len(BACKENDS) < 2, reason="coincurve not installed: nothing to compare")

privkeys = st.integers(min_value=1, max_value=N - 1).map(lambda k: k.to_bytes(32, "big"))
msgs = st.binary(min_size=32, max_size=32)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return ecc.get_backend(request.param)


def _backends():
    return [ecc.get_backend(name) for name in BACKENDS]


def _native_batch():
    """coin._ecdsa's batch verifier (libsecp256k1 from coincurve), or None."""
    return getattr(ecc.get_backend("coincurve"), "_batch", None) if "coincurve" in BACKENDS else None


def _agree(method, *args):
    """Call ``method`` on every backend; assert they agree (value or ValueError); return it.
    ``verify_signature`` is also asked of the native batch verifier, as a batch of one."""
    results = []
    for b in _backends():
        try:
            results.append(("ok", getattr(b, method)(*args)))
        except ValueError:
            results.append(("ValueError", None))
    batch = _native_batch()
    if method == "verify_signature" and batch is not None:
        try:
            results.append(("ok", batch([args]) is None))
        except ValueError:
            results.append(("ValueError", None))
    assert all(r == results[0] for r in results), (method, [a.hex() if isinstance(a, bytes) else a for a in args],
                                                   results)
    return results[0][1]


def _hybrid(pub65: bytes) -> bytes:
    return bytes([6 | (pub65[64] & 1)]) + pub65[1:]


# --------------------------------------------------------------------------- selection

def test_backend_selection():
    assert "ecdsa" in BACKENDS
    start = ecc.get_backend()
    try:
        assert ecc.set_backend("ecdsa").name == "ecdsa"
        assert ecc.get_backend().name == "ecdsa"
        k = (7).to_bytes(32, "big")
        assert ecc.verify_signature(ecc.pubkey_from_privkey(k), ecc.sign(k, bytes(32)), bytes(32))
        with pytest.raises(ValueError):
            ecc.set_backend("openssl")
        assert ecc.get_backend().name == "ecdsa"
    finally:
        ecc.set_backend(start.name)


@pytest.mark.parametrize("name", ["ecdsa", "coincurve"])
def test_env_var_selects_backend(name):
    if name not in BACKENDS:
        pytest.skip(f"{name} not available")
    env = dict(os.environ, COIN_ECDSA_BACKEND=name)
    out = subprocess.run([sys.executable, "-c", "from coin.crypto import ecc; print(ecc.get_backend().name)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == name


def test_default_is_libsecp256k1_when_available():
    env = {k: v for k, v in os.environ.items() if k != "COIN_ECDSA_BACKEND"}
    out = subprocess.run([sys.executable, "-c", "from coin.crypto import ecc; print(ecc.get_backend().name)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == BACKENDS[0]


# --------------------------------------------------------------------------- keys

def test_generator_and_known_keys(backend):
    one = (1).to_bytes(32, "big")
    assert backend.pubkey_from_privkey(one) == b"\x02" + G_X.to_bytes(32, "big")
    # N - 1 gives -G: same x, odd y.
    assert backend.pubkey_from_privkey((N - 1).to_bytes(32, "big")) == b"\x03" + G_X.to_bytes(32, "big")


@settings(max_examples=30, deadline=None)
@given(privkeys)
def test_pubkeys_match_openssl_oracle(priv):
    from bitcoin.core.key import CECKey

    key = CECKey()
    key.set_secretbytes(priv)
    key.set_compressed(True)
    want_c = key.get_pubkey()
    key.set_compressed(False)
    want_u = key.get_pubkey()
    assert _agree("pubkey_from_privkey", priv, True) == want_c
    assert _agree("pubkey_from_privkey", priv, False) == want_u
    assert ecc.compress_pubkey(want_u) == want_c
    assert ecc.decompress_pubkey(want_c) == want_u
    assert ecc.compress_pubkey(_hybrid(want_u)) == want_c


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(32), N.to_bytes(32, "big"), (N + 1).to_bytes(32, "big"),
                                 b"\xff" * 32, b"\x01" * 33], ids=lambda b: f"len{len(b)}-{b[:2].hex()}")
def test_invalid_private_keys(backend, bad):
    assert not ecc.is_valid_privkey(bad)
    with pytest.raises(ValueError):
        backend.pubkey_from_privkey(bad)
    with pytest.raises(ValueError):
        backend.sign(bad, bytes(32))


def _invalid_pubkeys():
    g = ecc.get_backend("ecdsa").pubkey_from_privkey((1).to_bytes(32, "big"), False)
    x, y = g[1:33], g[33:]
    odd = bytes([g[64] & 1])
    yield "empty", b""
    yield "prefix-only", b"\x02"
    yield "compressed-x-ge-p", b"\x02" + P.to_bytes(32, "big")
    yield "compressed-x-max", b"\x03" + b"\xff" * 32
    # x = 5: x^3 + 7 = 132 is not a square mod p (checked below), so there is no such point.
    yield "compressed-off-curve", b"\x02" + (5).to_bytes(32, "big")
    yield "compressed-bad-prefix", b"\x05" + x
    yield "compressed-len-with-04", b"\x04" + x
    yield "uncompressed-short", g[:64]
    yield "uncompressed-long", g + b"\x00"
    yield "uncompressed-off-curve", b"\x04" + x + ((int.from_bytes(y, "big") + 1) % P).to_bytes(32, "big")
    yield "uncompressed-y-ge-p", b"\x04" + x + (int.from_bytes(y, "big") + P).to_bytes(33, "big")[1:]
    yield "hybrid-wrong-parity", bytes([7 - odd[0]]) + x + y
    yield "65-bytes-prefix-02", b"\x02" + x + y
    yield "65-bytes-prefix-05", b"\x05" + x + y
    yield "raw-64", x + y
    yield "bip32-tv5-x-7", bytes.fromhex("020000000000000000000000000000000000000000000000000000000000000007")


@pytest.mark.parametrize("name,pub", list(_invalid_pubkeys()), ids=[n for n, _ in _invalid_pubkeys()])
def test_invalid_pubkeys(name, pub):
    if name == "compressed-off-curve":
        assert pow(132, (P - 1) // 2, P) != 1
    assert _agree("is_valid_pubkey", pub) is False
    sig = ecc.get_backend("ecdsa").sign((1).to_bytes(32, "big"), bytes(32))
    assert _agree("verify_signature", pub, sig, bytes(32)) is False
    with pytest.raises(ValueError):
        ecc.compress_pubkey(pub)
    with pytest.raises(ValueError):
        ecc.pubkey_tweak_add(pub, (1).to_bytes(32, "big"))


@given(privkeys)
@settings(max_examples=25, deadline=None)
def test_valid_pubkey_forms(priv):
    e = ecc.get_backend("ecdsa")
    c, u = e.pubkey_from_privkey(priv, True), e.pubkey_from_privkey(priv, False)
    for pub in (c, u, _hybrid(u)):
        assert _agree("is_valid_pubkey", pub) is True


@settings(max_examples=25, deadline=None)
@given(privkeys, st.integers(min_value=0, max_value=N - 1), st.booleans())
def test_tweak_add(priv, t, compressed):
    tweak = t.to_bytes(32, "big")
    k = int.from_bytes(priv, "big")
    pub = ecc.get_backend("ecdsa").pubkey_from_privkey(priv, compressed)
    if (k + t) % N == 0:
        with pytest.raises(ValueError):
            ecc.privkey_tweak_add(priv, tweak)
        assert _agree("pubkey_tweak_add", pub, tweak) is None
        return
    new_priv = ecc.privkey_tweak_add(priv, tweak)
    assert int.from_bytes(new_priv, "big") == (k + t) % N
    assert _agree("pubkey_tweak_add", pub, tweak) == ecc.get_backend("ecdsa").pubkey_from_privkey(new_priv, compressed)


def test_tweak_errors(backend):
    priv = (5).to_bytes(32, "big")
    pub = backend.pubkey_from_privkey(priv)
    with pytest.raises(ValueError):
        ecc.privkey_tweak_add(priv, N.to_bytes(32, "big"))
    with pytest.raises(ValueError):
        ecc.privkey_tweak_add(priv, (N - 5).to_bytes(32, "big"))  # sum is zero
    with pytest.raises(ValueError):
        ecc.privkey_tweak_add(priv, b"\x01")
    with pytest.raises(ValueError):
        backend.pubkey_tweak_add(pub, N.to_bytes(32, "big"))
    with pytest.raises(ValueError):
        backend.pubkey_tweak_add(pub, (N - 5).to_bytes(32, "big"))  # point at infinity
    assert backend.pubkey_tweak_add(pub, bytes(32)) == pub


# --------------------------------------------------------------------------- BIP32 vectors

def _bip32_chains(text: str):
    """[(vector number, path, xpub, xprv)] in document order, parsed from the BIP text."""
    out = []
    vector, path = None, None
    pub = None
    for line in text.splitlines():
        m = re.match(r"===Test vector (\d+)===", line)
        if m:
            vector = int(m.group(1))
        m = re.match(r"\* Chain (m[^ ]*)", line)
        if m:
            path = m.group(1).replace("<sub>H</sub>", "H")
        m = re.match(r"\*\* ext pub: (\w+)", line)
        if m:
            pub = m.group(1)
        m = re.match(r"\*\* ext prv: (\w+)", line)
        if m:
            out.append((vector, path, pub, m.group(1)))
    return out


def test_bip32_vectors_keys_and_tweaks(vectors_dir):
    chains = _bip32_chains((vectors_dir / "bips" / "bip-0032.mediawiki").read_text())
    assert len(chains) >= 17  # vectors 1 to 4
    parsed = {}
    for vector, path, xpub, xprv in chains:
        pub_raw, prv_raw = b58check_decode(xpub), b58check_decode(xprv)
        assert prv_raw[45] == 0
        chain_code, priv, pub = prv_raw[13:45], prv_raw[46:78], pub_raw[45:78]
        assert pub_raw[13:45] == chain_code
        assert _agree("pubkey_from_privkey", priv, True) == pub
        parsed[(vector, path)] = (chain_code, priv, pub)
        parent_path, _, last = path.rpartition("/")
        if not parent_path:
            continue
        pcc, ppriv, ppub = parsed[(vector, parent_path)]
        hardened = last.endswith("H")
        index = int(last.rstrip("H")) + (0x80000000 if hardened else 0)
        data = (b"\x00" + ppriv if hardened else ppub) + index.to_bytes(4, "big")
        il_ir = hmac.new(pcc, data, hashlib.sha512).digest()
        assert il_ir[32:] == chain_code, path
        assert ecc.privkey_tweak_add(ppriv, il_ir[:32]) == priv, path
        if not hardened:
            assert _agree("pubkey_tweak_add", ppub, il_ir[:32]) == pub, path


def test_bip32_vector5_invalid_keys(vectors_dir):
    text = (vectors_dir / "bips" / "bip-0032.mediawiki").read_text()
    section = text.split("===Test vector 5===")[1].split("==Acknowledgements==")[0]
    items = re.findall(r"^\* (\w+) \((.*)\)$", section, re.M)
    assert len(items) >= 15
    seen = set()
    for key, reason in items:
        if reason == "invalid checksum":
            with pytest.raises(ValueError):
                b58check_decode(key)
            seen.add(reason)
            continue
        raw = b58check_decode(key)
        body = raw[45:78]
        if reason.startswith("private key"):
            assert body[0] == 0 and not ecc.is_valid_privkey(body[1:])
            seen.add(reason)
        elif reason.startswith("invalid pubkey"):
            assert _agree("is_valid_pubkey", body) is False
            seen.add(reason)
    assert len(seen) == 6


# --------------------------------------------------------------------------- BIP143 signatures

def _bip143_signatures(text: str):
    """[(title, sighash, private key or None, signature, pubkey or None)] from the examples."""
    # A key listed after a sigHash signs it; otherwise (the P2WPKH examples list the
    # keys with the inputs) the last key listed before the sigHash in the same example.
    out = []
    title, sighash, priv, last_priv = None, None, None, None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("==="):
            title, last_priv = line.strip("= "), None
        m = re.match(r"\s*sighash:\s+([0-9a-f]{64})", line, re.I)
        if m:
            sighash, priv = bytes.fromhex(m.group(1)), last_priv
        m = re.match(r"\s*private key\s*:\s+([0-9a-f]{64})", line)
        if m:
            last_priv = bytes.fromhex(m.group(1))
            if sighash is not None:
                priv = last_priv
        m = re.match(r"\s*signature:\s+([0-9a-f]+)( ?[0-9a-f]{2})?\s*$", line)
        if m and sighash is not None:
            sig = bytes.fromhex(m.group(1) + (m.group(2) or "").strip())
            pm = re.match(r"\s*pubkey:\s+([0-9a-f]+)", lines[i + 1]) if i + 1 < len(lines) else None
            out.append((title, sighash, priv, sig, bytes.fromhex(pm.group(1)) if pm else None))
            sighash, priv = None, None
    return out


def _bip143_cases():
    # Parametrisation happens at collection, before fixtures: same path as the
    # vectors_dir fixture (../shared/vectors from the project root).
    from pathlib import Path

    path = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "bips" / "bip-0143.mediawiki"
    return _bip143_signatures(path.read_text()) if path.exists() else []


_BIP143 = _bip143_cases()


def test_bip143_cases_found():
    assert len(_BIP143) >= 12
    assert sum(1 for c in _BIP143 if c[2] is not None) >= 11


@pytest.mark.parametrize("title,sighash,priv,sig,pub", _BIP143,
                         ids=[f"{c[0]}-{c[3][-8:].hex()}" for c in _BIP143])
def test_bip143_signatures(backend, title, sighash, priv, sig, pub):
    der = sig[:-1]
    # BIP143 prints sigHash in internal byte order (sha256d of the preimage as bytes).
    if priv is not None:
        pub = backend.pubkey_from_privkey(priv)
        if der == encode_der(*parse_der_lax(der)) and parse_der_lax(der)[1] <= N // 2:
            # Deterministic low-S signature: RFC 6979 reproduces it byte for byte.
            assert backend.sign(priv, sighash) == der
    assert backend.verify_signature(pub, der, sighash)
    assert not backend.verify_signature(pub, der, bytes(32))


def test_bip143_p2wpkh_preimage_sighash(vectors_dir):
    # The native P2WPKH example: sha256d(preimage) is the sighash that was signed.
    text = (vectors_dir / "bips" / "bip-0143.mediawiki").read_text()
    section = text.split("=== Native P2WPKH ===")[1].split("===")[0]
    preimage = bytes.fromhex(re.search(r"hash preimage: ([0-9a-f]+)", section).group(1))
    sighash = bytes.fromhex(re.search(r"sigHash:\s+([0-9a-f]{64})", section).group(1))
    assert hashlib.sha256(hashlib.sha256(preimage).digest()).digest() == sighash


# --------------------------------------------------------------------------- Core's script vectors

def _script_rows(vectors_dir):
    rows = json.loads((vectors_dir / "script_tests.json").read_text())
    return [r for r in rows if len(r) >= 4]


def _checksig_cases(vectors_dir):
    """P2PK, P2PKH and P2WPKH rows whose outcome fixes CPubKey::Verify's verdict.

    Returns [(comment, pubkey, sig_with_hashtype, sighash, flags, expected_error, negated)].
    """
    from bitcoin.core import CMutableTransaction, COutPoint, CTxIn, CTxOut
    from bitcoin.core.script import (
        OP_0,
        SIGVERSION_BASE,
        SIGVERSION_WITNESS_V0,
        CScript,
        SignatureHash,
    )

    def h(tok):
        return bytes.fromhex(tok[2:])

    cases = []
    for r in _script_rows(vectors_dir):
        wit = r[0] if isinstance(r[0], list) else None
        off = 1 if wit is not None else 0
        script_sig, spk_txt, flags, expected = r[off:off + 4]
        comment = r[off + 4] if len(r) > off + 4 else spk_txt
        m_pk = re.fullmatch(r"(0x[0-9a-fA-F]{2}) (0x[0-9a-fA-F]+) CHECKSIG( NOT)?", spk_txt)
        m_pkh = re.fullmatch(r"DUP HASH160 0x14 (0x[0-9a-fA-F]{40}) EQUALVERIFY CHECKSIG", spk_txt)
        m_wpkh = re.fullmatch(r"0 0x14 (0x[0-9a-fA-F]{40})", spk_txt)
        sig_toks = script_sig.split()
        negated = False
        amount = 0
        if m_pk and wit is None and len(sig_toks) == 2:
            spk = h(m_pk.group(1)) + h(m_pk.group(2)) + b"\xac" + (b"\x91" if m_pk.group(3) else b"")
            pub, sig = h(m_pk.group(2)), h(sig_toks[1])
            negated = bool(m_pk.group(3))
            script_code, sigversion = spk, SIGVERSION_BASE
        elif m_pkh and wit is None and len(sig_toks) == 4:
            spk = bytes.fromhex("76a914") + h(m_pkh.group(1)) + bytes.fromhex("88ac")
            sig, pub = h(sig_toks[1]), h(sig_toks[3])
            if hashlib.new("ripemd160", hashlib.sha256(pub).digest()).digest() != h(m_pkh.group(1)):
                continue
            script_code, sigversion = spk, SIGVERSION_BASE
        elif m_wpkh and wit is not None and len(wit) == 3 and script_sig == "" and "WITNESS" in flags.split(","):
            spk = b"\x00\x14" + h(m_wpkh.group(1))
            sig, pub = bytes.fromhex(wit[0]), bytes.fromhex(wit[1])
            if hashlib.new("ripemd160", hashlib.sha256(pub).digest()).digest() != h(m_wpkh.group(1)):
                continue
            amount = round(wit[2] * 100_000_000)
            script_code = bytes.fromhex("76a914") + h(m_wpkh.group(1)) + bytes.fromhex("88ac")
            sigversion = SIGVERSION_WITNESS_V0
        else:
            continue
        if not sig:
            continue
        credit = CMutableTransaction([CTxIn(COutPoint(), CScript([OP_0, OP_0]), 0xFFFFFFFF)],
                                     [CTxOut(amount, CScript(spk))], 0, 1)
        ss = b"" if wit is not None else bytes.fromhex(script_sig.replace("0x", "").replace(" ", ""))
        spend = CMutableTransaction([CTxIn(COutPoint(credit.GetTxid(), 0), CScript(ss), 0xFFFFFFFF)],
                                    [CTxOut(amount, CScript())], 0, 1)
        sighash = SignatureHash(CScript(script_code), spend, 0, sig[-1], amount=amount, sigversion=sigversion)
        cases.append((comment, pub, sig, sighash, flags.split(","), expected, negated))
    return cases


@pytest.fixture(scope="module")
def checksig_cases(vectors_dir):
    cases = _checksig_cases(vectors_dir)
    assert len(cases) >= 35
    return cases


def test_script_vectors_verify_verdicts(checksig_cases):
    checked = 0
    for comment, pub, sig, sighash, _flags, expected, negated in checksig_cases:
        if expected not in ("OK", "EVAL_FALSE"):
            continue
        want = (expected == "OK") != negated
        for b in _backends():
            assert b.verify_signature(pub, sig[:-1], sighash) == want, (b.name, comment)
        checked += 1
    assert checked >= 20


def test_script_vectors_der_rules(checksig_cases):
    """SIG_DER and SIG_HIGH_S outcomes pin down the encoding checks."""
    from coin.crypto.der import is_low_der_signature, is_valid_signature_encoding

    checked = 0
    for comment, _pub, sig, _sighash, flags, expected, _neg in checksig_cases:
        strict = bool({"DERSIG", "STRICTENC", "LOW_S"} & set(flags))
        if expected == "SIG_DER":
            assert not is_valid_signature_encoding(sig), comment
        elif expected == "SIG_HIGH_S":
            assert is_valid_signature_encoding(sig) and not is_low_der_signature(sig), comment
        elif expected == "OK" and strict:
            assert is_valid_signature_encoding(sig), comment
            if "LOW_S" in flags:
                assert is_low_der_signature(sig), comment
        else:
            continue
        checked += 1
    assert checked >= 10


def _hex_pushes(row) -> list[bytes]:
    out = []
    for item in row:
        if isinstance(item, list):
            out += [bytes.fromhex(w) for w in item if isinstance(w, str) and re.fullmatch(r"(?:[0-9a-fA-F]{2})*", w)]
        elif isinstance(item, str):
            out += [bytes.fromhex(t[2:]) for t in item.split() if re.fullmatch(r"0x(?:[0-9a-fA-F]{2})+", t)]
    return out


@both
def test_every_script_vector_signature_and_key_agrees(vectors_dir):
    """Every DER-looking push and every 33/65-byte push: both backends, same answers."""
    msg = hashlib.sha256(b"script_tests").digest()
    n_sigs = n_keys = 0
    for row in _script_rows(vectors_dir):
        pushes = _hex_pushes(row)
        sigs = [p for p in pushes if p[:1] == b"\x30" and 8 <= len(p) <= 80]
        keys = [p for p in pushes if len(p) in (33, 65)]
        for k in keys:
            _agree("is_valid_pubkey", k)
            n_keys += 1
        for s in sigs:
            n_sigs += 1
            for der in (s[:-1], s):
                for k in keys:
                    _agree("verify_signature", k, der, msg)
    assert n_sigs >= 150 and n_keys >= 120, (n_sigs, n_keys)


# --------------------------------------------------------------------------- differential / edge cases

@both
@settings(max_examples=40, deadline=None)
@given(privkeys, msgs)
def test_sign_identical_and_verifies(priv, msg):
    sig = _agree("sign", priv, msg)
    r, s = parse_der_lax(sig)
    assert s <= N // 2 and sig == encode_der(r, s)
    for compressed in (True, False):
        pub = ecc.get_backend("ecdsa").pubkey_from_privkey(priv, compressed)
        assert _agree("verify_signature", pub, sig, msg) is True
        other = bytes([msg[0] ^ 1]) + msg[1:]
        assert _agree("verify_signature", pub, sig, other) is False
    u = ecc.get_backend("ecdsa").pubkey_from_privkey(priv, False)
    assert _agree("verify_signature", _hybrid(u), sig, msg) is True


@both
@settings(max_examples=30, deadline=None)
@given(privkeys, msgs, st.integers(min_value=1, max_value=3))
def test_malleated_encodings_still_verify(priv, msg, pad):
    """High S (normalised before verifying), padded and negative integers (lax parser)."""
    e = ecc.get_backend("ecdsa")
    pub = e.pubkey_from_privkey(priv)
    r, s = parse_der_lax(e.sign(priv, msg))
    high = encode_der(r, N - s)
    assert _agree("verify_signature", pub, high, msg) is True
    rb, sb = r.to_bytes(32, "big"), s.to_bytes(32, "big")
    padded = b"\x02" + bytes([32 + pad]) + b"\x00" * pad + rb + b"\x02\x20" + sb
    assert _agree("verify_signature", pub, b"\x30" + bytes([len(padded)]) + padded, msg) is True
    trailing = encode_der(r, s) + b"\x00\x01\x02"
    assert _agree("verify_signature", pub, trailing, msg) is True
    # r or s out of range: never valid, even when congruent to the right value.
    assert _agree("verify_signature", pub, encode_der(r + N, s) if r + N < 1 << 256 else encode_der(0, s), msg) is False
    assert _agree("verify_signature", pub, encode_der(r, s + N) if s + N < 1 << 256 else encode_der(r, 0), msg) is False


@both
@pytest.mark.parametrize("r,s", [(0, 1), (1, 0), (0, 0), (N, 1), (1, N), (N - 1, N - 1), (1, 1),
                                 ((1 << 256) - 1, 1), (1, (1 << 256) - 1)],
                         ids=["r0", "s0", "r0s0", "r=n", "s=n", "n-1", "one", "r-max", "s-max"])
def test_edge_scalars(r, s):
    pub = ecc.get_backend("ecdsa").pubkey_from_privkey((3).to_bytes(32, "big"))
    for msg in (bytes(32), b"\xff" * 32):
        assert _agree("verify_signature", pub, encode_der(r, s), msg) is False


@both
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.binary(min_size=0, max_size=66))
def test_garbage_never_raises(sig, pub):
    msg = bytes(32)
    _agree("verify_signature", pub, sig, msg)
    _agree("is_valid_pubkey", pub)


def test_wrong_message_length_is_a_programming_error(backend):
    pub = backend.pubkey_from_privkey((3).to_bytes(32, "big"))
    with pytest.raises(ValueError):
        backend.verify_signature(pub, encode_der(1, 1), bytes(31))
    with pytest.raises(ValueError):
        backend.sign((3).to_bytes(32, "big"), bytes(33))


def test_module_functions_dispatch():
    priv = (123456789).to_bytes(32, "big")
    msg = hashlib.sha256(b"dispatch").digest()
    pub = ecc.pubkey_from_privkey(priv)
    sig = ecc.sign(priv, msg)
    assert ecc.verify_signature(pub, sig, msg)
    assert ecc.is_valid_pubkey(pub)
    assert ecc.decompress_pubkey(pub) == ecc.pubkey_from_privkey(priv, compressed=False)
    assert ecc.pubkey_tweak_add(pub, (1).to_bytes(32, "big")) == ecc.pubkey_from_privkey(
        (123456790).to_bytes(32, "big"))


@pytest.mark.parametrize("conv", [bytearray, memoryview], ids=["bytearray", "memoryview"])
def test_bytes_like_arguments(backend, conv):
    priv = (5).to_bytes(32, "big")
    msg = bytes(range(32))
    pub, sig = backend.pubkey_from_privkey(priv), backend.sign(priv, msg)
    assert backend.verify_signature(conv(pub), conv(sig), conv(msg))
    assert not backend.verify_signature(conv(pub), conv(sig), conv(bytes(32)))


# --------------------------------------------------------------------------- batch verification

def test_native_batch_extension_is_built():
    """pip install builds coin._ecdsa; with coincurve present, block validation uses it."""
    if "coincurve" not in BACKENDS:
        pytest.skip("coincurve not installed")
    assert _native_batch() is not None


@pytest.mark.parametrize("name", BACKENDS)
def test_first_bad_signature_is_the_first_in_order(name):
    b = ecc.get_backend(name)
    jobs = []
    for i in range(1, 9):
        priv = i.to_bytes(32, "big")
        msg = hashlib.sha256(b"batch %d" % i).digest()
        jobs.append((b.pubkey_from_privkey(priv, i % 2 == 0), b.sign(priv, msg), msg))
    assert b.first_bad_signature(jobs) is None
    assert b.first_bad_signature([]) is None
    bad_msg = list(jobs)
    bad_msg[5] = (jobs[5][0], jobs[5][1], bytes(32))
    bad_msg[7] = (jobs[7][0], b"\x30\x00", jobs[7][2])
    assert b.first_bad_signature(bad_msg) == 5
    bad_key = list(jobs)
    bad_key[2] = (b"\x02" + b"\xff" * 32, jobs[2][1], jobs[2][2])  # x >= p: not on the curve
    assert b.first_bad_signature(bad_key) == 2
    assert b.first_bad_signature(bad_key[3:]) is None
    assert b.first_bad_signature([jobs[0], (b"", jobs[1][1], jobs[1][2])]) == 1
    with pytest.raises(ValueError):
        b.first_bad_signature([jobs[0], (jobs[1][0], jobs[1][1], bytes(31))])
    assert ecc.first_bad_signature(bad_msg) == 5  # the module function: the current backend
    if name == "coincurve" and _native_batch() is not None:
        # keys the batch parsed join the backend's cache, and cached keys verify as fresh ones
        b._cache.clear()
        assert b.first_bad_signature(jobs[:4]) is None
        assert all(j[0] in b._cache for j in jobs[:4]) and jobs[4][0] not in b._cache
        assert b.first_bad_signature(bad_msg) == 5 and b.first_bad_signature(jobs) is None
        assert b.first_bad_signature(bad_key) == 2 and bad_key[2][0] not in b._cache
    # bytes-like arguments, as verify_signature takes them
    like = [(bytearray(p), memoryview(s), bytearray(m)) for p, s, m in jobs]
    assert b.first_bad_signature(like) is None
    like[6] = (like[6][0], like[6][1], bytearray(32))
    assert b.first_bad_signature(like) == 6


@both
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(privkeys, msgs, st.integers(min_value=0, max_value=4)), min_size=2, max_size=12))
def test_native_batch_agrees_with_one_by_one(items):
    """Mixed good, high-S, padded, wrong-message and garbage signatures: the C batch names
    the same first failure as verifying one by one in Python on either backend."""
    e = ecc.get_backend("ecdsa")
    jobs = []
    for priv, msg, kind in items:
        pub = e.pubkey_from_privkey(priv, kind != 1)
        r, s = parse_der_lax(e.sign(priv, msg))
        der = [encode_der(r, s), encode_der(r, N - s), b"\x30\x06\x02\x01\x01\x02\x01", encode_der(r, s),
               encode_der(r, s)[:-1]][kind]
        jobs.append((pub, der, msg if kind != 3 else bytes(32)))
    want = ecc.Backend.first_bad_signature(e, jobs)
    assert ecc.get_backend("coincurve").first_bad_signature(jobs) == want
    assert _native_batch()(jobs) == want
