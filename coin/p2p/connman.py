"""The connection manager: listening, dialling, the handshake, dispatch and misbehaviour
(Core's CConnman plus the connection half of PeerManager).

`ConnMan(node)` is the node's p2p component (`name = "p2p"`). It needs from the node
`params`, `config`, `clock`, `net_datadir`, `chainstate`, `mempool` (may be None: no
transaction relay) and `run_validation(fn, *args)`; every chain and mempool access
goes through the latter.

Connections:
- listens on ``ws://<bind>:<port>/`` (``-port``, ``-bind`` (repeatable, default
  0.0.0.0), ``-listen``, which defaults to off when ``-connect`` names peers, as Core)
  and accepts up to ``-maxconnections`` minus the 10 outbound slots (8 full-relay, 2
  block-relay, Core's m_max_inbound) inbound peers; when they are all taken a new one
  evicts the inbound peer Core's SelectNodeToEvict picks (coin.p2p.eviction) or, if
  every one is protected, is refused; refuses banned and discouraged addresses
  (unless whitelisted, ``-whitelist=<ip or subnet>``); at most MAX_PENDING_HANDSHAKES
  connections may be in their WebSocket handshake (WS_OPEN_TIMEOUT each), more are
  closed at once;
- dials ``-connect`` peers only, if any are named; otherwise ``-addnode`` peers and
  RPC ``addnode`` ones, keeping each connected with exponential back-off
  (RECONNECT_MIN .. RECONNECT_MAX seconds); ``addnode <peer> onetry`` dials once;
- with ``-autoconnect`` (default on for main, off for regtest so that test
  topologies stay as built, and off whenever ``-connect`` is given) also dials
  addresses from the address book up to MAX_OUTBOUND_FULL_RELAY outbound peers;
- ``setnetworkactive false`` drops every peer and refuses/dials nothing until true.

Handshake (protocol 70016): outbound sends `version` first; each side answers a
`version` with (inbound: its own `version`) `wtxidrelay`, `sendaddrv2`, `verack`.
Peers below MIN_PEER_PROTO_VERSION (70015) are dropped, and so is a connection to
ourselves (an inbound `version` carrying one of our nonces). After `verack`: `sendheaders`,
`feefilter`, our own address, `getaddr` (outbound), `getheaders`. The handshake must end
within HANDSHAKE_TIMEOUT; a `ping` goes out every PING_INTERVAL and an unanswered one
drops the peer after TIMEOUT_INTERVAL.

Misbehaviour (`misbehaving(peer, score, reason)`): scores add up per peer; at
DISCOURAGEMENT_THRESHOLD (100) the peer is disconnected and its address discouraged
for ``-bantime`` seconds, except local (loopback) and whitelisted peers, which are only
disconnected. Scores: a malformed frame (FrameError's score: 100, 0 for another
network's magic, which still closes the connection), an undecodable payload 100, a
count over Core's limit Core's score (OversizedCount: 20 for inv, getdata, addr,
addrv2, headers; an oversized locator disconnects without score; notfound is ignored),
an oversized WebSocket message 100, message floods (more than the per-peer token
bucket allows) 10 per message, inventory floods 20 per inv, invalid blocks,
headers and transactions their Rejection's score (see sync and relay).

Messages over OFF_LOOP_DECODE_BYTES (blocks, large transactions) are checksummed and
decoded on a worker thread, so one peer's 2 MB block does not stall the others.
Nothing a peer sends raises past its task: handler exceptions are logged as our bugs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import math
import os
import random
import time

import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

import coin
from coin.p2p.addrman import AddrMan, join_host_port, network_group, split_host_port
from coin.p2p.banman import BanMan, is_local, parse_subnet
from coin.p2p.eviction import EvictionCandidate, select_node_to_evict
from coin.p2p.framing import FrameError, decode_frame
from coin.p2p.inbox import LoopInbox
from coin.p2p.messages import (
    MsgAddr,
    MsgAddrV2,
    MsgGetAddr,
    MsgNotFound,
    MsgPing,
    MsgPong,
    MsgSendAddrV2,
    MsgSendHeaders,
    MsgVerack,
    MsgVersion,
    MsgWtxidRelay,
    OversizedCount,
    parse_message,
)
from coin.p2p.netaddress import NetAddress
from coin.p2p.peer import (
    DISCOURAGEMENT_THRESHOLD,
    PING_INTERVAL,
    TIMEOUT_INTERVAL,
    ConnectionType,
    Peer,
)
from coin.p2p.protocol import (
    MAX_ADDR_TO_SEND,
    MAX_PROTOCOL_MESSAGE_LENGTH,
    MESSAGE_HEADER_SIZE,
    MSG_BLOCK,
    MSG_CMPCT_BLOCK,
    MSG_FILTERED_BLOCK,
    MSG_TX,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_FLAG,
    MSG_WITNESS_TX,
    MSG_WTX,
    NODE_NETWORK,
    NODE_WITNESS,
    PROTOCOL_VERSION,
)
from coin.p2p.relay import TxRelay
from coin.p2p.sync import BlockSync
from coin.serialize import DecodeError

__all__ = [
    "ConnMan",
    "MIN_PEER_PROTO_VERSION",
    "HANDSHAKE_TIMEOUT",
    "MAX_OUTBOUND_FULL_RELAY",
    "DEFAULT_MAX_PEER_CONNECTIONS",
    "LOCAL_SERVICES",
    "user_agent",
]

log = logging.getLogger("coin.p2p")
# websockets logs every connection open/close at INFO: keep it to warnings.
logging.getLogger("coin.p2p.websockets").setLevel(logging.WARNING)

MIN_PEER_PROTO_VERSION = 70015     # the floor (Core's is 31800)
HANDSHAKE_TIMEOUT = 60.0           # Core's -peertimeout default
CONNECT_TIMEOUT = 5.0              # Core's -timeout default (5000 ms)
MAX_OUTBOUND_FULL_RELAY = 8
MAX_BLOCK_RELAY_ONLY_CONNECTIONS = 2   # Core's: kept out of the inbound slots (we make none yet)
MAX_PENDING_HANDSHAKES = 64        # TCP connections still in their WebSocket handshake
WS_OPEN_TIMEOUT = 10.0             # the WebSocket (HTTP upgrade) handshake must end within this
DEFAULT_MAX_PEER_CONNECTIONS = 125
RECONNECT_MIN = 0.5
RECONNECT_MAX = 60.0
LOCAL_SERVICES = NODE_NETWORK | NODE_WITNESS
MAX_ADDR_RELAY_PEERS = 2
MAX_WS_MESSAGE = MAX_PROTOCOL_MESSAGE_LENGTH + MESSAGE_HEADER_SIZE
WS_MAX_QUEUE = 4                   # received WebSocket messages buffered per peer
OFF_LOOP_DECODE_BYTES = 64 * 1024  # larger messages are checksummed and parsed on a worker thread

_PRE_VERACK = frozenset(("version", "verack", "wtxidrelay", "sendaddrv2"))
_BLOCK_TYPES = (MSG_BLOCK, MSG_WITNESS_BLOCK)
_TX_TYPES = (MSG_TX, MSG_WITNESS_TX, MSG_WTX)


def _decode(magic: bytes, data) -> tuple[str, object, Exception | None]:
    """One WebSocket message to (command, message or None, error or None); the error is
    the FrameError or DecodeError it raised. Raises nothing (any thread)."""
    try:
        command, payload = decode_frame(magic, data)
    except FrameError as e:
        return "", None, e
    try:
        return command, parse_message(command, payload), None
    except DecodeError as e:
        return command, None, e


def user_agent(comments: list[str] | None = None) -> str:
    """BIP-0014 user agent: ``/coin:<version>/`` or ``/coin:<version>(c1; c2)/``."""
    if comments:
        return f"/coin:{coin.__version__}({'; '.join(comments)})/"
    return f"/coin:{coin.__version__}/"


class _GatedConnection(ServerConnection):
    """A server-side WebSocket connection counted while its opening handshake runs:
    beyond MAX_PENDING_HANDSHAKES such connections a new one is closed at once, so
    connections that never finish the HTTP upgrade cannot pile up (each may wait
    WS_OPEN_TIMEOUT)."""

    def __init__(self, cm: ConnMan, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cm = cm

    async def handshake(self, *args, **kwargs) -> None:
        cm = self._cm
        if cm._pending_handshakes >= MAX_PENDING_HANDSHAKES:
            log.debug("too many pending WebSocket handshakes: connection refused")
            self.transport.close()
            return  # not OPEN: websockets aborts the transport and never calls the handler
        cm._pending_handshakes += 1
        try:
            await super().handshake(*args, **kwargs)
        finally:
            cm._pending_handshakes -= 1


class _AddedNode:
    __slots__ = ("name", "host", "port", "next_try", "backoff", "peer_id")

    def __init__(self, name: str, host: str, port: int):
        self.name = name
        self.host = host
        self.port = port
        self.next_try = 0.0
        self.backoff = RECONNECT_MIN
        self.peer_id: int | None = None


class ConnMan:
    """The node's P2P component (see the module doc)."""

    name = "p2p"

    def __init__(self, node):
        self.node = node
        self.params = node.params
        self.magic = node.params.magic
        config = node.config
        self.port = config.p2p_port
        connect = config.get_list("connect")
        self.connect_only = [c for c in connect if c != "0"]
        connect_given = config.is_set("connect")
        self.listen = config.get_bool("listen", not self.connect_only)
        self.binds = config.get_list("bind") or ["0.0.0.0"]
        self.max_connections = max(0, config.get_int("maxconnections", DEFAULT_MAX_PEER_CONNECTIONS))
        # Core's m_max_inbound: the outbound slots are never taken by inbound peers
        self.max_inbound = max(0, self.max_connections - MAX_OUTBOUND_FULL_RELAY - MAX_BLOCK_RELAY_ONLY_CONNECTIONS)
        self._net_group_salt = os.urandom(16)
        self._pending_handshakes = 0
        self.autoconnect = config.get_bool("autoconnect", node.params.name == "main") and not connect_given
        self.whitelist = []
        for item in config.get_list("whitelist"):
            subnet = item.split("@", 1)[-1]
            try:
                self.whitelist.append(parse_subnet(subnet))
            except ValueError:
                from coin.config import ConfigError
                raise ConfigError(f"Invalid netmask specified in -whitelist: '{subnet}'") from None
        self.network_active = config.get_bool("networkactive", True)
        self.user_agent = user_agent(config.get_list("uacomment"))
        self.local_services = int(LOCAL_SERVICES)
        bantime = config.get_int("bantime", 86400)
        datadir = getattr(node, "net_datadir", None)
        self.banman = BanMan(datadir, clock=node.clock, default_bantime=bantime)
        self.addrman = AddrMan(datadir, clock=node.clock)
        self.sync = BlockSync(self)
        self.relay = TxRelay(self)
        self.peers: dict[int, Peer] = {}
        self.added: dict[str, _AddedNode] = {}
        for name in config.get_list("addnode"):
            self._add_node_entry(name)
        self._connect_entries = []
        for name in self.connect_only:
            host, port = split_host_port(name, self.port)
            self._connect_entries.append(_AddedNode(name, host, port))
        self.local_nonces: set[int] = set()
        self._next_id = 0
        self._servers: list = []
        self.bound: list[tuple[str, int]] = []
        self._tasks: list[asyncio.Task] = []
        self._peer_tasks: set[asyncio.Task] = set()
        self._pending: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.inbox = LoopInbox()  # the validation thread's reports to the loop
        self._subscribed = False
        self._started = False
        self._tip_call_pending = False
        self._tip_in_ibd = False
        self.total_bytes_recv = 0
        self.total_bytes_sent = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.inbox.bind(self._loop)
        self.banman.load()
        self.addrman.load()
        self._subscribe()
        self.sync.start()
        self.relay.start()
        self._started = True
        if self.listen:
            await self._start_listening()
        self._tasks.append(asyncio.create_task(self._maintenance_loop(), name="p2p-maintenance"))
        self._tasks.append(asyncio.create_task(self._open_connections_loop(), name="p2p-connections"))

    async def stop(self) -> None:
        self._started = False
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks = []
        await self._stop_listening()
        await self._disconnect_all("shutdown")
        await self.sync.stop()
        await self.relay.stop()
        self._unsubscribe()
        self.addrman.save()
        self.banman.save()

    def _subscribe(self) -> None:
        cs = self.node.chainstate
        loop = self._loop
        if cs is not None:
            cs.subscribe("tip_changed", self._tip_changed_threadsafe)
        mp = self.node.mempool
        if mp is not None and hasattr(mp, "subscribe"):
            mp.subscribe("added", self._mempool_added_threadsafe)
        self._subscribed = loop is not None

    def _unsubscribe(self) -> None:
        cs = self.node.chainstate
        if cs is not None and self._subscribed:
            with contextlib.suppress(ValueError, KeyError):
                cs.unsubscribe("tip_changed", self._tip_changed_threadsafe)
        self._subscribed = False

    def _call_soon(self, fn, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(fn, *args)
        else:
            self.inbox.post(fn, *args)

    def _tip_changed_threadsafe(self, entry) -> None:
        # Validation thread. Tip changes of a batch of blocks collapse into one call on
        # the loop; whether we are in initial block download is read here, where the
        # chain is ours to read.
        self._tip_in_ibd = self.node.chainstate.is_initial_block_download()
        if self._tip_call_pending:
            return
        self._tip_call_pending = True
        self._call_soon(self._on_tip_changed)

    def _on_tip_changed(self) -> None:
        self._tip_call_pending = False
        if not self._started:
            return
        self.relay.on_tip_changed()
        if not self._tip_in_ibd:  # Core's UpdatedBlockTip: no announcements during IBD
            self.sync.schedule_announce()
        self.sync.schedule_request()

    def _mempool_added_threadsafe(self, entry) -> None:
        self._call_soon(self._on_mempool_added, entry)

    def _on_mempool_added(self, entry) -> None:
        if self._started:
            self.relay.on_mempool_added(entry)

    # -- listening -------------------------------------------------------------------------

    async def _start_listening(self) -> None:
        from coin.config import ConfigError
        for bind in self.binds:
            try:
                host, port = split_host_port(bind, self.port)
            except ValueError:
                raise ConfigError(f"Invalid -bind address: '{bind}'") from None
            try:
                server = await ws_serve(
                    self._handle_inbound, host, port, max_size=MAX_WS_MESSAGE, max_queue=WS_MAX_QUEUE,
                    ping_interval=None, compression=None, open_timeout=WS_OPEN_TIMEOUT,
                    close_timeout=2, logger=logging.getLogger("coin.p2p.websockets"),
                    create_connection=self._gated_connection)
            except OSError as e:
                raise ConfigError(f"Unable to bind to {join_host_port(host, port)} on this computer. "
                                  f"coind is probably already running. ({e.strerror})") from None
            self._servers.append(server)
            for sock in server.sockets:
                name = sock.getsockname()
                self.bound.append((name[0], name[1]))
            log.info("Bound to ws://%s/", join_host_port(*self.bound[-1]) if self.bound else bind)
        if self.bound and self.port == 0:
            self.port = self.bound[0][1]

    async def _stop_listening(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)
        self._servers = []

    @property
    def pending_handshakes(self) -> int:
        """Inbound TCP connections whose WebSocket handshake has not ended yet."""
        return self._pending_handshakes

    def _gated_connection(self, *args, **kwargs) -> ServerConnection:
        return _GatedConnection(self, *args, **kwargs)

    def inbound_count(self) -> int:
        return sum(1 for p in self.peers.values() if p.inbound and not p.disconnecting)

    def _keyed_net_group(self, host: str) -> int:
        digest = hashlib.blake2b(network_group(host).encode(), key=self._net_group_salt, digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def _attempt_to_evict_connection(self) -> bool:
        """Core's AttemptToEvictConnection: disconnect the inbound peer SelectNodeToEvict
        picks among those not whitelisted; False if every one is protected."""
        candidates = []
        for p in self.peers.values():
            if not p.inbound or p.disconnecting or p.whitelisted:
                continue
            candidates.append(EvictionCandidate(
                id=p.id, connected=p.conn_mono, min_ping=p.min_ping if p.min_ping is not None else math.inf,
                last_block_time=p.last_block_time, last_tx_time=p.last_transaction_time,
                relevant_services=(p.services & LOCAL_SERVICES) == LOCAL_SERVICES, relay_txs=bool(p.relay_txs),
                keyed_net_group=self._keyed_net_group(p.host), is_local=p.local))
        if not candidates:
            return False
        victim = select_node_to_evict(candidates)
        if victim is None or victim not in self.peers:
            return False
        log.debug("selected peer=%d for eviction", victim)
        self.peers[victim].disconnect("evicted for an inbound connection")
        return True

    def _is_whitelisted(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.whitelist)

    async def _handle_inbound(self, ws) -> None:
        remote = ws.remote_address or ("0.0.0.0", 0)
        host, port = remote[0], remote[1]
        if host.startswith("::ffff:"):
            host = host[7:]
        whitelisted = self._is_whitelisted(host)
        reason = None
        if not self.network_active or not self._started:
            reason = "network not active"
        elif not whitelisted and self.banman.is_banned(host):
            reason = "banned"
        elif not whitelisted and self.banman.is_discouraged(host):
            reason = "discouraged"
        elif self.inbound_count() >= self.max_inbound and not self._attempt_to_evict_connection():
            reason = "too many inbound connections"
        if reason is not None:
            log.debug("connection from %s dropped (%s)", join_host_port(host, port), reason)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
            return
        local = ws.local_address or ("", 0)
        peer = self._new_peer(ws, host, port, inbound=True, conn_type=ConnectionType.INBOUND,
                              local=local, whitelisted=whitelisted)
        log.debug("accepted connection peer=%d from %s", peer.id, peer.addr)
        await self._run_peer(peer)

    # -- dialling --------------------------------------------------------------------------

    def _new_peer(self, ws, host, port, *, inbound, conn_type, local, whitelisted=False, addr_name=None) -> Peer:
        peer = Peer(ws, peer_id=self._next_id, host=host, port=port, inbound=inbound,
                    conn_type=conn_type, magic=self.magic, clock=self.node.clock,
                    local_host=local[0], local_port=local[1], addr_name=addr_name,
                    whitelisted=whitelisted, local=is_local(host))
        self._next_id += 1
        self.peers[peer.id] = peer
        return peer

    async def open_connection(self, host: str, port: int, conn_type: ConnectionType,
                              addr_name: str | None = None) -> Peer | None:
        """Dial ``ws://host:port/`` and start the peer (its handshake runs in the
        background). None if the network is off or the connection failed."""
        if not self.network_active or not self._started:
            return None
        name = addr_name or join_host_port(host, port)
        if name in self._pending or any(p.addr == name and not p.disconnecting for p in self.peers.values()):
            return None
        self._pending.add(name)
        try:
            url_host = f"[{host}]" if ":" in host else host
            try:
                ws = await asyncio.wait_for(ws_connect(
                    f"ws://{url_host}:{port}/", max_size=MAX_WS_MESSAGE, max_queue=WS_MAX_QUEUE,
                    ping_interval=None, compression=None, open_timeout=CONNECT_TIMEOUT, close_timeout=2,
                    logger=logging.getLogger("coin.p2p.websockets")), CONNECT_TIMEOUT + 1)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException, ValueError) as e:
                log.debug("connection to %s failed: %s", name, e)
                return None
            if not self.network_active or not self._started:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 2)
                return None
        finally:
            self._pending.discard(name)
        local = ws.local_address or ("", 0)
        remote_host = host
        peer = self._new_peer(ws, remote_host, port, inbound=False, conn_type=conn_type, local=local,
                              whitelisted=self._is_whitelisted(host), addr_name=name)
        log.debug("connected to %s peer=%d", name, peer.id)
        self._send_version(peer)
        task = asyncio.create_task(self._run_peer(peer), name=f"peer{peer.id}")
        self._peer_tasks.add(task)
        task.add_done_callback(self._peer_tasks.discard)
        return peer

    async def _run_peer(self, peer: Peer) -> None:
        try:
            await peer.run(self._on_frame)
        except Exception:  # noqa: BLE001 - never let a peer take the node down
            log.exception("peer=%d task failed", peer.id)
        finally:
            self._peer_closed(peer)

    def _peer_closed(self, peer: Peer) -> None:
        if self.peers.get(peer.id) is not peer:
            return
        del self.peers[peer.id]
        self.local_nonces.discard(peer.our_nonce)
        self.total_bytes_recv += peer.bytes_recv
        self.total_bytes_sent += peer.bytes_sent
        if peer.close_code == 1009 and not peer.should_discourage:
            self.misbehaving(peer, DISCOURAGEMENT_THRESHOLD, "message larger than the frame limit")
        if peer.should_discourage:
            self._discourage(peer)
        self.sync.on_peer_closed(peer)
        self.relay.on_peer_closed(peer)
        for entry in list(self.added.values()) + self._connect_entries:
            if entry.peer_id == peer.id:
                entry.peer_id = None
        log.info("disconnected peer=%d %s: %s", peer.id, peer.addr, peer.disconnect_reason)

    async def _open_connections_loop(self) -> None:
        while True:
            try:
                await self._open_connections()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("opening connections failed")
            await asyncio.sleep(0.5)

    async def _open_connections(self) -> None:
        if not self.network_active:
            return
        now = time.monotonic()
        entries = self._connect_entries if self.connect_only else list(self.added.values())
        for entry in entries:
            if entry.peer_id is not None and entry.peer_id in self.peers:
                continue
            if self._connected_to(entry.name) is not None:
                continue
            if now < entry.next_try:
                continue
            entry.next_try = now + entry.backoff
            entry.backoff = min(RECONNECT_MAX, entry.backoff * 2)
            peer = await self.open_connection(entry.host, entry.port, ConnectionType.MANUAL, entry.name)
            if peer is not None:
                entry.peer_id = peer.id
        if self.connect_only or not self.autoconnect:
            return
        outbound = sum(1 for p in self.peers.values()
                       if p.conn_type is ConnectionType.OUTBOUND_FULL_RELAY and not p.disconnecting)
        tries = 0
        while outbound < min(MAX_OUTBOUND_FULL_RELAY, self.max_connections) and tries < 4:
            tries += 1
            exclude = {p.addr for p in self.peers.values()} | self._pending
            info = self.addrman.select(exclude)
            if info is None:
                break
            if self._is_own_address(info.host, info.port) or self.banman.is_banned(info.host) \
                    or self.banman.is_discouraged(info.host):
                self.addrman.attempt(info.key)
                continue
            self.addrman.attempt(info.key)
            peer = await self.open_connection(info.host, info.port, ConnectionType.OUTBOUND_FULL_RELAY)
            if peer is not None:
                outbound += 1

    def _connected_to(self, name: str) -> Peer | None:
        for p in self.peers.values():
            if p.addr == name and not p.disconnecting:
                return p
        return None

    def _is_own_address(self, host: str, port: int) -> bool:
        if port != self.port or not self.listen:
            return False
        return is_local(host) or any(host == h for h, _p in self.bound) or \
            any(host == p.local_host for p in self.peers.values())

    async def _disconnect_all(self, reason: str) -> None:
        peers = list(self.peers.values())
        for p in peers:
            p.disconnect(reason)
        for p in peers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(p.wait_closed(), 5)
        for t in list(self._peer_tasks):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 5)

    # -- misbehaviour ------------------------------------------------------------------------

    def misbehaving(self, peer: Peer, score: int, reason: str) -> None:
        """Add `score` to the peer's misbehaviour; at the threshold disconnect it and
        (unless local or whitelisted) discourage its address."""
        if score <= 0:
            return
        peer.misbehavior += score
        log.info("Misbehaving: peer=%d (%d -> %d): %s", peer.id, peer.misbehavior - score, peer.misbehavior, reason)
        if peer.misbehavior >= DISCOURAGEMENT_THRESHOLD and not peer.should_discourage:
            peer.should_discourage = True
            peer.disconnect(f"misbehaving: {reason}")
            if peer.id not in self.peers:
                self._discourage(peer)

    def _discourage(self, peer: Peer) -> None:
        if peer.whitelisted:
            log.warning("Not punishing whitelisted peer %s", peer.addr)
        elif peer.local:
            log.warning("Warning: disconnecting but not discouraging local peer %s", peer.addr)
        elif peer.conn_type is ConnectionType.MANUAL:
            log.warning("Warning: disconnecting but not discouraging manually connected peer %s", peer.addr)
        else:
            log.info("Disconnecting and discouraging peer %s", peer.addr)
            self.banman.discourage(peer.host)

    # -- frames --------------------------------------------------------------------------

    async def _on_frame(self, peer: Peer, data) -> None:
        if not peer.msg_bucket.take():
            self.misbehaving(peer, 10, "message flood")
            if peer.disconnecting:
                return
        if len(data) > OFF_LOOP_DECODE_BYTES:
            # a large block or transaction: checksum and parse on a worker thread, so
            # that the loop keeps serving the other peers meanwhile
            command, msg, error = await asyncio.get_running_loop().run_in_executor(
                None, _decode, self.magic, data)
        else:
            command, msg, error = _decode(self.magic, data)
        if isinstance(error, FrameError):
            peer.count_recv("*other*", len(data) if isinstance(data, (bytes, bytearray)) else 0)
            log.info("invalid frame from peer=%d: %s", peer.id, error)
            self.misbehaving(peer, error.ban_score, f"frame: {error}")
            peer.disconnect(f"frame: {error.reason}")
            return
        peer.count_recv(command, len(data))
        if isinstance(error, OversizedCount):  # Core's "inv message size = %u" and friends
            log.info("oversized %s from peer=%d: %s", command, peer.id, error)
            self.misbehaving(peer, error.ban_score, f"{command} message size = {error.count}")
            if error.disconnect:
                peer.disconnect(f"oversized {command}")
            return
        if error is not None:
            log.info("undecodable %s from peer=%d: %s", command, peer.id, error)
            self.misbehaving(peer, 100, f"malformed {command}: {error}")
            return
        if msg is None:
            log.debug("unknown command %r from peer=%d ignored", command, peer.id)
            return
        try:
            await self.process_message(peer, msg)
        except Exception:  # noqa: BLE001 - a bug of ours; the peer keeps its connection
            log.exception("error processing %s from peer=%d", command, peer.id)

    async def process_message(self, peer: Peer, msg) -> None:
        """Dispatch one decoded message (Core's ProcessMessage)."""
        command = msg.command
        if not peer.version_received and command != "version":
            log.debug("non-version message before version handshake: %s from peer=%d", command, peer.id)
            return
        if not peer.handshake_done and command not in _PRE_VERACK:
            log.debug("unsupported message %s prior to verack from peer=%d", command, peer.id)
            return
        handler = getattr(self, f"_on_{command}", None)
        if handler is not None:
            await handler(peer, msg)

    # -- handshake ---------------------------------------------------------------------------

    def _send_version(self, peer: Peer) -> None:
        nonce = random.getrandbits(64)
        while nonce in self.local_nonces or nonce == 0:
            nonce = random.getrandbits(64)
        peer.our_nonce = nonce
        self.local_nonces.add(nonce)
        cs = self.node.chainstate
        height = cs.chain.height if cs is not None else 0
        try:
            addr_recv = NetAddress(0, peer.host, peer.port)
        except ValueError:
            addr_recv = NetAddress(0, "0.0.0.0", 0)
        peer.send(MsgVersion(
            version=PROTOCOL_VERSION, services=self.local_services, timestamp=int(self.node.clock()),
            addr_recv=addr_recv, addr_from=NetAddress(self.local_services, "0.0.0.0", 0),
            nonce=nonce, user_agent=self.user_agent, start_height=height, relay=True))
        peer.version_sent = True

    async def _on_version(self, peer: Peer, msg: MsgVersion) -> None:
        if peer.version_received:
            log.debug("redundant version message from peer=%d", peer.id)
            return
        if peer.inbound and msg.nonce in self.local_nonces:
            log.info("connected to self at %s, disconnecting", peer.addr)
            peer.disconnect("connected to self")
            return
        if msg.version < MIN_PEER_PROTO_VERSION:
            log.info("peer=%d using obsolete version %d; disconnecting", peer.id, msg.version)
            peer.disconnect(f"obsolete version {msg.version}")
            return
        peer.version = msg.version
        peer.services = msg.services
        peer.user_agent = msg.user_agent
        peer.start_height = msg.start_height
        peer.relay_txs = True if msg.relay is None else bool(msg.relay)
        peer.time_offset = msg.timestamp - int(self.node.clock())
        peer.addr_local = join_host_port(msg.addr_recv.host, msg.addr_recv.port) if msg.addr_recv.port else ""
        peer.version_received = True
        if peer.inbound and not peer.version_sent:
            self._send_version(peer)
        if msg.version >= 70016:
            peer.send(MsgWtxidRelay())
        peer.send(MsgSendAddrV2())
        peer.send(MsgVerack())

    async def _on_verack(self, peer: Peer, msg) -> None:
        if peer.handshake_done:
            return
        peer.verack_received = True
        peer.handshake_done = True
        log.info("New %s peer connected: version: %d, blocks=%d, peer=%d%s",
                 "inbound" if peer.inbound else "outbound", peer.version, peer.start_height, peer.id,
                 f", peeraddr={peer.addr}")
        peer.send(MsgSendHeaders())
        if not peer.inbound:
            self.addrman.add(peer.host, peer.port, services=peer.services, source=peer.host)
            self.addrman.good(join_host_port(peer.host, peer.port))
            peer.send(MsgGetAddr())
            peer.addr_bucket.grant(MAX_ADDR_TO_SEND)  # Core: room for the whole answer
        self._advertise_local(peer)
        peer.next_ping = time.monotonic()
        self.relay.on_handshake(peer)
        for entry in list(self.added.values()) + self._connect_entries:
            if entry.peer_id == peer.id:
                entry.backoff = RECONNECT_MIN
        await self.sync.on_handshake(peer)

    async def _on_wtxidrelay(self, peer: Peer, msg) -> None:
        if peer.handshake_done:
            self.misbehaving(peer, 1, "wtxidrelay received after verack")
            peer.disconnect("wtxidrelay after verack")
            return
        if peer.version >= 70016:
            peer.wtxid_relay = True

    async def _on_sendaddrv2(self, peer: Peer, msg) -> None:
        if peer.handshake_done:
            self.misbehaving(peer, 1, "sendaddrv2 received after verack")
            peer.disconnect("sendaddrv2 after verack")
            return
        peer.send_addrv2 = True

    async def _on_sendheaders(self, peer: Peer, msg) -> None:
        peer.prefer_headers = True

    async def _on_sendcmpct(self, peer: Peer, msg) -> None:
        return  # BIP-0152 is not implemented: compact blocks are never announced

    async def _on_feefilter(self, peer: Peer, msg) -> None:
        if 0 <= msg.feerate <= 21_000_000 * 100_000_000:
            peer.fee_filter = msg.feerate

    async def _on_ping(self, peer: Peer, msg: MsgPing) -> None:
        peer.send(MsgPong(msg.nonce))

    async def _on_pong(self, peer: Peer, msg: MsgPong) -> None:
        if peer.ping_nonce and msg.nonce == peer.ping_nonce:
            rtt = time.monotonic() - peer.ping_start
            peer.ping_time = rtt
            peer.min_ping = rtt if peer.min_ping is None else min(peer.min_ping, rtt)
            peer.ping_nonce = 0

    # -- addresses -----------------------------------------------------------------------------

    def _advertise_local(self, peer: Peer) -> None:
        if not self.listen or not self.bound or not peer.local_host:
            return
        try:
            me = NetAddress(self.local_services, peer.local_host, self.port, time=int(self.node.clock()))
        except ValueError:
            return
        peer.known_addrs.add(join_host_port(me.host, me.port))
        peer.send(MsgAddrV2((me,)) if peer.send_addrv2 else MsgAddr((me,)))

    async def _on_addr(self, peer: Peer, msg) -> None:
        now = int(self.node.clock())
        relay = len(msg.addrs) <= 10
        fresh = []
        for a in msg.addrs:
            key = join_host_port(a.host, a.port)
            peer.known_addrs.add(key)
            if not peer.addr_bucket.take() and not peer.whitelisted:
                peer.addr_rate_limited += 1
                continue
            peer.addr_processed += 1
            if a.port == 0 or a.host in ("0.0.0.0", "::") or self._is_own_address(a.host, a.port):
                continue
            if not self._addr_usable(a.host):
                continue
            self.addrman.add(a.host, a.port, services=a.services, time=a.time, source=peer.host)
            if relay and a.time is not None and a.time > now - 600:
                fresh.append(a)
        if fresh:
            others = [p for p in self.peers.values() if p is not peer and p.handshake_done and not p.disconnecting]
            random.shuffle(others)
            for a in fresh:
                key = join_host_port(a.host, a.port)
                sent = 0
                for o in others:
                    if sent >= MAX_ADDR_RELAY_PEERS:
                        break
                    if key in o.known_addrs:
                        continue
                    o.known_addrs.add(key)
                    if len(o.addr_to_send) < 1000:
                        o.addr_to_send.append(a)
                    sent += 1

    _on_addrv2 = _on_addr

    def _addr_usable(self, host: str) -> bool:
        """Gossiped addresses we keep: anything on regtest (nodes on one machine),
        routable IPs, onion, I2P and CJDNS elsewhere (Core's IsRoutable, simplified)."""
        if self.params.name == "regtest":
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return True
        return ip.is_global

    async def _on_getaddr(self, peer: Peer, msg) -> None:
        if not peer.inbound:
            log.debug("ignoring getaddr from outbound peer=%d", peer.id)
            return
        if peer.getaddr_answered:
            return
        peer.getaddr_answered = True
        addrs = []
        for info in self.addrman.get_addr():
            try:
                addrs.append(NetAddress(info.services, info.host, info.port, time=info.time))
            except ValueError:
                continue
            peer.known_addrs.add(info.key)
        if addrs:
            peer.send(MsgAddrV2(tuple(addrs)) if peer.send_addrv2 else MsgAddr(tuple(a for a in addrs if a.net in (1, 2))))

    def _flush_addrs(self) -> None:
        for peer in self.peers.values():
            if peer.addr_to_send and peer.handshake_done and not peer.disconnecting:
                addrs, peer.addr_to_send = peer.addr_to_send[:1000], peer.addr_to_send[1000:]
                if peer.send_addrv2:
                    peer.send(MsgAddrV2(tuple(addrs)))
                else:
                    v1 = tuple(a for a in addrs if a.net in (1, 2))
                    if v1:
                        peer.send(MsgAddr(v1))

    # -- inventory ------------------------------------------------------------------------------

    async def _on_inv(self, peer: Peer, msg) -> None:
        inventory = msg.inventory
        if not peer.inv_bucket.take(len(inventory)):
            self.misbehaving(peer, 20, f"inventory flood ({len(inventory)} entries)")
            return
        blocks, txs = [], []
        for inv in inventory:
            t = inv.type
            if t == MSG_BLOCK or t == MSG_WITNESS_BLOCK:
                blocks.append(inv.hash_bytes)
            elif t == MSG_TX or t == MSG_WTX:
                txs.append(inv)
        if blocks:
            await self.sync.on_block_inv(peer, blocks)
        if txs and peer.relay_txs is not None:
            await self.relay.on_tx_inv(peer, txs)

    async def _on_getdata(self, peer: Peer, msg) -> None:
        inventory = msg.inventory
        if not peer.inv_bucket.take(len(inventory) / 10):
            self.misbehaving(peer, 20, f"getdata flood ({len(inventory)} entries)")
            return
        notfound = []  # (position in the getdata, entry): answered in the order asked
        txs = []
        blocks = []
        for pos, inv in enumerate(inventory):
            t = inv.type
            if t in _BLOCK_TYPES:
                blocks.append((pos, inv))
            elif t == MSG_FILTERED_BLOCK or t == MSG_CMPCT_BLOCK or t == (MSG_FILTERED_BLOCK | MSG_WITNESS_FLAG):
                notfound.append((pos, inv))
            elif t in _TX_TYPES:
                txs.append(inv)
        if blocks:
            missing = await self.sync.serve_blocks(peer, [(inv.type, inv.hash_bytes) for _pos, inv in blocks])
            if peer.disconnecting:
                return
            notfound.extend(blocks[i] for i in missing)
        notfound = [inv for _pos, inv in sorted(notfound, key=lambda item: item[0])]
        if txs:
            notfound.extend(await self.relay.serve_txs(peer, txs))
        if notfound:
            peer.send(MsgNotFound(tuple(notfound[:50000])))

    async def _on_notfound(self, peer: Peer, msg) -> None:
        for inv in msg.inventory:
            if inv.type in _BLOCK_TYPES:
                self.sync.on_block_notfound(peer, inv.hash_bytes)
            elif inv.type in _TX_TYPES:
                self.relay.on_tx_notfound(peer, inv.hash_bytes)

    async def _on_getheaders(self, peer: Peer, msg) -> None:
        await self.sync.on_getheaders(peer, msg)

    async def _on_getblocks(self, peer: Peer, msg) -> None:
        await self.sync.on_getblocks(peer, msg)

    async def _on_headers(self, peer: Peer, msg) -> None:
        await self.sync.on_headers(peer, msg)

    async def _on_block(self, peer: Peer, msg) -> None:
        await self.sync.on_block(peer, msg)

    async def _on_tx(self, peer: Peer, msg) -> None:
        await self.relay.on_tx(peer, msg)

    async def _on_mempool(self, peer: Peer, msg) -> None:
        """BIP-0035 `mempool`: Core answers it only when it offers NODE_BLOOM (we do not)
        or the peer has the mempool permission (-whitelist); anyone else is
        disconnected, without a misbehaviour score."""
        if not peer.whitelisted:
            log.debug("mempool request with bloom filters disabled, disconnect peer=%d", peer.id)
            peer.disconnect("mempool request with bloom filters disabled")
            return
        await self.relay.on_mempool_request(peer)

    # -- periodic work -------------------------------------------------------------------------

    async def _maintenance_loop(self) -> None:
        next_save = time.monotonic() + 15 * 60
        while True:
            await asyncio.sleep(1.0)
            try:
                self._tick()
                if time.monotonic() >= next_save:
                    next_save = time.monotonic() + 15 * 60
                    self.addrman.save()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("p2p maintenance failed")

    def _tick(self) -> None:
        now = time.monotonic()
        for peer in list(self.peers.values()):
            if peer.disconnecting:
                continue
            if not peer.handshake_done:
                if now - peer.conn_mono > HANDSHAKE_TIMEOUT:
                    peer.disconnect("version handshake timeout")
                continue
            if peer.ping_nonce:
                if now - peer.ping_start > TIMEOUT_INTERVAL:
                    peer.disconnect("ping timeout")
                    continue
            elif now >= peer.next_ping:
                self._send_ping(peer, now)
        self.sync.tick()
        self.relay.tick()
        self._flush_addrs()

    def _send_ping(self, peer: Peer, now: float) -> None:
        nonce = random.getrandbits(64) or 1
        peer.ping_nonce = nonce
        peer.ping_start = now
        peer.next_ping = now + PING_INTERVAL
        peer.send(MsgPing(nonce))

    # -- the RPC interface -----------------------------------------------------------------------

    def _add_node_entry(self, name: str) -> _AddedNode:
        host, port = split_host_port(name, self.port)
        entry = _AddedNode(name, host, port)
        self.added[name] = entry
        return entry

    def add_node(self, name: str, command: str) -> None:
        """RPC addnode: "add" keeps `name` connected, "remove" forgets it (the connection
        stays, as Core), "onetry" dials it once. KeyError for remove of an unknown node,
        ValueError for add of a known one or a malformed name."""
        if command == "onetry":
            host, port = split_host_port(name, self.port)
            task = asyncio.ensure_future(self.open_connection(host, port, ConnectionType.MANUAL, name))
            self._peer_tasks.add(task)
            task.add_done_callback(self._peer_tasks.discard)
        elif command == "add":
            if name in self.added:
                raise ValueError("already added")
            self._add_node_entry(name)
        elif command == "remove":
            if name not in self.added:
                raise KeyError(name)
            del self.added[name]

    def added_node_info(self) -> list[dict]:
        out = []
        for entry in self.added.values():
            peer = self._connected_to(entry.name)
            if peer is None:
                peer = next((p for p in self.peers.values() if p.host == entry.host and p.port == entry.port), None)
            item = {"addednode": entry.name, "connected": peer is not None, "addresses": []}
            if peer is not None:
                item["addresses"].append({"address": peer.addr, "connected": "inbound" if peer.inbound else "outbound"})
            out.append(item)
        return out

    def find_peer(self, address: str | None = None, peer_id: int | None = None) -> Peer | None:
        if peer_id is not None:
            return self.peers.get(peer_id)
        for p in self.peers.values():
            if p.addr == address:
                return p
        return None

    def disconnect_matching(self, subnet) -> int:
        """Disconnect every peer whose address is in `subnet` (an ip_network)."""
        n = 0
        for p in list(self.peers.values()):
            try:
                ip = ipaddress.ip_address(p.host)
            except ValueError:
                continue
            if ip.version == subnet.version and ip in subnet:
                p.disconnect("banned")
                n += 1
        return n

    async def set_network_active(self, active: bool) -> None:
        """RPC setnetworkactive: false drops every peer and stops dialling/accepting."""
        if active == self.network_active:
            return
        self.network_active = active
        log.info("SetNetworkActive: %s", "true" if active else "false")
        if not active:
            await self._disconnect_all("network disabled")
        else:
            for entry in list(self.added.values()) + self._connect_entries:
                entry.next_try = 0.0
                entry.backoff = RECONNECT_MIN

    def ping_all(self) -> None:
        """RPC ping: send a ping to every peer at the next tick."""
        for p in self.peers.values():
            p.next_ping = 0.0

    def connection_counts(self) -> tuple[int, int]:
        """(inbound, outbound) peers."""
        inbound = sum(1 for p in self.peers.values() if p.inbound)
        return inbound, len(self.peers) - inbound
