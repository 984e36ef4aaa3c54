"""Clients written for bitcoind work against coind unchanged.

python-bitcoinlib's `bitcoin.rpc.Proxy` mines, spends a coinbase with a signature that
python-bitcoinlib makes, sees it in the pool, mines it and reads it back; a block
assembled outside the project from getblocktemplate becomes the tip.
"""

from __future__ import annotations

import bitcoin
import bitcoin.rpc
import pytest
from bitcoin.core import (
    COIN,
    CBlock,
    CBlockHeader,
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CTransaction,
    CTxInWitness,
    CTxWitness,
    b2lx,
    lx,
    x,
)
from bitcoin.core.script import SIGHASH_ALL, CScript, CScriptWitness, SignatureHash
from bitcoin.wallet import CBitcoinSecret, P2PKHBitcoinAddress, P2WPKHBitcoinAddress

from coin.regtest.framework import TestNode
from coin.rpc.auth import read_cookie


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    proc = TestNode(0, tmp_path_factory.mktemp("clients") / "n").start()
    yield proc
    assert proc.stop() == 0


@pytest.fixture(scope="module")
def proxy(node):
    bitcoin.SelectParams("regtest")
    return bitcoin.rpc.Proxy(service_url=f"http://{read_cookie(node.cookie_path)}@127.0.0.1:{node.rpc_port}")


KEY = CBitcoinSecret.from_secret_bytes(b"\x01" * 32)
OTHER = CBitcoinSecret.from_secret_bytes(b"\x02" * 32)


def test_python_bitcoinlib_proxy_round_trip(proxy):
    mine_to = P2PKHBitcoinAddress.from_pubkey(KEY.pub)
    hashes = list(proxy.generatetoaddress(101, mine_to))
    assert len(hashes) == 101 and proxy.getblockcount() >= 101
    block1 = proxy.getblock(hashes[0])
    assert isinstance(block1, CBlock) and block1.GetHash() == hashes[0]
    coinbase = block1.vtx[0]
    outpoint = COutPoint(coinbase.GetTxid(), 0)
    utxo = proxy.gettxout(outpoint)
    assert utxo["txout"].nValue == 50 * COIN

    # Spend it with a signature made by python-bitcoinlib.
    pay_to = P2WPKHBitcoinAddress.from_scriptPubKey(
        CScript([0, bitcoin.core.Hash160(OTHER.pub)]))
    tx = CMutableTransaction([CMutableTxIn(outpoint)],
                             [CMutableTxOut(50 * COIN - 10_000, pay_to.to_scriptPubKey())])
    script_code = coinbase.vout[0].scriptPubKey
    sighash = SignatureHash(script_code, tx, 0, SIGHASH_ALL)
    sig = KEY.sign(sighash) + bytes([SIGHASH_ALL])
    tx.vin[0].scriptSig = CScript([sig, KEY.pub])
    txid = proxy.sendrawtransaction(tx)
    assert txid == tx.GetTxid()
    assert txid in proxy.getrawmempool()
    assert proxy.getrawtransaction(txid).serialize() == tx.serialize()
    pending = proxy.gettxout(COutPoint(txid, 0))
    assert pending["txout"].nValue == 50 * COIN - 10_000
    # The coinbase output is now spent in the pool: gettxout with the mempool says so.
    with pytest.raises(IndexError):
        proxy.gettxout(outpoint)

    [block_hash] = list(proxy.generatetoaddress(1, mine_to))
    block = proxy.getblock(block_hash)
    assert [t.GetTxid() for t in block.vtx[1:]] == [txid]
    assert proxy.getrawmempool() == []
    confirmed = proxy.getrawtransaction(txid, block_hash=block_hash)
    assert confirmed.GetTxid() == txid
    verbose = proxy.getrawtransaction(txid, verbose=True, block_hash=block_hash)
    assert verbose["blockhash"] == block_hash and verbose["confirmations"] == 1


def test_block_assembled_outside_from_getblocktemplate(proxy):
    # One witness spend in the pool, so the template carries a transaction and a commitment.
    mine_to = P2PKHBitcoinAddress.from_pubkey(KEY.pub)
    hashes = list(proxy.generatetoaddress(1, P2WPKHBitcoinAddress.from_scriptPubKey(
        CScript([0, bitcoin.core.Hash160(OTHER.pub)]))))
    proxy.generatetoaddress(100, mine_to)
    cb = proxy.getblock(hashes[0]).vtx[0]
    spend = CMutableTransaction([CMutableTxIn(COutPoint(cb.GetTxid(), 0))],
                                [CMutableTxOut(cb.vout[0].nValue - 20_000, mine_to.to_scriptPubKey())])
    script_code = CScript([bitcoin.core.script.OP_DUP, bitcoin.core.script.OP_HASH160,
                           bitcoin.core.Hash160(OTHER.pub), bitcoin.core.script.OP_EQUALVERIFY,
                           bitcoin.core.script.OP_CHECKSIG])
    sighash = SignatureHash(script_code, spend, 0, SIGHASH_ALL, amount=cb.vout[0].nValue,
                            sigversion=bitcoin.core.script.SIGVERSION_WITNESS_V0)
    spend.wit = CTxWitness([CTxInWitness(CScriptWitness([OTHER.sign(sighash) + bytes([SIGHASH_ALL]), OTHER.pub]))])
    txid = proxy.sendrawtransaction(spend)

    template = proxy.call("getblocktemplate", {"rules": ["segwit"]})
    assert [t["txid"] for t in template["transactions"]] == [b2lx(txid)]
    assert template["transactions"][0]["fee"] == 20_000
    height = template["height"]
    assert template["coinbasevalue"] == ((50 * COIN) >> (height // 150)) + 20_000  # regtest halves every 150
    coinbase = CMutableTransaction(
        [CMutableTxIn(COutPoint(), CScript([height, 0]), 0xFFFFFFFF)],
        [CMutableTxOut(template["coinbasevalue"], mine_to.to_scriptPubKey()),
         CMutableTxOut(0, CScript(x(template["default_witness_commitment"])))])
    coinbase.wit = CTxWitness([CTxInWitness(CScriptWitness([b"\x00" * 32]))])
    txs = [CTransaction.from_tx(coinbase)] + [CTransaction.deserialize(x(t["data"]))
                                               for t in template["transactions"]]
    block = CBlock(nVersion=template["version"], hashPrevBlock=lx(template["previousblockhash"]),
                   nTime=template["curtime"], nBits=int(template["bits"], 16), vtx=txs)
    block = CBlock(nVersion=block.nVersion, hashPrevBlock=block.hashPrevBlock,
                   hashMerkleRoot=block.calc_merkle_root(), nTime=block.nTime, nBits=block.nBits, vtx=txs)
    target = int(template["target"], 16)
    nonce = 0
    while True:
        header = CBlockHeader(block.nVersion, block.hashPrevBlock, block.hashMerkleRoot, block.nTime,
                              block.nBits, nonce)
        if int.from_bytes(header.GetHash(), "little") <= target:
            break
        nonce += 1
    block = CBlock(block.nVersion, block.hashPrevBlock, block.hashMerkleRoot, block.nTime, block.nBits,
                   nonce, txs)
    # Proposal mode first: the block is valid.
    assert proxy.call("getblocktemplate", {"mode": "proposal", "data": block.serialize().hex()}) is None
    assert proxy.call("submitblock", block.serialize().hex()) is None
    assert proxy.getbestblockhash() == block.GetHash()
    assert proxy.call("submitblock", block.serialize().hex()) == "duplicate"
    assert proxy.getrawmempool() == []


def test_getblocktemplate_errors(node):
    from coin.rpc.errors import RPCError
    with pytest.raises(RPCError) as e:
        node.rpc("getblocktemplate", {})
    assert e.value.code == -8 and "segwit rule set" in e.value.message
    with pytest.raises(RPCError) as e:
        node.rpc("getblocktemplate", {"mode": "bogus", "rules": ["segwit"]})
    assert (e.value.code, e.value.message) == (-8, "Invalid mode")
