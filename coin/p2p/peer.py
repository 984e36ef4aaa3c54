"""One peer: a WebSocket carrying P2P frames, its send queue, and everything we know of it.

A `Peer` owns one connection (inbound or outbound) and two tasks:

- the **reader** (`run`): receives one binary WebSocket message at a time and hands it,
  in order, to the connection manager's frame handler; it waits at most
  `TIMEOUT_INTERVAL` for the next message (Core drops a peer silent for 20 minutes;
  pings every `PING_INTERVAL` keep honest links busy; a watchdog checks this and the
  writer's `SEND_TIMEOUT` once a second), and it does not read the
  next message while our send queue to the peer is over `MAX_SEND_BUFFER` (Core's
  fPauseSend), so a peer that asks without reading cannot grow our memory;
- the **writer**: sends queued frames in order, each within `SEND_TIMEOUT`.

`send(message)` and `send_frame(command, frame)` only queue. `disconnect(reason)` is
idempotent and makes both tasks end; `run` returns once the connection is gone.

The per-peer state of the protocol handlers (handshake, sync, relay, addresses,
misbehaviour score) lives here as plain attributes so that `getpeerinfo` can show it;
the handlers in coin.p2p.connman / sync / relay own its meaning. Collections a peer
can grow are bounded: known inventory and addresses (rolling bloom filters, as Core:
50,000 hashes at a 1e-6 false-positive rate in 540 kB, 5,000 addresses at 1e-3),
transactions to announce, blocks and transactions in flight, addresses to send.

Errors: nothing the remote side does raises out of `run`; frame handlers must not
raise either (the connection manager catches and logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

from websockets.exceptions import ConnectionClosed

from coin.p2p.bloom import RollingBloomFilter
from coin.p2p.messages import Message, encode_message
from coin.p2p.protocol import MAX_ADDR_TO_SEND

__all__ = [
    "Peer",
    "ConnectionType",
    "TokenBucket",
    "PING_INTERVAL",
    "TIMEOUT_INTERVAL",
    "SEND_TIMEOUT",
    "MAX_SEND_BUFFER",
    "DISCOURAGEMENT_THRESHOLD",
    "MAX_ADDR_RATE_PER_SECOND",
]

log = logging.getLogger("coin.p2p")

PING_INTERVAL = 2 * 60            # Core's PING_INTERVAL
TIMEOUT_INTERVAL = 20 * 60        # Core's TIMEOUT_INTERVAL: silence before we drop a peer
SEND_TIMEOUT = 60.0               # one frame must leave within this (Core's -timeout style)
CLOSE_TIMEOUT = 2.0
WATCHDOG_INTERVAL = 1.0           # how often a peer checks its receive and send timeouts
MAX_SEND_BUFFER = 8 * 1000 * 1000  # bytes queued before we stop reading from the peer
DISCOURAGEMENT_THRESHOLD = 100     # misbehaviour score at which a peer is dropped
MAX_ADDR_RATE_PER_SECOND = 0.1     # Core's: addresses a peer may send us per second


class ConnectionType(enum.Enum):
    """Core's ConnectionType names (getpeerinfo's connection_type)."""

    INBOUND = "inbound"
    OUTBOUND_FULL_RELAY = "outbound-full-relay"
    MANUAL = "manual"
    ADDR_FETCH = "addr-fetch"
    FEELER = "feeler"


class TokenBucket:
    """`rate` tokens a second up to `capacity` (starting with `tokens`, default full);
    `take(n)` is False when they run out. `grant(n)` adds tokens beyond the capacity
    (Core's bonus for the answer to our getaddr); refills stop at the capacity."""

    __slots__ = ("capacity", "rate", "tokens", "stamp")

    def __init__(self, capacity: float, rate: float, tokens: float | None = None):
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity if tokens is None else tokens
        self.stamp = time.monotonic()

    def grant(self, n: float) -> None:
        self.take(0.0)
        self.tokens += n

    def take(self, n: float = 1.0) -> bool:
        now = time.monotonic()
        if self.tokens < self.capacity:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        self.tokens = 0.0
        return False


class Peer:
    """One connected peer (see the module doc)."""

    def __init__(self, ws, *, peer_id: int, host: str, port: int, inbound: bool,
                 conn_type: ConnectionType, magic: bytes, clock: Callable[[], float],
                 local_host: str = "", local_port: int = 0, addr_name: str | None = None,
                 whitelisted: bool = False, local: bool = False):
        self.ws = ws
        self.id = peer_id
        self.host = host
        self.port = port
        self.addr = addr_name or (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        self.local_host = local_host
        self.local_port = local_port
        self.inbound = inbound
        self.conn_type = conn_type
        self.magic = magic
        self.clock = clock
        self.whitelisted = whitelisted
        self.local = local
        now = clock()
        self.conn_time = int(now)
        self.last_send = 0
        self.last_recv = 0
        self.last_recv_mono = self.conn_mono = time.monotonic()
        self.bytes_sent = 0
        self.bytes_recv = 0
        self.bytes_sent_per_msg: dict[str, int] = {}
        self.bytes_recv_per_msg: dict[str, int] = {}

        # handshake (version / verack)
        self.our_nonce = 0
        self.version = 0
        self.services = 0
        self.user_agent = ""
        self.start_height = -1
        self.relay_txs = False
        self.time_offset = 0
        self.addr_local = ""
        self.version_sent = False
        self.version_received = False
        self.verack_received = False
        self.handshake_done = False          # Core's fSuccessfullyConnected
        self.wtxid_relay = False
        self.send_addrv2 = False
        self.prefer_headers = False          # BIP-0130 sendheaders received
        self.fee_filter = 0                  # BIP-0133: theirs, sat/kvB

        # ping (BIP-0031)
        self.ping_nonce = 0
        self.ping_start = 0.0                # monotonic time the outstanding ping left
        self.ping_time: float | None = None
        self.min_ping: float | None = None
        self.next_ping = time.monotonic()

        # misbehaviour
        self.misbehavior = 0
        self.should_discourage = False
        self.msg_bucket = TokenBucket(5000, 1000)     # messages
        self.inv_bucket = TokenBucket(100_000, 10_000)  # inventory entries announced

        # sync (coin.p2p.sync)
        self.best_known_header = None        # BlockIndexEntry the peer has (most work)
        self.last_common_block = None
        self.best_header_sent = None
        self.blocks_in_flight: OrderedDict[bytes, float] = OrderedDict()
        self.download_queue: deque = deque()  # planned blocks (index entries) to ask it for next
        self.pending_blocks = 0              # received blocks waiting for validation
        self.blocks_validated = asyncio.Event()  # set when pending_blocks falls to the limit
        self.downloading_since = 0.0
        self.headers_requested_at = 0.0      # monotonic; 0 when no getheaders outstanding
        self.unconnecting_headers = 0
        self.last_block_time = 0
        self.stalling = False

        # relay (coin.p2p.relay)
        self.known_inventory = RollingBloomFilter(50_000, 0.000001)   # Core's m_tx_inventory_known_filter
        self.tx_to_announce: OrderedDict[bytes, None] = OrderedDict()
        self.next_inv_send = 0.0
        self.tx_in_flight: OrderedDict[bytes, float] = OrderedDict()
        self.last_transaction_time = 0

        # addresses
        self.known_addrs = RollingBloomFilter(5000, 0.001)            # Core's m_addr_known
        self.addr_to_send: list = []
        self.getaddr_answered = False
        self.addr_processed = 0
        self.addr_rate_limited = 0
        # Core's m_addr_token_bucket: one address to start with, 0.1 a second up to
        # MAX_ADDR_TO_SEND, plus MAX_ADDR_TO_SEND when we send getaddr
        self.addr_bucket = TokenBucket(MAX_ADDR_TO_SEND, MAX_ADDR_RATE_PER_SECOND, tokens=1.0)

        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self._queued_bytes = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = asyncio.Event()
        self.disconnect_reason: str | None = None
        self.close_code: int | None = None
        self._writer_task: asyncio.Task | None = None
        self._watchdog_handle: asyncio.TimerHandle | None = None
        self._send_started = 0.0               # monotonic start of the frame being sent

    def __repr__(self) -> str:
        return f"Peer({self.id}, {self.addr}, {'inbound' if self.inbound else 'outbound'})"

    @property
    def disconnecting(self) -> bool:
        return self.disconnect_reason is not None

    # -- sending ---------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue one message (framed here). Dropped silently once disconnecting."""
        self.send_frame(message.command, encode_message(self.magic, message))

    def send_frame(self, command: str, frame: bytes) -> None:
        """Queue one already framed message."""
        if self.disconnecting:
            return
        self._queued_bytes += len(frame)
        if self._queued_bytes > MAX_SEND_BUFFER:
            self._drained.clear()
        self._queue.put_nowait((command, frame))

    @property
    def send_buffer_full(self) -> bool:
        return self._queued_bytes > MAX_SEND_BUFFER

    async def wait_send_buffer(self, timeout: float = SEND_TIMEOUT) -> bool:
        """Wait until the send queue is below MAX_SEND_BUFFER; False on timeout or close."""
        if not self.send_buffer_full:
            return True
        try:
            await asyncio.wait_for(self._drained.wait(), timeout)
        except TimeoutError:
            return False
        return not self.disconnecting

    async def _writer(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                command, frame = item
                self._send_started = time.monotonic()  # the watchdog enforces SEND_TIMEOUT
                try:
                    await self.ws.send(frame)
                except (ConnectionClosed, OSError):
                    self.disconnect("connection closed")
                    return
                finally:
                    self._send_started = 0.0
                self._queued_bytes -= len(frame)
                if self._queued_bytes <= MAX_SEND_BUFFER:
                    self._drained.set()
                self.bytes_sent += len(frame)
                self.bytes_sent_per_msg[command] = self.bytes_sent_per_msg.get(command, 0) + len(frame)
                self.last_send = int(self.clock())
        finally:
            self._drained.set()

    def _watchdog(self) -> None:
        """Every WATCHDOG_INTERVAL: drop the peer when nothing came for TIMEOUT_INTERVAL
        or one frame has been leaving for SEND_TIMEOUT (timers per message would cost
        more than the messages of a block download)."""
        if self.disconnecting:
            return
        now = time.monotonic()
        if now - self.last_recv_mono > TIMEOUT_INTERVAL:
            self.disconnect(f"no message for {TIMEOUT_INTERVAL} seconds")
            return
        if self._send_started and now - self._send_started > SEND_TIMEOUT:
            self.disconnect("send timeout")
            return
        self._watchdog_handle = asyncio.get_running_loop().call_later(WATCHDOG_INTERVAL, self._watchdog)

    # -- receiving -------------------------------------------------------------------

    async def run(self, on_frame: Callable[[Peer, bytes], Awaitable[None]]) -> None:
        """Read frames and hand each to `on_frame` until the connection ends."""
        self._writer_task = asyncio.create_task(self._writer(), name=f"peer{self.id}-writer")
        self._watchdog_handle = asyncio.get_running_loop().call_later(WATCHDOG_INTERVAL, self._watchdog)
        try:
            while not self.disconnecting:
                if self.send_buffer_full and not await self.wait_send_buffer():
                    self.disconnect("send buffer not draining")
                    break
                try:
                    data = await self.ws.recv()
                except ConnectionClosed as e:
                    rcvd = e.rcvd if e.rcvd is not None else e.sent
                    code = rcvd.code if rcvd is not None else None
                    self.disconnect(f"connection closed ({code})")
                    if code == 1009:
                        self.close_code = 1009
                    break
                except OSError:
                    self.disconnect("connection error")
                    break
                self.last_recv_mono = time.monotonic()
                self.last_recv = int(self.clock())
                size = len(data)
                self.bytes_recv += size
                await on_frame(self, data)
        finally:
            await self._shutdown()

    def disconnect(self, reason: str) -> None:
        """Ask the connection to end (idempotent). The reader returns soon after."""
        if self.disconnect_reason is not None:
            return
        self.disconnect_reason = reason
        log.debug("disconnecting peer=%d (%s): %s", self.id, self.addr, reason)
        self._queue.put_nowait(None)
        self._drained.set()
        task = asyncio.ensure_future(self._close_ws())
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _close_ws(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), CLOSE_TIMEOUT)

    async def _shutdown(self) -> None:
        self.disconnect(self.disconnect_reason or "done")
        if self._watchdog_handle is not None:
            self._watchdog_handle.cancel()
        if self._writer_task is not None:
            self._writer_task.cancel()
            with contextlib.suppress(BaseException):
                await self._writer_task
        await self._close_ws()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def count_recv(self, command: str, size: int) -> None:
        self.bytes_recv_per_msg[command] = self.bytes_recv_per_msg.get(command, 0) + size
