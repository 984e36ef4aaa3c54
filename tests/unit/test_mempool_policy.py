"""Relay policy (coin.mempool.policy) and every policy reject reason, through Mempool.accept.

Transactions are real and signed (tests/blockbuilder.py); each test asserts Core's reason
string and, where Core prints one, its debug message computed from the transaction.
"""

import pytest
from blockbuilder import OP_TRUE_SCRIPT, push
from test_mempool_support import Env

from coin.consensus.constants import MAX_BLOCK_SIGOPS_COST
from coin.consensus.errors import Rejection, RejectKind
from coin.crypto.address import p2pkh_script, p2sh_script, p2wpkh_script, p2wsh_script
from coin.crypto.der import SECP256K1_ORDER, encode_der, parse_der_strict
from coin.crypto.hashes import hash160, sha256
from coin.mempool.policy import (
    MAX_STANDARD_TX_SIGOPS_COST,
    MAX_STANDARD_TX_WEIGHT,
    FeeRate,
    Policy,
    get_dust_threshold,
    is_dust,
    is_standard_script,
    virtual_size,
)
from coin.primitives import OutPoint, Transaction, TxIn, TxOut

H20 = bytes(range(20))
H32 = bytes(range(32))
PUB = bytes.fromhex("02" + "11" * 32)


def reject(env, tx, **kwargs) -> Rejection:
    with pytest.raises(Rejection) as info:
        env.pool.accept(tx, **kwargs)
    env.pool.check()
    return info.value


# -- fee rates and dust ------------------------------------------------------------------


def test_feerate_rounds_up_like_core():
    assert FeeRate(1000).get_fee(141) == 141
    # ceil(1 * 100 / 1000) = 1, and a positive rate never charges 0 for a positive size
    assert FeeRate(1).get_fee(100) == 1
    assert FeeRate(1500).get_fee(1) == 2       # ceil(1.5)
    assert FeeRate(1000).get_fee(0) == 0
    assert FeeRate(-1000).get_fee(1) == -1
    assert FeeRate.from_fee(500, 141).per_kvb == 500 * 1000 // 141
    assert FeeRate.from_fee(1, 0).per_kvb == 0
    assert FeeRate(1000).to_string() == "0.00001000 BTC/kvB"
    assert str(FeeRate(123_456_789)) == "1.23456789 BTC/kvB"


@pytest.mark.parametrize("script,threshold", [
    (p2pkh_script(H20), 546),
    (p2wpkh_script(H20), 294),
    (p2sh_script(H20), 540),
    (p2wsh_script(H32), 330),
    (b"\x6a\x04abcd", 0),
], ids=["p2pkh", "p2wpkh", "p2sh", "p2wsh", "op_return"])
def test_dust_thresholds(script, threshold):
    # Core's documented dust limits at -dustrelayfee=3000 sat/kvB
    out = TxOut(threshold, script)
    assert get_dust_threshold(out) == threshold
    assert not is_dust(out)
    if threshold:
        assert is_dust(TxOut(threshold - 1, script))


def test_virtual_size_with_sigops():
    assert virtual_size(561) == 141
    assert virtual_size(400, 100, 20) == 500   # sigops * 20 bytes dominate the weight
    assert virtual_size(401) == 101


@pytest.mark.parametrize("script,ok", [
    (p2pkh_script(H20), True),
    (b"\x51" + push(PUB) + b"\x51\xae", True),                 # 1-of-1 bare multisig
    (b"\x51" + push(PUB) * 4 + b"\x54\xae", False),            # 1-of-4: n > 3
    (b"\x6a" + push(b"x" * 80), True),                         # 83-byte OP_RETURN
    (b"\x6a" + push(b"x" * 81), False),                        # 84 bytes
    (b"\x51\x20" + H32, True),                                 # witness v1: standard output
    (b"\x61", False),
], ids=["p2pkh", "multisig-1of1", "multisig-1of4", "op_return-83", "op_return-84",
        "witness-v1", "nop"])
def test_is_standard_script(script, ok):
    assert is_standard_script(script)[0] is ok


# -- IsStandardTx reasons, in Core's order --------------------------------------------------


@pytest.fixture
def env():
    return Env()


def test_coinbase_rejected(env):
    r = reject(env, env.chain.blocks[-1].txs[0])
    assert r.reason == "coinbase"
    assert r.kind is RejectKind.CONSENSUS


def test_check_transaction_first(env):
    (u,) = env.fund(1)
    tx = Transaction(2, [TxIn(u.outpoint, b"", 0xFFFFFFFE)], [])
    assert reject(env, tx).reason == "bad-txns-vout-empty"
    tx = Transaction(2, [TxIn(u.outpoint), TxIn(u.outpoint)], [TxOut(1000, env.builder.p2wpkh)])
    assert reject(env, tx).reason == "bad-txns-inputs-duplicate"


@pytest.mark.parametrize("version", [0, 4, 0xFFFFFFFF])
def test_version(env, version):
    (u,) = env.fund(1)
    r = reject(env, env.spend([u], version=version))
    assert (r.reason, r.kind, r.ban_score) == ("version", RejectKind.POLICY, 0)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_standard_versions(env, version):
    (u,) = env.fund(1)
    env.pool.accept(env.spend([u], version=version))


def test_tx_size(env):
    cb = env.coinbase()
    n = 3300  # 3300 P2WPKH outputs: > 100 kB of non-witness data
    tx = env.spend([cb], n_outputs=n, fee=200_000)
    assert tx.weight > MAX_STANDARD_TX_WEIGHT
    assert reject(env, tx).reason == "tx-size"


def test_scriptsig_size(env):
    (u,) = env.fund(1)
    tx = Transaction(2, [TxIn(u.outpoint, push(b"\x00" * 1648), 0xFFFFFFFE)],
                     [TxOut(10_000, env.builder.p2wpkh)])
    assert len(tx.inputs[0].script_sig) > 1650
    assert reject(env, tx).reason == "scriptsig-size"


def test_scriptsig_not_pushonly(env):
    (u,) = env.fund(1)
    tx = Transaction(2, [TxIn(u.outpoint, b"\x61", 0xFFFFFFFE)], [TxOut(10_000, env.builder.p2wpkh)])
    assert reject(env, tx).reason == "scriptsig-not-pushonly"


@pytest.mark.parametrize("script", [b"\x61", b"\x6a" + push(b"x" * 81)], ids=["nop", "op_return-84"])
def test_scriptpubkey(env, script):
    (u,) = env.fund(1)
    tx = env.spend([u], outputs=[TxOut(900_000, env.builder.p2wpkh), TxOut(0, script)])
    assert reject(env, tx).reason == "scriptpubkey"


def test_bare_multisig(env):
    script = b"\x51" + push(env.builder.pubkey) + b"\x51\xae"
    u1, u2 = env.fund(2)
    ok = env.spend([u1], outputs=[TxOut(900_000, script)])
    env.pool.accept(ok)  # permitbaremultisig=1, Core's default
    strict = Env(policy=Policy(permit_bare_multisig=False))
    (u,) = strict.fund(1)
    r = reject(strict, strict.spend([u], outputs=[TxOut(900_000, script)]))
    assert r.reason == "bare-multisig"


def test_dust(env):
    u1, u2 = env.fund(2)
    spk = env.builder.p2wpkh
    tx = env.spend([u1], outputs=[TxOut(293, spk), TxOut(900_000, spk)])
    assert reject(env, tx).reason == "dust"
    env.pool.accept(env.spend([u2], outputs=[TxOut(294, spk), TxOut(900_000, spk)]))


def test_multi_op_return(env):
    (u,) = env.fund(1)
    tx = env.spend([u], outputs=[TxOut(900_000, env.builder.p2wpkh), TxOut(0, b"\x6a\x01\x01"),
                                 TxOut(0, b"\x6a\x01\x02")])
    assert reject(env, tx).reason == "multi-op-return"
    datacarrier_off = Env(policy=Policy(max_datacarrier_bytes=None))
    (u,) = datacarrier_off.fund(1)
    tx = datacarrier_off.spend([u], outputs=[TxOut(900_000, env.builder.p2wpkh),
                                             TxOut(0, b"\x6a\x01\x01")])
    assert reject(datacarrier_off, tx).reason == "scriptpubkey"


def test_tx_size_small(env):
    (u,) = env.fund(1)
    tx = env.spend([u], outputs=[TxOut(0, b"\x6a")])
    assert tx.base_size < 65
    r = reject(env, tx)
    assert (r.reason, r.kind) == ("tx-size-small", RejectKind.POLICY)


# -- finality -------------------------------------------------------------------------------


def test_non_final(env):
    u1, u2 = env.fund(2)
    height = env.chain.tip.height
    r = reject(env, env.spend([u1], lock_time=height + 2))
    assert r.reason == "non-final"
    env.pool.accept(env.spend([u2], lock_time=height + 1 - 1))
    # a final sequence makes any lock time final
    u3, = env.fund(1)
    env.pool.accept(env.spend([u3], lock_time=env.chain.tip.height + 50, sequence=0xFFFFFFFF))


def test_non_bip68_final(env):
    u1, u2 = env.fund(2)  # confirmed at the tip: depth 1 in the next block
    r = reject(env, env.spend([u1], sequence=2))
    assert r.reason == "non-BIP68-final"
    env.pool.accept(env.spend([u2], sequence=1))
    # a lock on an unconfirmed parent: never final in the next block
    child = env.spend([env.utxos(env.pool.entries()[0].tx)[0]], sequence=1)
    assert reject(env, child).reason == "non-BIP68-final"
    # version 1 ignores BIP-0068
    u3, = env.fund(1)
    env.pool.accept(env.spend([u3], sequence=50, version=1))


# -- duplicates, missing inputs --------------------------------------------------------------


def test_already_in_mempool_and_same_nonwitness(env):
    (u,) = env.fund(1)
    tx = env.spend([u])
    env.pool.accept(tx)
    r = reject(env, tx)
    assert (r.reason, r.kind) == ("txn-already-in-mempool", RejectKind.DUPLICATE)
    other_witness = tx.replace(inputs=[tx.inputs[0]._replace(witness=(b"\x01", env.builder.pubkey))])
    assert other_witness.txid == tx.txid and other_witness.wtxid != tx.wtxid
    assert reject(env, other_witness).reason == "txn-same-nonwitness-data-in-mempool"


def test_already_known_and_missing_inputs(env):
    (u,) = env.fund(1)
    tx = env.spend([u])
    env.mine([tx])
    r = reject(env, tx)
    assert (r.reason, r.kind) == ("txn-already-known", RejectKind.DUPLICATE)
    orphan = env.spend([env.utxos(env.spend(env.utxos(tx), sign=True))[0]])
    r = reject(env, orphan)
    assert (r.reason, r.kind, r.ban_score) == ("bad-txns-inputs-missingorspent",
                                               RejectKind.MISSING_INPUTS, 0)


def test_check_tx_inputs_reasons(env):
    (u,) = env.fund(1)
    tx = env.spend([u], outputs=[TxOut(u.txout.value + 1, env.builder.p2wpkh)])
    r = reject(env, tx)
    assert r.reason == "bad-txns-in-belowout"
    assert r.debug == "value in (0.01) < value out (0.01000001)"
    young = env.builder.coinbase_utxo(env.chain.tip.height - 10)
    r = reject(env, env.spend([young]))
    assert r.reason == "bad-txns-premature-spend-of-coinbase"
    assert r.debug == "tried to spend coinbase at depth 11"


# -- input standardness, witness standardness, sigops -----------------------------------------


def test_nonstandard_inputs(env):
    (u,) = env.fund(1, script_pubkey=OP_TRUE_SCRIPT)
    r = reject(env, env.spend([u]))
    assert (r.reason, r.kind) == ("bad-txns-nonstandard-inputs", RejectKind.POLICY)


def test_p2sh_redeem_with_too_many_sigops(env):
    redeem = b"\x51" + b"\xac" * 16            # OP_1 then 16 CHECKSIGs: 16 > 15 sigops
    (u,) = env.fund(1, script_pubkey=p2sh_script(hash160(redeem)))
    tx = Transaction(2, [TxIn(u.outpoint, push(redeem), 0xFFFFFFFE)],
                     [TxOut(900_000, env.builder.p2wpkh)])
    assert reject(env, tx).reason == "bad-txns-nonstandard-inputs"
    redeem15 = b"\x51" + b"\xac" * 15
    (u,) = env.fund(1, script_pubkey=p2sh_script(hash160(redeem15)))
    tx = Transaction(2, [TxIn(u.outpoint, push(redeem15), 0xFFFFFFFE)],
                     [TxOut(900_000, env.builder.p2wpkh)])
    # standard inputs; fails later, in the scripts (CHECKSIG on an empty stack)
    r = reject(env, tx)
    assert r.reason.startswith("mandatory-script-verify-flag-failed")


def test_witness_nonstandard(env):
    (u,) = env.fund(1, script_pubkey=env.builder.p2pkh)
    tx = env.spend([u])
    stuffed = tx.replace(inputs=[tx.inputs[0]._replace(witness=(b"\x01",))])
    r = reject(env, stuffed)
    assert (r.reason, r.kind) == ("bad-witness-nonstandard", RejectKind.POLICY)
    big = b"\x51" * 3601
    (u,) = env.fund(1, script_pubkey=p2wsh_script(sha256(big)))
    tx = Transaction(2, [TxIn(u.outpoint, b"", 0xFFFFFFFE, (big,))], [TxOut(900_000, env.builder.p2wpkh)])
    assert reject(env, tx).reason == "bad-witness-nonstandard"


def test_too_many_sigops(env):
    multisig = b"\x51" + push(env.builder.pubkey) + b"\x51\xae"   # 20 legacy sigops: cost 80
    per = MAX_BLOCK_SIGOPS_COST // 5 // 80 + 1
    cb = env.coinbase()
    tx = env.spend([cb], outputs=[TxOut(1000, multisig)] * per)
    r = reject(env, tx)
    assert r.reason == "bad-txns-too-many-sigops"
    # plus 1 for the P2WPKH input (a witness sigop counts 1)
    assert int(r.debug) == per * 80 + 1 > MAX_STANDARD_TX_SIGOPS_COST


# -- fees --------------------------------------------------------------------------------------


def test_min_relay_fee(env):
    u1, u2 = env.fund(2)
    tx = env.spend([u1], fee=100)
    r = reject(env, tx)
    assert r.reason == "min relay fee not met"
    assert r.debug == f"100 < {tx.vsize}"       # 1000 sat/kvB: one satoshi a vbyte
    env.pool.accept(env.spend([u2], fee=env.spend([u2], fee=0, sign=True).vsize))


def test_min_relay_fee_setting():
    env = Env(min_relay_fee=5000)
    (u,) = env.fund(1)
    tx = env.spend([u], fee=300)
    r = reject(env, tx)
    assert r.debug == f"300 < {FeeRate(5000).get_fee(tx.vsize)}"
    assert env.pool.info()["minrelaytxfee"] == 5000


# -- scripts -------------------------------------------------------------------------------------


def _high_s(sig_with_type: bytes) -> bytes:
    r, s = parse_der_strict(sig_with_type[:-1])
    return encode_der(r, SECP256K1_ORDER - s) + sig_with_type[-1:]


def test_mandatory_script_failure(env):
    (u,) = env.fund(1)
    tx = env.spend([u])
    sig, pub = tx.inputs[0].witness
    bad = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
    broken = tx.replace(inputs=[tx.inputs[0]._replace(witness=(bad, pub))])
    r = reject(env, broken)
    assert r.reason == ("mandatory-script-verify-flag-failed "
                        "(Signature must be zero for failed CHECK(MULTI)SIG operation)")
    assert (r.kind, r.ban_score) == (RejectKind.CONSENSUS, 100)


def test_non_mandatory_script_failure(env):
    (u,) = env.fund(1)
    tx = env.spend([u])
    sig, pub = tx.inputs[0].witness
    high = tx.replace(inputs=[tx.inputs[0]._replace(witness=(_high_s(sig), pub))])
    r = reject(env, high)
    assert r.reason == ("non-mandatory-script-verify-flag "
                        "(Non-canonical signature: S value is unnecessarily high)")
    assert (r.kind, r.ban_score) == (RejectKind.POLICY, 0)
    env.pool.accept(tx)


def test_acceptnonstdtxn():
    env = Env(policy=Policy(require_standard=False))
    (u,) = env.fund(1, script_pubkey=OP_TRUE_SCRIPT)
    env.pool.accept(env.spend([u], version=7))
    env.pool.check()


def test_max_fee(env):
    (u,) = env.fund(1)
    tx = env.spend([u], fee=5000)
    r = reject(env, tx, max_fee=4999)
    assert r.reason == "max-fee-exceeded"
    res = env.pool.accept(tx, test_only=True, max_fee=5000)
    assert res.fee == 5000 and not env.pool.contains(tx.txid)


def test_outpoint_types(env):
    # a pool query by display hex or raw bytes finds the same entry
    (u,) = env.fund(1)
    tx = env.spend([u])
    env.pool.accept(tx)
    assert env.pool.get(tx.txid) is env.pool.get(tx.txid_bytes)
    assert env.pool.get_spender(u.outpoint) == tx
    assert env.pool.get_coin(u.outpoint) is None
    coin = env.pool.get_coin(OutPoint(tx.txid_bytes, 0))
    assert coin.output == tx.outputs[0] and coin.height == 0x7FFFFFFF
