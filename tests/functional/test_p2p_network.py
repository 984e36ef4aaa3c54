"""The P2P network on real coind processes over loopback WebSockets (issue 6).

- a line A-B-C: blocks mined on A and a transaction sent to C reach every node;
- split and heal: with B's networking off both sides mine; afterwards every node follows
  the most-work chain and the losing side's transactions are back in every mempool;
- a fresh node syncs a 2,000-block chain from one peer, and from two peers one of which
  is frozen (SIGSTOP) mid-sync;
- address gossip: a node given one peer learns the others' addresses.

Transactions are signed with tests/blockbuilder's key; blocks pay its P2WPKH address.
"""

import os
import signal
import time

import pytest
from blockbuilder import BlockBuilder, Utxo

from coin.crypto.address import script_to_address
from coin.params import get_params
from coin.primitives import Block, OutPoint
from coin.regtest.framework import wait_until

REGTEST = get_params("regtest")


@pytest.fixture(scope="module")
def builder():
    return BlockBuilder()


def _address(builder) -> str:
    return script_to_address(builder.p2wpkh, REGTEST)


def _coinbase_utxo(node, height: int) -> Utxo:
    block = Block.from_bytes(bytes.fromhex(node.getblock(node.getblockhash(height), 0)))
    cb = block.txs[0]
    return Utxo(OutPoint(cb.txid_bytes, 0), cb.outputs[0])


def _send(node, builder, utxo: Utxo, fee: int = 10_000) -> str:
    tx = builder.spend([utxo], fee=fee)
    return node.sendrawtransaction(tx.to_bytes().hex())


def test_line_of_three_relays_blocks_and_transactions(make_network, builder):
    net = make_network(3, "line")
    a, b, c = net
    assert a.getconnectioncount() == 1 and b.getconnectioncount() == 2 and c.getconnectioncount() == 1
    a.generatetoaddress(101, _address(builder))
    net.sync_blocks(timeout=60)
    assert c.getblockcount() == 101
    txid = _send(c, builder, _coinbase_utxo(c, 1))
    net.sync_mempools(timeout=30)
    assert txid in a.getrawmempool()
    block_hash = a.generatetoaddress(1, _address(builder))[0]
    net.sync_blocks(timeout=30)
    assert txid in b.getblock(block_hash)["tx"]
    wait_until(lambda: all(n.getrawmempool() == [] for n in net), 30, what="empty mempools")
    info = b.getnetworkinfo()
    assert info["connections"] == 2 and info["connections_in"] + info["connections_out"] == 2
    assert info["protocolversion"] == 70016
    peers = b.getpeerinfo()
    assert all(p["version"] == 70016 and p["subver"].startswith("/coin:") for p in peers)
    assert max(p["synced_headers"] for p in peers) == 102  # A announced every block to B


def test_split_and_heal_follows_most_work_and_returns_transactions(make_network, builder):
    net = make_network(3, "line")
    a, b, c = net
    a.generatetoaddress(101, _address(builder))
    net.sync_blocks(timeout=60)
    net.set_network_active(1, False)
    wait_until(lambda: a.getconnectioncount() == 0 and c.getconnectioncount() == 0, 30, what="split")
    assert b.getnetworkinfo()["networkactive"] is False
    # A's side: one block holding a transaction. C's side: three blocks (more work).
    txid = _send(a, builder, _coinbase_utxo(a, 2))
    losing = a.generatetoaddress(1, _address(builder))[0]
    assert txid in a.getblock(losing)["tx"]
    winning_tip = c.generatetoaddress(3, _address(builder))[-1]
    net.set_network_active(1, True)
    net.connect(1, 0)
    net.connect(1, 2)
    net.sync_blocks(timeout=60)
    assert a.getbestblockhash() == winning_tip == b.getbestblockhash()
    net.sync_mempools(timeout=30)
    assert all(txid in n.getrawmempool() for n in net)


def _write_blk(path, blocks) -> None:
    with open(path, "wb") as f:
        for blk in blocks:
            raw = blk.to_bytes()
            f.write(REGTEST.magic + len(raw).to_bytes(4, "little") + raw)


@pytest.fixture(scope="module")
def chain_2000(tmp_path_factory):
    """A 2,000-block regtest chain (timestamps recent enough) in a blk file."""
    builder = BlockBuilder(seed=b"p2p sync", time=int(time.time()) - 3 * 3600)
    blocks = builder.build_chain(2000)
    path = tmp_path_factory.mktemp("chain") / "blk00000.dat"
    _write_blk(path, blocks)
    return path, blocks[-1].hash


def test_fresh_node_syncs_2000_blocks_from_one_peer(make_node, chain_2000):
    path, tip = chain_2000
    src = make_node(f"-loadblock={path}")
    wait_until(lambda: src.getblockcount() == 2000, 120, what="the import")
    fresh = make_node()
    fresh.addnode(src.p2p_address, "onetry")
    wait_until(lambda: fresh.getbestblockhash() == tip, 120, what="the sync of 2000 blocks")
    assert fresh.getblockchaininfo()["headers"] == 2000


def test_sync_finishes_when_one_of_two_peers_freezes(make_node, chain_2000):
    path, tip = chain_2000
    good = make_node(f"-loadblock={path}")
    frozen = make_node(f"-loadblock={path}")
    wait_until(lambda: good.getblockcount() == 2000 and frozen.getblockcount() == 2000, 120, what="the imports")
    fresh = make_node()
    fresh.addnode(frozen.p2p_address, "onetry")
    fresh.addnode(good.p2p_address, "onetry")
    wait_until(lambda: fresh.getconnectioncount() == 2, 30, what="two connections")
    wait_until(lambda: fresh.getblockcount() >= 50, 60, what="the sync to start")
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        assert fresh.getblockcount() < 2000, "synced before the freeze: nothing was tested"
        with fresh.assert_debug_log(["is stalling block download"], timeout=60):
            wait_until(lambda: fresh.getbestblockhash() == tip, 120, what="the sync despite a frozen peer")
        assert [p["addr"] for p in fresh.getpeerinfo()] == [good.p2p_address]
    finally:
        os.kill(frozen.pid, signal.SIGCONT)


def test_address_gossip_finds_the_rest(make_network, make_node):
    net = make_network(3, "line")
    a, b, c = net
    newcomer = make_node("-autoconnect=1")
    newcomer.addnode(b.p2p_address, "onetry")

    def known() -> set:
        return {f"{x['address']}:{x['port']}" for x in newcomer.getnodeaddresses(0)}

    wait_until(lambda: {a.p2p_address, c.p2p_address} <= known() | {p["addr"] for p in newcomer.getpeerinfo()},
               60, what="the newcomer to learn A and C")
    wait_until(lambda: {a.p2p_address, c.p2p_address} <= {p["addr"] for p in newcomer.getpeerinfo()},
               60, what="the newcomer to connect to A and C")


def test_network_rpcs_and_their_errors(make_network):
    from coin.rpc.errors import RPCError

    net = make_network(2, "line")
    a, b = net

    def code(fn, *args):
        try:
            fn(*args)
        except RPCError as e:
            return e.code, e.message
        raise AssertionError("no error")

    assert a.getconnectioncount() == 1
    a.addnode(b.p2p_address, "add")
    assert code(a.addnode, b.p2p_address, "add") == (-23, "Error: Node already added")
    info = a.getaddednodeinfo()
    assert info == [{"addednode": b.p2p_address, "connected": True,
                     "addresses": [{"address": b.p2p_address, "connected": "outbound"}]}]
    assert code(a.getaddednodeinfo, "1.2.3.4:5")[0] == -24
    a.addnode(b.p2p_address, "remove")
    assert code(a.addnode, b.p2p_address, "remove")[0] == -24
    assert code(a.addnode, b.p2p_address, "bogus")[0] == -1
    assert code(a.disconnectnode, "1.2.3.4:5") == (-29, "Node not found in connected nodes")
    assert code(a.disconnectnode, b.p2p_address, 0)[0] == -32602
    a.ping()
    wait_until(lambda: all("pingtime" in p for p in a.getpeerinfo()), 30, what="a pong")
    a.setban("10.0.0.0/8", "add", 1000)
    assert code(a.setban, "10.0.0.0/8", "add")[0] == -23
    assert code(a.setban, "not-an-ip", "add")[0] == -30
    banned = a.listbanned()
    assert [x["address"] for x in banned] == ["10.0.0.0/8"] and banned[0]["ban_duration"] == 1000
    a.setban("127.0.0.1", "add")
    wait_until(lambda: a.getconnectioncount() == 0, 30, what="the banned peer to go")
    a.clearbanned()
    assert a.listbanned() == []
    assert code(a.setban, "10.0.0.0/8", "remove")[0] == -30
    assert a.setnetworkactive(False) is False
    assert a.getnetworkinfo()["networkactive"] is False
    assert a.setnetworkactive(True) is True
    wait_until(lambda: b.getconnectioncount() == 0, 30, what="B to see the ban")
    net.connect(0, 1)
    assert a.getnettotals()["totalbytesrecv"] > 0
