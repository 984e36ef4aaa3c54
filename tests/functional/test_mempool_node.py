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
