"""Review findings (h14): RPC behaviours where coind differed from Bitcoin Core.

Blocks are assembled outside the project with python-bitcoinlib, as a miner or a test
harness written for bitcoind would, and handed to coind over RPC.
"""

from __future__ import annotations

import pytest
from bitcoin.core import (
    CBlock,
    CBlockHeader,
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CTransaction,
    lx,
)
from bitcoin.core.script import OP_TRUE, CScript

from coin.regtest.framework import TestNode

P2WPKH = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    proc = TestNode(0, tmp_path_factory.mktemp("review") / "n").start()
    yield proc
    assert proc.stop() == 0


def _mine(template: dict, txs: list[CTransaction]) -> CBlock:
    block = CBlock(nVersion=template["version"], hashPrevBlock=lx(template["previousblockhash"]),
                   nTime=template["curtime"], nBits=int(template["bits"], 16), vtx=txs)
    merkle = block.calc_merkle_root()
    target = int(template["target"], 16)
    nonce = 0
    while True:
        header = CBlockHeader(block.nVersion, block.hashPrevBlock, merkle, block.nTime, block.nBits, nonce)
        if int.from_bytes(header.GetHash(), "little") <= target:
            return CBlock(block.nVersion, block.hashPrevBlock, merkle, block.nTime, block.nBits, nonce, txs)
        nonce += 1


def test_submitblock_accepts_a_block_without_witness_commitment(node):
    # A block with no witness transaction need not commit to witnesses (BIP-0141): Core's
    # UpdateUncommittedBlockStructures only fills the coinbase witness when there IS a
    # commitment. Adding one here would make the block "unexpected-witness".
    node.rpc("generatetoaddress", 1, P2WPKH)
    template = node.rpc("getblocktemplate", {"rules": ["segwit"]})
    height = template["height"]
    coinbase = CMutableTransaction([CMutableTxIn(COutPoint(), CScript([height, 0]), 0xFFFFFFFF)],
                                   [CMutableTxOut(template["coinbasevalue"], CScript([OP_TRUE]))])
    block = _mine(template, [CTransaction.from_tx(coinbase)])
    raw = block.serialize().hex()
    assert node.rpc("getblocktemplate", {"mode": "proposal", "data": raw}) is None
    assert node.rpc("submitblock", raw) is None
    assert node.rpc("getbestblockhash") == block.GetHash()[::-1].hex()
    # The stored block is the one submitted, byte for byte (no witness was added).
    assert node.rpc("getblock", block.GetHash()[::-1].hex(), 0) == raw


def test_testmempoolaccept_caps_the_fee_on_the_sigop_adjusted_vsize(node):
    # Core's testmempoolaccept checks maxfeerate against the vsize it reports (the
    # sigop-adjusted one, -bytespersigop 20), not the plain weight / 4.
    import bitcoin
    from bitcoin.wallet import CBitcoinAddress, P2SHBitcoinAddress

    bitcoin.SelectParams("regtest")
    # 15 sigops (the standard P2SH maximum) in a branch that never runs.
    redeem = CScript(bytes([0x00, 0x63]) + b"\xac" * 15 + bytes([0x68, 0x51]))
    address = str(P2SHBitcoinAddress.from_redeemScript(redeem))
    block_hash = node.rpc("generatetoaddress", 1, address)[0]
    node.rpc("generatetoaddress", 100, P2WPKH)
    coinbase = node.rpc("getblock", block_hash, 2)["tx"][0]
    fee = 2_000_000
    value = round(coinbase["vout"][0]["value"] * 100_000_000) - fee
    spend = CMutableTransaction(
        [CMutableTxIn(COutPoint(lx(coinbase["txid"]), 0), CScript([bytes(redeem)]))],
        [CMutableTxOut(value, CBitcoinAddress(P2WPKH).to_scriptPubKey())])
    raw = spend.serialize().hex()
    plain_vsize = len(spend.serialize())
    sigop_vsize = 15 * 4 * 20 // 4
    assert plain_vsize * 10_000 < fee < sigop_vsize * 10_000  # 0.1 BTC/kvB = 10,000 sat/vB
    (result,) = node.rpc("testmempoolaccept", [raw], "0.1")
    assert result["allowed"] is True, result
    assert result["vsize"] == sigop_vsize
