"""A thin wrapper over one plyvel LevelDB: get, put, delete, prefix iteration, atomic batches.

Keys are built only by `coin.chain.layout`. Writes that must survive a power cut go
through `batch(sync=True)`; a batch is applied atomically (all of it or none of it) when
its `with` block exits normally and discarded if the block raises.
"""

import contextlib
import os
from collections.abc import Iterator

import plyvel

__all__ = ["ChainDB"]


class ChainDB:
    """One LevelDB directory at `path` (created if missing)."""

    def __init__(self, path: str | os.PathLike, *, create_if_missing: bool = True,
                 lru_cache_size: int = 8 << 20, write_buffer_size: int = 16 << 20):
        self.path = os.fspath(path)
        os.makedirs(self.path, exist_ok=True)
        self._db = plyvel.DB(self.path, create_if_missing=create_if_missing,
                             lru_cache_size=lru_cache_size, write_buffer_size=write_buffer_size)

    @property
    def closed(self) -> bool:
        return self._db.closed

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        return self._db.get(key, default)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self._db.put(key, value, sync=sync)

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        self._db.delete(key, sync=sync)

    def iterate_prefix(self, prefix: bytes, *, include_value: bool = True) -> Iterator:
        """(key, value) pairs (or keys) whose key starts with `prefix`, in key order."""
        return self._db.iterator(prefix=prefix, include_value=include_value)

    @contextlib.contextmanager
    def batch(self, *, sync: bool = True):
        """Collect puts/deletes and write them atomically on exit (nothing on an exception)."""
        with self._db.write_batch(transaction=True, sync=sync) as wb:
            yield wb

    def approximate_size(self) -> int:
        """Bytes the database occupies on disk."""
        total = 0
        for name in os.listdir(self.path):
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(self.path, name))
        return total

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> "ChainDB":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
