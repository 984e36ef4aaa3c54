"""Fast paths of coin.script against the generic code they shortcut.

Each fast path must give exactly the generic answer: the same count, the same verdict,
the same ScriptError code. The generic references here are written out plainly (sigop
counting as Core's GetOp loop) or are the interpreter's own generic path.
"""

from bitcoin.core.script import CScript, CScriptInvalidError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coin.crypto import ecc
from coin.crypto.address import p2pkh_script
from coin.crypto.der import SECP256K1_ORDER, encode_der, parse_der_lax
from coin.crypto.hashes import hash160, sha256
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.script import (
    MANDATORY_SCRIPT_VERIFY_FLAGS,
    STANDARD_SCRIPT_VERIFY_FLAGS,
    PrecomputedTxData,
    ScriptError,
    SignatureCache,
    interpreter,
    verify_input,
    verify_script,
)
from coin.script.interpreter import TransactionSignatureChecker, push_data
from coin.script.sighash import legacy_sighash, segwit_v0_sighash
from coin.script.sigops import count_sigops

__all__: list[str] = []


def _reference_count(script: bytes, accurate: bool) -> int:
    # Core's GetSigOpCount over GetOp, with no shortcut.
    n, last, pos, end = 0, 0xFF, 0, len(script)
    while pos < end:
        op = script[pos]
        pos += 1
        if op <= 0x4E:
            width = {0x4C: 1, 0x4D: 2, 0x4E: 4}.get(op, 0)
            if pos + width > end:
                break
            size = int.from_bytes(script[pos:pos + width], "little") if width else op
            pos += width
            if end - pos < size:
                break
            pos += size
        elif op in (0xAC, 0xAD):
            n += 1
        elif op in (0xAE, 0xAF):
            n += last - 0x50 if accurate and 0x51 <= last <= 0x60 else 20
        last = op
    return n


_h20 = st.binary(min_size=20, max_size=20)
_h32 = st.binary(min_size=32, max_size=32)
_templates = st.one_of(
    _h20.map(lambda h: b"\x00\x14" + h),
    _h20.map(lambda h: b"\x76\xa9\x14" + h + b"\x88\xac"),
    _h20.map(lambda h: b"\xa9\x14" + h + b"\x87"),
    _h32.map(lambda h: b"\x00\x20" + h),
    _h32.map(lambda h: b"\x51\x20" + h),
)
_piece = st.one_of(
    st.sampled_from([b"\xac", b"\xad", b"\xae", b"\xaf", b"\x51", b"\x60", b"\x53", b"\x00",
                     b"\x4c", b"\x4d\x01", b"\x4e\x01\x00"]),
    st.binary(max_size=20).map(lambda d: bytes([len(d)]) + d),
    st.binary(max_size=4),
    _templates,
)
_scripts = st.one_of(_templates, st.lists(_piece, max_size=10).map(b"".join))


@given(_scripts, st.booleans())
def test_sigop_count_equals_reference(script, accurate):
    assert count_sigops(script, accurate) == _reference_count(script, accurate)


@given(_scripts)
def test_sigop_count_equals_bitcoinlib(script):
    try:
        expected = CScript(script).GetSigOpCount(False)
    except CScriptInvalidError:
        return  # bitcoinlib stops at a truncated push by raising; the reference covers it
    assert count_sigops(script, False) == expected


# ---------------------------------------------------------------------------
# P2WPKH / P2PKH fast paths against the generic interpreter
# ---------------------------------------------------------------------------

_KEYS = [sha256(bytes([i])) for i in range(3)]
_ALL_FLAGS = (1 << 17) - 1  # every flag up to CONST_SCRIPTCODE (Taproot is out of scope)
_HASH_TYPES = [1, 2, 3, 0x81, 0x82, 0x83, 0, 4, 0x41]


def _outcome(fn):
    try:
        fn()
    except ScriptError as exc:
        return exc.code
    return None


def _mutate_sig(data, priv, digest, hash_type) -> bytes:
    der = ecc.sign(priv, digest)
    kind = data.draw(st.sampled_from(
        ["ok", "ok", "ok", "high_s", "wrong_msg", "garbage", "empty", "flip", "short", "zero_r"]))
    if kind == "high_s":
        r, s = parse_der_lax(der)
        der = encode_der(r, SECP256K1_ORDER - s)
    elif kind == "wrong_msg":
        der = ecc.sign(priv, sha256(digest))
    elif kind == "garbage":
        return data.draw(st.binary(min_size=1, max_size=80))
    elif kind == "empty":
        return b""
    elif kind == "flip":
        i = data.draw(st.integers(0, len(der) - 1))
        der = der[:i] + bytes([der[i] ^ data.draw(st.integers(1, 255))]) + der[i + 1:]
    elif kind == "short":
        der = der[:data.draw(st.integers(0, len(der) - 1))]
    elif kind == "zero_r":
        der = encode_der(0, 1)
    return der + bytes([hash_type])


def _mutate_pubkey(data, pub: bytes) -> bytes:
    kind = data.draw(st.sampled_from(["ok", "ok", "ok", "prefix", "hybrid", "short", "empty",
                                      "offcurve"]))
    if kind == "prefix":
        return bytes([data.draw(st.sampled_from([0, 1, 5, 2, 3, 4]))]) + pub[1:]
    if kind == "hybrid" and len(pub) == 65:
        return bytes([6 + (pub[-1] & 1)]) + pub[1:]
    if kind == "short":
        return pub[:data.draw(st.integers(1, len(pub) - 1))]
    if kind == "empty":
        return b""
    if kind == "offcurve":
        return pub[:-1] + bytes([pub[-1] ^ 1])
    return pub


def _tx(data, n_in: int):
    ins = [TxIn(OutPoint(sha256(bytes([i, 7])), i), b"", data.draw(st.sampled_from(
        [0xFFFFFFFF, 0xFFFFFFFE, 5]))) for i in range(n_in)]
    outs = [TxOut(1000 * (k + 1), b"\x00\x14" + bytes([k]) * 20)
            for k in range(data.draw(st.integers(1, 3)))]
    return Transaction(data.draw(st.sampled_from([1, 2])), ins, outs, 0)


def _check_same(tx, index, spent, flags, deferred_ok=True):
    txin = tx.inputs[index]
    spk = spent[index].script_pubkey
    txdata = PrecomputedTxData(tx, spent)
    checker = TransactionSignatureChecker(txdata, index, spent[index].value)
    generic = _outcome(lambda: interpreter._verify_generic(
        txin.script_sig, spk, txin.witness, flags, checker))
    fast = _outcome(lambda: verify_input(tx, index, spent, flags))
    assert fast == generic
    assert _outcome(lambda: verify_script(txin.script_sig, spk, txin.witness, flags,
                                          TransactionSignatureChecker(txdata, index,
                                                                      spent[index].value))) == generic
    jobs: list = []
    deferred = _outcome(lambda: verify_input(tx, index, spent, flags, deferred=jobs))
    if deferred is None and not all(ecc.verify_signature(*job) for job in jobs):
        assert generic in ("NULLFAIL", "EVAL_FALSE")
    else:
        assert deferred == generic
    return generic


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_p2wpkh_fast_path_equals_generic(data):
    priv = data.draw(st.sampled_from(_KEYS))
    pub = ecc.pubkey_from_privkey(priv, compressed=data.draw(st.booleans() | st.just(True)))
    n_in = data.draw(st.integers(1, 2))
    index = data.draw(st.integers(0, n_in - 1))
    tx = _tx(data, n_in)
    pubkey = _mutate_pubkey(data, pub)
    program = data.draw(st.sampled_from(["key", "key", "key", "other", "zero", "negzero"]))
    program = {"key": hash160(pubkey), "other": hash160(pub + b"x"), "zero": b"\x00" * 20,
               "negzero": b"\x00" * 19 + b"\x80"}[program]
    amount = data.draw(st.sampled_from([50_000, 1]))
    spent = [TxOut(amount, b"\x00\x14" + program) for _ in range(n_in)]
    hash_type = data.draw(st.sampled_from(_HASH_TYPES))
    digest = segwit_v0_sighash(tx, index, p2pkh_script(program), amount, hash_type)
    sig = _mutate_sig(data, priv, digest, hash_type)
    witness = data.draw(st.sampled_from(["ok", "ok", "ok", "one", "three", "big", "none"]))
    witness = {"ok": (sig, pubkey), "one": (sig,), "three": (sig, pubkey, b""),
               "big": (b"\x01" * 521, pubkey), "none": ()}[witness]
    script_sig = data.draw(st.sampled_from([b"", b"", b"", b"\x00", b"\x01\x01"]))
    inputs = list(tx.inputs)
    inputs[index] = inputs[index]._replace(script_sig=script_sig, witness=witness)
    tx = tx.replace(inputs=inputs)
    flags = data.draw(st.sampled_from([int(MANDATORY_SCRIPT_VERIFY_FLAGS),
                                       int(STANDARD_SCRIPT_VERIFY_FLAGS)])
                      | st.integers(0, _ALL_FLAGS))
    _check_same(tx, index, spent, flags)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_p2pkh_fast_path_equals_generic(data):
    priv = data.draw(st.sampled_from(_KEYS))
    pub = ecc.pubkey_from_privkey(priv, compressed=data.draw(st.booleans()))
    n_in = data.draw(st.integers(1, 2))
    index = data.draw(st.integers(0, n_in - 1))
    tx = _tx(data, n_in)
    pubkey = _mutate_pubkey(data, pub)
    h = data.draw(st.sampled_from([hash160(pubkey), hash160(pubkey), hash160(b"other")]))
    spk = p2pkh_script(h)
    spent = [TxOut(7000, spk) for _ in range(n_in)]
    hash_type = data.draw(st.sampled_from(_HASH_TYPES))
    digest = legacy_sighash(tx, index, spk, hash_type)
    sig = _mutate_sig(data, priv, digest, hash_type)
    shape = data.draw(st.sampled_from(["ok", "ok", "ok", "ok", "nonminimal", "pushdata1",
                                       "extra_op", "op0", "one", "hash_as_sig"]))
    if shape == "nonminimal":
        script_sig = b"\x01" + bytes([data.draw(st.sampled_from([0x05, 0x81, 0x11]))]) \
            + push_data(pubkey)
    elif shape == "pushdata1":
        script_sig = b"\x4c" + bytes([len(sig)]) + sig + push_data(pubkey)
    elif shape == "extra_op":
        script_sig = push_data(sig) + push_data(pubkey) + b"\x61"
    elif shape == "op0":
        script_sig = b"\x00" + push_data(pubkey)
    elif shape == "one":
        script_sig = push_data(sig)
    elif shape == "hash_as_sig":  # FindAndDelete finds the signature in the scriptPubKey
        script_sig = push_data(h) + push_data(pubkey)
    else:
        script_sig = push_data(sig) + push_data(pubkey)
    witness = data.draw(st.sampled_from([(), (), (), (b"x",)]))
    inputs = list(tx.inputs)
    inputs[index] = inputs[index]._replace(script_sig=script_sig, witness=witness)
    tx = tx.replace(inputs=inputs)
    flags = data.draw(st.sampled_from([int(MANDATORY_SCRIPT_VERIFY_FLAGS),
                                       int(STANDARD_SCRIPT_VERIFY_FLAGS)])
                      | st.integers(0, _ALL_FLAGS))
    _check_same(tx, index, spent, flags)


def _signed_spend(kind: str):
    priv = _KEYS[0]
    pub = ecc.pubkey_from_privkey(priv)
    tx = Transaction(2, [TxIn(OutPoint(sha256(b"prev"), 0))], [TxOut(900, b"\x51")], 0)
    if kind == "p2wpkh":
        spent = [TxOut(1000, b"\x00\x14" + hash160(pub))]
        sig = ecc.sign(priv, segwit_v0_sighash(tx, 0, p2pkh_script(hash160(pub)), 1000, 1)) + b"\x01"
        tx = tx.replace(inputs=[tx.inputs[0]._replace(witness=(sig, pub))])
    else:
        spent = [TxOut(1000, p2pkh_script(hash160(pub)))]
        sig = ecc.sign(priv, legacy_sighash(tx, 0, spent[0].script_pubkey, 1)) + b"\x01"
        tx = tx.replace(inputs=[tx.inputs[0]._replace(script_sig=push_data(sig) + push_data(pub))])
    return tx, spent


def test_fast_paths_are_taken_and_defer(monkeypatch):
    # The standard shapes never reach the generic interpreter, and with `deferred` they
    # leave exactly one ECDSA check to the caller.
    def generic(*args):
        raise AssertionError("generic path taken")

    monkeypatch.setattr(interpreter, "_verify_generic", generic)
    for kind in ("p2wpkh", "p2pkh"):
        tx, spent = _signed_spend(kind)
        verify_input(tx, 0, spent, STANDARD_SCRIPT_VERIFY_FLAGS)
        jobs: list = []
        verify_input(tx, 0, spent, STANDARD_SCRIPT_VERIFY_FLAGS, deferred=jobs)
        assert len(jobs) == 1 and ecc.verify_signature(*jobs[0])


def test_deferred_signature_in_cache_is_not_deferred():
    tx, spent = _signed_spend("p2wpkh")
    cache = SignatureCache()
    verify_input(tx, 0, spent, STANDARD_SCRIPT_VERIFY_FLAGS, sigcache=cache)
    jobs: list = []
    verify_input(tx, 0, spent, STANDARD_SCRIPT_VERIFY_FLAGS, sigcache=cache, deferred=jobs)
    assert jobs == [] and cache.hits == 1
