"""coin.p2p.connman / sync / relay in one process: ChainStates on LevelDB in tmp dirs,
connection managers on loopback WebSockets, a raw WebSocket client as a scripted peer.

Headers-first sync and a reorg between two managers, orphan transactions (relay keeps
them in the mempool layer's OrphanPool) fetching their parent from the scripted peer,
dropped with that peer, when a block confirms them, after 20 minutes by the node's clock,
and bounded at 100; misbehaviour (discouraged unless local or
whitelisted), self-connections, setnetworkactive.
"""

import asyncio
import os
import time
from types import SimpleNamespace

import pytest
from p2p_support import REGTEST, StubNode, make_builder, run, until
from websockets.asyncio.client import connect

from coin.config import NODE_ARGS, parse_args
from coin.mempool.orphans import DEFAULT_MAX_ORPHAN_TRANSACTIONS, ORPHAN_TX_EXPIRE_TIME, OrphanPool
from coin.p2p.connman import ConnMan
from coin.p2p.framing import decode_frame
from coin.p2p.messages import MsgPing, MsgTx, MsgVerack, MsgVersion, encode_message, parse_message
from coin.p2p.peer import ConnectionType
from coin.p2p.protocol import MSG_WITNESS_TX
from coin.primitives import OutPoint, Transaction, TxIn, TxOut


@pytest.fixture
def builder():
    return make_builder()


def test_headers_first_sync_and_reorg(tmp_path, builder):
    async def scenario():
        a, b = StubNode(tmp_path / "a"), StubNode(tmp_path / "b")
        try:
            main = builder.build_chain(30)
            for blk in main:
                a.chainstate.process_new_block(blk)
            await a.connman.start()
            await b.connman.start()
            b.connman.add_node(a.address, "onetry")
            await until(lambda: b.chainstate.tip.hash_bytes == main[-1].hash_bytes, what="sync")
            # A fork from height 20, longer than the main chain: both follow it.
            fork_base = builder.entry_of(main[19])
            fork, prev = [], fork_base
            for _ in range(12):
                blk = builder.next_block(prev=prev, set_tip=False)
                fork.append(blk)
                prev = builder.entry_of(blk)
            for blk in fork:
                await a.run_validation(a.chainstate.process_new_block, blk)
            await until(lambda: b.chainstate.tip.hash_bytes == fork[-1].hash_bytes, what="the reorg")
            assert b.chainstate.height == 32
            peer = next(iter(b.connman.peers.values()))
            assert peer.best_known_header.hash_bytes == fork[-1].hash_bytes
            assert peer.misbehavior == 0
        finally:
            await b.stop()
            await a.stop()

    run(scenario())


async def _handshake(ws, node) -> None:
    """Be a scripted peer: version, wait for the node's verack, verack, until it counts us."""
    before = {p.id for p in node.connman.peers.values() if p.handshake_done}
    await ws.send(encode_message(REGTEST.magic, MsgVersion(
        version=70016, services=9, nonce=int.from_bytes(os.urandom(8), "little"), user_agent="/t/")))
    while True:
        command, _ = decode_frame(REGTEST.magic, await asyncio.wait_for(ws.recv(), 10))
        if command == "verack":
            break
    await ws.send(encode_message(REGTEST.magic, MsgVerack()))
    await until(lambda: any(p.handshake_done and p.id not in before for p in node.connman.peers.values()),
                what="handshake")


async def _next_getdata(ws) -> list:
    """The (type, hash) pairs of the next getdata the node sends us."""
    while True:
        command, payload = decode_frame(REGTEST.magic, await asyncio.wait_for(ws.recv(), 10))
        if command == "getdata":
            return [(v.type, v.hash_bytes) for v in parse_message(command, payload).inventory]


async def _sync_with(ws, nonce: int) -> None:
    """Ping and wait for the pong: the node has handled every message we sent before."""
    await ws.send(encode_message(REGTEST.magic, MsgPing(nonce)))
    while True:
        command, payload = decode_frame(REGTEST.magic, await asyncio.wait_for(ws.recv(), 10))
        if command == "pong" and parse_message(command, payload).nonce == nonce:
            return


def _unsigned_orphan(i: int) -> Transaction:
    """A standard-looking transaction spending an output nobody has: an orphan."""
    parent = i.to_bytes(4, "little") + os.urandom(28)
    return Transaction(2, [TxIn(OutPoint(parent, 0), b"", 0xFFFFFFFE)], [TxOut(50_000, b"\x00\x14" + bytes(20))], 0)


def _node_and_family(tmp_path, builder):
    """A node 101 blocks up, and a parent / child pair spending its first coinbase."""
    node = StubNode(tmp_path / "n")
    for blk in builder.build_chain(101):
        node.chainstate.process_new_block(blk)
    parent = builder.spend([builder.coinbase_utxo(1)], n_outputs=1, fee=10_000)
    child = builder.spend(builder.utxos_of(parent), fee=10_000)
    return node, parent, child


async def _send_orphan(ws, node, child, parent) -> None:
    """Handshake, send `child` alone: the node must ask us for `parent`, by txid."""
    await _handshake(ws, node)
    await ws.send(encode_message(REGTEST.magic, MsgTx(child)))
    assert await _next_getdata(ws) == [(MSG_WITNESS_TX, parent.txid_bytes)]


def test_orphan_fetches_its_parent(tmp_path, builder):
    async def scenario():
        node, parent, child = _node_and_family(tmp_path, builder)
        await node.connman.start()
        try:
            async with connect(f"ws://{node.address}/", compression=None) as ws:
                await _send_orphan(ws, node, child, parent)
                assert isinstance(node.connman.relay.orphans, OrphanPool)
                assert node.connman.relay.orphans.contains(child.wtxid_bytes)
                await ws.send(encode_message(REGTEST.magic, MsgTx(parent)))
                await until(lambda: node.mempool.contains(child.txid_bytes), what="the orphan accepted")
                assert node.mempool.contains(parent.txid_bytes)
                assert len(node.connman.relay.orphans) == 0
        finally:
            await node.stop()

    run(scenario())


def _fake_peer(host, *, local=False, whitelisted=False):
    reasons = []
    return SimpleNamespace(id=7, host=host, addr=f"{host}:1", misbehavior=0, should_discourage=False,
                           local=local, whitelisted=whitelisted, conn_type=ConnectionType.INBOUND,
                           disconnect=reasons.append, reasons=reasons)


@pytest.mark.parametrize("host, local, whitelisted, discouraged", [
    ("10.1.2.3", False, False, True),
    ("127.0.0.1", True, False, False),
    ("10.1.2.4", False, True, False),
], ids=["remote", "local", "whitelisted"])
def test_misbehaviour_disconnects_and_discourages_remote_peers_only(tmp_path, host, local, whitelisted, discouraged):
    node = SimpleNamespace(params=REGTEST, clock=time.time, net_datadir=None, chainstate=None, mempool=None,
                           config=parse_args(["-regtest", f"-datadir={tmp_path}"], args=NODE_ARGS))
    cm = ConnMan(node)
    peer = _fake_peer(host, local=local, whitelisted=whitelisted)
    cm.misbehaving(peer, 60, "first")
    assert peer.reasons == [] and peer.misbehavior == 60
    cm.misbehaving(peer, 40, "second")
    assert len(peer.reasons) == 1 and peer.should_discourage
    assert cm.banman.is_discouraged(host) is discouraged


def test_self_connection_is_dropped_and_network_can_be_turned_off(tmp_path):
    async def scenario():
        n = StubNode(tmp_path / "n")
        m = StubNode(tmp_path / "m")
        await n.connman.start()
        await m.connman.start()
        try:
            peer = await n.connman.open_connection("127.0.0.1", n.connman.port, ConnectionType.MANUAL)
            assert peer is not None
            await until(lambda: not n.connman.peers, what="the self-connection to go")
            n.connman.add_node(m.address, "add")
            await until(lambda: any(p.handshake_done for p in m.connman.peers.values()), what="addnode")
            await n.connman.set_network_active(False)
            assert not n.connman.peers
            await until(lambda: not m.connman.peers, what="the other side to see it")
            assert await n.connman.open_connection("127.0.0.1", m.connman.port, ConnectionType.MANUAL) is None
            await n.connman.set_network_active(True)
            await until(lambda: any(p.handshake_done for p in m.connman.peers.values()), what="the reconnection")
        finally:
            await m.stop()
            await n.stop()

    run(scenario())


def test_orphans_dropped_with_their_peer_and_when_a_block_confirms_them(tmp_path, builder):
    async def scenario():
        node, parent, child = _node_and_family(tmp_path, builder)
        orphans = node.connman.relay.orphans
        await node.connman.start()
        try:
            async with connect(f"ws://{node.address}/", compression=None) as ws:
                await _send_orphan(ws, node, child, parent)
                assert len(orphans) == 1
            await until(lambda: len(orphans) == 0, what="the orphan dropped with its peer")

            async with connect(f"ws://{node.address}/", compression=None) as ws:
                await _send_orphan(ws, node, child, parent)
                assert orphans.contains(child.txid_bytes)
                block = builder.next_block([parent, child])
                await node.run_validation(node.chainstate.process_new_block, block)
                assert node.chainstate.tip.hash_bytes == block.hash_bytes
                assert len(orphans) == 0                     # confirmed: no longer waiting
                assert not node.mempool.contains(child.txid_bytes)
        finally:
            await node.stop()

    run(scenario())


def test_orphans_expire_by_the_node_clock_and_are_bounded(tmp_path):
    async def scenario():
        node = StubNode(tmp_path / "n")
        now = [time.time()]
        node.clock = lambda: now[0]
        orphans = node.connman.relay.orphans
        await node.connman.start()
        try:
            async with connect(f"ws://{node.address}/", compression=None) as ws:
                await _handshake(ws, node)
                first = _unsigned_orphan(0)
                await ws.send(encode_message(REGTEST.magic, MsgTx(first)))
                await _sync_with(ws, 1)
                assert orphans.contains(first.wtxid_bytes)
                now[0] += ORPHAN_TX_EXPIRE_TIME - 1
                second = _unsigned_orphan(1)
                await ws.send(encode_message(REGTEST.magic, MsgTx(second)))
                await _sync_with(ws, 2)
                assert orphans.contains(first.wtxid_bytes) and orphans.contains(second.wtxid_bytes)
                now[0] += 2                                  # the first is now 20 minutes old
                third = _unsigned_orphan(2)
                await ws.send(encode_message(REGTEST.magic, MsgTx(third)))
                await _sync_with(ws, 3)
                assert not orphans.contains(first.wtxid_bytes)
                assert orphans.contains(second.wtxid_bytes) and orphans.contains(third.wtxid_bytes)

                many = [_unsigned_orphan(i) for i in range(3, 3 + DEFAULT_MAX_ORPHAN_TRANSACTIONS + 5)]
                for tx in many:
                    await ws.send(encode_message(REGTEST.magic, MsgTx(tx)))
                await _sync_with(ws, 4)
                assert len(orphans) == DEFAULT_MAX_ORPHAN_TRANSACTIONS
                assert sum(orphans.contains(tx.wtxid_bytes) for tx in [second, third, *many]) == len(orphans)
        finally:
            await node.stop()

    run(scenario())
