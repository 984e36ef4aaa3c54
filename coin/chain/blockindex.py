"""The block index (every header we know, as a tree) and the active chain (one path in it).

- `BlockStatus`: validity and storage flags of an entry (Core's BlockStatus, as an IntFlag
  whose validity bits accumulate: a fully validated block has every VALID_* bit).
- `BlockIndexEntry`: one known header: its hash, height, parent, cumulative chain work,
  status, where its block and undo data are stored, and Core's skip pointer so
  `get_ancestor(h)` takes O(log n) steps. Implements the "index entry" interface the
  consensus functions take (`height`, `header`, `hash_bytes`, `prev`, `get_ancestor`,
  `median_time_past`).
- `BlockIndex`: the dict of entries by hash, loaded whole at start-up.
- `ActiveChain`: the entries of the active chain by height (Core's CChain): tip,
  contains, next, locator, find_fork.
"""

import enum
from collections.abc import Iterator

from coin.chain import layout
from coin.consensus.pow import block_work
from coin.primitives import BlockHeader
from coin.serialize import hash_to_hex

__all__ = [
    "BlockStatus",
    "BlockIndexEntry",
    "BlockIndex",
    "ActiveChain",
    "get_skip_height",
    "MEDIAN_TIME_SPAN",
]

MEDIAN_TIME_SPAN = 11


class BlockStatus(enum.IntFlag):
    """What we know about a block. Validity levels accumulate (Core's BLOCK_VALID_*)."""

    NONE = 0
    VALID_HEADER = 1          # parsed, proof of work checked
    VALID_TREE = 2            # parent known and valid-tree; contextual header checks passed
    VALID_TRANSACTIONS = 4    # CheckBlock and ContextualCheckBlock passed; data stored
    VALID_CHAIN = 8           # inputs, amounts, BIP30, sigops passed (ConnectBlock)
    VALID_SCRIPTS = 16        # scripts verified: fully validated
    HAVE_DATA = 32            # the block is stored in a blk file
    HAVE_UNDO = 64            # its undo data is stored in a rev file
    FAILED_VALID = 128        # the block itself is invalid
    FAILED_CHILD = 256        # it descends from an invalid block

    HAVE_HEADER = VALID_HEADER
    VALID_MASK = VALID_HEADER | VALID_TREE | VALID_TRANSACTIONS | VALID_CHAIN | VALID_SCRIPTS
    FAILED_MASK = FAILED_VALID | FAILED_CHILD


_VALID_UPTO = {
    BlockStatus.VALID_HEADER: BlockStatus.VALID_HEADER,
    BlockStatus.VALID_TREE: BlockStatus.VALID_HEADER | BlockStatus.VALID_TREE,
    BlockStatus.VALID_TRANSACTIONS: (BlockStatus.VALID_HEADER | BlockStatus.VALID_TREE
                                     | BlockStatus.VALID_TRANSACTIONS),
    BlockStatus.VALID_CHAIN: (BlockStatus.VALID_HEADER | BlockStatus.VALID_TREE
                              | BlockStatus.VALID_TRANSACTIONS | BlockStatus.VALID_CHAIN),
    BlockStatus.VALID_SCRIPTS: BlockStatus.VALID_MASK,
}


def _invert_lowest_one(n: int) -> int:
    return n & (n - 1)


def get_skip_height(height: int) -> int:
    """Core's GetSkipHeight: the height the skip pointer of a block at `height` targets."""
    if height < 2:
        return 0
    if height & 1:
        return _invert_lowest_one(_invert_lowest_one(height - 1)) + 1
    return _invert_lowest_one(height)


_work_cache: dict[int, int] = {}


def _work(bits: int) -> int:
    w = _work_cache.get(bits)
    if w is None:
        w = _work_cache[bits] = block_work(bits)
    return w


class BlockIndexEntry:
    """One header in the block tree, with what we know about its block."""

    __slots__ = ("hash_bytes", "header", "height", "prev", "skip", "chain_work", "status",
                 "n_tx", "chain_tx", "file_no", "data_pos", "undo_pos", "sequence_id", "_mtp")

    def __init__(self, header: BlockHeader, prev: "BlockIndexEntry | None", *,
                 hash_bytes: bytes | None = None, status: int = BlockStatus.NONE):
        self.header = header
        self.hash_bytes = hash_bytes if hash_bytes is not None else header.hash_bytes
        self.prev = prev
        self.height = 0 if prev is None else prev.height + 1
        self.chain_work = _work(header.bits) + (0 if prev is None else prev.chain_work)
        self.skip = None if prev is None else prev.get_ancestor(get_skip_height(self.height))
        self.status = BlockStatus(status)
        self.n_tx = 0
        self.chain_tx = 0       # txs in the chain up to here; 0 while any ancestor lacks data
        self.file_no = layout.NO_FILE
        self.data_pos = 0
        self.undo_pos = 0
        self.sequence_id = 0    # order blocks' data arrived in (first seen wins work ties)
        self._mtp = None

    # -- the interface consensus code uses ------------------------------------------

    @property
    def hash(self) -> str:
        return hash_to_hex(self.hash_bytes)

    @property
    def time(self) -> int:
        return self.header.time

    def get_ancestor(self, height: int) -> "BlockIndexEntry | None":
        """The ancestor at `height` (self if equal; None if above self or negative)."""
        if height > self.height or height < 0:
            return None
        walk = self
        h = self.height
        while h > height:
            hs = get_skip_height(h)
            hsp = get_skip_height(h - 1)
            if walk.skip is not None and (hs == height or (
                    hs > height and not (hsp < hs - 2 and hsp >= height))):
                walk = walk.skip
                h = hs
            else:
                walk = walk.prev
                h -= 1
        return walk

    def median_time_past(self) -> int:
        """Median of the times of the last 11 blocks ending here (Core's GetMedianTimePast).
        Computed once: it depends only on this block and its ancestors."""
        if self._mtp is not None:
            return self._mtp
        times = []
        e = self
        for _ in range(MEDIAN_TIME_SPAN):
            if e is None:
                break
            times.append(e.header.time)
            e = e.prev
        times.sort()
        self._mtp = times[len(times) // 2]
        return self._mtp

    # -- status ----------------------------------------------------------------------

    def is_valid(self, level: BlockStatus = BlockStatus.VALID_TRANSACTIONS) -> bool:
        """Not failed and validated at least up to `level` (Core's IsValid)."""
        if self.status & BlockStatus.FAILED_MASK:
            return False
        need = _VALID_UPTO[level]
        return (self.status & need) == need

    def raise_validity(self, level: BlockStatus) -> bool:
        """Set the validity bits up to `level`; True if anything changed."""
        if self.status & BlockStatus.FAILED_MASK:
            return False
        need = _VALID_UPTO[level]
        if (self.status & need) == need:
            return False
        self.status |= need
        return True

    @property
    def failed(self) -> bool:
        return bool(self.status & BlockStatus.FAILED_MASK)

    @property
    def have_data(self) -> bool:
        return bool(self.status & BlockStatus.HAVE_DATA)

    @property
    def have_undo(self) -> bool:
        return bool(self.status & BlockStatus.HAVE_UNDO)

    # -- storage ---------------------------------------------------------------------

    def to_record(self) -> bytes:
        return layout.encode_index_record(layout.IndexRecord(
            self.header.to_bytes(), self.height, int(self.status), self.n_tx,
            self.file_no, self.data_pos, self.undo_pos))

    def __repr__(self) -> str:
        return f"BlockIndexEntry({self.height}, {self.hash}, {self.status!r})"


class BlockIndex:
    """Every known header by hash (Core's m_block_index)."""

    def __init__(self):
        self._entries: dict[bytes, BlockIndexEntry] = {}

    def get(self, hash_bytes: bytes) -> BlockIndexEntry | None:
        return self._entries.get(hash_bytes)

    def __contains__(self, hash_bytes: bytes) -> bool:
        return hash_bytes in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[BlockIndexEntry]:
        return iter(self._entries.values())

    def values(self):
        return self._entries.values()

    def add(self, header: BlockHeader, prev: BlockIndexEntry | None, *,
            hash_bytes: bytes | None = None, status: int = BlockStatus.NONE) -> BlockIndexEntry:
        entry = BlockIndexEntry(header, prev, hash_bytes=hash_bytes, status=status)
        if entry.hash_bytes in self._entries:
            raise ValueError(f"block {entry.hash} already indexed")
        self._entries[entry.hash_bytes] = entry
        return entry

    def load(self, records: Iterator[tuple[bytes, bytes]]) -> None:
        """Build entries from stored (key, value) ``b`` records (any order).

        Records whose parent is missing are skipped (they cannot be placed in the tree).
        """
        pending: list[tuple[int, bytes, layout.IndexRecord, BlockHeader]] = []
        for key, value in records:
            rec = layout.decode_index_record(value)
            header = BlockHeader.from_bytes(rec.header_bytes)
            pending.append((rec.height, bytes(key[1:]), rec, header))
        pending.sort(key=lambda t: t[0])
        for _height, hash_bytes, rec, header in pending:
            if hash_bytes in self._entries:
                continue
            if rec.height == 0:
                prev = None
            else:
                prev = self._entries.get(header.prev_hash_bytes)
                if prev is None:
                    continue
            entry = BlockIndexEntry(header, prev, hash_bytes=hash_bytes, status=rec.status)
            entry.n_tx = rec.n_tx
            entry.file_no = rec.file_no
            entry.data_pos = rec.data_pos
            entry.undo_pos = rec.undo_pos
            self._entries[hash_bytes] = entry

    def descendants(self, entry: BlockIndexEntry) -> list[BlockIndexEntry]:
        """Every entry strictly descending from `entry`."""
        h = entry.height
        return [e for e in self._entries.values()
                if e.height > h and e.get_ancestor(h) is entry]

    def tips(self) -> list[BlockIndexEntry]:
        """Entries that no other entry builds on."""
        parents = {id(e.prev) for e in self._entries.values() if e.prev is not None}
        return [e for e in self._entries.values() if id(e) not in parents]


class ActiveChain:
    """The entries of one chain, indexed by height (Core's CChain)."""

    def __init__(self):
        self._chain: list[BlockIndexEntry] = []

    @property
    def tip(self) -> BlockIndexEntry | None:
        return self._chain[-1] if self._chain else None

    @property
    def genesis(self) -> BlockIndexEntry | None:
        return self._chain[0] if self._chain else None

    @property
    def height(self) -> int:
        """Height of the tip; -1 for an empty chain."""
        return len(self._chain) - 1

    def __len__(self) -> int:
        return len(self._chain)

    def __getitem__(self, height: int) -> BlockIndexEntry | None:
        """The entry at `height`, or None if out of range."""
        if 0 <= height < len(self._chain):
            return self._chain[height]
        return None

    def __iter__(self) -> Iterator[BlockIndexEntry]:
        return iter(self._chain)

    def contains(self, entry: BlockIndexEntry | None) -> bool:
        return entry is not None and 0 <= entry.height < len(self._chain) \
            and self._chain[entry.height] is entry

    __contains__ = contains

    def next(self, entry: BlockIndexEntry) -> BlockIndexEntry | None:
        """The successor of `entry` in this chain (None at the tip or if not in it)."""
        if self.contains(entry) and entry.height + 1 < len(self._chain):
            return self._chain[entry.height + 1]
        return None

    def set_tip(self, entry: BlockIndexEntry | None) -> None:
        """Make `entry` the tip, replacing whatever part of the chain differs."""
        if entry is None:
            self._chain = []
            return
        chain = self._chain
        del chain[entry.height + 1:]
        while len(chain) < entry.height + 1:
            chain.append(None)
        e = entry
        while e is not None and chain[e.height] is not e:
            chain[e.height] = e
            e = e.prev

    def find_fork(self, entry: BlockIndexEntry | None) -> BlockIndexEntry | None:
        """The last entry shared by this chain and the chain ending at `entry`."""
        if entry is None:
            return None
        if entry.height > self.height:
            entry = entry.get_ancestor(self.height)
        while entry is not None and not self.contains(entry):
            entry = entry.prev
        return entry

    def get_locator(self, entry: BlockIndexEntry | None = None) -> list[bytes]:
        """Block locator hashes from `entry` (default: the tip) back to genesis:
        the last 10 one by one, then exponentially spaced (Core's LocatorEntries)."""
        e = self.tip if entry is None else entry
        have: list[bytes] = []
        step = 1
        while e is not None:
            have.append(e.hash_bytes)
            if e.height == 0:
                break
            height = max(e.height - step, 0)
            e = self._chain[height] if self.contains(e) else e.get_ancestor(height)
            if len(have) > 10:
                step *= 2
        return have
