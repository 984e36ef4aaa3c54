"""The mempool inside coind: sendrawtransaction's error codes, -persistmempool, reorgs.

Transactions are signed by python-bitcoinlib (an implementation we did not write).
"""

from __future__ import annotations

from decimal import Decimal

import bitcoin
import pytest
from bitcoin.core import (
    COIN,
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    Hash160,
    lx,
)
from bitcoin.core.script import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    SIGHASH_ALL,
    CScript,
    SignatureHash,
)
from bitcoin.wallet import CBitcoinSecret, P2PKHBitcoinAddress

from coin.regtest.framework import TestNode
from coin.rpc.errors import RPCError

KEY = CBitcoinSecret.from_secret_bytes(b"\x03" * 32)


def p2pkh(pub: bytes) -> CScript:
    return CScript([OP_DUP, OP_HASH160, Hash160(pub), OP_EQUALVERIFY, OP_CHECKSIG])


def spend(prev_txid: str, n: int, value: int, outputs: list[tuple[int, CScript]]) -> str:
    tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(prev_txid), n))],
                             [CMutableTxOut(v, s) for v, s in outputs])
    sighash = SignatureHash(p2pkh(KEY.pub), tx, 0, SIGHASH_ALL)
    tx.vin[0].scriptSig = CScript([KEY.sign(sighash) + bytes([SIGHASH_ALL]), KEY.pub])
    return tx.serialize().hex()


@pytest.fixture()
def funded(tmp_path):
    bitcoin.SelectParams("regtest")
    node = TestNode(0, tmp_path / "n").start()
    address = str(P2PKHBitcoinAddress.from_pubkey(KEY.pub))
    hashes = node.rpc("generatetoaddress", 110, address)
    coinbases = [node.rpc("getblock", h)["tx"][0] for h in hashes[:10]]
    yield node, coinbases
    node.stop()


def rpc_error(node, method, *args):
    with pytest.raises(RPCError) as e:
        node.rpc(method, *args)
    return e.value.code, e.value.message


def test_sendrawtransaction_errors_in_cores_order(funded):
    node, coinbases = funded
    missing = spend("11" * 32, 0, 50 * COIN, [(COIN, p2pkh(KEY.pub))])
    assert rpc_error(node, "sendrawtransaction", missing) == (-25, "bad-txns-inputs-missingorspent")
    dust = spend(coinbases[0], 0, 50 * COIN, [(100, p2pkh(KEY.pub)), (50 * COIN - 10_000, p2pkh(KEY.pub))])
    assert rpc_error(node, "sendrawtransaction", dust) == (-26, "dust")
    greedy = spend(coinbases[0], 0, 50 * COIN, [(COIN, p2pkh(KEY.pub))])  # 49 BTC fee
    assert rpc_error(node, "sendrawtransaction", greedy) == (
        -25, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)")
    assert node.rpc("testmempoolaccept", [greedy])[0]["reject-reason"] == "max-fee-exceeded"
    assert node.rpc("sendrawtransaction", greedy, 0) == node.rpc("decoderawtransaction", greedy)["txid"]
    # Sending it again answers the txid (already in the pool).
    assert node.rpc("sendrawtransaction", greedy, 0) == node.rpc("decoderawtransaction", greedy)["txid"]
    node.rpc("generatetoaddress", 1, str(P2PKHBitcoinAddress.from_pubkey(KEY.pub)))
    assert rpc_error(node, "sendrawtransaction", greedy, 0) == (-27, "Transaction outputs already in utxo set")
    assert rpc_error(node, "sendrawtransaction", "00") == (
        -22, "TX decode failed. Make sure the tx has at least one input.")
    assert rpc_error(node, "sendrawtransaction", greedy, 1) == (
        -8, "Fee rates larger than or equal to 1BTC/kvB are not accepted")


def test_mempool_survives_restart_and_reorg(funded):
    node, coinbases = funded
    raw = spend(coinbases[1], 0, 50 * COIN, [(50 * COIN - 20_000, p2pkh(KEY.pub))])
    txid = node.rpc("sendrawtransaction", raw)
    entry = node.rpc("getmempoolentry", txid)
    assert entry["fees"]["base"] == Decimal("0.00020000") and entry["ancestorcount"] == 1
    assert node.stop() == 0
    assert (node.net_datadir / "mempool.dat").exists()
    node.start()
    assert node.rpc("getrawmempool") == [txid]

    # Confirm it, then invalidate that block: the transaction returns to the pool.
    [block] = node.rpc("generatetoaddress", 1, str(P2PKHBitcoinAddress.from_pubkey(KEY.pub)))
    assert node.rpc("getrawmempool") == []
    node.rpc("invalidateblock", block)
    assert node.rpc("getrawmempool") == [txid]
    node.rpc("reconsiderblock", block)
    assert node.rpc("getrawmempool") == []
    assert node.rpc("getrawtransaction", txid, 1, block)["confirmations"] == 1


def _txid(node, raw: str) -> str:
    return node.rpc("decoderawtransaction", raw)["txid"]


def test_testmempoolaccept_of_a_package(funded):
    """Several transactions are one package, as in Core: a child may spend its parent
    in the same call; Core's package errors (not sorted, duplicates, conflicts) are
    reported on every entry; a transaction after a failure stays unvalidated (no
    "allowed"); nothing is added to the pool."""
    node, coinbases = funded
    me = p2pkh(KEY.pub)
    parent = spend(coinbases[0], 0, 50 * COIN, [(50 * COIN - 10_000, me)])
    child = spend(_txid(node, parent), 0, 50 * COIN - 10_000, [(50 * COIN - 20_000, me)])
    alone = node.rpc("testmempoolaccept", [child])                 # one tx: no package
    assert alone[0]["allowed"] is False and alone[0]["reject-reason"] == "missing-inputs"

    both = node.rpc("testmempoolaccept", [parent, child])
    assert [r["allowed"] for r in both] == [True, True]
    assert [r["txid"] for r in both] == [_txid(node, parent), _txid(node, child)]
    assert both[1]["fees"]["base"] == Decimal("0.00010000") and both[1]["vsize"] > 0
    assert all("package-error" not in r for r in both)
    assert node.rpc("getmempoolinfo")["size"] == 0                 # a test only

    unsorted = node.rpc("testmempoolaccept", [child, parent])
    assert [r.get("package-error") for r in unsorted] == ["package-not-sorted"] * 2
    assert all("allowed" not in r for r in unsorted)
    dup = node.rpc("testmempoolaccept", [parent, parent])
    assert [r.get("package-error") for r in dup] == ["package-contains-duplicates"] * 2
    twin = spend(coinbases[0], 0, 50 * COIN, [(50 * COIN - 30_000, me)])   # the same coin again
    clash = node.rpc("testmempoolaccept", [parent, twin])
    assert [r.get("package-error") for r in clash] == ["conflict-in-package"] * 2

    # the first failure ends it: a bad child after a good parent, then a bad parent
    bad_child = spend(_txid(node, parent), 0, 50 * COIN - 10_000, [(50 * COIN, me)])  # spends more than it has
    r = node.rpc("testmempoolaccept", [parent, bad_child])
    assert "allowed" not in r[0] and r[1]["allowed"] is False
    assert r[1]["reject-reason"] == "bad-txns-in-belowout"
    # a bad signature fails in the script checks, after every PreChecks passed: the
    # parent before it has its result
    forged = CMutableTransaction([CMutableTxIn(COutPoint(lx(_txid(node, parent)), 0))],
                                 [CMutableTxOut(50 * COIN - 20_000, me)])
    other_key = CBitcoinSecret.from_secret_bytes(b"\x04" * 32)   # not the coin's key
    sighash = SignatureHash(me, forged, 0, SIGHASH_ALL)
    forged.vin[0].scriptSig = CScript([other_key.sign(sighash) + bytes([SIGHASH_ALL]), KEY.pub])
    r = node.rpc("testmempoolaccept", [parent, forged.serialize().hex()])
    assert r[0]["allowed"] is True and r[1]["allowed"] is False
    assert "script-verify-flag" in r[1]["reject-reason"]
    # a package may not replace: the parent is in the pool, a package spending its coin conflicts
    node.rpc("sendrawtransaction", parent)
    r = node.rpc("testmempoolaccept", [twin, spend(_txid(node, twin), 0, 50 * COIN - 30_000,
                                                   [(50 * COIN - 40_000, me)])])
    assert r[0]["allowed"] is False and r[0]["reject-reason"] == "bip125-replacement-disallowed"
    assert "allowed" not in r[1]
    r = node.rpc("testmempoolaccept", [parent, child])             # already there
    assert r[0]["allowed"] is False and r[0]["reject-reason"] == "txn-already-in-mempool"
    assert "allowed" not in r[1]
    # a child of an in-pool parent alone is fine, as before
    assert node.rpc("testmempoolaccept", [child])[0]["allowed"] is True
