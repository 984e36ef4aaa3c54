"""SignatureCache: bounded, salted, thread-safe; only successes are stored."""

import threading

from coin.crypto import ecc
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.script import Flags, ScriptError, SignatureCache, verify_input
from coin.script import opcodes as op
from coin.script.sighash import legacy_sighash
from coin.script.standard import Op, build_script


def test_add_contains_and_bound():
    cache = SignatureCache(3)
    for i in range(5):
        cache.add(bytes([i]) * 32, b"pub", b"sig")
    assert len(cache) == 3
    assert not cache.contains(b"\x00" * 32, b"pub", b"sig")  # evicted first
    assert cache.contains(b"\x04" * 32, b"pub", b"sig")
    assert not cache.contains(b"\x04" * 32, b"pub", b"sigX")
    assert not cache.contains(b"\x04" * 32, b"pubX", b"sig")


def test_salted_per_instance():
    a, b = SignatureCache(4), SignatureCache(4)
    assert a._key(b"h" * 32, b"p", b"s") != b._key(b"h" * 32, b"p", b"s")


def test_threads():
    cache = SignatureCache(1000)

    def work(k):
        for i in range(500):
            cache.add(bytes([k, i % 256]) + b"\x00" * 30, b"p", bytes([i // 256]))
            cache.contains(bytes([k, i % 256]) + b"\x00" * 30, b"p", b"\x00")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 1000


def _p2pk_spend(priv, tamper=False):
    pub = ecc.pubkey_from_privkey(priv)
    spk = build_script([pub, Op(op.OP_CHECKSIG)])
    tx = Transaction(1, [TxIn(OutPoint(b"\x07" * 32, 0))], [TxOut(1, b"")], 0)
    sig = ecc.sign(priv, legacy_sighash(tx, 0, spk, 1)) + b"\x01"
    if tamper:
        sig = sig[:-2] + bytes([sig[-2] ^ 1]) + sig[-1:]
    tx = tx.replace(inputs=[tx.inputs[0]._replace(script_sig=build_script([sig]))])
    return tx, [TxOut(1, spk)]


def test_interpreter_stores_only_successes():
    cache = SignatureCache(10)
    tx, spent = _p2pk_spend(b"\x05" * 32)
    verify_input(tx, 0, spent, Flags.P2SH, sigcache=cache)
    assert len(cache) == 1 and cache.misses == 1
    verify_input(tx, 0, spent, Flags.P2SH, sigcache=cache)
    assert cache.hits == 1
    bad_tx, bad_spent = _p2pk_spend(b"\x06" * 32, tamper=True)
    for _ in range(2):
        try:
            verify_input(bad_tx, 0, bad_spent, Flags.P2SH, sigcache=cache)
        except ScriptError as exc:
            assert exc.code == "EVAL_FALSE"
        else:
            raise AssertionError("tampered signature verified")
    assert len(cache) == 1
