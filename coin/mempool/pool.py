"""The transaction memory pool: Core's CTxMemPool and MemPoolAccept (v28 semantics).

`Mempool(params, chain, ...)` where `chain` is any object with two attributes (the
narrow dependency, btcd-style; coin.chain.ChainState has both):

- `chain.tip`: the active tip's index entry (`height`, `hash_bytes`, `prev`,
  `get_ancestor(h)`, `median_time_past()`);
- `chain.coins_tip`: the UTXO view (coin.consensus.coins.CoinsView: `get_coin`).

Accepting (`accept(tx, *, test_only=False, max_fee=None)`) follows Core's order of checks:

PreChecks: check_transaction; `coinbase`; IsStandardTx (`version`, `tx-size`,
`scriptsig-size`, `scriptsig-not-pushonly`, `scriptpubkey`, `bare-multisig`, `dust`,
`multi-op-return`); `tx-size-small`; `non-final`; `txn-already-in-mempool` /
`txn-same-nonwitness-data-in-mempool`; conflicts (full RBF: every conflict is a
replacement candidate; `txn-mempool-conflict` when full RBF is off and the conflict does
not signal); `txn-already-known` / `bad-txns-inputs-missingorspent` (kind MISSING_INPUTS:
keep it as an orphan); `non-BIP68-final`; CheckTxInputs (`bad-txns-in-belowout`, ...);
`bad-txns-nonstandard-inputs`; `bad-witness-nonstandard`; `bad-txns-too-many-sigops`;
`min relay fee not met`; `mempool min fee not met`; `too-long-mempool-chain` (25 / 101
kvB, with the CPFP carve-out); `bad-txns-spends-conflicting-tx`.
ReplacementChecks (BIP-0125 as Core implements it): `insufficient fee` (new feerate <=
old feerate of a direct conflict), `too many potential replacements` (> 100),
`replacement-adds-unconfirmed`, `insufficient fee` (less fees than the conflicts / not
enough additional fees to relay). The v28 feerate-diagram check is not implemented.
PolicyScriptChecks under STANDARD flags (`non-mandatory-script-verify-flag (<err>)` when
only policy flags fail, `mandatory-script-verify-flag-failed (<err>)` otherwise), then
ConsensusScriptChecks under the tip's block flags (skipped when those flags are a subset
of the standard ones, which they are once the soft forks are active, unless
`paranoid_script_checks`: every flag only adds restrictions, so passing the standard
run implies passing this one); verified signatures go into the shared SignatureCache so
the block that confirms the transaction does not verify them again.
Then `max-fee-exceeded` (if `max_fee` is given), then, unless `test_only`: conflicts are
removed (reason "replaced"), the entry added, expired entries removed and the pool
trimmed to `max_size_bytes` (the transaction itself may go: `mempool full`).

Chain events: `block_connected(block, entry)` removes confirmed transactions and their
conflicts; `block_disconnected(block, entry)` puts the block's transactions back (Core's
MaybeUpdateMempoolForReorg: bypassing fee and size limits, linking in-pool children,
then dropping whatever is no longer final, BIP-0068-final or mature). `connect_to_chain
(chainstate)` subscribes the pool to a ChainState's events; then disconnected blocks are
queued and re-added once the reorganisation is over (on `tip_changed`), as Core does.
Without it the node (or a test) calls the two methods itself and each disconnect is
processed at once.

Errors: every refusal raises coin.consensus.errors.Rejection with Core's reason, debug
message and kind (CONSENSUS ban 100 for invalid transactions; POLICY, DUPLICATE,
CONFLICT, MISSING_INPUTS with ban score 0 otherwise). Thread-safe: one re-entrant lock.
"""

import dataclasses
import enum
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from coin.consensus.coins import Coin
from coin.consensus.constants import (
    COINBASE_MATURITY,
    LOCKTIME_VERIFY_SEQUENCE,
    MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT,
    WITNESS_SCALE_FACTOR,
)
from coin.consensus.errors import InternalError, Rejection, RejectKind
from coin.consensus.flags import get_block_script_flags
from coin.consensus.tx_check import check_transaction
from coin.consensus.tx_verify import (
    calculate_sequence_locks,
    check_spent_coins,
    evaluate_sequence_locks,
    is_final_tx,
)
from coin.mempool.entry import MEMPOOL_HEIGHT, MempoolEntry
from coin.mempool.policy import (
    MAX_STANDARD_TX_SIGOPS_COST,
    FeeRate,
    Policy,
    are_inputs_standard,
    check_tx_size_small,
    format_money,
    is_standard_tx,
    is_witness_standard,
    signals_opt_in_rbf,
    virtual_size,
)
from coin.primitives import OutPoint
from coin.script.errors import ScriptError
from coin.script.flags import STANDARD_NOT_MANDATORY_VERIFY_FLAGS, STANDARD_SCRIPT_VERIFY_FLAGS
from coin.script.interpreter import verify_input
from coin.script.sigcache import SignatureCache
from coin.script.sighash import PrecomputedTxData
from coin.script.sigops import get_transaction_sigop_cost

__all__ = [
    "Mempool",
    "Limits",
    "AcceptResult",
    "BlockTx",
    "RemovalReason",
    "MAX_REPLACEMENT_CANDIDATES",
    "EXTRA_DESCENDANT_TX_SIZE_LIMIT",
    "ROLLING_FEE_HALFLIFE",
    "DEFAULT_MAX_MEMPOOL_SIZE",
    "DEFAULT_MEMPOOL_EXPIRY_HOURS",
]

log = logging.getLogger("coin.mempool")

DEFAULT_MAX_MEMPOOL_SIZE = 300_000_000
DEFAULT_MEMPOOL_EXPIRY_HOURS = 336
MAX_REPLACEMENT_CANDIDATES = 100
EXTRA_DESCENDANT_TX_SIZE_LIMIT = 10_000
ROLLING_FEE_HALFLIFE = 60 * 60 * 12
TRUC_VERSION = 3
_MAX_CONSECUTIVE_FAILURES = 1000
_STANDARD_FLAGS = int(STANDARD_SCRIPT_VERIFY_FLAGS)
_MANDATORY_OF_STANDARD = int(STANDARD_SCRIPT_VERIFY_FLAGS & ~STANDARD_NOT_MANDATORY_VERIFY_FLAGS)
_COINBASE_RESERVED_WEIGHT = 4000
_COINBASE_RESERVED_SIGOPS = 400


@dataclass(frozen=True, slots=True)
class Limits:
    """Package limits (-limitancestorcount etc.): counts and virtual bytes, tx included."""

    ancestor_count: int = 25
    ancestor_size_vbytes: int = 101_000
    descendant_count: int = 25
    descendant_size_vbytes: int = 101_000


class RemovalReason(enum.Enum):
    """Why an entry left the pool (Core's MemPoolRemovalReason)."""

    EXPIRY = "expiry"
    SIZELIMIT = "sizelimit"
    REORG = "reorg"
    BLOCK = "block"
    CONFLICT = "conflict"
    REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """What `Mempool.accept` reports: ids (display hex), the charged virtual size, the
    base and modified fees (satoshis), the effective feerate (sat/kvB, Core's
    CFeeRate(modified fee, vsize)) and the txids it replaced."""

    txid: str
    wtxid: str
    vsize: int
    fee: int
    modified_fee: int
    effective_feerate: int
    replaced: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BlockTx:
    """A transaction chosen for a block template, with its base fee and sigop cost."""

    tx: object
    fee: int
    sigop_cost: int
    weight: int


class _LimitError(Exception):
    pass


class _NextBlock:
    """Index-entry stand-in for the block after `tip` (Core's dummy CBlockIndex in
    CalculateLockPointsAtTip): what BIP-0068 evaluates "the next block" against."""

    __slots__ = ("tip", "height", "prev")

    def __init__(self, tip):
        self.tip = tip
        self.prev = tip
        self.height = tip.height + 1

    def get_ancestor(self, height: int):
        if height == self.height:
            return self
        return self.tip.get_ancestor(height)


class _Work:
    """Core's MemPoolAccept::Workspace: what the checks of one transaction learn."""

    __slots__ = ("tx", "txid_bytes", "conflicts", "spent_outputs", "spent_coins", "fee",
                 "modified_fee", "vsize", "sigop_cost", "spends_coinbase", "lock_points",
                 "parents", "ancestors", "conflicting", "all_conflicting", "txdata")

    def __init__(self, tx):
        self.tx = tx
        self.txid_bytes = tx.txid_bytes
        self.conflicts: set[bytes] = set()
        self.ancestors: set[MempoolEntry] = set()
        self.conflicting: set[MempoolEntry] = set()
        self.all_conflicting: set[MempoolEntry] = set()


MAX_PACKAGE_COUNT = 25          # Core's policy/packages.h
MAX_PACKAGE_WEIGHT = 404_000


def _package_shape_error(txs) -> str | None:
    """Core's IsWellFormedPackage (require_sorted): the package error, or None."""
    if len(txs) > MAX_PACKAGE_COUNT:
        return "package-too-many-transactions"
    if len(txs) > 1 and sum(tx.weight for tx in txs) > MAX_PACKAGE_WEIGHT:
        return "package-too-large"
    later = {tx.txid_bytes for tx in txs}
    if len(later) != len(txs):
        return "package-contains-duplicates"
    for tx in txs:
        if any(txin.prevout.txid_bytes in later for txin in tx.inputs):
            return "package-not-sorted"
        later.discard(tx.txid_bytes)
    seen: set = set()
    for tx in txs:
        if not tx.inputs:  # Core's IsConsistentPackage
            return "conflict-in-package"
        prevouts = [txin.prevout for txin in tx.inputs]
        if any(p in seen for p in prevouts):
            return "conflict-in-package"
        seen.update(prevouts)
    return None


def _policy(reason: str, debug: str = "") -> Rejection:
    return Rejection(reason, debug, kind=RejectKind.POLICY, ban_score=0)


class _Ratio:
    __slots__ = ("fee", "size")

    def __init__(self, fee: int, size: int):
        self.fee = fee
        self.size = size

    def __lt__(self, other: "_Ratio") -> bool:
        return self.fee * other.size < other.fee * self.size

    def __eq__(self, other) -> bool:
        return self.fee * other.size == other.fee * self.size


class Mempool:
    """The pool of unconfirmed transactions (Core's CTxMemPool + MemPoolAccept)."""

    def __init__(self, params, chain, *, max_size_bytes: int = DEFAULT_MAX_MEMPOOL_SIZE,
                 min_relay_fee: int | None = None,
                 expiry_hours: float = DEFAULT_MEMPOOL_EXPIRY_HOURS,
                 clock: Callable[[], float] = time.time,
                 sigcache: SignatureCache | None = None,
                 limits: Limits = Limits(),
                 policy: Policy | None = None,
                 fee_estimator=None,
                 paranoid_script_checks: bool = False):
        self.params = params
        self.chain = chain
        self.max_size_bytes = int(max_size_bytes)
        if policy is None:
            policy = Policy()
        if min_relay_fee is not None and min_relay_fee != policy.min_relay_fee:
            policy = dataclasses.replace(policy, min_relay_fee=int(min_relay_fee))
        self.policy = policy
        self.expiry_seconds = int(expiry_hours * 3600)
        self.clock = clock
        if sigcache is None:
            sigcache = getattr(chain, "sigcache", None) or SignatureCache()
        self.sigcache = sigcache
        self.limits = limits
        self.fee_estimator = fee_estimator
        self._lock = threading.RLock()
        self._entries: dict[bytes, MempoolEntry] = {}
        self._by_wtxid: dict[bytes, MempoolEntry] = {}
        self._spenders: dict[OutPoint, MempoolEntry] = {}
        self._deltas: dict[bytes, int] = {}
        self._unbroadcast: set[bytes] = set()
        self._time_heap: list[tuple[int, int, MempoolEntry]] = []
        self._heap_counter = itertools.count()
        self._total_vsize = 0
        self._total_fee = 0
        self._usage = 0
        self._sequence = 1
        self._rolling_min_fee = 0.0
        self._last_rolling_update = int(clock())
        self._block_since_bump = False
        self._disconnected: list = []
        self._deferring = False
        self._reorg_pending = False
        self._subscribers: dict[str, list[Callable]] = {"added": [], "removed": []}
        self.loaded = False
        self.paranoid_script_checks = paranoid_script_checks
        self._tip_flags = None

    # -- events ------------------------------------------------------------------------

    def subscribe(self, event: str, callback: Callable) -> None:
        """`added(entry)` after a transaction entered; `removed(entry, reason)` after one
        left (reason a RemovalReason). Called synchronously, under the pool's lock;
        exceptions are logged, never raised."""
        if event not in self._subscribers:
            raise ValueError(f"unknown mempool event {event!r}")
        self._subscribers[event].append(callback)

    def _emit(self, event: str, *args) -> None:
        for cb in self._subscribers[event]:
            try:
                cb(*args)
            except Exception:
                log.exception("mempool event %s handler %r failed", event, cb)

    def connect_to_chain(self, chainstate) -> None:
        """Subscribe to a ChainState's block_connected / block_disconnected / tip_changed.

        Disconnected blocks are then queued and their transactions re-added when the
        tip settles (tip_changed), as Core's MaybeUpdateMempoolForReorg does after a
        reorganisation.
        """
        self._deferring = True
        chainstate.subscribe("block_connected", self.block_connected)
        chainstate.subscribe("block_disconnected", self.block_disconnected)
        chainstate.subscribe("tip_changed", lambda _entry: self.update_for_reorg())

    # -- queries -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def sequence(self) -> int:
        """Core's mempool sequence: increases on every addition and removal."""
        return self._sequence

    @staticmethod
    def _key(txid) -> bytes:
        if isinstance(txid, str):
            return bytes.fromhex(txid)[::-1]
        return bytes(txid)

    def get(self, txid) -> MempoolEntry | None:
        """The entry for `txid` (display hex or internal bytes), or None."""
        return self._entries.get(self._key(txid))

    def get_by_wtxid(self, wtxid) -> MempoolEntry | None:
        return self._by_wtxid.get(self._key(wtxid))

    def contains(self, txid) -> bool:
        return self._key(txid) in self._entries

    def contains_wtxid(self, wtxid) -> bool:
        return self._key(wtxid) in self._by_wtxid

    def txids(self) -> list[str]:
        """Display txids in arrival order (Core orders getrawmempool by its own index)."""
        return [e.tx.txid for e in self._entries.values()]

    def entries(self) -> list[MempoolEntry]:
        return list(self._entries.values())

    def get_spender(self, outpoint: OutPoint):
        """The pool transaction spending `outpoint`, or None (Core's GetConflictTx)."""
        e = self._spenders.get(outpoint)
        return e.tx if e is not None else None

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """gettxout with include_mempool: None if a pool transaction spends it; a pool
        transaction's output (height MEMPOOL_HEIGHT); else the chain's coin."""
        with self._lock:
            if outpoint in self._spenders:
                return None
            return self._view_coin(outpoint)

    def total_fee(self) -> int:
        return self._total_fee

    def total_vsize(self) -> int:
        return self._total_vsize

    def dynamic_usage(self) -> int:
        return self._usage

    def is_rbf_opt_in(self, entry: MempoolEntry) -> bool:
        """Core's IsRBFOptIn: the tx or an in-pool ancestor signals BIP-0125."""
        if signals_opt_in_rbf(entry.tx):
            return True
        return any(signals_opt_in_rbf(a.tx) for a in self._ancestors_of(entry))

    def entry_info(self, txid) -> dict:
        """Core's getmempoolentry fields, amounts in satoshis (the RPC converts); KeyError
        if absent. `depends` sorted as Core's std::set<string>, `spentby` by txid."""
        with self._lock:
            e = self._entries.get(self._key(txid))
            if e is None:
                raise KeyError(txid)
            depends = sorted({txin.prevout.txid for txin in e.tx.inputs
                              if txin.prevout.txid_bytes in self._entries})
            spentby = [c.tx.txid for c in sorted(e.children, key=lambda c: c.txid_bytes)]
            return {
                "vsize": e.vsize,
                "weight": e.weight,
                "time": e.time,
                "height": e.height,
                "descendantcount": e.count_with_descendants,
                "descendantsize": e.size_with_descendants,
                "ancestorcount": e.count_with_ancestors,
                "ancestorsize": e.size_with_ancestors,
                "wtxid": e.tx.wtxid,
                "fees": {
                    "base": e.fee,
                    "modified": e.modified_fee,
                    "ancestor": e.fees_with_ancestors,
                    "descendant": e.fees_with_descendants,
                },
                "depends": depends,
                "spentby": spentby,
                "bip125-replaceable": self.is_rbf_opt_in(e),
                "unbroadcast": e.txid_bytes in self._unbroadcast,
            }

    def info(self) -> dict:
        """Core's getmempoolinfo, rates in sat/kvB and amounts in satoshis."""
        with self._lock:
            min_fee = self.get_min_fee()
            return {
                "loaded": self.loaded,
                "size": len(self._entries),
                "bytes": self._total_vsize,
                "usage": self._usage,
                "total_fee": self._total_fee,
                "maxmempool": self.max_size_bytes,
                "mempoolminfee": max(min_fee, self.policy.min_relay_feerate).per_kvb,
                "minrelaytxfee": self.policy.min_relay_fee,
                "incrementalrelayfee": self.policy.incremental_relay_fee,
                "unbroadcastcount": len(self._unbroadcast),
                "fullrbf": self.policy.full_rbf,
            }

    def ancestors(self, txid) -> list[MempoolEntry]:
        """In-pool ancestors of `txid` (getmempoolancestors), not the entry itself."""
        e = self._entries[self._key(txid)]
        return list(self._ancestors_of(e))

    def descendants(self, txid) -> list[MempoolEntry]:
        """In-pool descendants of `txid` (getmempooldescendants), not the entry itself."""
        e = self._entries[self._key(txid)]
        d = self._descendants_of(e)
        d.discard(e)
        return list(d)

    # -- unbroadcast set (Core's m_unbroadcast_txids) -----------------------------------

    def add_unbroadcast(self, txid) -> None:
        key = self._key(txid)
        if key in self._entries:
            self._unbroadcast.add(key)

    def remove_unbroadcast(self, txid) -> None:
        self._unbroadcast.discard(self._key(txid))

    def unbroadcast_txids(self) -> list[bytes]:
        return sorted(self._unbroadcast)

    # -- the graph -----------------------------------------------------------------------

    @staticmethod
    def _ancestors_of(entry: MempoolEntry) -> set[MempoolEntry]:
        result: set[MempoolEntry] = set()
        stack = list(entry.parents)
        while stack:
            e = stack.pop()
            if e not in result:
                result.add(e)
                stack.extend(e.parents)
        return result

    @staticmethod
    def _descendants_of(entry: MempoolEntry) -> set[MempoolEntry]:
        """`entry` and all its in-pool descendants (Core's CalculateDescendants)."""
        result = {entry}
        stack = list(entry.children)
        while stack:
            e = stack.pop()
            if e not in result:
                result.add(e)
                stack.extend(e.children)
        return result

    def _calculate_ancestors(self, parents: set[MempoolEntry], vsize: int,
                             limits: Limits, entry_count: int = 1) -> set[MempoolEntry]:
        """Core's CalculateAncestorsAndCheckLimits for `entry_count` new entries (one
        transaction, or a package) of `vsize` in all, with in-pool direct `parents`.

        Raises _LimitError with Core's message when a limit would be exceeded.
        """
        if len(parents) + entry_count > limits.ancestor_count:
            raise _LimitError(f"too many unconfirmed parents [limit: {limits.ancestor_count}]")
        staged = set(parents)
        ancestors: set[MempoolEntry] = set()
        total = vsize
        while staged:
            stage = staged.pop()
            ancestors.add(stage)
            total += stage.vsize
            if stage.size_with_descendants + vsize > limits.descendant_size_vbytes:
                raise _LimitError(f"exceeds descendant size limit for tx {stage.tx.txid} "
                                  f"[limit: {limits.descendant_size_vbytes}]")
            if stage.count_with_descendants + entry_count > limits.descendant_count:
                raise _LimitError(f"too many descendants for tx {stage.tx.txid} "
                                  f"[limit: {limits.descendant_count}]")
            if total > limits.ancestor_size_vbytes:
                raise _LimitError(f"exceeds ancestor size limit [limit: {limits.ancestor_size_vbytes}]")
            for p in stage.parents:
                if p not in ancestors:
                    staged.add(p)
                if len(staged) + len(ancestors) + entry_count > limits.ancestor_count:
                    raise _LimitError(f"too many unconfirmed ancestors [limit: {limits.ancestor_count}]")
        return ancestors

    def _add_unchecked(self, entry: MempoolEntry, ancestors: set[MempoolEntry]) -> None:
        """Core's addUnchecked: index the entry, link parents, update aggregates."""
        self._entries[entry.txid_bytes] = entry
        self._by_wtxid[entry.wtxid_bytes] = entry
        for txin in entry.tx.inputs:
            self._spenders[txin.prevout] = entry
            parent = self._entries.get(txin.prevout.txid_bytes)
            if parent is not None:
                entry.parents.add(parent)
                parent.children.add(entry)
        for a in ancestors:
            a.count_with_descendants += 1
            a.size_with_descendants += entry.vsize
            a.fees_with_descendants += entry.modified_fee
        entry.count_with_ancestors = 1 + len(ancestors)
        entry.size_with_ancestors = entry.vsize + sum(a.vsize for a in ancestors)
        entry.fees_with_ancestors = entry.modified_fee + sum(a.modified_fee for a in ancestors)
        entry.sigops_with_ancestors = entry.sigop_cost + sum(a.sigop_cost for a in ancestors)
        self._total_vsize += entry.vsize
        self._total_fee += entry.fee
        self._usage += entry.usage
        self._sequence += 1
        heapq.heappush(self._time_heap, (entry.time, next(self._heap_counter), entry))
        self._emit("added", entry)

    def _remove_staged(self, stage: set[MempoolEntry], update_descendants: bool,
                       reason: RemovalReason) -> None:
        """Core's RemoveStaged: update the aggregates around `stage`, then drop it."""
        if update_descendants:
            for r in stage:
                for d in self._descendants_of(r):
                    if d is not r:
                        d.count_with_ancestors -= 1
                        d.size_with_ancestors -= r.vsize
                        d.fees_with_ancestors -= r.modified_fee
                        d.sigops_with_ancestors -= r.sigop_cost
        for r in stage:
            for a in self._ancestors_of(r):
                a.count_with_descendants -= 1
                a.size_with_descendants -= r.vsize
                a.fees_with_descendants -= r.modified_fee
        for r in stage:
            for p in r.parents:
                p.children.discard(r)
            for c in r.children:
                c.parents.discard(r)
        for r in stage:
            self._remove_unchecked(r, reason)

    def _remove_unchecked(self, entry: MempoolEntry, reason: RemovalReason) -> None:
        del self._entries[entry.txid_bytes]
        self._by_wtxid.pop(entry.wtxid_bytes, None)
        for txin in entry.tx.inputs:
            if self._spenders.get(txin.prevout) is entry:
                del self._spenders[txin.prevout]
        self._unbroadcast.discard(entry.txid_bytes)
        self._total_vsize -= entry.vsize
        self._total_fee -= entry.fee
        self._usage -= entry.usage
        self._sequence += 1
        entry.parents = set()
        entry.children = set()
        if self.fee_estimator is not None and reason is not RemovalReason.BLOCK:
            self.fee_estimator.remove_tx(entry.txid_bytes)
        if len(self._time_heap) > 64 and len(self._time_heap) > 3 * len(self._entries):
            self._time_heap = [(e.time, next(self._heap_counter), e)
                               for e in self._entries.values()]
            heapq.heapify(self._time_heap)
        self._emit("removed", entry, reason)

    def _remove_recursive(self, entry: MempoolEntry, reason: RemovalReason) -> None:
        self._remove_staged(self._descendants_of(entry), False, reason)

    def remove_recursive(self, tx, reason: RemovalReason = RemovalReason.CONFLICT) -> None:
        """Core's removeRecursive: `tx` (if present) and all its descendants; if `tx` is not
        in the pool, the pool transactions spending its outputs and their descendants."""
        with self._lock:
            stage: set[MempoolEntry] = set()
            entry = self._entries.get(tx.txid_bytes)
            if entry is not None:
                stage |= self._descendants_of(entry)
            else:
                for i in range(len(tx.outputs)):
                    child = self._spenders.get(OutPoint(tx.txid_bytes, i))
                    if child is not None:
                        stage |= self._descendants_of(child)
            if stage:
                self._remove_staged(stage, False, reason)

    # -- fee deltas (prioritisetransaction) ----------------------------------------------

    def prioritise(self, txid, fee_delta: int) -> None:
        """Core's PrioritiseTransaction: add `fee_delta` satoshis to the modified fee of
        `txid` (now, or when it arrives), updating ancestors' and descendants' sums."""
        key = self._key(txid)
        with self._lock:
            delta = self._deltas.get(key, 0) + int(fee_delta)
            entry = self._entries.get(key)
            if entry is not None:
                entry.modified_fee += fee_delta
                entry.fees_with_ancestors += fee_delta
                entry.fees_with_descendants += fee_delta
                for a in self._ancestors_of(entry):
                    a.fees_with_descendants += fee_delta
                for d in self._descendants_of(entry):
                    if d is not entry:
                        d.fees_with_ancestors += fee_delta
            if delta == 0:
                self._deltas.pop(key, None)
            else:
                self._deltas[key] = delta

    def fee_deltas(self) -> dict[bytes, int]:
        """The prioritisation map (txid bytes -> satoshis), entries present or not."""
        return dict(self._deltas)

    # -- the view the checks see (Core's CCoinsViewMemPool) -------------------------------

    def _view_coin(self, outpoint: OutPoint) -> Coin | None:
        entry = self._entries.get(outpoint.txid_bytes)
        if entry is not None:
            outputs = entry.tx.outputs
            if outpoint.index < len(outputs):
                return Coin(outputs[outpoint.index], MEMPOOL_HEIGHT, False)
            return None
        return self.chain.coins_tip.get_coin(outpoint)

    # -- the rolling minimum fee ---------------------------------------------------------

    def get_min_fee(self) -> FeeRate:
        """Core's GetMinFee: the rolling minimum feerate raised by evictions, decaying with
        a 12-hour half-life (3 or 6 hours when the pool is below half or a quarter full)
        once a block has arrived since the last bump; 0 once under half the incremental
        relay fee."""
        incremental = self.policy.incremental_relay_fee
        if not self._block_since_bump or self._rolling_min_fee == 0:
            return FeeRate(round(self._rolling_min_fee))
        now = int(self.clock())
        if now > self._last_rolling_update + 10:
            halflife = ROLLING_FEE_HALFLIFE
            if self._usage < self.max_size_bytes / 4:
                halflife /= 4
            elif self._usage < self.max_size_bytes / 2:
                halflife /= 2
            self._rolling_min_fee /= 2.0 ** ((now - self._last_rolling_update) / halflife)
            self._last_rolling_update = now
            if self._rolling_min_fee < incremental / 2:
                self._rolling_min_fee = 0.0
                return FeeRate(0)
        return max(FeeRate(round(self._rolling_min_fee)), FeeRate(incremental))

    def _track_package_removed(self, rate: FeeRate) -> None:
        if rate.per_kvb > self._rolling_min_fee:
            self._rolling_min_fee = float(rate.per_kvb)
            self._block_since_bump = False

    # -- size limits ---------------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Core's Expire: remove entries older than -mempoolexpiry (and descendants)."""
        with self._lock:
            cutoff = int(self.clock() if now is None else now) - self.expiry_seconds
            stage: set[MempoolEntry] = set()
            heap = self._time_heap
            while heap and heap[0][0] < cutoff:
                _, _, e = heapq.heappop(heap)
                if self._entries.get(e.txid_bytes) is e:
                    stage |= self._descendants_of(e)
            if stage:
                self._remove_staged(stage, False, RemovalReason.EXPIRY)
            return len(stage)

    @staticmethod
    def _descendant_score(e: MempoolEntry) -> _Ratio:
        """Core's descendant score: the higher of the tx's own and its package's feerate."""
        if e.modified_fee * e.size_with_descendants > e.fees_with_descendants * e.vsize:
            return _Ratio(e.modified_fee, e.vsize)
        return _Ratio(e.fees_with_descendants, e.size_with_descendants)

    def trim_to_size(self, size_limit: int | None = None) -> list[OutPoint]:
        """Core's TrimToSize: while usage exceeds the limit, evict the entry with the lowest
        descendant score (ties: the newest) with its descendants, raising the rolling
        minimum fee to the evicted package's feerate plus the incremental relay fee.
        Returns the outpoints the evicted transactions spent that are now unspent chain
        coins (for the caller to uncache)."""
        limit = self.max_size_bytes if size_limit is None else size_limit
        no_spends: list[OutPoint] = []
        with self._lock:
            while self._entries and self._usage > limit:
                worst = None
                worst_key = None
                for e in self._entries.values():
                    k = self._descendant_score(e)
                    if worst is None or k < worst_key or (k == worst_key and e.time >= worst.time):
                        worst, worst_key = e, k
                removed = FeeRate(FeeRate.from_fee(worst.fees_with_descendants,
                                                   worst.size_with_descendants).per_kvb
                                  + self.policy.incremental_relay_fee)
                self._track_package_removed(removed)
                stage = self._descendants_of(worst)
                spent = [txin.prevout for e in stage for txin in e.tx.inputs]
                self._remove_staged(stage, False, RemovalReason.SIZELIMIT)
                for op in spent:
                    if op.txid_bytes not in self._entries:
                        no_spends.append(op)
        return no_spends

    def limit_size(self) -> None:
        """Core's LimitMempoolSize: expire, then trim to -maxmempool."""
        self.expire()
        self.trim_to_size()

    # -- accepting -----------------------------------------------------------------------

    def accept(self, tx, *, test_only: bool = False, max_fee: int | None = None,
               bypass_limits: bool = False, accept_time: int | None = None) -> AcceptResult:
        """Core's AcceptToMemoryPool for one transaction (see the module docstring for
        the checks, in order). `max_fee` caps the absolute fee in satoshis
        (`max-fee-exceeded`, checked once the transaction is otherwise valid);
        `bypass_limits` is for transactions of disconnected blocks (no fee floors, no
        trimming); `accept_time` overrides the entry time (loading mempool.dat).
        Raises Rejection; returns an AcceptResult (also for `test_only`)."""
        with self._lock:
            ws = self._pre_checks(tx, bypass_limits)
            if ws.conflicts:
                self._replacement_checks(ws)
            ws.txdata = PrecomputedTxData(tx, ws.spent_outputs)
            self._policy_script_checks(ws)
            self._consensus_script_checks(ws)
            if max_fee is not None and ws.fee > max_fee:
                raise _policy("max-fee-exceeded", f"{ws.fee} > {max_fee}")
            replaced = [e.tx.txid for e in ws.all_conflicting]
            result = AcceptResult(tx.txid, tx.wtxid, ws.vsize, ws.fee, ws.modified_fee,
                                  FeeRate.from_fee(ws.modified_fee, ws.vsize).per_kvb, replaced)
            if test_only:
                return result
            entry = self._finalize(ws, bypass_limits, accept_time)
            if not bypass_limits:
                self.limit_size()
                if self._entries.get(ws.txid_bytes) is not entry:
                    raise _policy("mempool full")
            return result

    def test_accept_package(self, txs) -> tuple[str | None, dict[bytes, AcceptResult | Rejection]]:
        """Core's AcceptMultipleTransactions with test_accept (testmempoolaccept of 2 to
        25 transactions). Returns (package error or None, results by wtxid bytes).

        In order: IsWellFormedPackage (package errors `package-too-many-transactions`,
        `package-too-large`, `package-contains-duplicates`, `package-not-sorted`,
        `conflict-in-package`); PreChecks of each transaction with the outputs of the
        earlier ones available and no replacement (`bip125-replacement-disallowed`);
        the package's ancestor/descendant limits (`package-mempool-limits, <detail>`);
        the policy script checks. The first failing transaction gets its Rejection and
        ends it: the ones after it have no result, nor, when it failed in PreChecks,
        the ones before it (Core reports those "unfinished"). Nothing is added."""
        with self._lock:
            error = _package_shape_error(txs)
            if error is not None:
                return error, {}
            coins: dict[OutPoint, Coin] = {}
            work = []
            for tx in txs:
                try:
                    ws = self._pre_checks(tx, False, package_coins=coins, allow_replacement=False,
                                          allow_carveouts=False)
                except Rejection as r:
                    return None, {tx.wtxid_bytes: r}
                for i, out in enumerate(tx.outputs):
                    coins[OutPoint(tx.txid_bytes, i)] = Coin(out, MEMPOOL_HEIGHT, False)
                work.append(ws)
            in_package = {tx.txid_bytes for tx in txs}
            parents = {self._entries[txin.prevout.txid_bytes] for tx in txs for txin in tx.inputs
                       if txin.prevout.txid_bytes in self._entries
                       and txin.prevout.txid_bytes not in in_package}
            total_vsize = sum(ws.vsize for ws in work)
            limit_error = self._package_limits_error(len(txs), parents, total_vsize)
            if limit_error is not None:
                return f"package-mempool-limits, {limit_error}", {}
            results: dict[bytes, AcceptResult | Rejection] = {}
            for ws in work:
                ws.txdata = PrecomputedTxData(ws.tx, ws.spent_outputs)
                try:
                    self._policy_script_checks(ws)  # Core's package test-accept stops here
                except Rejection as r:
                    results[ws.tx.wtxid_bytes] = r
                    return None, results
                results[ws.tx.wtxid_bytes] = AcceptResult(
                    ws.tx.txid, ws.tx.wtxid, ws.vsize, ws.fee, ws.modified_fee,
                    FeeRate.from_fee(ws.modified_fee, ws.vsize).per_kvb, [])
            return None, results

    def _package_limits_error(self, count: int, parents: set[MempoolEntry], total_vsize: int) -> str | None:
        """Core's CheckPackageLimits: the package as one entry of `count` transactions."""
        limits = self.limits
        if count > limits.ancestor_count:
            return f"package count {count} exceeds ancestor count limit [limit: {limits.ancestor_count}]"
        if count > limits.descendant_count:
            return f"package count {count} exceeds descendant count limit [limit: {limits.descendant_count}]"
        if total_vsize > limits.ancestor_size_vbytes:
            return f"package size {total_vsize} exceeds ancestor size limit [limit: {limits.ancestor_size_vbytes}]"
        if total_vsize > limits.descendant_size_vbytes:
            return (f"package size {total_vsize} exceeds descendant size limit "
                    f"[limit: {limits.descendant_size_vbytes}]")
        if len(parents) + count > limits.ancestor_count:
            return f"too many unconfirmed parents [limit: {limits.ancestor_count}]"
        try:
            self._calculate_ancestors(parents, total_vsize, limits, entry_count=count)
        except _LimitError as e:  # the package's totals may overestimate: Core says "possibly"
            return f"possibly {e}"
        return None

    def _pre_checks(self, tx, bypass_limits: bool, *, package_coins: dict | None = None,
                    allow_replacement: bool = True, allow_carveouts: bool = True) -> _Work:
        policy = self.policy
        check_transaction(tx)
        if tx.is_coinbase():
            raise Rejection("coinbase")
        if policy.require_standard:
            is_standard_tx(tx, policy)
        check_tx_size_small(tx)
        tip = self.chain.tip
        if tx.lock_time and not is_final_tx(tx, tip.height + 1, tip.median_time_past()):
            raise _policy("non-final")
        if tx.wtxid_bytes in self._by_wtxid:
            raise Rejection("txn-already-in-mempool", kind=RejectKind.DUPLICATE, ban_score=0)
        txid = tx.txid_bytes
        if txid in self._entries:
            raise Rejection("txn-same-nonwitness-data-in-mempool", kind=RejectKind.DUPLICATE,
                            ban_score=0)
        ws = _Work(tx)
        for txin in tx.inputs:
            conflict = self._spenders.get(txin.prevout)
            if conflict is not None and not allow_replacement:
                raise _policy("bip125-replacement-disallowed")
            if conflict is not None and conflict.txid_bytes not in ws.conflicts:
                if not policy.full_rbf and not signals_opt_in_rbf(conflict.tx):
                    raise Rejection("txn-mempool-conflict", kind=RejectKind.CONFLICT, ban_score=0)
                ws.conflicts.add(conflict.txid_bytes)

        coins = []
        for txin in tx.inputs:
            coin = None if package_coins is None else package_coins.get(txin.prevout)
            if coin is None:
                coin = self._view_coin(txin.prevout)
            if coin is None:
                chain_coins = self.chain.coins_tip
                for i in range(len(tx.outputs)):
                    if chain_coins.get_coin(OutPoint(txid, i)) is not None:
                        raise Rejection("txn-already-known", kind=RejectKind.DUPLICATE, ban_score=0)
                raise Rejection("bad-txns-inputs-missingorspent", kind=RejectKind.MISSING_INPUTS,
                                ban_score=0)
            coins.append(coin)
        ws.spent_coins = coins
        ws.spent_outputs = [c.output for c in coins]

        lock_points = self._lock_points(tx, coins, tip)
        if lock_points is None:
            raise _policy("non-BIP68-final")
        ws.lock_points = lock_points
        ws.fee = check_spent_coins(tx, coins, tip.height + 1)

        if policy.require_standard:
            if not are_inputs_standard(tx, ws.spent_outputs):
                raise _policy("bad-txns-nonstandard-inputs")
            if tx.has_witness() and not is_witness_standard(tx, ws.spent_outputs):
                raise Rejection("bad-witness-nonstandard", kind=RejectKind.POLICY, ban_score=0)
        ws.sigop_cost = get_transaction_sigop_cost(tx, ws.spent_outputs, _STANDARD_FLAGS)
        ws.spends_coinbase = any(c.is_coinbase for c in coins)
        ws.modified_fee = ws.fee + self._deltas.get(txid, 0)
        ws.vsize = virtual_size(tx.weight, ws.sigop_cost, policy.bytes_per_sigop)

        if ws.sigop_cost > MAX_STANDARD_TX_SIGOPS_COST:
            raise _policy("bad-txns-too-many-sigops", str(ws.sigop_cost))
        min_relay = policy.min_relay_feerate.get_fee(ws.vsize)
        if not bypass_limits and tx.version != TRUC_VERSION and ws.modified_fee < min_relay:
            raise _policy("min relay fee not met", f"{ws.modified_fee} < {min_relay}")
        if not bypass_limits:
            reject_fee = self.get_min_fee().get_fee(ws.vsize)
            if reject_fee > 0 and ws.modified_fee < reject_fee:
                raise _policy("mempool min fee not met", f"{ws.modified_fee} < {reject_fee}")
            if ws.modified_fee < min_relay:
                raise _policy("min relay fee not met", f"{ws.modified_fee} < {min_relay}")

        ws.conflicting = {self._entries[t] for t in ws.conflicts}
        ws.parents = {self._entries[txin.prevout.txid_bytes] for txin in tx.inputs
                      if txin.prevout.txid_bytes in self._entries}
        limits = self.limits
        # The RBF limit bump and the CPFP carve-out are for single transactions only
        # (Core's m_allow_carveouts, false for packages).
        if len(ws.conflicting) == 1 and allow_carveouts:
            (conflict,) = ws.conflicting
            limits = Limits(limits.ancestor_count, limits.ancestor_size_vbytes,
                            limits.descendant_count + 1,
                            limits.descendant_size_vbytes + conflict.size_with_descendants)
        try:
            ws.ancestors = self._calculate_ancestors(ws.parents, ws.vsize, limits)
        except _LimitError as first:
            carve_out = Limits(2, limits.ancestor_size_vbytes, limits.descendant_count + 1,
                               limits.descendant_size_vbytes + EXTRA_DESCENDANT_TX_SIZE_LIMIT)
            if (not allow_carveouts or ws.vsize > EXTRA_DESCENDANT_TX_SIZE_LIMIT
                    or tx.version == TRUC_VERSION):
                raise _policy("too-long-mempool-chain", str(first)) from None
            try:
                ws.ancestors = self._calculate_ancestors(ws.parents, ws.vsize, carve_out)
            except _LimitError:
                raise _policy("too-long-mempool-chain", str(first)) from None

        for a in ws.ancestors:
            if a.txid_bytes in ws.conflicts:
                raise Rejection("bad-txns-spends-conflicting-tx",
                                f"{tx.txid} spends conflicting transaction {a.tx.txid}")
        return ws

    def _lock_points(self, tx, coins, tip) -> tuple[int, int] | None:
        """BIP-0068 lock points for the next block, or None if they are not met there
        (Core's CalculateLockPointsAtTip + CheckSequenceLocksAtTip)."""
        next_block = _NextBlock(tip)
        heights = [tip.height + 1 if c.height == MEMPOOL_HEIGHT else c.height for c in coins]
        lp = calculate_sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, heights, next_block)
        if not evaluate_sequence_locks(next_block, lp):
            return None
        return lp

    def _replacement_checks(self, ws: _Work) -> None:
        """Core's ReplacementChecks (BIP-0125 rules 2-5 and 6, as v28 implements them)."""
        txid = ws.tx.txid
        new_rate = FeeRate.from_fee(ws.modified_fee, ws.vsize)
        for c in ws.conflicting:
            old_rate = FeeRate.from_fee(c.modified_fee, c.vsize)
            if new_rate <= old_rate:
                raise _policy("insufficient fee",
                              f"rejecting replacement {txid}; new feerate {new_rate} "
                              f"<= old feerate {old_rate}")
        count = 0
        for c in ws.conflicting:
            count += c.count_with_descendants
            if count > MAX_REPLACEMENT_CANDIDATES:
                raise _policy("too many potential replacements",
                              f"rejecting replacement {txid}; too many potential replacements "
                              f"({count} > {MAX_REPLACEMENT_CANDIDATES})\n")
        all_conflicting: set[MempoolEntry] = set()
        for c in ws.conflicting:
            all_conflicting |= self._descendants_of(c)
        ws.all_conflicting = all_conflicting
        parents_of_conflicts = {txin.prevout.txid_bytes for c in ws.conflicting
                                for txin in c.tx.inputs}
        for j, txin in enumerate(ws.tx.inputs):
            h = txin.prevout.txid_bytes
            if h not in parents_of_conflicts and h in self._entries:
                raise _policy("replacement-adds-unconfirmed",
                              f"replacement {txid} adds unconfirmed input, idx {j}")
        conflicting_fees = sum(e.modified_fee for e in all_conflicting)
        if ws.modified_fee < conflicting_fees:
            raise _policy("insufficient fee",
                          f"rejecting replacement {txid}, less fees than conflicting txs; "
                          f"{format_money(ws.modified_fee)} < {format_money(conflicting_fees)}")
        additional = ws.modified_fee - conflicting_fees
        relay = self.policy.incremental_relay_feerate.get_fee(ws.vsize)
        if additional < relay:
            raise _policy("insufficient fee",
                          f"rejecting replacement {txid}, not enough additional fees to relay; "
                          f"{format_money(additional)} < {format_money(relay)}")

    def _check_input_scripts(self, ws: _Work, flags: int) -> tuple[int, ScriptError] | None:
        tx = ws.tx
        spent = ws.spent_outputs
        txdata = ws.txdata
        sigcache = self.sigcache
        for i in range(len(tx.inputs)):
            try:
                verify_input(tx, i, spent, flags, txdata=txdata, sigcache=sigcache)
            except ScriptError as e:
                return i, e
        return None

    def _policy_script_checks(self, ws: _Work) -> None:
        """Core's PolicyScriptChecks: every input under STANDARD flags. A failure that
        goes away without the policy-only flags is `non-mandatory-script-verify-flag`
        (POLICY), otherwise `mandatory-script-verify-flag-failed` (CONSENSUS); the
        message is the script error of the standard-flags run."""
        failure = self._check_input_scripts(ws, _STANDARD_FLAGS)
        if failure is None:
            return
        index, err = failure
        try:
            verify_input(ws.tx, index, ws.spent_outputs, _MANDATORY_OF_STANDARD, txdata=ws.txdata,
                         sigcache=self.sigcache)
        except ScriptError:
            raise Rejection(f"mandatory-script-verify-flag-failed ({err.message})") from None
        raise _policy(f"non-mandatory-script-verify-flag ({err.message})")

    def _consensus_script_checks(self, ws: _Work) -> None:
        """Core's ConsensusScriptChecks: again under the tip's block flags (signatures come
        from the cache); a failure here after the policy checks passed is our bug."""
        tip = self.chain.tip
        cached = self._tip_flags
        if cached is None or cached[0] is not tip:
            cached = self._tip_flags = (tip, int(get_block_script_flags(tip.height, tip.hash_bytes,
                                                                        self.params)))
        flags = cached[1]
        if not self.paranoid_script_checks and not flags & ~_STANDARD_FLAGS:
            # Every flag of the tip's block is a standard flag, and each flag only adds
            # restrictions: the standard run has proved these scripts under a superset of
            # the rules (Core re-runs them, with the signatures now cached).
            return
        failure = self._check_input_scripts(ws, flags)
        if failure is not None:
            raise InternalError(f"BUG! CheckInputScripts failed against latest-block but not "
                                f"STANDARD flags {ws.tx.txid}, {failure[1]}")

    def _finalize(self, ws: _Work, bypass_limits: bool, accept_time: int | None) -> MempoolEntry:
        if ws.all_conflicting:
            for e in ws.all_conflicting:
                log.debug("replacing mempool tx %s (fees %d, vsize %d) with %s",
                          e.tx.txid, e.modified_fee, e.vsize, ws.tx.txid)
            self._remove_staged(ws.all_conflicting, False, RemovalReason.REPLACED)
        tip = self.chain.tip
        now = int(self.clock()) if accept_time is None else int(accept_time)
        entry = MempoolEntry(ws.tx, ws.fee, ws.vsize, now, tip.height, ws.sigop_cost,
                             ws.spends_coinbase, 0 if bypass_limits else self._sequence,
                             ws.lock_points, fee_delta=ws.modified_fee - ws.fee)
        # the ancestors computed in PreChecks still hold: no conflict is an ancestor
        self._add_unchecked(entry, ws.ancestors)
        if self.fee_estimator is not None:
            valid = not bypass_limits and not ws.parents
            self.fee_estimator.process_transaction(entry, valid)
        return entry

    # -- chain events ---------------------------------------------------------------------

    def block_connected(self, block, entry) -> None:
        """Core's removeForBlock: drop the block's transactions (their in-pool children
        stay, now with confirmed parents) and, recursively, everything that conflicts
        with them; clear their prioritisation; feed the fee estimator; let the rolling
        minimum fee start decaying."""
        with self._lock:
            if not (self._entries or self._spenders or self._deltas or self._disconnected):
                # An empty pool (initial block download): nothing to remove, only the
                # estimator's and the rolling fee's per-block bookkeeping.
                if self.fee_estimator is not None:
                    self.fee_estimator.process_block(entry.height, ())
                self._last_rolling_update = int(self.clock())
                self._block_since_bump = True
                return
            confirmed = []
            queued = {tx.txid_bytes for tx in block.txs}
            if self._disconnected:
                self._disconnected = [[t for t in txs if t.txid_bytes not in queued]
                                      for txs in self._disconnected]
            for tx in block.txs:
                e = self._entries.get(tx.txid_bytes)
                if e is not None:
                    confirmed.append(e)
                    self._remove_staged({e}, True, RemovalReason.BLOCK)
                self._remove_conflicts(tx)
                self._deltas.pop(tx.txid_bytes, None)
            if self.fee_estimator is not None:
                self.fee_estimator.process_block(entry.height, confirmed)
            self._last_rolling_update = int(self.clock())
            self._block_since_bump = True

    def _remove_conflicts(self, tx) -> None:
        for txin in tx.inputs:
            e = self._spenders.get(txin.prevout)
            if e is not None and e.txid_bytes != tx.txid_bytes:
                self._remove_recursive(e, RemovalReason.CONFLICT)

    def block_disconnected(self, block, entry) -> None:
        """Queue the block's transactions for re-adding; without `connect_to_chain`
        (deferring) they are re-added at once (see `update_for_reorg`)."""
        with self._lock:
            self._disconnected.append(list(block.txs))
            self._reorg_pending = True
            if not self._deferring:
                self.update_for_reorg()

    def update_for_reorg(self) -> None:
        """Core's MaybeUpdateMempoolForReorg: re-accept the queued transactions of
        disconnected blocks (earliest block first, bypassing fee and size limits), link
        the in-pool children of those re-added, remove entries that are no longer final,
        BIP-0068-final or mature at the new tip, then expire and trim."""
        with self._lock:
            if not self._reorg_pending:
                return
            self._reorg_pending = False
            queued = self._disconnected
            self._disconnected = []
            added: list[MempoolEntry] = []
            for txs in reversed(queued):
                for tx in txs:
                    if tx.is_coinbase():
                        continue
                    try:
                        self.accept(tx, bypass_limits=True)
                    except Rejection as r:
                        log.debug("not re-adding %s after reorg: %s", tx.txid, r)
                        self.remove_recursive(tx, RemovalReason.REORG)
                        continue
                    added.append(self._entries[tx.txid_bytes])
            self._update_transactions_from_block(added)
            self._remove_for_reorg()
            self.limit_size()

    def _update_transactions_from_block(self, added: list[MempoolEntry]) -> None:
        """Core's UpdateTransactionsFromBlock: entries re-added from blocks may have
        in-pool children that arrived while they were confirmed; link them and
        recompute the aggregates of everything affected."""
        linked = False
        for e in added:
            for i in range(len(e.tx.outputs)):
                child = self._spenders.get(OutPoint(e.txid_bytes, i))
                if child is not None and child not in e.children:
                    e.children.add(child)
                    child.parents.add(e)
                    linked = True
        if not linked:
            return
        affected: set[MempoolEntry] = set()
        for e in added:
            affected |= self._descendants_of(e)
        self._recompute(affected)

    def _recompute(self, entries: set[MempoolEntry]) -> None:
        """Recompute ancestor sums of `entries` and descendant sums of them and their
        ancestors from the links."""
        around = set(entries)
        for e in entries:
            anc = self._ancestors_of(e)
            around |= anc
            e.count_with_ancestors = 1 + len(anc)
            e.size_with_ancestors = e.vsize + sum(a.vsize for a in anc)
            e.fees_with_ancestors = e.modified_fee + sum(a.modified_fee for a in anc)
            e.sigops_with_ancestors = e.sigop_cost + sum(a.sigop_cost for a in anc)
        for e in around:
            desc = self._descendants_of(e)
            e.count_with_descendants = len(desc)
            e.size_with_descendants = sum(d.vsize for d in desc)
            e.fees_with_descendants = sum(d.modified_fee for d in desc)

    def _remove_for_reorg(self) -> None:
        tip = self.chain.tip
        spend_height = tip.height + 1
        mtp = tip.median_time_past()
        stage: set[MempoolEntry] = set()
        for e in list(self._entries.values()):
            if e in stage:
                continue
            tx = e.tx
            bad = not is_final_tx(tx, spend_height, mtp)
            if not bad:
                coins = [self._view_coin(txin.prevout) for txin in tx.inputs]
                if any(c is None for c in coins):
                    bad = True
                else:
                    lp = self._lock_points(tx, coins, tip)
                    if lp is None:
                        bad = True
                    else:
                        e.lock_points = lp
                    if not bad and e.spends_coinbase:
                        for c in coins:
                            if c.is_coinbase and spend_height - c.height < COINBASE_MATURITY:
                                bad = True
                                break
            if bad:
                stage |= self._descendants_of(e)
        if stage:
            self._remove_staged(stage, False, RemovalReason.REORG)

    # -- block templates ------------------------------------------------------------------

    @staticmethod
    def _ancestor_score(fee: int, size: int, own_fee: int, own_size: int) -> _Ratio:
        """Core's CompareTxMemPoolEntryByAncestorFee: the lower of the package's and the
        transaction's own feerate."""
        if own_fee * size > fee * own_size:
            return _Ratio(fee, size)
        return _Ratio(own_fee, own_size)

    def select_for_block(self, max_weight: int = MAX_BLOCK_WEIGHT - _COINBASE_RESERVED_WEIGHT,
                         max_sigops: int = MAX_BLOCK_SIGOPS_COST,
                         min_fee_rate: int = 1000) -> list[BlockTx]:
        """Core's BlockAssembler::addPackageTxs: repeatedly take the package (a
        transaction with its not-yet-chosen ancestors) with the best ancestor score,
        skip packages that do not fit the weight (4000 reserved for the coinbase) or the
        sigop budget (400 reserved), stop below `min_fee_rate` (-blockmintxfee sat/kvB).
        Returns the transactions in a valid block order."""
        with self._lock:
            tip = self.chain.tip
            height = tip.height + 1
            mtp = tip.median_time_past()
            block_weight = _COINBASE_RESERVED_WEIGHT
            block_sigops = _COINBASE_RESERVED_SIGOPS
            min_rate = FeeRate(min_fee_rate)
            in_block: set[MempoolEntry] = set()
            # modified package stats: entry -> [size, fees, sigops]
            modified: dict[MempoolEntry, tuple[int, int, int]] = {}
            heap: list = []
            counter = itertools.count()

            def push(e: MempoolEntry, size: int, fees: int, sigops: int) -> None:
                score = self._ancestor_score(fees, size, e.modified_fee, e.vsize)
                heapq.heappush(heap, (_Neg(score, e.txid_bytes), next(counter), e, size, fees, sigops))

            def stats(e: MempoolEntry) -> tuple[int, int, int]:
                m = modified.get(e)
                if m is not None:
                    return m
                return e.size_with_ancestors, e.fees_with_ancestors, e.sigops_with_ancestors

            for e in self._entries.values():
                push(e, *stats(e))
            chosen: list[MempoolEntry] = []
            failures = 0
            while heap:
                _, _, e, size, fees, sigops = heapq.heappop(heap)
                if e in in_block or (size, fees, sigops) != stats(e):
                    continue  # chosen already, or a stale item (its ancestors were chosen)
                if fees < min_rate.get_fee(size):
                    break  # everything left has a lower score
                if (block_weight + WITNESS_SCALE_FACTOR * size >= max_weight
                        or block_sigops + sigops >= max_sigops):
                    failures += 1
                    if failures > _MAX_CONSECUTIVE_FAILURES and block_weight > max_weight - 4000:
                        break
                    continue
                package = {a for a in self._ancestors_of(e) if a not in in_block}
                package.add(e)
                if not all(is_final_tx(p.tx, height, mtp) for p in package):
                    failures += 1
                    continue
                failures = 0
                for p in sorted(package, key=lambda x: x.count_with_ancestors):
                    chosen.append(p)
                    in_block.add(p)
                    modified.pop(p, None)
                    block_weight += p.weight
                    block_sigops += p.sigop_cost
                touched: set[MempoolEntry] = set()
                for p in package:
                    for d in self._descendants_of(p):
                        if d in in_block:
                            continue
                        s_size, s_fees, s_sigops = stats(d)
                        modified[d] = (s_size - p.vsize, s_fees - p.modified_fee,
                                       s_sigops - p.sigop_cost)
                        touched.add(d)
                for d in touched:
                    push(d, *modified[d])
            return [BlockTx(p.tx, p.fee, p.sigop_cost, p.weight) for p in chosen]

    # -- consistency ------------------------------------------------------------------------

    def check(self) -> None:
        """Core's CTxMemPool::check: recompute every link and aggregate from scratch and
        raise InternalError on any difference (tests and -checkmempool)."""
        with self._lock:
            spenders = {}
            total_vsize = total_fee = usage = 0
            for e in self._entries.values():
                if self._by_wtxid.get(e.wtxid_bytes) is not e:
                    raise InternalError(f"wtxid index broken for {e.tx.txid}")
                parents = set()
                for txin in e.tx.inputs:
                    if txin.prevout in spenders:
                        raise InternalError(f"double spend inside the pool: {txin.prevout}")
                    spenders[txin.prevout] = e
                    p = self._entries.get(txin.prevout.txid_bytes)
                    if p is not None:
                        parents.add(p)
                    elif self.chain.coins_tip.get_coin(txin.prevout) is None:
                        raise InternalError(f"{e.tx.txid} spends a missing coin {txin.prevout}")
                if parents != e.parents:
                    raise InternalError(f"parents of {e.tx.txid} are wrong")
                children = {c for c in self._entries.values() if e in c.parents}
                if children != e.children:
                    raise InternalError(f"children of {e.tx.txid} are wrong")
                anc = self._ancestors_of(e)
                desc = self._descendants_of(e)
                expect = (1 + len(anc), e.vsize + sum(a.vsize for a in anc),
                          e.modified_fee + sum(a.modified_fee for a in anc),
                          e.sigop_cost + sum(a.sigop_cost for a in anc),
                          len(desc), sum(d.vsize for d in desc), sum(d.modified_fee for d in desc))
                got = (e.count_with_ancestors, e.size_with_ancestors, e.fees_with_ancestors,
                       e.sigops_with_ancestors, e.count_with_descendants,
                       e.size_with_descendants, e.fees_with_descendants)
                if expect != got:
                    raise InternalError(f"aggregates of {e.tx.txid}: {got} != {expect}")
                if e.modified_fee != e.fee + self._deltas.get(e.txid_bytes, 0):
                    raise InternalError(f"modified fee of {e.tx.txid} is wrong")
                total_vsize += e.vsize
                total_fee += e.fee
                usage += e.usage
            if spenders != self._spenders:
                raise InternalError("spender index broken")
            if (total_vsize, total_fee, usage) != (self._total_vsize, self._total_fee, self._usage):
                raise InternalError("pool totals are wrong")


class _Neg:
    """Heap key: higher ancestor score first, then the smaller txid (Core's tie-break)."""

    __slots__ = ("score", "txid")

    def __init__(self, score: _Ratio, txid: bytes):
        self.score = score
        self.txid = txid

    def __lt__(self, other: "_Neg") -> bool:
        a, b = self.score, other.score
        left = a.fee * b.size
        right = b.fee * a.size
        if left != right:
            return left > right
        return self.txid < other.txid
