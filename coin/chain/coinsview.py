"""The UTXO set as layered views: coins in LevelDB, and write-back caches over them.

- `CoinsViewDB`: the coins in the chain database (``C`` records of coin.chain.layout)
  and the best-block marker they describe. Read-only except through `batch_write`,
  which writes a whole set of changes and the new marker in ONE atomic batch.
- `CoinsViewCache(base)`: Core's CCoinsViewCache. Implements the `CoinsView` protocol
  of coin.consensus.coins over any base (a CoinsViewDB or another cache). Each cached
  entry carries Core's flags:
    DIRTY  the entry differs from the base and must be written back;
    FRESH  the base has no unspent coin here, so if the coin is spent before a flush
           the entry is simply dropped and the base (the disk) is never touched.
  `flush()` writes the dirty entries into the base (Core's BatchWrite rules) and
  empties the cache; `sync()` does the same but keeps the clean coins cached;
  `child()` makes a throwaway layer on top (one per block connect: discard it on a
  Rejection, flush it on success).

Errors: `add_coin` over an unspent coin without `possible_overwrite`, and a FRESH
child entry over an unspent parent coin, raise coin.consensus.errors.InternalError (Core's
logic_error). A malformed coin record raises InternalError.
"""

from collections.abc import Iterable, Iterator

from coin.chain import layout
from coin.chain.db import ChainDB
from coin.consensus.coins import Coin
from coin.consensus.errors import InternalError
from coin.primitives import OutPoint, TxOut
from coin.serialize import DecodeError

__all__ = ["DIRTY", "FRESH", "CoinsViewDB", "CoinsViewCache", "ENTRY_OVERHEAD"]

DIRTY = 1
FRESH = 2

# Estimated bytes of Python objects per cached entry besides the script itself: the
# dict slot, the OutPoint tuple and its txid bytes, the [coin, flags] list, the Coin,
# the TxOut and its ints (measured with tracemalloc on CPython 3.11: ~475).
ENTRY_OVERHEAD = 480


def _decode(data: bytes) -> Coin:
    try:
        value, script, height, is_coinbase = layout.decode_coin(data)
    except DecodeError as e:
        raise InternalError(f"corrupt coin record: {e}") from e
    return Coin(TxOut(value, script), height, is_coinbase)


class CoinsViewDB:
    """The coins stored in the chain database (Core's CCoinsViewDB)."""

    def __init__(self, db: ChainDB):
        self.db = db

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        data = self.db.get(layout.coin_key(outpoint[0], outpoint[1]))
        return None if data is None else _decode(data)

    def have_coin(self, outpoint: OutPoint) -> bool:
        return self.db.get(layout.coin_key(outpoint[0], outpoint[1])) is not None

    def get_best_block(self) -> bytes | None:
        """The hash of the block whose resulting UTXO set is stored here (None if new)."""
        return self.db.get(layout.best_block_key())

    def batch_write(self, entries: dict, best_block: bytes | None,
                    extra: Iterable[tuple[bytes, bytes | None]] = ()) -> None:
        """Write the DIRTY entries, the best-block marker and `extra` (key, value-or-None
        for delete) in one atomic, synced LevelDB batch."""
        coin_key = layout.coin_key
        encode = layout.encode_coin
        with self.db.batch(sync=True) as wb:
            for op, (coin, flags) in entries.items():
                if not flags & DIRTY:
                    continue
                key = coin_key(op[0], op[1])
                if coin is None:
                    wb.delete(key)
                else:
                    out = coin.output
                    wb.put(key, encode(out.value, out.script_pubkey, coin.height, coin.is_coinbase))
            for key, value in extra:
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)
            if best_block is not None:
                wb.put(layout.best_block_key(), best_block)

    def iter_coins(self) -> Iterator[tuple[OutPoint, Coin]]:
        """Every stored coin in key order: by raw txid bytes, then output index."""
        for key, value in self.db.iterate_prefix(layout.PREFIX_COIN):
            txid, index = layout.coin_key_outpoint(key)
            yield OutPoint(txid, index), _decode(value)

    def iter_coin_records(self) -> Iterator[tuple[bytes, int, bytes]]:
        """(txid_bytes, index, raw record) in key order, without building objects."""
        for key, value in self.db.iterate_prefix(layout.PREFIX_COIN):
            txid, index = layout.coin_key_outpoint(key)
            yield txid, index, value


class CoinsViewCache:
    """A write-back cache of coins over `base` (Core's CCoinsViewCache)."""

    __slots__ = ("base", "_cache", "_usage", "_best_block")

    def __init__(self, base):
        self.base = base
        self._cache: dict[OutPoint, list] = {}   # outpoint -> [Coin | None (spent), flags]
        self._usage = 0
        self._best_block: bytes | None = None

    # -- CoinsView protocol ------------------------------------------------------------

    def _fetch(self, outpoint: OutPoint):
        entry = self._cache.get(outpoint)
        if entry is not None:
            return entry
        coin = self.base.get_coin(outpoint)
        if coin is None:
            return None
        entry = [coin, 0]
        self._cache[outpoint] = entry
        self._usage += ENTRY_OVERHEAD + len(coin.output.script_pubkey)
        return entry

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        entry = self._fetch(outpoint)
        return None if entry is None else entry[0]

    def have_coin(self, outpoint: OutPoint) -> bool:
        entry = self._fetch(outpoint)
        return entry is not None and entry[0] is not None

    def have_coin_in_cache(self, outpoint: OutPoint) -> bool:
        entry = self._cache.get(outpoint)
        return entry is not None and entry[0] is not None

    def spend_coin(self, outpoint: OutPoint) -> Coin | None:
        """Spend and return the coin (None if there is none). A FRESH coin is forgotten."""
        entry = self._fetch(outpoint)
        if entry is None or entry[0] is None:
            return None
        coin = entry[0]
        if entry[1] & FRESH:
            del self._cache[outpoint]
            self._usage -= ENTRY_OVERHEAD + len(coin.output.script_pubkey)
        else:
            entry[0] = None
            entry[1] |= DIRTY
            self._usage -= len(coin.output.script_pubkey)
        return coin

    def add_coin(self, outpoint: OutPoint, coin: Coin, possible_overwrite: bool) -> None:
        """Add `coin` (Core's AddCoin). Without `possible_overwrite` the caller promises no
        unspent coin exists in the base, so the entry is FRESH; InternalError if one is
        cached unspent here."""
        entry = self._cache.get(outpoint)
        script_len = len(coin.output.script_pubkey)
        if entry is None:
            fresh = not possible_overwrite
            self._cache[outpoint] = [coin, DIRTY | FRESH if fresh else DIRTY]
            self._usage += ENTRY_OVERHEAD + script_len
            return
        old = entry[0]
        fresh = False
        if not possible_overwrite:
            if old is not None:
                raise InternalError(
                    "Attempted to overwrite an unspent coin (when possible_overwrite is false)")
            # A spent entry that is not DIRTY means the base has nothing here either.
            fresh = not entry[1] & DIRTY
        if old is not None:
            self._usage -= len(old.output.script_pubkey)
        entry[0] = coin
        entry[1] |= DIRTY | (FRESH if fresh else 0)
        self._usage += script_len

    # -- cache management --------------------------------------------------------------

    def get_best_block(self) -> bytes | None:
        if self._best_block is None:
            self._best_block = self.base.get_best_block()
        return self._best_block

    def set_best_block(self, hash_bytes: bytes) -> None:
        self._best_block = hash_bytes

    def memory_usage(self) -> int:
        """Estimated bytes held by the cached entries."""
        return self._usage

    def __len__(self) -> int:
        return len(self._cache)

    def dirty_count(self) -> int:
        return sum(1 for e in self._cache.values() if e[1] & DIRTY)

    def uncache(self, outpoint: OutPoint) -> None:
        """Drop a clean cached entry (Core's Uncache); dirty entries stay."""
        entry = self._cache.get(outpoint)
        if entry is not None and not entry[1] & DIRTY:
            del self._cache[outpoint]
            self._usage -= ENTRY_OVERHEAD + (len(entry[0].output.script_pubkey) if entry[0] else 0)

    def child(self) -> "CoinsViewCache":
        """A throwaway cache layered on this one."""
        return CoinsViewCache(self)

    def batch_write(self, entries: dict, best_block: bytes | None, extra=()) -> None:
        """Take a child's entries (Core's CCoinsViewCache::BatchWrite)."""
        if extra:
            raise ValueError("a cache cannot hold raw database records")
        cache = self._cache
        for op, (coin, flags) in entries.items():
            if not flags & DIRTY:
                continue
            ours = cache.get(op)
            if ours is None:
                if flags & FRESH and coin is None:
                    continue  # created and spent in the child: nothing to tell the base
                cache[op] = [coin, DIRTY | (flags & FRESH)]
                self._usage += ENTRY_OVERHEAD + (len(coin.output.script_pubkey) if coin else 0)
                continue
            old = ours[0]
            if flags & FRESH and old is not None:
                raise InternalError("FRESH flag misapplied to coin that exists in parent cache")
            if ours[1] & FRESH and coin is None:
                del cache[op]
                self._usage -= ENTRY_OVERHEAD + (len(old.output.script_pubkey) if old else 0)
                continue
            self._usage += ((len(coin.output.script_pubkey) if coin else 0)
                            - (len(old.output.script_pubkey) if old else 0))
            ours[0] = coin
            ours[1] |= DIRTY
        if best_block is not None:
            self._best_block = best_block

    def flush(self, extra: Iterable[tuple[bytes, bytes | None]] = ()) -> None:
        """Write every dirty entry (and the best block) into the base, then empty the cache."""
        extra = list(extra)
        if extra:
            self.base.batch_write(self._cache, self._best_block, extra)
        else:
            self.base.batch_write(self._cache, self._best_block)
        self._cache = {}
        self._usage = 0

    def sync(self, extra: Iterable[tuple[bytes, bytes | None]] = ()) -> None:
        """Like flush, but keep the unspent coins cached (now clean)."""
        extra = list(extra)
        if extra:
            self.base.batch_write(self._cache, self._best_block, extra)
        else:
            self.base.batch_write(self._cache, self._best_block)
        kept = {}
        usage = 0
        for op, entry in self._cache.items():
            coin = entry[0]
            if coin is not None:
                kept[op] = [coin, 0]
                usage += ENTRY_OVERHEAD + len(coin.output.script_pubkey)
        self._cache = kept
        self._usage = usage
