"""Orphan transactions: valid-looking transactions whose parents we have not seen (Core's
TxOrphanage, v28).

When `Mempool.accept` raises `bad-txns-inputs-missingorspent` (kind MISSING_INPUTS), the
P2P layer keeps the transaction here, asks the sender for the parents, and when a parent
is accepted retries the orphans spending it (`children_of(txid)` or the per-peer work
sets of `add_children_to_work_set` / `tx_to_reconsider`).

Bounds (Core's): at most `max_orphans` (DEFAULT_MAX_ORPHAN_TRANSACTIONS = 100) entries,
a random one evicted beyond that; each at most MAX_STANDARD_TX_WEIGHT (400000, larger
ones are refused); each expires ORPHAN_TX_EXPIRE_TIME (20 minutes) after it arrived
(swept at most every ORPHAN_TX_EXPIRE_INTERVAL, 5 minutes). Entries are keyed by wtxid
and indexed by the outpoints they spend. Nothing here raises on network data.
"""

import random
import time
from collections.abc import Callable, Hashable

from coin.mempool.policy import MAX_STANDARD_TX_WEIGHT
from coin.primitives import OutPoint

__all__ = [
    "OrphanPool",
    "DEFAULT_MAX_ORPHAN_TRANSACTIONS",
    "ORPHAN_TX_EXPIRE_TIME",
    "ORPHAN_TX_EXPIRE_INTERVAL",
]

DEFAULT_MAX_ORPHAN_TRANSACTIONS = 100
ORPHAN_TX_EXPIRE_TIME = 20 * 60
ORPHAN_TX_EXPIRE_INTERVAL = 5 * 60


class _Orphan:
    __slots__ = ("tx", "peer", "expiry")

    def __init__(self, tx, peer, expiry: float):
        self.tx = tx
        self.peer = peer
        self.expiry = expiry


class OrphanPool:
    """Bounded store of orphan transactions, keyed by wtxid, indexed by spent outpoint."""

    def __init__(self, max_orphans: int = DEFAULT_MAX_ORPHAN_TRANSACTIONS, *,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        self.max_orphans = max_orphans
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self._orphans: dict[bytes, _Orphan] = {}
        self._by_txid: dict[bytes, bytes] = {}
        self._by_outpoint: dict[OutPoint, set[bytes]] = {}
        self._work: dict[Hashable, list[bytes]] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        return len(self._orphans)

    def contains(self, hash_bytes: bytes) -> bool:
        """Whether an orphan has this wtxid or txid (raw bytes)."""
        return hash_bytes in self._orphans or hash_bytes in self._by_txid

    def get(self, hash_bytes: bytes):
        """The orphan transaction with this wtxid or txid, or None."""
        o = self._orphans.get(hash_bytes) or self._orphans.get(self._by_txid.get(hash_bytes, b""))
        return o.tx if o is not None else None

    def peer_of(self, hash_bytes: bytes):
        o = self._orphans.get(hash_bytes) or self._orphans.get(self._by_txid.get(hash_bytes, b""))
        return o.peer if o is not None else None

    def add(self, tx, peer: Hashable = None) -> bool:
        """Keep `tx` from `peer` (Core's AddTx, then LimitOrphans). False if already kept
        or heavier than MAX_STANDARD_TX_WEIGHT."""
        wtxid = tx.wtxid_bytes
        if wtxid in self._orphans:
            return False
        if tx.weight > MAX_STANDARD_TX_WEIGHT:
            return False
        self._orphans[wtxid] = _Orphan(tx, peer, self.clock() + ORPHAN_TX_EXPIRE_TIME)
        self._by_txid[tx.txid_bytes] = wtxid
        for txin in tx.inputs:
            self._by_outpoint.setdefault(txin.prevout, set()).add(wtxid)
        self.limit()
        return True

    def remove(self, hash_bytes: bytes) -> bool:
        """Erase the orphan with this wtxid (or txid); False if absent (Core's EraseTx)."""
        wtxid = hash_bytes if hash_bytes in self._orphans else self._by_txid.get(hash_bytes)
        o = self._orphans.pop(wtxid, None) if wtxid is not None else None
        if o is None:
            return False
        if self._by_txid.get(o.tx.txid_bytes) == wtxid:
            del self._by_txid[o.tx.txid_bytes]
        for txin in o.tx.inputs:
            spenders = self._by_outpoint.get(txin.prevout)
            if spenders is not None:
                spenders.discard(wtxid)
                if not spenders:
                    del self._by_outpoint[txin.prevout]
        return True

    def remove_for_peer(self, peer: Hashable) -> int:
        """Erase every orphan `peer` sent (it disconnected); returns how many."""
        self._work.pop(peer, None)
        doomed = [w for w, o in self._orphans.items() if o.peer == peer]
        for w in doomed:
            self.remove(w)
        return len(doomed)

    def remove_for_block(self, block) -> int:
        """Erase orphans included in `block` or spending what its transactions spend."""
        doomed: set[bytes] = set()
        for tx in block.txs:
            for txin in tx.inputs:
                doomed |= self._by_outpoint.get(txin.prevout, set())
        for w in doomed:
            self.remove(w)
        return len(doomed)

    def limit(self, max_orphans: int | None = None) -> int:
        """Core's LimitOrphans: sweep expired orphans (every 5 minutes at most), then evict
        random ones down to `max_orphans`; returns how many went."""
        limit = self.max_orphans if max_orphans is None else max_orphans
        erased = 0
        now = self.clock()
        if self._next_sweep <= now:
            min_expiry = now + ORPHAN_TX_EXPIRE_TIME - ORPHAN_TX_EXPIRE_INTERVAL
            for w, o in list(self._orphans.items()):
                if o.expiry <= now:
                    self.remove(w)
                    erased += 1
                else:
                    min_expiry = min(min_expiry, o.expiry)
            self._next_sweep = min_expiry + ORPHAN_TX_EXPIRE_INTERVAL
        while len(self._orphans) > limit:
            victim = self.rng.choice(list(self._orphans))
            self.remove(victim)
            erased += 1
        return erased

    def children_of(self, txid_bytes: bytes, n_outputs: int | None = None) -> list:
        """Orphans spending an output of the transaction `txid_bytes`, oldest first.

        Without `n_outputs` every indexed outpoint is scanned; pass the parent's output
        count to look the outputs up directly.
        """
        found: list[bytes] = []
        if n_outputs is not None:
            for i in range(n_outputs):
                found.extend(self._by_outpoint.get(OutPoint(txid_bytes, i), ()))
        else:
            for op, spenders in self._by_outpoint.items():
                if op.txid_bytes == txid_bytes:
                    found.extend(spenders)
        unique = set(found)
        return [o.tx for w, o in self._orphans.items() if w in unique]

    def add_children_to_work_set(self, tx) -> None:
        """Core's AddChildrenToWorkSet: queue the orphans spending `tx`'s outputs for
        reconsideration by the peer each came from."""
        for child in self.children_of(tx.txid_bytes, len(tx.outputs)):
            o = self._orphans[child.wtxid_bytes]
            queue = self._work.setdefault(o.peer, [])
            if child.wtxid_bytes not in queue:
                queue.append(child.wtxid_bytes)

    def tx_to_reconsider(self, peer: Hashable):
        """Core's GetTxToReconsider: the next queued orphan of `peer`, or None."""
        queue = self._work.get(peer)
        while queue:
            o = self._orphans.get(queue.pop(0))
            if o is not None:
                return o.tx
        return None

    def have_tx_to_reconsider(self, peer: Hashable) -> bool:
        return any(w in self._orphans for w in self._work.get(peer, ()))
