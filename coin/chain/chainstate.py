"""ChainState: accept headers and blocks, keep the most-work valid chain active, persist it.

The path of a block (Core's ProcessNewBlock / AcceptBlock / ActivateBestChain):

1. `check_block` (stateless; failures change nothing), then the header is accepted
   (known-invalid: duplicate-invalid; unknown parent: the block waits in a bounded
   orphan map and prev-blk-not-found is raised; invalid parent: bad-prevblk; then
   `check_block_header` and `contextual_check_block_header`), then
   `contextual_check_block` (a failure that is not a mutation marks the entry
   FAILED_VALID). The block is appended to a blk file, fsynced, and its index entry
   written, so a block once accepted survives any crash.
2. `activate_best_chain()`: the candidate with the most work (ties: first whose data
   arrived) whose whole chain has data and is not failed becomes the tip: blocks of the
   old branch are disconnected with their undo data, the new branch connected one
   block at a time on a throwaway child of the UTXO cache (`connect_block` with a
   script thread pool and a shared signature cache). A block that fails is marked
   FAILED_VALID, its descendants FAILED_CHILD, and the loop falls back to the best
   remaining branch (possibly the old one).

Persistence and crash safety (Core's FlushStateToDisk): block and undo data are
fsynced before any index entry points at them; the UTXO cache is written in ONE
LevelDB batch together with the best-block marker, the dirty index entries and the
block-file records. At start-up the tip is the best-block marker; blocks stored after
it are reconnected by `activate_best_chain`. The state is flushed when the UTXO cache
exceeds `-dbcache`, every `flush_interval` seconds, before `utxo_stats()` and at
`close()`. A crash (kill -9) at any instant restarts consistently, without a reindex.

Events (`subscribe(name, callback)`, synchronous, called after the state changed and
outside any database batch): `block_connected(block, entry)`,
`block_disconnected(block, entry)`, `tip_changed(entry)`, and
`block_validated(entry, seconds)` just before `block_connected` with the time
connect_block took (inputs, scripts, UTXO changes), and `fatal_error(message)` when
storing blocks failed (disk full): the chain state cannot go on, the node should shut
down (Core's AbortNode). Callbacks must not call the chain state's mutating methods;
an exception in a callback is logged, never raised.

Errors: validation failures raise coin.consensus.errors.Rejection with Core's reason;
corruption of our own data raises InternalError; unknown hashes given to
invalidate/reconsider raise KeyError.
"""

import collections
import hashlib
import logging
import os
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from coin.chain import layout
from coin.chain.blockfiles import BlockFiles, FilePos, blk_path, read_blk_file
from coin.chain.blockindex import ActiveChain, BlockIndex, BlockIndexEntry, BlockStatus
from coin.chain.coinsview import CoinsViewCache, CoinsViewDB
from coin.chain.db import ChainDB
from coin.consensus.block_check import (
    check_block,
    check_block_header,
    contextual_check_block,
    contextual_check_block_header,
    is_block_mutation,
)
from coin.consensus.connect import connect_block, disconnect_block
from coin.consensus.errors import InternalError, Rejection, RejectKind
from coin.consensus.undo import BlockUndo
from coin.primitives import Block, BlockHeader
from coin.serialize import DecodeError, hash_to_hex

__all__ = [
    "ChainState",
    "UtxoStats",
    "DEFAULT_DBCACHE_MIB",
    "DEFAULT_FLUSH_INTERVAL",
    "DEFAULT_MAX_ORPHANS",
    "EVENTS",
]

log = logging.getLogger("coin.chain")

DEFAULT_DBCACHE_MIB = 300
DEFAULT_FLUSH_INTERVAL = 300.0     # seconds between periodic flushes
DEFAULT_MAX_ORPHANS = 1000         # blocks waiting for their parent
INDEX_WRITE_INTERVAL = 1.0         # seconds between group commits of new entries in IBD
DEFAULT_MAX_ORPHAN_BYTES = 64 << 20  # bytes of orphan blocks held in memory
MAX_FILE_ORPHANS = 100_000         # orphans from files: only their file position is held
_RECENT_BLOCKS = 16                # accepted blocks kept in memory for the connect that follows
_RECENT_BYTES = 32 << 20
EVENTS = ("block_connected", "block_disconnected", "tip_changed", "block_validated", "fatal_error")

_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class UtxoStats:
    """The UTXO set summary of gettxoutsetinfo.

    `hash_serialized` is Core's hash_serialized_3: sha256d over, for every coin in key
    order (raw txid bytes, then output index): txid (32) || index (u32 LE) ||
    (height * 2 + coinbase) (u32 LE) || value (i64 LE) || CompactSize script length ||
    script. Internal byte order; display reversed as Core prints it.
    """

    height: int
    best_block: bytes
    transactions: int
    txouts: int
    bogosize: int
    hash_serialized: bytes
    total_amount: int
    disk_size: int = field(compare=False)

    @property
    def hash_serialized_hex(self) -> str:
        return hash_to_hex(self.hash_serialized)


class ChainState:
    """The block tree, the active chain and the UTXO set of one network datadir.

    `datadir` is the network's datadir (e.g. ``<datadir>/regtest``): the LevelDB goes
    in ``chainstate/`` and the blk/rev files in ``blocks/`` under it. `dbcache_mib`
    bounds the UTXO cache (flushed and emptied beyond it); `clock` is the node's clock
    (time-too-new, IBD); `script_threads` > 1 verifies scripts on a thread pool;
    `flush_interval` seconds between periodic flushes; `max_orphans` /
    `max_orphan_bytes` bound the blocks held in memory waiting for their parent;
    `check_scripts=False` skips script verification (for tools and benchmarks only).
    Thread-safe: every public method takes the chain state's lock.
    """

    def __init__(self, params, datadir: str | os.PathLike, *,
                 dbcache_mib: int = DEFAULT_DBCACHE_MIB,
                 clock: Callable[[], float] = time.time,
                 script_threads: int | None = os.cpu_count(),
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL,
                 max_orphans: int = DEFAULT_MAX_ORPHANS,
                 max_orphan_bytes: int = DEFAULT_MAX_ORPHAN_BYTES,
                 check_scripts: bool = True):
        self.params = params
        self.datadir = os.fspath(datadir)
        self.blocks_dir = os.path.join(self.datadir, "blocks")
        self.dbcache_bytes = int(dbcache_mib) * 1024 * 1024
        self.clock = clock
        self.flush_interval = flush_interval
        self.max_orphans = max_orphans
        self.max_orphan_bytes = max_orphan_bytes
        self.check_scripts = check_scripts
        self._lock = threading.RLock()
        self._subscribers: dict[str, list[Callable]] = {name: [] for name in EVENTS}
        self._executor = (ThreadPoolExecutor(script_threads, thread_name_prefix="scriptcheck")
                          if script_threads and script_threads > 1 else None)
        try:
            from coin.script.sigcache import SignatureCache
            self.sigcache = SignatureCache()
        except ImportError:  # pragma: no cover - the script layer always provides it
            self.sigcache = None
        self._closed = False
        self._importing = False
        self._ibd_latched = False
        self._stored_count = 0
        os.makedirs(self.datadir, exist_ok=True)
        self.db = ChainDB(os.path.join(self.datadir, "chainstate"))
        try:
            self._load()
            if self.db.get(layout.reindex_key()) is not None:
                log.info("Resuming an interrupted reindex")
                self.reindex()
            else:
                self._activate(notify=False)
                self._prune_candidates()
        except BaseException:
            self._close_resources()
            raise

    # -- start-up ----------------------------------------------------------------------

    def _reset_memory(self) -> None:
        self.index = BlockIndex()
        self.chain = ActiveChain()
        self._candidates: set[BlockIndexEntry] = set()
        self._unlinked: dict[bytes, list[BlockIndexEntry]] = {}
        self._dirty: set[BlockIndexEntry] = set()
        self._orphans: collections.OrderedDict[bytes, _Orphan] = collections.OrderedDict()
        self._orphans_by_prev: dict[bytes, set[bytes]] = {}
        self._orphan_mem = 0
        self._orphan_bytes = 0
        self._recent: collections.OrderedDict[bytes, Block] = collections.OrderedDict()
        self._recent_bytes = 0
        self._invalid_reasons: dict[bytes, Rejection] = {}
        self._sequence = 1
        self._reverse_sequence = -1          # preciousblock's sequence ids (Core's nBlockReverseSequenceId)
        self._last_precious_work = 0         # the tip's work at the last preciousblock
        self._best_header: BlockIndexEntry | None = None
        self._last_flush = time.monotonic()
        self._last_index_write = time.monotonic()
        self._pending_index: list[BlockIndexEntry] = []
        self.coins_db = CoinsViewDB(self.db)
        self.coins_tip = CoinsViewCache(self.coins_db)

    def _load(self) -> None:
        version = self.db.get(layout.version_key())
        if version is None:
            self.db.put(layout.version_key(), layout.encode_version(layout.DB_VERSION), sync=True)
        elif layout.decode_version(version) != layout.DB_VERSION:
            raise InternalError(f"unsupported chain database version {layout.decode_version(version)}")
        self._reset_memory()
        infos = {}
        for key, value in self.db.iterate_prefix(layout.PREFIX_FILE_INFO):
            infos[struct.unpack(">I", key[1:])[0]] = layout.decode_file_info(value)
        last = self.db.get(layout.last_file_key())
        self.blockfiles = BlockFiles(self.blocks_dir, self.params.magic, infos=infos,
                                     last_file=layout.decode_u32(last) if last else 0,
                                     on_fatal=self._fatal_error)
        try:
            self.index.load(self.db.iterate_prefix(layout.PREFIX_BLOCK_INDEX))
        except DecodeError as e:
            raise InternalError(f"corrupt block index: {e}") from e
        genesis_hash = self.params.genesis_hash_bytes
        if len(self.index) == 0:
            self._init_genesis()
            return
        if genesis_hash not in self.index:
            raise InternalError("the block index does not hold this network's genesis block")
        self._rebuild_chain_tx()
        best = self.coins_db.get_best_block()
        tip = self.index.get(best) if best is not None else self.index.get(genesis_hash)
        if tip is None:
            raise InternalError(f"best block {hash_to_hex(best)} is not in the block index")
        self.chain.set_tip(tip)
        self.coins_tip.set_best_block(tip.hash_bytes)
        log.info("Loaded %d block index entries, tip %s at height %d",
                 len(self.index), tip.hash, tip.height)

    def _rebuild_chain_tx(self) -> None:
        """Recompute chain_tx, the candidate set and the unlinked map from loaded entries."""
        for e in sorted(self.index.values(), key=lambda x: x.height):
            if e.have_data and (e.prev is None or e.prev.chain_tx):
                e.chain_tx = (e.prev.chain_tx if e.prev else 0) + e.n_tx
            elif e.have_data and e.prev is not None:
                self._unlinked.setdefault(e.prev.hash_bytes, []).append(e)
            if e.chain_tx and e.is_valid(BlockStatus.VALID_TRANSACTIONS):
                self._candidates.add(e)
            if not e.failed and (self._best_header is None
                                 or e.chain_work > self._best_header.chain_work):
                self._best_header = e

    def _init_genesis(self, pos: FilePos | None = None) -> None:
        genesis = self.params.genesis
        if pos is None:
            pos = self.blockfiles.write_block(genesis.to_bytes(), 0, genesis.header.time)
        entry = self.index.add(genesis.header, None,
                               status=BlockStatus.VALID_MASK | BlockStatus.HAVE_DATA)
        entry.n_tx = len(genesis.txs)
        entry.file_no, entry.data_pos = pos
        self._received_block_transactions(entry)
        self._best_header = entry
        self.chain.set_tip(entry)
        self.coins_tip.set_best_block(entry.hash_bytes)
        self._dirty.add(entry)
        self._flush_now(erase=False)

    # -- events ------------------------------------------------------------------------

    def subscribe(self, event: str, callback: Callable) -> None:
        """Call `callback` on `event` (one of EVENTS), after the state changed."""
        if event not in self._subscribers:
            raise ValueError(f"unknown chain event {event!r}")
        self._subscribers[event].append(callback)

    def unsubscribe(self, event: str, callback: Callable) -> None:
        self._subscribers[event].remove(callback)

    def _fatal_error(self, message: str) -> None:
        log.error("Fatal error: %s", message)
        self._emit("fatal_error", message)

    def _emit(self, event: str, *args) -> None:
        for cb in list(self._subscribers[event]):
            try:
                cb(*args)
            except Exception:
                log.exception("chain event %s handler %r failed", event, cb)

    # -- queries -----------------------------------------------------------------------

    @property
    def tip(self) -> BlockIndexEntry:
        return self.chain.tip

    @property
    def height(self) -> int:
        return self.chain.height

    @property
    def best_header(self) -> BlockIndexEntry:
        """The most-work header not known to be invalid (Core's m_best_header)."""
        return self._best_header

    def get_entry(self, hash_bytes: bytes) -> BlockIndexEntry | None:
        return self.index.get(hash_bytes)

    def get_block_bytes(self, entry: BlockIndexEntry) -> bytes:
        """The stored block (witness serialization); InternalError if it has no data."""
        if not entry.have_data:
            raise InternalError(f"block {entry.hash} is not stored")
        with self._lock:
            return self.blockfiles.read_block_bytes(FilePos(entry.file_no, entry.data_pos))

    def get_block(self, entry: BlockIndexEntry) -> Block:
        block = self._recent.get(entry.hash_bytes)
        if block is not None:
            return block
        if not entry.have_data:
            raise InternalError(f"block {entry.hash} is not stored")
        with self._lock:
            return self.blockfiles.read_block(FilePos(entry.file_no, entry.data_pos))

    def get_undo(self, entry: BlockIndexEntry) -> BlockUndo | None:
        """The block's undo data, or None if it has none (genesis, never connected)."""
        if not entry.have_undo or entry.prev is None:
            return None
        with self._lock:
            data = self.blockfiles.read_undo(entry.file_no, entry.undo_pos, entry.prev.hash_bytes)
        try:
            return BlockUndo.from_bytes(data)
        except DecodeError as e:
            raise InternalError(f"corrupt undo data of {entry.hash}: {e}") from e

    def median_time_past(self) -> int:
        return self.chain.tip.median_time_past()

    def is_initial_block_download(self) -> bool:
        """Core's IsInitialBlockDownload: importing, or the tip older than max_tip_age.
        Once false it stays false (latched)."""
        if self._ibd_latched:
            return False
        if self._importing:
            return True
        tip = self.chain.tip
        if tip is None or tip.header.time < self.clock() - self.params.max_tip_age:
            return True
        self._ibd_latched = True
        return False

    def chain_tips(self) -> list[dict]:
        """Core's getchaintips: every branch tip with height, hash, branchlen, status."""
        with self._lock:
            tips = self.index.tips()
            if self.chain.tip not in tips:
                tips.append(self.chain.tip)
            out = []
            for t in tips:
                fork = self.chain.find_fork(t)
                if self.chain.contains(t):
                    status = "active"
                elif t.failed:
                    status = "invalid"
                elif not t.chain_tx:
                    status = "headers-only"
                elif t.is_valid(BlockStatus.VALID_SCRIPTS):
                    status = "valid-fork"
                elif t.is_valid(BlockStatus.VALID_TREE):
                    status = "valid-headers"
                else:
                    status = "unknown"
                out.append({"height": t.height, "hash": t.hash,
                            "branchlen": t.height - (fork.height if fork else -1),
                            "status": status})
            out.sort(key=lambda d: (-d["height"], d["hash"]))
            return out

    def size_on_disk(self) -> int:
        return self.blockfiles.size_on_disk()

    def utxo_stats(self) -> UtxoStats:
        """Flush, then summarise the UTXO set (see UtxoStats for the hash)."""
        with self._lock:
            self.flush()
            h = hashlib.sha256()
            txouts = transactions = total = bogosize = 0
            last_txid = None
            pack = _U32.pack
            for txid, index, record in self.coins_db.iter_coin_records():
                h.update(txid + pack(index) + record)
                txouts += 1
                if txid != last_txid:
                    transactions += 1
                    last_txid = txid
                total += int.from_bytes(record[4:12], "little", signed=True)
                bogosize += 50 + len(record) - 12 - _cs_len(record, 12)
            tip = self.chain.tip
            return UtxoStats(tip.height, tip.hash_bytes, transactions, txouts, bogosize,
                             hashlib.sha256(h.digest()).digest(), total,
                             self.db.approximate_size())

    # -- headers -----------------------------------------------------------------------

    def process_new_block_header(self, header: BlockHeader) -> BlockIndexEntry:
        """Core's AcceptBlockHeader. Returns the (new or known) index entry.

        Raises Rejection: duplicate-invalid (known invalid), high-hash,
        prev-blk-not-found (kind PREV_MISSING), bad-prevblk, and the contextual header
        reasons (bad-diffbits, time-too-old, time-too-new, bad-version(0x...)).
        """
        with self._lock:
            return self._accept_header(header)

    def _accept_header(self, header: BlockHeader) -> BlockIndexEntry:
        h = header.hash_bytes
        entry = self.index.get(h)
        if entry is not None:
            if entry.failed:
                raise Rejection("duplicate-invalid", "block is marked invalid",
                                kind=RejectKind.CACHED_INVALID)
            return entry
        check_block_header(header, self.params)
        prev = self.index.get(header.prev_hash_bytes)
        if prev is None:
            raise Rejection("prev-blk-not-found", f"previous block {header.prev_hash} not found",
                            kind=RejectKind.PREV_MISSING, ban_score=0)
        if prev.failed:
            raise Rejection("bad-prevblk", "previous block is invalid")
        contextual_check_block_header(header, prev, self.params, int(self.clock()))
        entry = self.index.add(header, prev, hash_bytes=h,
                               status=BlockStatus.VALID_HEADER | BlockStatus.VALID_TREE)
        self._dirty.add(entry)
        if self._best_header is None or entry.chain_work > self._best_header.chain_work:
            self._best_header = entry
        return entry

    # -- blocks ------------------------------------------------------------------------

    def process_new_block(self, block: Block) -> tuple[bool, bool]:
        """Core's ProcessNewBlock: check, store and try to connect `block`.

        Returns (accepted, new): (True, False) for a block already stored ("duplicate").
        Raises Rejection: duplicate-invalid; the check_block reasons (nothing recorded);
        prev-blk-not-found (the block is kept as an orphan until its parent arrives);
        the header reasons; contextual_check_block reasons; and, if the block itself
        turns out invalid while being connected, the reason it failed with.
        """
        with self._lock:
            start_tip = self.chain.tip
            try:
                entry = self._process_block(block)
                if entry is None:
                    return True, False
                self._activate()
            finally:
                self._notify_tip(start_tip)
            rejection = self._invalid_reasons.get(entry.hash_bytes)
            if rejection is not None and entry.status & BlockStatus.FAILED_VALID:
                raise rejection
            return True, True

    def _process_block(self, block: Block, pos: FilePos | None = None,
                       source: tuple[str, int, int] | None = None) -> BlockIndexEntry | None:
        """Check and store one block and any orphans waiting for it; no activation.
        `pos`: where the block already is in our blk files (reindex); `source`: (path,
        offset, length) of the file it was read from. Returns None for a duplicate."""
        h = block.hash_bytes
        entry = self.index.get(h)
        if entry is not None:
            if entry.failed:
                raise Rejection("duplicate-invalid", "block is marked invalid",
                                kind=RejectKind.CACHED_INVALID)
            if entry.have_data:
                return None
        check_block(block, self.params)
        if block.header.prev_hash_bytes not in self.index:
            self._add_orphan(block, pos, source)
            raise Rejection("prev-blk-not-found",
                            f"previous block {block.header.prev_hash} not found",
                            kind=RejectKind.PREV_MISSING, ban_score=0)
        entry = self._accept_block(block, pos)
        self._process_orphans(h)
        return entry

    def _accept_block(self, block: Block, pos: FilePos | None = None) -> BlockIndexEntry:
        """Core's AcceptBlock after CheckBlock: header, contextual checks, storage."""
        entry = self._accept_header(block.header)
        if entry.have_data:
            return entry
        try:
            contextual_check_block(block, entry.prev, self.params)
        except Rejection as r:
            if not is_block_mutation(r):
                self._mark_invalid(entry, r)
                self._write_index_now([entry])
            raise
        if pos is None:
            pos = self.blockfiles.write_block(block.to_bytes(), entry.height, block.header.time)
        entry.file_no, entry.data_pos = pos
        entry.n_tx = len(block.txs)
        entry.status |= BlockStatus.HAVE_DATA
        entry.raise_validity(BlockStatus.VALID_TRANSACTIONS)
        self._stored_count += 1
        self._dirty.add(entry)
        self._remember_recent(block)
        self._received_block_transactions(entry)
        self._pending_index.append(entry)
        if not self._importing and (
                not self.is_initial_block_download()
                or time.monotonic() - self._last_index_write >= INDEX_WRITE_INTERVAL):
            # Out of IBD a block is durable as soon as it is accepted (one fsync each).
            # In IBD entries are group-committed at most every INDEX_WRITE_INTERVAL
            # seconds; an import (-loadblock, reindex) writes them with its final flush.
            # A crash loses only blocks accepted since: re-downloaded or re-imported.
            self._write_index_now([])
        return entry

    def _remember_recent(self, block: Block) -> None:
        if block.hash_bytes in self._recent:
            return
        self._recent[block.hash_bytes] = block
        self._recent_bytes += block.total_size
        while len(self._recent) > _RECENT_BLOCKS or (
                self._recent_bytes > _RECENT_BYTES and len(self._recent) > 1):
            _, old = self._recent.popitem(last=False)
            self._recent_bytes -= old.total_size

    def _received_block_transactions(self, entry: BlockIndexEntry) -> None:
        """Core's ReceivedBlockTransactions: link chain_tx and candidates once the whole
        chain up to `entry` has data."""
        if entry.prev is not None and not entry.prev.chain_tx:
            self._unlinked.setdefault(entry.prev.hash_bytes, []).append(entry)
            return
        queue = [entry]
        tip = self.chain.tip
        while queue:
            e = queue.pop()
            e.chain_tx = (e.prev.chain_tx if e.prev else 0) + e.n_tx
            e.sequence_id = self._sequence
            self._sequence += 1
            if e.is_valid(BlockStatus.VALID_TRANSACTIONS) and (
                    tip is None or not self._worse(e, tip)):
                self._candidates.add(e)
            queue.extend(self._unlinked.pop(e.hash_bytes, ()))

    def _add_orphan(self, block: Block, pos: FilePos | None = None,
                    source: tuple[str, int, int] | None = None) -> None:
        """Keep a block whose parent is unknown. From a file (-loadblock, reindex) only
        its place in the file is kept (Core's mapBlocksUnknownParent); a block from the
        network is held in memory, bounded by count and bytes, oldest evicted first."""
        h = block.hash_bytes
        if h in self._orphans or self.max_orphans <= 0:
            return
        prev = block.header.prev_hash_bytes
        size = 0 if source is not None else block.total_size
        self._orphans[h] = _Orphan(prev, None if source is not None else block, source, pos, size)
        self._orphans_by_prev.setdefault(prev, set()).add(h)
        if source is None:
            self._orphan_mem += 1
            self._orphan_bytes += size
        while self._orphan_mem > self.max_orphans or self._orphan_bytes > self.max_orphan_bytes:
            oldest = next(k for k, o in self._orphans.items() if o.block is not None)
            self._drop_orphan(oldest)
        while len(self._orphans) > MAX_FILE_ORPHANS:
            self._drop_orphan(next(iter(self._orphans)))

    def _drop_orphan(self, h: bytes) -> "_Orphan | None":
        o = self._orphans.pop(h, None)
        if o is None:
            return None
        if o.block is not None:
            self._orphan_mem -= 1
            self._orphan_bytes -= o.size
        waiting = self._orphans_by_prev.get(o.prev_hash)
        if waiting is not None:
            waiting.discard(h)
            if not waiting:
                del self._orphans_by_prev[o.prev_hash]
        return o

    def _process_orphans(self, parent_hash: bytes) -> None:
        queue = [parent_hash]
        while queue:
            p = queue.pop()
            for h in sorted(self._orphans_by_prev.get(p, ())):
                o = self._drop_orphan(h)
                try:
                    block = o.block if o.block is not None else _read_source(o.source)
                    self._accept_block(block, o.pos)
                except (Rejection, OSError, DecodeError) as r:
                    log.info("orphan block %s rejected: %s", hash_to_hex(h), r)
                    continue
                queue.append(h)

    @property
    def orphan_count(self) -> int:
        return len(self._orphans)

    # -- chain selection ---------------------------------------------------------------

    def _key(self, e: BlockIndexEntry) -> tuple:
        # Core's CBlockIndexWorkComparator: more work, then earlier data, then the tip.
        return (e.chain_work, -e.sequence_id, e is self.chain.tip)

    def _worse(self, a: BlockIndexEntry, b: BlockIndexEntry) -> bool:
        return self._key(a) < self._key(b)

    def _prune_candidates(self) -> None:
        tip = self.chain.tip
        self._candidates = {e for e in self._candidates if not self._worse(e, tip)}
        if tip.is_valid(BlockStatus.VALID_TRANSACTIONS):
            self._candidates.add(tip)

    def _find_most_work_chain(self) -> BlockIndexEntry | None:
        """Core's FindMostWorkChain: the best candidate whose branch is all there and valid."""
        while self._candidates:
            best = max(self._candidates, key=self._key)
            e = best
            bad = None
            while e is not None and not self.chain.contains(e):
                if e.failed or not e.have_data:
                    bad = e
                    break
                e = e.prev
            if bad is None:
                return best
            # Everything from `best` down to `bad` cannot be connected.
            e = best
            while e is not bad:
                if bad.failed and not e.failed:
                    e.status |= BlockStatus.FAILED_CHILD
                    self._dirty.add(e)
                elif not bad.failed:
                    self._unlinked.setdefault(e.prev.hash_bytes, []).append(e)
                self._candidates.discard(e)
                e = e.prev
            self._candidates.discard(bad)
        return None

    def activate_best_chain(self) -> None:
        """Make the most-work valid chain active (Core's ActivateBestChain)."""
        with self._lock:
            start_tip = self.chain.tip
            try:
                self._activate()
            finally:
                self._notify_tip(start_tip)

    def _notify_tip(self, start_tip: BlockIndexEntry | None) -> None:
        if self.chain.tip is not start_tip:
            self._emit("tip_changed", self.chain.tip)

    def _activate(self, notify: bool = True) -> None:
        while True:
            best = self._find_most_work_chain()
            tip = self.chain.tip
            if best is None or best is tip:
                break
            fork = self.chain.find_fork(best)
            while self.chain.tip is not fork:
                self._disconnect_tip(notify)
            path = []
            e = best
            while e is not fork:
                path.append(e)
                e = e.prev
            for e in reversed(path):
                try:
                    self._connect_tip(e, notify)
                except Rejection as r:
                    self._invalid_reasons[e.hash_bytes] = r
                    self._mark_invalid(e, r)
                    log.warning("block %s (height %d) is invalid: %s", e.hash, e.height, r)
                    break
                self._prune_candidates()
        self._maybe_flush()

    def _mark_invalid(self, entry: BlockIndexEntry, rejection: Rejection) -> None:
        """Core's InvalidBlockFound: FAILED_VALID here, FAILED_CHILD on every descendant."""
        self._invalid_reasons[entry.hash_bytes] = rejection
        entry.status |= BlockStatus.FAILED_VALID
        self._dirty.add(entry)
        self._candidates.discard(entry)
        for d in self.index.descendants(entry):
            if not d.status & BlockStatus.FAILED_CHILD:
                d.status |= BlockStatus.FAILED_CHILD
                self._dirty.add(d)
            self._candidates.discard(d)
        if self._best_header is not None and self._best_header.failed:
            self._recompute_best_header()

    def _recompute_best_header(self) -> None:
        best = None
        for e in self.index.values():
            if not e.failed and (best is None or e.chain_work > best.chain_work):
                best = e
        self._best_header = best

    def _connect_tip(self, entry: BlockIndexEntry, notify: bool = True) -> None:
        """Core's ConnectTip: connect `entry` (whose parent is the tip) or raise Rejection."""
        block = self.get_block(entry)
        view = self.coins_tip.child()
        started = time.perf_counter()
        undo = connect_block(block, entry, view, self.params, executor=self._executor,
                             sigcache=self.sigcache, check_scripts=self.check_scripts)
        validated_in = time.perf_counter() - started
        if not entry.have_undo:
            entry.undo_pos = self.blockfiles.write_undo(entry.file_no, undo.to_bytes(),
                                                        entry.prev.hash_bytes)
            entry.status |= BlockStatus.HAVE_UNDO
        entry.raise_validity(BlockStatus.VALID_SCRIPTS)
        self._dirty.add(entry)
        view.set_best_block(entry.hash_bytes)
        view.flush()
        self.chain.set_tip(entry)
        log.debug("UpdateTip: new best=%s height=%d", entry.hash, entry.height)
        self._maybe_flush()
        if notify:
            self._emit("block_validated", entry, validated_in)
            self._emit("block_connected", block, entry)

    def _disconnect_tip(self, notify: bool = True) -> None:
        """Core's DisconnectTip: undo the tip block with its undo data."""
        entry = self.chain.tip
        if entry.prev is None:
            raise InternalError("cannot disconnect the genesis block")
        block = self.get_block(entry)
        undo = self.get_undo(entry)
        if undo is None:
            raise InternalError(f"no undo data for block {entry.hash}")
        view = self.coins_tip.child()
        if not disconnect_block(block, undo, view, height=entry.height):
            raise InternalError(f"DisconnectBlock {entry.hash} failed (unclean)")
        view.set_best_block(entry.prev.hash_bytes)
        view.flush()
        self.chain.set_tip(entry.prev)
        log.debug("DisconnectTip: %s height=%d", entry.hash, entry.height)
        self._maybe_flush()
        if notify:
            self._emit("block_disconnected", block, entry)

    # -- invalidate / reconsider -------------------------------------------------------

    def invalidate_block(self, hash_bytes: bytes) -> None:
        """Core's InvalidateBlock: mark the block invalid (descendants FAILED_CHILD),
        disconnect it if active, and activate the best remaining chain."""
        with self._lock:
            entry = self.index.get(hash_bytes)
            if entry is None:
                raise KeyError(hash_to_hex(hash_bytes))
            if entry.prev is None:
                raise ValueError("cannot invalidate the genesis block")
            start_tip = self.chain.tip
            try:
                self._mark_invalid(entry, Rejection("invalidated", "invalidated by request"))
                self._invalid_reasons.pop(entry.hash_bytes, None)
                while self.chain.contains(entry):
                    self._disconnect_tip()
                tip = self.chain.tip
                for e in self.index.values():
                    if e.chain_tx and e.is_valid(BlockStatus.VALID_TRANSACTIONS) and \
                            not self._worse(e, tip):
                        self._candidates.add(e)
                self._candidates.add(tip)
                self._activate()
            finally:
                self._notify_tip(start_tip)

    def precious_block(self, hash_bytes: bytes) -> None:
        """Core's PreciousBlock: treat the block as if its data arrived before that of
        every other block with the same work, and activate the best chain (a block with
        less work than the tip is left alone). A later call overrides an earlier one
        until the tip gains work; nothing of it is kept across restarts."""
        with self._lock:
            entry = self.index.get(hash_bytes)
            if entry is None:
                raise KeyError(hash_to_hex(hash_bytes))
            start_tip = self.chain.tip
            try:
                tip = self.chain.tip
                if entry.chain_work < tip.chain_work:
                    return
                if tip.chain_work > self._last_precious_work:
                    self._reverse_sequence = -1  # the chain grew since the last call
                self._last_precious_work = tip.chain_work
                self._candidates.discard(entry)
                entry.sequence_id = self._reverse_sequence
                if self._reverse_sequence > -(1 << 31):
                    self._reverse_sequence -= 1
                if entry.is_valid(BlockStatus.VALID_TRANSACTIONS) and entry.chain_tx:
                    self._candidates.add(entry)
                    self._prune_candidates()
                self._activate()
            finally:
                self._notify_tip(start_tip)

    def reconsider_block(self, hash_bytes: bytes) -> None:
        """Core's ReconsiderBlock: clear the failure flags of the block, its descendants
        and its ancestors, then activate the best chain."""
        with self._lock:
            entry = self.index.get(hash_bytes)
            if entry is None:
                raise KeyError(hash_to_hex(hash_bytes))
            start_tip = self.chain.tip
            try:
                tip = self.chain.tip
                h = entry.height
                for e in self.index.values():
                    if e.failed and e.get_ancestor(h) is entry:
                        self._clear_failure(e)
                    if e.chain_tx and e.is_valid(BlockStatus.VALID_TRANSACTIONS) and \
                            not self._worse(e, tip):
                        self._candidates.add(e)
                a = entry.prev
                while a is not None:
                    if a.failed:
                        self._clear_failure(a)
                    a = a.prev
                self._recompute_best_header()
                self._activate()
            finally:
                self._notify_tip(start_tip)

    def _clear_failure(self, e: BlockIndexEntry) -> None:
        e.status &= ~BlockStatus.FAILED_MASK
        self._invalid_reasons.pop(e.hash_bytes, None)
        self._dirty.add(e)

    # -- persistence -------------------------------------------------------------------

    def _index_records(self) -> list[tuple[bytes, bytes]]:
        recs = [(layout.block_index_key(e.hash_bytes), e.to_record())
                for e in sorted(self._dirty, key=lambda x: (x.height, x.hash_bytes))]
        for n, info in self.blockfiles.take_dirty_infos().items():
            recs.append((layout.file_info_key(n), layout.encode_file_info(info)))
        recs.append((layout.last_file_key(), layout.encode_u32(self.blockfiles.last_file)))
        return recs

    def _write_index_now(self, entries: list[BlockIndexEntry]) -> None:
        """Write these (and the pending) index entries now, not the coins, after fsyncing
        the blk/rev files they point into. Used when blocks are stored (or found invalid
        before they could be connected), so they survive a crash before the next flush;
        at start-up they are reconnected on top of the best-block marker."""
        entries = list(entries) + [e for e in self._pending_index if e not in entries]
        self._pending_index = []
        self._last_index_write = time.monotonic()
        self.blockfiles.sync()
        with self.db.batch(sync=False) as wb:
            for e in entries:
                wb.put(layout.block_index_key(e.hash_bytes), e.to_record())
                self._dirty.discard(e)
            for n, info in self.blockfiles.take_dirty_infos().items():
                wb.put(layout.file_info_key(n), layout.encode_file_info(info))
            wb.put(layout.last_file_key(), layout.encode_u32(self.blockfiles.last_file))

    def _flush_now(self, erase: bool) -> None:
        self.blockfiles.sync()
        recs = self._index_records()
        if erase:
            self.coins_tip.flush(recs)
        else:
            self.coins_tip.sync(recs)
        self._dirty.clear()
        self._pending_index = []
        self._last_flush = time.monotonic()

    def _maybe_flush(self) -> None:
        if self.coins_tip.memory_usage() > self.dbcache_bytes:
            log.debug("Flushing the UTXO cache (%d bytes over the %d budget)",
                      self.coins_tip.memory_usage(), self.dbcache_bytes)
            self._flush_now(erase=True)
        elif time.monotonic() - self._last_flush > self.flush_interval:
            self._flush_now(erase=False)

    def flush(self) -> None:
        """Write the UTXO cache, the best-block marker and the index to disk (one batch)."""
        with self._lock:
            self._flush_now(erase=False)

    # -- import ------------------------------------------------------------------------

    def load_block_file(self, path: str | os.PathLike,
                        progress: Callable[[int, int, int], None] | None = None) -> dict:
        """Import a blk-format file (-loadblock): blocks in any order (orphans wait for
        their parents). `progress(blocks_read, bytes_done, bytes_total)` is called as it
        goes. Returns counts: read, accepted, duplicate, orphan, rejected."""
        counts = {"read": 0, "accepted": 0, "duplicate": 0, "orphan": 0, "rejected": 0}
        with self._lock:
            self.blockfiles.flush()  # the file may be one of ours, still being appended to
            total = os.path.getsize(path)
            stored_before = self._stored_count
            self._importing = True
            start_tip = self.chain.tip
            try:
                for offset, block in read_blk_file(path, self.params.magic):
                    counts["read"] += 1
                    self._import_one(block, None, counts, (os.fspath(path), offset, block.total_size))
                    if progress is not None:
                        progress(counts["read"], offset, total)
                counts["orphan"] = len(self._orphans)
                counts["accepted"] = self._stored_count - stored_before
                self._activate()
                self._flush_now(erase=False)
            finally:
                self._importing = False
                self._notify_tip(start_tip)
        log.info("Loaded %d blocks from %s: %s", counts["read"], path, counts)
        return counts

    def _import_one(self, block: Block, pos: FilePos | None, counts: dict,
                    source: tuple[str, int, int]) -> None:
        try:
            entry = self._process_block(block, pos, source)
        except Rejection as r:
            if r.kind is RejectKind.PREV_MISSING:
                return
            counts["rejected"] += 1
            log.info("imported block %s rejected: %s", block.hash, r)
            return
        if entry is None:
            counts["duplicate"] += 1
            return
        # Connect as we go so memory holds only what is waiting for a parent.
        self._activate()

    def reindex(self, progress: Callable[[int, int, int], None] | None = None) -> dict:
        """Wipe the block index and the UTXO set and rebuild them from our own blk files
        (blocks stay where they are). Resumed at start-up if interrupted."""
        with self._lock:
            start_tip = self.chain.tip
            self.db.put(layout.reindex_key(), b"\x01", sync=True)
            with self.db.batch(sync=True) as wb:
                for key in self.db.iterate_prefix(b"", include_value=False):
                    if key not in (layout.reindex_key(), layout.version_key()):
                        wb.delete(key)
            self._reset_memory()
            self.blockfiles.close()
            numbers = self.blockfiles.block_file_numbers()
            self.blockfiles = BlockFiles(self.blocks_dir, self.params.magic,
                                         last_file=max(numbers) if numbers else 0,
                                         on_fatal=self._fatal_error)
            counts = {"read": 0, "accepted": 0, "duplicate": 0, "orphan": 0, "rejected": 0}
            genesis_hash = self.params.genesis_hash_bytes
            first = next(iter(read_blk_file(blk_path(self.blocks_dir, 0), self.params.magic)),
                         None) if 0 in numbers else None
            if first is not None and first[1].hash_bytes == genesis_hash:
                self._init_genesis(FilePos(0, first[0]))
            else:
                self._init_genesis()
            total = sum(os.path.getsize(blk_path(self.blocks_dir, n)) for n in numbers)
            stored_before = self._stored_count
            done = 0
            self._importing = True
            try:
                for n in numbers:
                    path = blk_path(self.blocks_dir, n)
                    for offset, block in read_blk_file(path, self.params.magic):
                        counts["read"] += 1
                        self._import_one(block, FilePos(n, offset), counts,
                                         (path, offset, block.total_size))
                        if progress is not None:
                            progress(counts["read"], done + offset, total)
                    done += os.path.getsize(path)
                counts["orphan"] = len(self._orphans)
                counts["accepted"] = self._stored_count - stored_before
                self._activate()
            finally:
                self._importing = False
            self._flush_now(erase=False)
            self.db.delete(layout.reindex_key(), sync=True)
            self._notify_tip(start_tip)
            log.info("Reindex done: %s, tip %s height %d", counts, self.tip.hash, self.height)
            return counts

    # -- shutdown ----------------------------------------------------------------------

    def _close_resources(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.blockfiles.close()
        self.db.close()

    def close(self) -> None:
        """Flush everything and release the database and the script threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self.blockfiles.write_error is None:
                    self._flush_now(erase=False)
                else:  # the database must not point past what reached the block files
                    log.error("Not flushing the chain state (%s): the next start resumes from "
                              "the last state written", self.blockfiles.write_error)
            finally:
                self._close_resources()

    def __enter__(self) -> "ChainState":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cs_len(data: bytes, pos: int) -> int:
    """Length of the CompactSize at `pos`."""
    first = data[pos]
    return 1 if first < 0xFD else 3 if first == 0xFD else 5 if first == 0xFE else 9


class _Orphan(NamedTuple):
    """A block waiting for its parent: in memory, or where to re-read it from a file."""

    prev_hash: bytes
    block: Block | None
    source: tuple[str, int, int] | None   # (path, offset, length)
    pos: FilePos | None                   # its place in our own blk files (reindex)
    size: int


def _read_source(source: tuple[str, int, int]) -> Block:
    path, offset, length = source
    with open(path, "rb") as f:
        f.seek(offset)
        return Block.from_bytes(f.read(length))
