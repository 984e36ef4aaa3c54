"""Transaction relay: announce, request, accept, orphans, feefilter (Core's tx relay, simplified).

Announcing: every transaction that enters the mempool (from a peer, RPC, or a block
disconnected in a reorg: the pool's `added` event) is queued for every peer that
relays transactions and does not know it yet, and sent as `inv` in batches on a
per-peer timer with exponentially distributed gaps (Core's trickling: its means are 5 s
inbound / 2 s outbound; ours are INBOUND_INVENTORY_BROADCAST_INTERVAL /
OUTBOUND_INVENTORY_BROADCAST_INTERVAL, shorter, for a regtest network where a
transaction should cross five hops in under two seconds). Peers that sent `wtxidrelay`
(BIP-0339) get MSG_WTX with the wtxid, others MSG_TX with the txid. A transaction
whose fee rate is below the peer's `feefilter` (BIP-0133) is not announced to it. At
most INVENTORY_BROADCAST_MAX entries per inv; at most MAX_TO_ANNOUNCE queued per peer.

Requesting: an `inv` of a transaction we lack (not in the pool, not an orphan, not
recently rejected, not already requested from another peer in the last
GETDATA_TX_INTERVAL seconds) is answered with `getdata` (MSG_WTX or MSG_WITNESS_TX);
at most MAX_PEER_TX_REQUEST_IN_FLIGHT outstanding per peer.

Accepting: a `tx` goes to `mempool.accept` on the validation thread. Accepted: the
orphans that spend it are retried (recursively). Missing inputs: the transaction
waits in the mempool layer's `OrphanPool` (coin.mempool.orphans: at most 100, each at
most MAX_STANDARD_TX_WEIGHT, expiring 20 minutes after it arrived by `node.clock`,
dropped with the peer that sent it, and dropped when a connected block includes it or
spends what it spends) and its missing parents are requested from the sender. Rejected: the
wtxid is remembered (forgotten when the tip changes) and a consensus failure costs the
sender the Rejection's ban score; policy failures, conflicts and duplicates cost
nothing, so an honest peer that merely lost a race is never punished.

Serving: `getdata` for transactions is answered from the pool (witness serialization
unless MSG_TX was asked); `mempool` (BIP-0035) from a whitelisted peer queues the whole
pool for announcement (the connection manager disconnects anyone else, as Core).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from coin.consensus.errors import Rejection, RejectKind
from coin.mempool.orphans import OrphanPool
from coin.p2p.bloom import RollingBloomFilter
from coin.p2p.messages import InvVector, MsgFeeFilter, MsgGetData, MsgInv
from coin.p2p.protocol import MSG_TX, MSG_WITNESS_FLAG, MSG_WITNESS_TX, MSG_WTX

__all__ = [
    "TxRelay",
    "INBOUND_INVENTORY_BROADCAST_INTERVAL",
    "OUTBOUND_INVENTORY_BROADCAST_INTERVAL",
    "INVENTORY_BROADCAST_MAX",
    "MAX_TO_ANNOUNCE",
    "MAX_PEER_TX_REQUEST_IN_FLIGHT",
    "GETDATA_TX_INTERVAL",
    "tx_ban_score",
]

log = logging.getLogger("coin.p2p")

INBOUND_INVENTORY_BROADCAST_INTERVAL = 0.2
OUTBOUND_INVENTORY_BROADCAST_INTERVAL = 0.1
INVENTORY_BROADCAST_MAX = 1000
MAX_TO_ANNOUNCE = 10_000
MAX_PEER_TX_REQUEST_IN_FLIGHT = 100
GETDATA_TX_INTERVAL = 60.0
FEEFILTER_INTERVAL = 10 * 60

_FREE_KINDS = (RejectKind.POLICY, RejectKind.CONFLICT, RejectKind.DUPLICATE, RejectKind.MISSING_INPUTS)


def tx_ban_score(rejection: Rejection) -> int:
    """What a transaction rejection costs the peer that sent it: nothing for policy,
    conflicts, duplicates and missing inputs; the Rejection's ban score otherwise."""
    if rejection.kind in _FREE_KINDS:
        return 0
    return rejection.ban_score


class TxRelay:
    """Transaction relay for one connection manager (`cm`)."""

    def __init__(self, cm):
        self.cm = cm
        self.orphans = OrphanPool(clock=lambda: self.cm.node.clock())   # validation thread only
        self._chainstate = None
        self.recent_rejects = RollingBloomFilter(120_000, 0.000001)   # Core's m_lazy_recent_rejects
        self.requested: dict[bytes, tuple[int, float]] = {}   # hash -> (peer id, when)
        self._task: asyncio.Task | None = None
        self._next_feefilter = 0.0

    @property
    def mempool(self):
        return self.cm.node.mempool

    def start(self) -> None:
        cs = self.cm.node.chainstate
        if cs is not None and self._chainstate is None:
            cs.subscribe("block_connected", self.on_block_connected)
            self._chainstate = cs
        self._task = asyncio.create_task(self._trickle_loop(), name="p2p-txrelay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        if self._chainstate is not None:
            with contextlib.suppress(ValueError, KeyError):
                self._chainstate.unsubscribe("block_connected", self.on_block_connected)
            self._chainstate = None

    # -- events --------------------------------------------------------------------------

    def on_mempool_added(self, entry) -> None:
        """A transaction entered the pool (event loop): queue it for every peer."""
        tx = entry.tx
        key = tx.wtxid_bytes
        pair = (tx.txid_bytes, key)
        for peer in self.cm.peers.values():
            if not peer.handshake_done or not peer.relay_txs or peer.disconnecting:
                continue
            if (key if peer.wtxid_relay else pair[0]) in peer.known_inventory:
                continue
            if len(peer.tx_to_announce) < MAX_TO_ANNOUNCE:
                peer.tx_to_announce[key] = pair

    def on_tip_changed(self) -> None:
        self.recent_rejects.clear()

    def on_block_connected(self, block, entry=None) -> None:
        """Chain event, on the validation thread (where the orphans live): forget orphans
        the block includes or conflicts with (Core's BlockConnected -> EraseForBlock)."""
        self.orphans.remove_for_block(block)

    def on_handshake(self, peer) -> None:
        peer.next_inv_send = time.monotonic() + self._interval(peer)
        self._send_feefilter(peer)

    def on_peer_closed(self, peer) -> None:
        for h in peer.tx_in_flight:
            owner = self.requested.get(h)
            if owner is not None and owner[0] == peer.id:
                del self.requested[h]
        peer.tx_in_flight.clear()
        mp = self.mempool
        if mp is not None:
            orphans = self.orphans
            task = asyncio.ensure_future(self.cm.node.run_validation(orphans.remove_for_peer, peer.id))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    def _send_feefilter(self, peer) -> None:
        mp = self.mempool
        if mp is None:
            return
        try:
            rate = max(mp.get_min_fee().per_kvb, mp.policy.min_relay_fee)
        except Exception:  # noqa: BLE001 - a pool without these: no filter
            return
        peer.send(MsgFeeFilter(int(rate)))

    # -- inv / getdata ---------------------------------------------------------------------

    async def on_tx_inv(self, peer, invs: list) -> None:
        mp = self.mempool
        if mp is None or not peer.handshake_done:
            return
        now = time.monotonic()
        wanted = []
        for inv in invs:
            h = inv.hash_bytes
            peer.known_inventory.add(h)
            if h in self.recent_rejects:
                continue
            owner = self.requested.get(h)
            if owner is not None and now - owner[1] < GETDATA_TX_INTERVAL and owner[0] in self.cm.peers:
                continue
            wanted.append(inv)
        if not wanted:
            return

        def missing():
            out = []
            for inv in wanted:
                h = inv.hash_bytes
                have = mp.contains_wtxid(h) if inv.type == MSG_WTX else mp.contains(h)
                if not have and not self.orphans.contains(h):
                    out.append(inv)
            return out

        wanted = await self.cm.node.run_validation(missing)
        self.request(peer, [(MSG_WTX if inv.type == MSG_WTX else MSG_WITNESS_TX, inv.hash_bytes) for inv in wanted])

    def request(self, peer, items: list[tuple[int, bytes]]) -> None:
        now = time.monotonic()
        inv = []
        for t, h in items:
            if len(peer.tx_in_flight) >= MAX_PEER_TX_REQUEST_IN_FLIGHT:
                break
            self.requested[h] = (peer.id, now)
            peer.tx_in_flight[h] = now
            inv.append(InvVector(t, h))
        if inv:
            peer.send(MsgGetData(tuple(inv)))

    def on_tx_notfound(self, peer, h: bytes) -> None:
        if peer.tx_in_flight.pop(h, None) is not None:
            owner = self.requested.get(h)
            if owner is not None and owner[0] == peer.id:
                del self.requested[h]

    async def serve_txs(self, peer, items: list) -> list:
        """Send the transactions asked for; return the entries we do not have."""
        mp = self.mempool
        if mp is None:
            return list(items)

        def lookup():
            out = []
            for inv in items:
                e = mp.get_by_wtxid(inv.hash_bytes) if inv.type == MSG_WTX else mp.get(inv.hash_bytes)
                out.append((inv, None if e is None else e.tx))
            return out

        missing = []
        for inv, tx in await self.cm.node.run_validation(lookup):
            if tx is None:
                missing.append(inv)
                continue
            witness = inv.type == MSG_WTX or bool(inv.type & MSG_WITNESS_FLAG)
            from coin.p2p.framing import encode_frame
            peer.send_frame("tx", encode_frame(peer.magic, "tx", tx.to_bytes(witness=witness)))
            if not await peer.wait_send_buffer():
                break
        return missing

    async def on_mempool_request(self, peer) -> None:
        mp = self.mempool
        if mp is None:
            return
        entries = await self.cm.node.run_validation(mp.entries)
        for e in entries[:MAX_TO_ANNOUNCE]:
            peer.tx_to_announce[e.tx.wtxid_bytes] = (e.tx.txid_bytes, e.tx.wtxid_bytes)
        peer.next_inv_send = 0.0

    # -- accepting -------------------------------------------------------------------------

    async def on_tx(self, peer, msg) -> None:
        mp = self.mempool
        tx = msg.tx
        txid, wtxid = tx.txid_bytes, tx.wtxid_bytes
        for h in (txid, wtxid):
            peer.known_inventory.add(h)
            peer.tx_in_flight.pop(h, None)
            owner = self.requested.get(h)
            if owner is not None and owner[0] == peer.id:
                del self.requested[h]
        if mp is None or wtxid in self.recent_rejects:
            return
        orphans = self.orphans

        def accept():
            try:
                mp.accept(tx)
            except Rejection as r:
                if r.kind is RejectKind.MISSING_INPUTS:
                    parents = sorted({i.prevout.txid_bytes for i in tx.inputs})
                    if any(p in self.recent_rejects for p in parents):
                        return r, [], []
                    orphans.add(tx, peer.id)
                    missing = [p for p in parents if not mp.contains(p)]
                    return r, [], missing
                return r, [], []
            orphans.remove(wtxid)            # it may have waited here itself
            done = []
            queue = [tx]
            while queue:
                parent = queue.pop()
                for child in orphans.children_of(parent.txid_bytes, len(parent.outputs)):
                    from_peer = orphans.peer_of(child.wtxid_bytes)
                    try:
                        mp.accept(child)
                    except Rejection as r:
                        if r.kind is RejectKind.MISSING_INPUTS:
                            continue
                        orphans.remove(child.wtxid_bytes)
                        done.append((from_peer, child, r))
                        continue
                    orphans.remove(child.wtxid_bytes)
                    done.append((from_peer, child, None))
                    queue.append(child)
            orphans.limit()                  # expiry sweep (at most every 5 minutes)
            return None, done, []

        try:
            rejection, orphan_results, missing = await self.cm.node.run_validation(accept)
        except Exception:  # noqa: BLE001 - our fault, not the peer's
            log.exception("error accepting tx %s from peer=%d", tx.txid, peer.id)
            return
        if rejection is not None:
            if rejection.kind is RejectKind.MISSING_INPUTS:
                if missing:
                    self.request(peer, [(MSG_WITNESS_TX, p) for p in missing
                                        if p not in self.requested and p not in self.recent_rejects])
                return
            self._rejected(peer, tx, rejection)
        else:
            # Core's m_last_tx_time: a transaction new to our pool (eviction protects it)
            peer.last_transaction_time = int(self.cm.node.clock())
        for from_peer, child, r in orphan_results:
            if r is not None:
                src = self.cm.peers.get(from_peer)
                self._rejected(src, child, r)

    def _rejected(self, peer, tx, rejection: Rejection) -> None:
        self.recent_rejects.add(tx.wtxid_bytes)
        log.debug("tx %s from peer=%s rejected: %s", tx.txid, getattr(peer, "id", "?"), rejection)
        score = tx_ban_score(rejection)
        if score and peer is not None:
            self.cm.misbehaving(peer, score, f"invalid transaction {tx.txid}: {rejection}")

    # -- trickling ---------------------------------------------------------------------

    @staticmethod
    def _interval(peer) -> float:
        mean = INBOUND_INVENTORY_BROADCAST_INTERVAL if peer.inbound else OUTBOUND_INVENTORY_BROADCAST_INTERVAL
        return random.expovariate(1.0 / mean)

    async def _trickle_loop(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            try:
                await self._trickle()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("transaction announcement failed")

    async def _trickle(self) -> None:
        now = time.monotonic()
        due = [p for p in self.cm.peers.values()
               if p.tx_to_announce and p.handshake_done and not p.disconnecting and p.next_inv_send <= now]
        if self._next_feefilter == 0.0:
            self._next_feefilter = now + FEEFILTER_INTERVAL
        elif now >= self._next_feefilter:
            self._next_feefilter = now + FEEFILTER_INTERVAL
            for p in self.cm.peers.values():
                if p.handshake_done and not p.disconnecting:
                    self._send_feefilter(p)
        if not due:
            return
        mp = self.mempool
        batches = []
        for peer in due:
            items = []
            while peer.tx_to_announce and len(items) < INVENTORY_BROADCAST_MAX:
                _key, pair = peer.tx_to_announce.popitem(last=False)
                items.append(pair)
            batches.append((peer, items))
            peer.next_inv_send = now + self._interval(peer)
        if mp is None:
            return

        def filter_batches():
            out = []
            for peer, items in batches:
                keep = []
                for txid, wtxid in items:
                    e = mp.get(txid)
                    if e is None:
                        continue
                    if peer.fee_filter and e.vsize and e.fee * 1000 < peer.fee_filter * e.vsize:
                        continue
                    keep.append((txid, wtxid))
                out.append((peer, keep))
            return out

        for peer, items in await self.cm.node.run_validation(filter_batches):
            inv = []
            for txid, wtxid in items:
                h, t = (wtxid, MSG_WTX) if peer.wtxid_relay else (txid, MSG_TX)
                if h in peer.known_inventory:
                    continue
                peer.known_inventory.add(h)
                inv.append(InvVector(t, h))
            if inv and not peer.disconnecting:
                peer.send(MsgInv(tuple(inv)))

    def tick(self) -> None:
        """Once a second: forget requests nobody answered."""
        now = time.monotonic()
        for h in [h for h, (_p, t) in self.requested.items() if now - t > GETDATA_TX_INTERVAL]:
            peer_id = self.requested.pop(h)[0]
            peer = self.cm.peers.get(peer_id)
            if peer is not None:
                peer.tx_in_flight.pop(h, None)
