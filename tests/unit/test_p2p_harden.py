"""Hostile peers against coin.p2p in one process (issue 6: "nothing the network sends can
raise past the peer that sent it"; bounded memory for everything a peer can store).

Connection managers on loopback WebSockets (ChainState on LevelDB in tmp dirs), raw
WebSocket clients as scripted peers:
- addr rate limit: a new inbound peer has one address token; after our getaddr, 1,000;
- inbound slots: max_inbound = maxconnections - 10 (8 full-relay + 2 block-relay
  outbound), a full house evicts (Core's SelectNodeToEvict) or refuses; connections
  that have not finished the WebSocket handshake are capped;
- CPU off the event loop: a stripped block for MSG_BLOCK and a received block are
  parsed on worker threads;
- `mempool` from a peer without the whitelist: disconnected (not discouraged);
- unrequested blocks with less work than the tip or more than 288 ahead are not stored;
- known inventory in a rolling bloom filter (< 1 MB);
- Core's scores: a version with future fields is fine; an oversized inv costs 20;
- blocks are downloaded only from peers offering NODE_NETWORK and NODE_WITNESS.
"""

import asyncio
import os
import threading
import time

import pytest
from p2p_support import REGTEST, StubNode, make_builder, run, until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from coin.p2p.framing import decode_frame, encode_frame
from coin.p2p.messages import (
    InvVector,
    MsgAddr,
    MsgBlock,
    MsgGetData,
    MsgHeaders,
    MsgInv,
    MsgMempool,
    MsgPing,
    MsgVerack,
    MsgVersion,
    encode_message,
    parse_message,
)
from coin.p2p.netaddress import NetAddress
from coin.p2p.protocol import (
    MAX_INV_SZ,
    MSG_BLOCK,
    MSG_TX,
    MSG_WITNESS_BLOCK,
    NODE_NETWORK,
    NODE_WITNESS,
)
from coin.primitives import Block

FULL_SERVICES = int(NODE_NETWORK | NODE_WITNESS)


@pytest.fixture
def builder():
    return make_builder()


def _send(ws, msg):
    return ws.send(encode_message(REGTEST.magic, msg))


async def _handshake(ws, node, *, services: int = FULL_SERVICES, version_payload: bytes | None = None):
    """Be a scripted peer: version, wait for the node's verack, verack; returns our Peer there."""
    before = {p.id for p in node.connman.peers.values() if p.handshake_done}
    if version_payload is None:
        await _send(ws, MsgVersion(version=70016, services=services,
                                   nonce=int.from_bytes(os.urandom(8), "little"), user_agent="/t/"))
    else:
        await ws.send(encode_frame(REGTEST.magic, "version", version_payload))
    while True:
        command, _ = decode_frame(REGTEST.magic, await asyncio.wait_for(ws.recv(), 10))
        if command == "verack":
            break
    await _send(ws, MsgVerack())
    await until(lambda: any(p.handshake_done and p.id not in before for p in node.connman.peers.values()),
                what="handshake")
    return next(p for p in node.connman.peers.values() if p.handshake_done and p.id not in before)


async def _sync_with(ws, nonce: int, collect: list | None = None) -> None:
    """Ping and wait for the pong: the node has handled every message we sent before.
    Other messages received meanwhile go to `collect`."""
    await _send(ws, MsgPing(nonce))
    while True:
        command, payload = decode_frame(REGTEST.magic, await asyncio.wait_for(ws.recv(), 20))
        if command == "pong" and parse_message(command, payload).nonce == nonce:
            return
        if collect is not None:
            collect.append((command, payload))


async def _closed(ws, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False
    return False


def _addrs(n: int, base: int = 20):
    now = int(time.time())
    return tuple(NetAddress(FULL_SERVICES, f"{base}.{i // 250}.{i % 250}.1", 18444, now - 60) for i in range(n))


# -- 1. addresses: Core's token bucket ------------------------------------------------------


def test_a_new_inbound_peer_gets_one_address_token(tmp_path):
    async def scenario():
        node = StubNode(tmp_path / "n")
        await node.connman.start()
        try:
            async with connect(node.url, compression=None) as ws:
                peer = await _handshake(ws, node)
                await _send(ws, MsgAddr(_addrs(100)))
                await _sync_with(ws, 1)
                assert peer.addr_processed == 1 and peer.addr_rate_limited == 99
                assert len(node.connman.addrman) == 1
        finally:
            await node.stop()

    run(scenario())


def test_the_answer_to_our_getaddr_is_accepted(tmp_path):
    async def scenario():
        a, b = StubNode(tmp_path / "a"), StubNode(tmp_path / "b")
        for i in range(500):
            a.connman.addrman.add(f"30.{i // 250}.{i % 250}.1", 18444, services=FULL_SERVICES, source=f"1.{i % 50}.0.1")
        await a.connman.start()
        await b.connman.start()
        try:
            b.connman.add_node(a.address, "onetry")
            await until(lambda: len(b.connman.addrman) >= 115, what="the getaddr answer")
            peer = next(iter(b.connman.peers.values()))
            assert peer.addr_rate_limited == 0
        finally:
            await b.stop()
            await a.stop()

    run(scenario())


# -- 2. inbound slots ---------------------------------------------------------------------------


def test_inbound_peers_cannot_take_the_outbound_slots(tmp_path):
    """-maxconnections=12: 2 inbound slots (12 - 8 full-relay - 2 block-relay). A third
    inbound peer is refused when every inbound peer is protected; we still dial out."""
    async def scenario():
        node = StubNode(tmp_path / "n", "-maxconnections=12")
        other = StubNode(tmp_path / "o")
        await node.connman.start()
        await other.connman.start()
        try:
            assert node.connman.max_inbound == 2
            async with connect(node.url, compression=None) as ws1, connect(node.url, compression=None) as ws2:
                await _handshake(ws1, node)
                await _handshake(ws2, node)
                async with connect(node.url, compression=None) as ws3:
                    assert await _closed(ws3)
                assert not await _closed(ws1, 0.2) and not await _closed(ws2, 0.2)
                node.connman.add_node(other.address, "onetry")
                await until(lambda: sum(p.handshake_done for p in node.connman.peers.values()) == 3,
                            what="an outbound connection with the inbound slots full")
        finally:
            await other.stop()
            await node.stop()

    run(scenario())


def test_a_full_house_evicts_the_peer_core_would(tmp_path, monkeypatch):
    import coin.p2p.connman as connman_module
    chosen = []

    def youngest(candidates):
        chosen.append(sorted(c.id for c in candidates))
        return max(candidates, key=lambda c: c.connected).id

    monkeypatch.setattr(connman_module, "select_node_to_evict", youngest)

    async def scenario():
        node = StubNode(tmp_path / "n", "-maxconnections=12")
        await node.connman.start()
        try:
            async with connect(node.url, compression=None) as ws1, connect(node.url, compression=None) as ws2:
                p1 = await _handshake(ws1, node)
                p2 = await _handshake(ws2, node)
                async with connect(node.url, compression=None) as ws3:
                    p3 = await _handshake(ws3, node)
                    assert chosen == [sorted((p1.id, p2.id))]
                    assert await _closed(ws2)
                    assert not await _closed(ws1, 0.2)
                    assert p3.handshake_done and not p3.disconnecting
        finally:
            await node.stop()

    run(scenario())


def test_pending_websocket_handshakes_are_capped(tmp_path, monkeypatch):
    import coin.p2p.connman as connman_module
    monkeypatch.setattr(connman_module, "MAX_PENDING_HANDSHAKES", 3)

    async def scenario():
        node = StubNode(tmp_path / "n")
        await node.connman.start()
        silent = []
        try:
            for _ in range(3):
                silent.append(await asyncio.open_connection("127.0.0.1", node.connman.port))
            await until(lambda: node.connman.pending_handshakes == 3, what="3 pending handshakes")
            reader, writer = await asyncio.open_connection("127.0.0.1", node.connman.port)
            try:
                assert await asyncio.wait_for(reader.read(), 10) == b""     # closed at once
            except ConnectionResetError:
                pass
            writer.close()
            assert node.connman.pending_handshakes == 3
            for _r, w in silent:
                w.close()
            await until(lambda: node.connman.pending_handshakes == 0, what="the slots back")
            async with connect(node.url, compression=None) as ws:
                await _handshake(ws, node)
        finally:
            await node.stop()

    run(scenario())


# -- 3. CPU work off the event loop -------------------------------------------------------------


def test_blocks_are_parsed_off_the_event_loop(tmp_path, builder, monkeypatch):
    """A stripped block (MSG_BLOCK) is re-serialized, and a received block decoded, on
    worker threads: the event loop never parses a block."""
    import coin.p2p.connman as connman_module
    monkeypatch.setattr(connman_module, "OFF_LOOP_DECODE_BYTES", 0)   # our blocks are small
    assert connman_module.OFF_LOOP_DECODE_BYTES <= 1_000_000
    parsed_on = []
    real = Block._parse.__func__

    def spy(cls, data, pos, end):
        parsed_on.append(threading.current_thread().name)
        return real(cls, data, pos, end)

    async def scenario():
        node = StubNode(tmp_path / "n")
        blocks = builder.build_chain(3)
        for blk in blocks[:2]:
            node.chainstate.process_new_block(blk)
        monkeypatch.setattr(Block, "_parse", classmethod(spy))
        await node.connman.start()
        loop_thread = threading.current_thread().name
        try:
            async with connect(node.url, compression=None, max_size=None) as ws:
                await _handshake(ws, node)
                await _send(ws, MsgGetData((InvVector(MSG_BLOCK, blocks[1].hash_bytes),
                                            InvVector(MSG_WITNESS_BLOCK, blocks[1].hash_bytes))))
                got = []
                await _sync_with(ws, 1, got)
                served = [p for c, p in got if c == "block"]
                assert served == [blocks[1].to_bytes(witness=False), blocks[1].to_bytes()]
                await _send(ws, MsgBlock(blocks[2]))
                await until(lambda: node.chainstate.tip.hash_bytes == blocks[2].hash_bytes, what="the block")
            assert parsed_on and loop_thread not in parsed_on
        finally:
            await node.stop()

    run(scenario())


# -- 4. mempool ---------------------------------------------------------------------------------


@pytest.mark.parametrize("whitelisted", [False, True], ids=["plain", "whitelisted"])
def test_mempool_request_needs_the_whitelist(tmp_path, whitelisted):
    async def scenario():
        node = StubNode(tmp_path / "n", *(["-whitelist=127.0.0.1"] if whitelisted else []))
        await node.connman.start()
        try:
            async with connect(node.url, compression=None) as ws:
                peer = await _handshake(ws, node)
                await _send(ws, MsgMempool())
                if whitelisted:
                    await _sync_with(ws, 1)
                    assert not peer.disconnecting
                else:
                    assert await _closed(ws)
                    assert peer.misbehavior == 0 and not node.connman.banman.is_discouraged("127.0.0.1")
        finally:
            await node.stop()

    run(scenario())


# -- 5. unrequested blocks ----------------------------------------------------------------------


def test_unrequested_blocks_with_less_work_are_not_stored(tmp_path, builder):
    async def scenario():
        node = StubNode(tmp_path / "n")
        main = builder.build_chain(6)
        for blk in main:
            node.chainstate.process_new_block(blk)
        fork = builder.next_block(prev=builder.entry_of(main[2]), set_tip=False)   # height 4 < 6
        child = builder.next_block(prev=builder.entry_of(main[-1]))                  # a new tip

        def break_merkle(block):
            return Block(block.header.replace(merkle_root_bytes=b"\x11" * 32), block.txs)

        bad = builder.next_block(prev=builder.entry_of(main[1]), set_tip=False, tweak=break_merkle, refresh=False)
        await node.connman.start()
        try:
            async with connect(node.url, compression=None) as ws:
                peer = await _handshake(ws, node)
                await _send(ws, MsgBlock(fork))
                await _sync_with(ws, 1)
                entry = await node.run_validation(node.chainstate.get_entry, fork.hash_bytes)
                assert entry is None or not entry.have_data
                # an unrequested block that extends our tip is taken (a new-tip announcement)
                await _send(ws, MsgBlock(child))
                await until(lambda: node.chainstate.tip.hash_bytes == child.hash_bytes, what="the new tip")
                assert peer.misbehavior == 0
                # an unrequested low-work block is still checked without context (Core's
                # CheckBlock runs first): a bad merkle root costs the connection
                await _send(ws, MsgBlock(bad))
                assert await _closed(ws)
                assert peer.misbehavior >= 100
        finally:
            await node.stop()

    run(scenario())


def test_unrequested_blocks_far_ahead_are_not_stored(tmp_path, builder):
    async def scenario():
        node = StubNode(tmp_path / "n")
        chain = builder.build_chain(300)
        await node.connman.start()
        try:
            async with connect(node.url, compression=None) as ws:
                await _handshake(ws, node)
                await _send(ws, MsgHeaders(tuple(b.header for b in chain)))
                await _sync_with(ws, 1)
                far = chain[295]                                             # height 296 > 0 + 288
                await _send(ws, MsgBlock(far))
                await _sync_with(ws, 2)
                await asyncio.sleep(0.3)
                entry = await node.run_validation(node.chainstate.get_entry, far.hash_bytes)
                assert entry is not None and not entry.have_data
        finally:
            await node.stop()

    run(scenario())


# -- 6. known inventory -------------------------------------------------------------------------


def test_known_inventory_is_a_bounded_bloom_filter(tmp_path):
    from coin.p2p.bloom import RollingBloomFilter

    async def scenario():
        node = StubNode(tmp_path / "n")
        await node.connman.start()
        try:
            async with connect(node.url, compression=None) as ws:
                peer = await _handshake(ws, node)
                assert isinstance(peer.known_inventory, RollingBloomFilter)
                assert peer.known_inventory.memory_bytes < 1_000_000
                hashes = [os.urandom(32) for _ in range(100)]
                await _send(ws, MsgInv(tuple(InvVector(MSG_TX, h) for h in hashes)))
                await _sync_with(ws, 1)
                assert all(h in peer.known_inventory for h in hashes)
        finally:
            await node.stop()

    run(scenario())


# -- 7. Core's scores ---------------------------------------------------------------------------


def test_version_with_future_fields_and_oversized_inv_scores(tmp_path):
    async def scenario():
        node = StubNode(tmp_path / "n")
        await node.connman.start()
        try:
            payload = MsgVersion(version=70016, services=FULL_SERVICES, nonce=12345, user_agent="/future/",
                                 relay=True).to_payload() + b"\x01future fields"
            async with connect(node.url, compression=None, max_size=None) as ws:
                peer = await _handshake(ws, node, version_payload=payload)
                assert peer.user_agent == "/future/"
                count = MAX_INV_SZ + 1
                raw = b"\xfd" + count.to_bytes(2, "little") + (MSG_TX.to_bytes(4, "little") + bytes(32)) * count
                for i in range(4):
                    await ws.send(encode_frame(REGTEST.magic, "inv", raw))
                    await _sync_with(ws, 10 + i)
                    assert peer.misbehavior == 20 * (i + 1) and not peer.disconnecting
                await ws.send(encode_frame(REGTEST.magic, "inv", raw))
                assert await _closed(ws)
                assert peer.misbehavior == 100
        finally:
            await node.stop()

    run(scenario())


# -- 8. services ----------------------------------------------------------------------------------


@pytest.mark.parametrize("services, asked", [
    (FULL_SERVICES, True), (int(NODE_NETWORK), False), (int(NODE_WITNESS), False), (0, False),
], ids=["network+witness", "network-only", "witness-only", "none"])
def test_blocks_are_downloaded_only_from_peers_that_serve_them(tmp_path, builder, services, asked):
    async def scenario():
        node = StubNode(tmp_path / "n")
        chain = builder.build_chain(3)
        await node.connman.start()
        try:
            async with connect(node.url, compression=None) as ws:
                peer = await _handshake(ws, node, services=services)
                await _send(ws, MsgHeaders(tuple(b.header for b in chain)))
                got = []
                await _sync_with(ws, 1, got)
                await asyncio.sleep(0.5)
                await _sync_with(ws, 2, got)
                getdata = [parse_message(c, p) for c, p in got if c == "getdata"]
                assert bool(getdata) is asked
                assert peer.misbehavior == 0 and not peer.disconnecting
        finally:
            await node.stop()

    run(scenario())
