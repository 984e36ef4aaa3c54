"""Headers-first block sync, block serving and new-block announcements (Core's
net_processing block logic, simplified).

Getting blocks:

1. After the handshake we send every peer `getheaders` with a locator from our best
   header. A `headers` reply is checked for continuity (else misbehaviour 20), accepted
   through the chain state on the validation thread (an invalid header costs its
   Rejection's ban score), remembered as the peer's best known block, and, if it was a
   full batch of MAX_HEADERS_RESULTS, followed by the next `getheaders`. Headers that do
   not connect to anything we know trigger a `getheaders` back; every
   MAX_UNCONNECTING_HEADERS-th such message costs 20.
2. Blocks are fetched in parallel (`_plan_downloads`, Core's FindNextBlocksToDownload)
   from the peers offering NODE_NETWORK and NODE_WITNESS (`serves_blocks`): for
   each, the blocks of its best known chain that we lack, in height order, no more
   than BLOCK_DOWNLOAD_WINDOW past our last block in common with it, at most
   MAX_BLOCKS_IN_TRANSIT_PER_PEER in flight per peer, never one block from two peers.
   A plan runs on the validation thread and covers DOWNLOAD_LOOKAHEAD blocks more
   than the peer has room for; the window is refilled from that queue on the event
   loop as each block arrives (in getdata batches of at least MIN_GETDATA_BATCH), and
   the next plan is made, in a task of its own, while the queue still has blocks.
3. Stall detection: a peer with blocks in flight that delivered none for
   `stall_timeout` seconds (5 s, doubling after each stall up to 64 s, easing back
   as blocks arrive) is disconnected -- without misbehaviour -- when another peer can
   serve, and its blocks are requested elsewhere. A peer that does not answer a
   getheaders within HEADERS_RESPONSE_TIME is dropped the same way.
4. A `block` joins one queue of received blocks (arrival order); validation-thread
   jobs drain it, up to MAX_BLOCKS_PER_JOB blocks each, while the peers' readers
   decode the next messages (at most MAX_PENDING_BLOCKS per peer wait). A Rejection
   costs the sender its ban score unless the failure is one an honest peer can cause
   (time-too-new, parent unknown, duplicate), so losing a race is never punished.
   A block nobody asked for is processed only if its chain has at least our tip's
   work and it is at most MIN_BLOCKS_TO_KEEP blocks ahead (Core's AcceptBlock; a new
   tip pushed to us without an announcement is the honest case); otherwise it is only
   checked without context (CheckBlock: a malformed one costs its ban score) and
   dropped.

Serving: `getheaders` (up to 2000 headers after the locator's fork with the active
chain), `getblocks` (inv of up to 500), and blocks for `getdata` (witness form for
MSG_WITNESS_BLOCK, stripped for MSG_BLOCK), framed from the stored bytes, read in one
validation-thread job per MAX_SERVE_BATCH_BYTES, stripped and framed on a worker
thread (the event loop never parses a block).

Announcing (BIP-0130): every new tip is announced to each peer that does not have it,
as `headers` (up to MAX_BLOCKS_TO_ANNOUNCE, connecting to a block the peer knows) to
peers that sent `sendheaders`, as an `inv` otherwise; not during initial block
download (Core's UpdatedBlockTip; the connection manager decides). An `inv` of a block
we lack makes us ask for headers up to it.

Every chain access goes through `node.run_validation`. Nothing here raises to the peer
loop: rejections become misbehaviour, our own faults are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from coin.consensus.block_check import check_block
from coin.consensus.errors import Rejection, RejectKind
from coin.consensus.pow import block_work
from coin.p2p.framing import encode_frame
from coin.p2p.messages import (
    InvVector,
    MsgGetData,
    MsgGetHeaders,
    MsgHeaders,
    MsgInv,
)
from coin.p2p.protocol import (
    MAX_HEADERS_RESULTS,
    MSG_BLOCK,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_FLAG,
    NODE_NETWORK,
    NODE_WITNESS,
)
from coin.primitives import Block

__all__ = [
    "BlockSync",
    "MAX_BLOCKS_IN_TRANSIT_PER_PEER",
    "BLOCK_DOWNLOAD_WINDOW",
    "MAX_BLOCKS_TO_ANNOUNCE",
    "MAX_UNCONNECTING_HEADERS",
    "BLOCK_STALLING_TIMEOUT_DEFAULT",
    "BLOCK_STALLING_TIMEOUT_MAX",
    "HEADERS_RESPONSE_TIME",
    "MAX_PENDING_BLOCKS",
    "MAX_BLOCKS_PER_JOB",
    "MIN_BLOCKS_TO_KEEP",
    "DOWNLOAD_LOOKAHEAD",
    "block_ban_score",
    "serves_blocks",
]

log = logging.getLogger("coin.p2p")

MAX_BLOCKS_IN_TRANSIT_PER_PEER = 16
BLOCK_DOWNLOAD_WINDOW = 1024
MAX_BLOCKS_TO_ANNOUNCE = 8
MAX_UNCONNECTING_HEADERS = 10
MAX_GETBLOCKS_RESULTS = 500
BLOCK_STALLING_TIMEOUT_DEFAULT = 5.0
BLOCK_STALLING_TIMEOUT_MAX = 64.0
BLOCK_DOWNLOAD_TIMEOUT = 600.0     # with no other peer to turn to, give up after this
HEADERS_RESPONSE_TIME = 120.0
MAX_PENDING_BLOCKS = 16            # received blocks per peer waiting for validation
MAX_BLOCKS_PER_JOB = 32            # received blocks validated in one validation-thread job
REPORT_EVERY = 8                   # a job wakes the event loop with its results this often
DOWNLOAD_LOOKAHEAD = 128           # blocks planned per peer beyond what it has room for
MIN_GETDATA_BATCH = 4              # with blocks in flight, ask for no fewer than this
MAX_SERVE_BATCH_BYTES = 2_000_000  # block bytes read from storage in one job when serving
MIN_BLOCKS_TO_KEEP = 288           # Core's: an unrequested block further ahead is ignored

_HONEST_KINDS = (RejectKind.TIME_FUTURE, RejectKind.PREV_MISSING, RejectKind.DUPLICATE)
_BLOCK_SOURCE_SERVICES = int(NODE_NETWORK | NODE_WITNESS)


def serves_blocks(services: int) -> bool:
    """Whether a peer's service bits let us download blocks from it: NODE_NETWORK (it
    keeps the whole chain) and NODE_WITNESS (it sends witnesses, which segwit blocks
    need), as Core requires of a block source. Headers sync with any peer."""
    return services & _BLOCK_SOURCE_SERVICES == _BLOCK_SOURCE_SERVICES


def block_ban_score(rejection: Rejection) -> int:
    """The misbehaviour a block or header rejection earns its sender: 0 for failures an
    honest peer can cause (too far in the future, unknown parent, already known), the
    Rejection's ban score otherwise."""
    if rejection.kind in _HONEST_KINDS:
        return 0
    return rejection.ban_score


def _block_frames(magic: bytes, raws: list, types: list[int]) -> list[bytes | None]:
    """`block` frames for stored blocks (None stays None): as stored for
    MSG_WITNESS_BLOCK, without witnesses for MSG_BLOCK (worker thread)."""
    out = []
    for raw, inv_type in zip(raws, types, strict=True):
        if raw is not None:
            if not inv_type & MSG_WITNESS_FLAG:
                raw = Block.from_bytes(raw).to_bytes(witness=False)
            raw = encode_frame(magic, "block", raw)
        out.append(raw)
    return out


def _has(known, entry) -> bool:
    return known is not None and known.height >= entry.height and known.get_ancestor(entry.height) is entry


def _last_common_ancestor(a, b):
    if a.height > b.height:
        a = a.get_ancestor(b.height)
    elif b.height > a.height:
        b = b.get_ancestor(a.height)
    while a is not b and a is not None and b is not None:
        a, b = a.prev, b.prev
    return a


class BlockSync:
    """Block download and announcement for one connection manager (`cm`)."""

    def __init__(self, cm):
        self.cm = cm
        self.in_flight: dict[bytes, int] = {}    # block hash -> peer id
        self.processing: set[bytes] = set()      # received, waiting for validation
        self._received: deque = deque()          # (peer, block, asked) in arrival order, not yet validated
        self._validating = False                 # a validation job is queued or running
        self._plan_task: asyncio.Task | None = None
        self._replan = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stall_timeout = BLOCK_STALLING_TIMEOUT_DEFAULT
        self._request = asyncio.Event()
        self._announce = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    @property
    def chainstate(self):
        return self.cm.node.chainstate

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks = [asyncio.create_task(self._request_loop(), name="p2p-blockrequest"),
                       asyncio.create_task(self._announce_loop(), name="p2p-announce")]

    async def stop(self) -> None:
        if self._plan_task is not None:
            self._tasks.append(self._plan_task)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks = []

    # -- peers come and go -------------------------------------------------------------

    async def on_handshake(self, peer) -> None:
        """Start headers sync with a new peer."""
        await self.send_getheaders(peer)

    def on_peer_closed(self, peer) -> None:
        """Release the peer's blocks in flight so that others fetch them."""
        for h in peer.blocks_in_flight:
            if self.in_flight.get(h) == peer.id:
                del self.in_flight[h]
        peer.blocks_in_flight.clear()
        peer.download_queue.clear()
        self.schedule_request()

    # -- headers -----------------------------------------------------------------------

    async def send_getheaders(self, peer, hash_stop: bytes = b"\x00" * 32, start=None) -> None:
        cs = self.chainstate

        def locator():
            entry = start if start is not None else cs.best_header or cs.chain.tip
            return tuple(cs.chain.get_locator(entry))

        loc = await self.cm.node.run_validation(locator)
        peer.headers_requested_at = time.monotonic()
        peer.send(MsgGetHeaders(locator=loc, hash_stop_bytes=hash_stop))

    async def on_headers(self, peer, msg) -> None:
        headers = msg.headers
        peer.headers_requested_at = 0.0
        if not headers:
            return
        for prev, h in zip(headers, headers[1:], strict=False):
            if h.prev_hash_bytes != prev.hash_bytes:
                self.cm.misbehaving(peer, 20, "non-continuous headers sequence")
                return
        cs = self.chainstate

        def accept():
            if cs.get_entry(headers[0].prev_hash_bytes) is None:
                return "unconnecting", None, None
            last = None
            for h in headers:
                try:
                    last = cs.process_new_block_header(h)
                except Rejection as r:
                    return "invalid", last, r
            return "ok", last, None

        status, last, rejection = await self.cm.node.run_validation(accept)
        if status == "unconnecting":
            peer.unconnecting_headers += 1
            if peer.unconnecting_headers % MAX_UNCONNECTING_HEADERS == 0:
                self.cm.misbehaving(peer, 20, f"{peer.unconnecting_headers} non-connecting headers")
            await self.send_getheaders(peer)
            return
        peer.unconnecting_headers = 0
        if last is not None:
            self._update_best_known(peer, last)
        if rejection is not None:
            score = block_ban_score(rejection)
            log.info("invalid header received from peer=%d: %s", peer.id, rejection)
            if score:
                self.cm.misbehaving(peer, score, f"invalid header: {rejection}")
            return
        if len(headers) == MAX_HEADERS_RESULTS and last is not None:
            await self.send_getheaders(peer, start=last)
        self.schedule_request()

    @staticmethod
    def _update_best_known(peer, entry) -> None:
        best = peer.best_known_header
        if best is None or entry.chain_work > best.chain_work:
            peer.best_known_header = entry
            if best is not None and peer.download_queue and entry.get_ancestor(best.height) is not best:
                peer.download_queue.clear()  # planned on a branch it no longer prefers

    async def on_getheaders(self, peer, msg) -> None:
        cs = self.chainstate
        locator, stop = msg.locator, msg.hash_stop_bytes

        def collect():
            chain = cs.chain
            if not locator:
                e = cs.get_entry(stop)
                return ([e], e) if e is not None and not e.failed else ([], None)
            fork = self._find_fork(locator)
            out = []
            e = chain.next(fork)
            while e is not None and len(out) < MAX_HEADERS_RESULTS:
                out.append(e)
                if e.hash_bytes == stop:
                    break
                e = chain.next(e)
            if not out:
                return [], chain.tip
            return out, out[-1]

        entries, sent = await self.cm.node.run_validation(collect)
        peer.send(MsgHeaders(tuple(e.header for e in entries)))
        if sent is not None:
            best = peer.best_header_sent
            if best is None or sent.chain_work > best.chain_work:
                peer.best_header_sent = sent

    def _find_fork(self, locator):
        """Core's FindForkInGlobalIndex (validation thread)."""
        cs = self.chainstate
        chain = cs.chain
        for h in locator:
            e = cs.get_entry(h)
            if e is None:
                continue
            if chain.contains(e):
                return e
            if e.get_ancestor(chain.height) is chain.tip:
                return chain.tip
        return chain.genesis

    async def on_getblocks(self, peer, msg) -> None:
        cs = self.chainstate
        locator, stop = msg.locator, msg.hash_stop_bytes

        def collect():
            fork = self._find_fork(locator)
            out = []
            e = cs.chain.next(fork)
            while e is not None and len(out) < MAX_GETBLOCKS_RESULTS:
                if e.hash_bytes == stop:
                    break
                out.append(e.hash_bytes)
                e = cs.chain.next(e)
            return out

        hashes = await self.cm.node.run_validation(collect)
        if hashes:
            peer.send(MsgInv(tuple(InvVector(MSG_BLOCK, h) for h in hashes)))

    # -- block announcements from peers -----------------------------------------------------

    async def on_block_inv(self, peer, hashes: list[bytes]) -> None:
        """`inv` of blocks: remember what the peer has; ask for headers up to the last
        block we do not know."""
        cs = self.chainstate

        def lookup():
            known, unknown = [], []
            for h in hashes:
                e = cs.get_entry(h)
                (known if e is not None else unknown).append((h, e))
            return known, unknown

        known, unknown = await self.cm.node.run_validation(lookup)
        for _h, e in known:
            self._update_best_known(peer, e)
        if unknown:
            await self.send_getheaders(peer, hash_stop=unknown[-1][0])
        elif known:
            self.schedule_request()

    # -- blocks -------------------------------------------------------------------------

    async def on_block(self, peer, msg) -> None:
        block = msg.block
        h = block.hash_bytes
        now = time.monotonic()
        owner = self.in_flight.pop(h, None)
        requested = peer.blocks_in_flight.pop(h, None) is not None
        asked = owner is not None or requested  # from this peer or another (Core's IsBlockRequested)
        if owner is not None and owner != peer.id:
            other = self.cm.peers.get(owner)
            if other is not None:
                other.blocks_in_flight.pop(h, None)
        if requested:
            peer.downloading_since = now
            if self.stall_timeout > BLOCK_STALLING_TIMEOUT_DEFAULT:
                self.stall_timeout = max(BLOCK_STALLING_TIMEOUT_DEFAULT, self.stall_timeout * 0.85)
            self.schedule_request()  # refill the window now, not after validation
        # Validation runs while this peer's reader decodes the next message: received
        # blocks wait in one queue (arrival order, so the order of validation is the
        # order they came) that validation-thread jobs drain, up to MAX_BLOCKS_PER_JOB
        # at a time; at most MAX_PENDING_BLOCKS per peer wait.
        self.processing.add(h)
        peer.pending_blocks += 1
        self._received.append((peer, block, asked))
        if not self._validating:
            self._start_validating()
        while peer.pending_blocks > MAX_PENDING_BLOCKS and not peer.disconnecting:
            peer.blocks_validated.clear()
            await peer.blocks_validated.wait()

    def _start_validating(self) -> None:
        self._validating = True
        job = asyncio.ensure_future(self.cm.node.run_validation(self._validate_received, MAX_BLOCKS_PER_JOB))
        job.add_done_callback(self._validation_job_done)

    def _validation_job_done(self, job) -> None:
        self._validating = False
        if job.cancelled():
            return
        exc = job.exception()
        if exc is not None:  # the job itself failed (shutdown): release what waits
            log.error("block validation job failed: %r", exc)
            while self._received:
                peer, block, _asked = self._received.popleft()
                self._block_processed(peer, block, None, None, exc)
            return
        if self._received:
            self._start_validating()

    def _validate_received(self, limit: int) -> None:
        """Validate up to `limit` received blocks in arrival order (validation thread);
        each result goes back to the event loop as soon as it is known."""
        inbox = self.cm.inbox
        inbox.hold()  # the loop runs REPORT_EVERY results a wake-up, not one each
        try:
            self._validate_some(limit, inbox)
        finally:
            inbox.release()

    def _validate_some(self, limit: int, inbox) -> None:
        cs = self.chainstate
        received = self._received
        for n in range(limit):
            if n % REPORT_EVERY == 0:
                inbox.wake()
            try:
                peer, block, asked = received.popleft()
            except IndexError:
                return
            if not asked:
                why = self._unrequested_skip_reason(block)
                if why is not None:
                    # Core's ProcessNewBlock runs CheckBlock before AcceptBlock skips it:
                    # an invalid block still costs its sender.
                    try:
                        check_block(block, cs.params)
                    except Rejection as r:
                        self._call_soon(self._block_processed, peer, block, None, r, None)
                        continue
                    except Exception as e:  # noqa: BLE001 - a fault of ours, reported on the loop
                        self._call_soon(self._block_processed, peer, block, None, None, e)
                        continue
                    self._call_soon(self._block_processed, peer, block, None, None, None, why)
                    continue
            rejection = error = None
            try:
                cs.process_new_block(block)
            except Rejection as r:
                rejection = r
            except Exception as e:  # noqa: BLE001 - a fault of ours, reported on the loop
                error = e
            self._call_soon(self._block_processed, peer, block, cs.get_entry(block.hash_bytes), rejection, error)

    def _unrequested_skip_reason(self, block) -> str | None:
        """Why a block nobody asked for is not worth storing, or None (validation thread).

        Core's AcceptBlock for an unrequested block: process it only if it is new, its
        chain has at least our tip's work and it is at most MIN_BLOCKS_TO_KEEP (288)
        blocks ahead of our tip; otherwise a peer could fill our disk with cheap
        low-work forks. One whose parent we do not know is skipped too (we cannot tell
        its work; the chain would keep it as an orphan)."""
        cs = self.chainstate
        prev = cs.get_entry(block.header.prev_hash_bytes)
        if prev is None:
            return "unknown parent"
        tip = cs.chain.tip
        if prev.chain_work + block_work(block.header.bits) < tip.chain_work:
            return "less work than our tip"
        if prev.height + 1 > tip.height + MIN_BLOCKS_TO_KEEP:
            return f"more than {MIN_BLOCKS_TO_KEEP} blocks ahead of our tip"
        return None

    def _call_soon(self, fn, *args) -> None:
        self.cm.inbox.post(fn, *args)

    def _block_processed(self, peer, block, entry, rejection, error, skipped: str | None = None) -> None:
        self.processing.discard(block.hash_bytes)
        peer.pending_blocks -= 1
        if peer.pending_blocks <= MAX_PENDING_BLOCKS:
            peer.blocks_validated.set()
        if skipped is not None:
            log.debug("unrequested block %s from peer=%d not processed: %s", block.hash, peer.id, skipped)
        elif error is not None:
            log.error("error processing block %s from peer=%d: %r", block.hash, peer.id, error)
        elif rejection is not None:
            score = block_ban_score(rejection)
            log.info("block %s from peer=%d rejected: %s", block.hash, peer.id, rejection)
            if score:
                self.cm.misbehaving(peer, score, f"invalid block {block.hash}: {rejection}")
        elif entry is not None:
            self._update_best_known(peer, entry)
            # Core's m_last_block_time: a valid block (eviction protects its sender)
            peer.last_block_time = int(self.cm.node.clock())
        self.schedule_request()

    def on_block_notfound(self, peer, h: bytes) -> None:
        if peer.blocks_in_flight.pop(h, None) is not None and self.in_flight.get(h) == peer.id:
            del self.in_flight[h]
            self.schedule_request()

    async def serve_blocks(self, peer, requests) -> list[int]:
        """Send the blocks of getdata entries `requests` ((inv type, hash) pairs, in
        order): witness form for MSG_WITNESS_BLOCK, stripped for MSG_BLOCK, framed from
        the stored bytes. Blocks are read in one validation-thread job per
        MAX_SERVE_BATCH_BYTES; between batches we wait for the send queue to drain
        (disconnecting a peer that does not read). Returns the indexes of the requests
        we do not have."""
        cs = self.chainstate
        missing: list[int] = []

        def read(start: int):
            out = []
            size = 0
            for i in range(start, len(requests)):
                e = cs.get_entry(requests[i][1])
                raw = None
                if e is not None and e.have_data:
                    try:
                        raw = cs.get_block_bytes(e)
                    except Exception:  # noqa: BLE001 - a storage fault of ours: notfound
                        log.exception("could not read block %s for peer=%d", e.hash, peer.id)
                out.append(raw)
                size += len(raw) if raw is not None else 0
                if size >= MAX_SERVE_BATCH_BYTES:
                    break
            return out

        loop = asyncio.get_running_loop()
        i = 0
        while i < len(requests) and not peer.disconnecting:
            batch = await self.cm.node.run_validation(read, i)
            types = [requests[i + k][0] for k in range(len(batch))]
            # Stripping (a parse and a re-serialization: ~100 ms for a 2 MB block) and
            # the frame checksum run on a worker thread, never on the event loop.
            frames = await loop.run_in_executor(None, _block_frames, peer.magic, batch, types)
            for frame in frames:
                if frame is None:
                    missing.append(i)
                else:
                    peer.send_frame("block", frame)
                i += 1
            if not await peer.wait_send_buffer():
                peer.disconnect("send buffer not draining")
                break
        return missing

    # -- download planning ---------------------------------------------------------------

    def schedule_request(self) -> None:
        self._request.set()

    async def _request_loop(self) -> None:
        while True:
            await self._request.wait()
            self._request.clear()
            try:
                await self._request_blocks()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the loop alive; a bug of ours
                log.exception("block request planning failed")

    async def _request_blocks(self) -> None:
        """Fill each peer's window from its planned queue (no chain access); plan again
        on the validation thread for peers whose queue runs short."""
        peers = [p for p in self.cm.peers.values()
                 if p.handshake_done and not p.disconnecting and p.best_known_header is not None
                 and serves_blocks(p.services)]
        candidates = []
        for peer in peers:
            self._send_requests(peer)
            room = MAX_BLOCKS_IN_TRANSIT_PER_PEER - len(peer.blocks_in_flight)
            if room > 0 and len(peer.download_queue) < 2 * MAX_BLOCKS_IN_TRANSIT_PER_PEER:
                candidates.append((peer, room + DOWNLOAD_LOOKAHEAD))
        if not candidates:
            return
        if self._plan_task is not None:  # one plan at a time; plan again when it is done
            self._replan = True
            return
        self._plan_task = asyncio.ensure_future(self._plan_and_request(candidates))

    async def _plan_and_request(self, candidates) -> None:
        # A task of its own, so that the windows keep being refilled from the planned
        # queues while the plan waits for the validation thread.
        try:
            claimed = set(self.in_flight) | self.processing
            plan = dict(await self.cm.node.run_validation(self._plan_downloads, candidates, claimed))
            for peer, _room in candidates:
                if peer.disconnecting:
                    continue
                peer.download_queue = deque(plan.get(peer, ()))
                self._send_requests(peer)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep downloading; a bug of ours
            log.exception("block download planning failed")
        finally:
            self._plan_task = None
        if self._replan:
            self._replan = False
            self.schedule_request()

    def _send_requests(self, peer) -> None:
        """getdata for as much of the peer's planned queue as its window has room for
        (at least MIN_GETDATA_BATCH while blocks are in flight: fewer, larger messages).
        Entries another peer was asked for, that arrived or that failed meanwhile are
        skipped (their status is read here, off the validation thread: a stale read
        costs at most one redundant request, which the plan then corrects)."""
        queue = peer.download_queue
        room = MAX_BLOCKS_IN_TRANSIT_PER_PEER - len(peer.blocks_in_flight)
        if not queue or room <= 0 or (room < MIN_GETDATA_BATCH and peer.blocks_in_flight):
            return
        now = time.monotonic()
        inv = []
        while queue and len(inv) < room:
            e = queue.popleft()
            h = e.hash_bytes
            if h in self.in_flight or h in self.processing or e.have_data or e.failed:
                continue
            self.in_flight[h] = peer.id
            if not peer.blocks_in_flight:
                peer.downloading_since = now
            peer.blocks_in_flight[h] = now
            inv.append(InvVector(MSG_WITNESS_BLOCK, h))
        if inv:
            peer.send(MsgGetData(tuple(inv)))

    def _plan_downloads(self, candidates, claimed: set[bytes]):
        """Core's FindNextBlocksToDownload for each (peer, room) (validation thread)."""
        cs = self.chainstate
        chain = cs.chain
        tip = chain.tip
        plan = []
        for peer, room in candidates:
            best = peer.best_known_header
            if best is None or best.failed or best.chain_work < tip.chain_work:
                continue
            lc = peer.last_common_block
            if lc is None or (lc.height > 0 and not lc.chain_tx):
                lc = chain[min(best.height, chain.height)]
            lc = _last_common_ancestor(lc, best)
            if lc is None or lc is best:
                peer.last_common_block = lc
                continue
            window_end = lc.height + BLOCK_DOWNLOAD_WINDOW
            max_height = min(best.height, window_end + 1)
            out = []
            walk_height = lc.height
            done = False
            while walk_height < max_height and not done:
                n = min(max_height - walk_height, max(room - len(out), 128))
                top = best.get_ancestor(walk_height + n)
                chunk = []
                e = top
                while e is not None and e.height > walk_height:
                    chunk.append(e)
                    e = e.prev
                chunk.reverse()
                walk_height += n
                for e in chunk:
                    if e.failed:
                        done = True
                        break
                    if e.have_data or chain.contains(e):
                        if e.chain_tx or chain.contains(e):
                            lc = e
                        continue
                    if e.hash_bytes in claimed:
                        continue
                    if e.height > window_end:
                        done = True
                        break
                    out.append(e)
                    claimed.add(e.hash_bytes)
                    if len(out) >= room:
                        done = True
                        break
            peer.last_common_block = lc
            if out:
                plan.append((peer, out))
        return plan

    # -- stalls --------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: drop stalling block sources and unresponsive header sources."""
        now = time.monotonic()
        peers = [p for p in self.cm.peers.values() if p.handshake_done and not p.disconnecting]
        for peer in peers:
            if peer.blocks_in_flight:
                idle = now - peer.downloading_since
                others = any(o is not peer and o.best_known_header is not None and not o.stalling
                             and serves_blocks(o.services) for o in peers)
                if idle > self.stall_timeout and others:
                    log.info("peer=%d is stalling block download (%.1f s), disconnecting", peer.id, idle)
                    peer.stalling = True
                    self.on_peer_closed(peer)
                    peer.disconnect("block download stalling")
                    self.stall_timeout = min(BLOCK_STALLING_TIMEOUT_MAX, self.stall_timeout * 2)
                elif idle > BLOCK_DOWNLOAD_TIMEOUT:
                    self.on_peer_closed(peer)
                    peer.disconnect("block download timeout")
            if peer.headers_requested_at and now - peer.headers_requested_at > HEADERS_RESPONSE_TIME:
                peer.headers_requested_at = 0.0
                if any(o is not peer for o in peers):
                    peer.disconnect("headers sync timeout")
        if self.in_flight or any(p.best_known_header is not None for p in peers):
            self.schedule_request()

    # -- announcements -------------------------------------------------------------------

    def schedule_announce(self) -> None:
        self._announce.set()

    async def _announce_loop(self) -> None:
        while True:
            await self._announce.wait()
            self._announce.clear()
            try:
                await self._announce_tip()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("block announcement failed")

    async def _announce_tip(self) -> None:
        peers = [p for p in self.cm.peers.values() if p.handshake_done and not p.disconnecting]
        if not peers:
            return
        plan = await self.cm.node.run_validation(self._plan_announcements, peers)
        for peer, message, best_sent in plan:
            peer.send(message)
            if best_sent is not None:
                peer.best_header_sent = best_sent

    def _plan_announcements(self, peers):
        """For each peer lacking our tip: headers (BIP-0130) or an inv (validation thread)."""
        tip = self.chainstate.chain.tip
        out = []
        for peer in peers:
            def has(e, peer=peer):
                return e.height == 0 or _has(peer.best_known_header, e) or _has(peer.best_header_sent, e)
            if has(tip):
                continue
            if peer.prefer_headers:
                blocks = []
                e = tip
                while e is not None and not has(e) and len(blocks) <= MAX_BLOCKS_TO_ANNOUNCE:
                    blocks.append(e)
                    e = e.prev
                if len(blocks) <= MAX_BLOCKS_TO_ANNOUNCE and e is not None:
                    blocks.reverse()
                    out.append((peer, MsgHeaders(tuple(b.header for b in blocks)), tip))
                    continue
            if tip.hash_bytes in peer.known_inventory:
                continue
            peer.known_inventory.add(tip.hash_bytes)
            out.append((peer, MsgInv((InvVector(MSG_BLOCK, tip.hash_bytes),)), None))
        return out
