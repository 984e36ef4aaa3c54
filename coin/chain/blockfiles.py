"""Raw blocks and undo data in append-only files, in Bitcoin Core's blk/rev format.

Layout (Core's FlatFileSeq, so `-loadblock` reads files Core wrote and Core reads ours):

- ``<netdatadir>/blocks/blkNNNNN.dat``: records of ``magic (4) | length (u32 LE) |
  block (length bytes, witness serialization)``. A new file is started when the next
  record would take the current one past `MAX_BLOCKFILE_SIZE` (128 MiB).
- ``<netdatadir>/blocks/revNNNNN.dat``: the undo data of the blocks stored in
  blkNNNNN.dat, records of ``magic | length | undo bytes | checksum (32)`` where the
  checksum is sha256d(hash of the block's PARENT || undo bytes), as Core's
  WriteUndoDataForBlock computes it (Core hashes `pindex->pprev->GetBlockHash()`).

A position (`FilePos`) names the file number and the offset of the data itself, after
the 8-byte record header, as Core's FlatFilePos does.

Durability: the current blk and rev files stay open for appending, their writes
buffered in memory (up to WRITE_BUFFER bytes each, as Core's stdio-buffered AutoFile
does): a block costs no system call, and so no hand-off of the GIL, in the common
case. `flush()` hands the buffers to the OS, `sync()` flushes and fsyncs every file
written since the last sync; the chain state syncs before it writes any index entry
that points into those files, so a killed process loses only records nothing refers
to. Reading a record first flushes the file it is in. `close()` flushes and closes.
If writing fails (disk full, I/O error), the buffered records are lost with their
positions already handed out: every later write, sync or read raises InternalError
until the node restarts (start-up reconciles the file sizes), and `on_fatal(message)`
is called once, so the node can shut down as Core's AbortNode does.

`read_blk_file()` iterates a blk-format file the way Core's LoadExternalBlockFile does:
it scans for the network magic (so zero padding between records, which Core leaves
after pre-allocating, is skipped), skips records that do not parse, and stops cleanly
at a truncated final record.

Errors: reading a position whose record is missing, has the wrong magic or a bad
checksum raises `coin.consensus.errors.InternalError` (a corrupt datadir, never a
peer's fault).
"""

import contextlib
import mmap
import os
import struct
from collections.abc import Callable, Iterator
from typing import NamedTuple

from coin.chain.layout import FileInfo
from coin.consensus.errors import InternalError
from coin.crypto.hashes import sha256d
from coin.primitives import Block
from coin.serialize import DecodeError

__all__ = [
    "MAX_BLOCKFILE_SIZE",
    "MAX_BLOCK_RECORD_SIZE",
    "FilePos",
    "BlockFiles",
    "blk_path",
    "rev_path",
    "read_blk_file",
    "iter_blk_records",
]

MAX_BLOCKFILE_SIZE = 0x8000000        # 128 MiB, Core's MAX_BLOCKFILE_SIZE
MAX_BLOCK_RECORD_SIZE = 4_000_000     # MAX_BLOCK_SERIALIZED_SIZE: larger lengths are garbage
WRITE_BUFFER = 1 << 20                # bytes buffered per open blk / rev file
_HEADER = struct.Struct("<4sI")


class FilePos(NamedTuple):
    """Where a record's data starts: file number and byte offset after its 8-byte header."""

    file_no: int
    pos: int


def blk_path(blocks_dir: str, file_no: int) -> str:
    return os.path.join(blocks_dir, f"blk{file_no:05d}.dat")


def rev_path(blocks_dir: str, file_no: int) -> str:
    return os.path.join(blocks_dir, f"rev{file_no:05d}.dat")


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlockFiles:
    """The blk/rev files of one network datadir.

    `infos` (file number -> FileInfo) and `last_file` come from the database; the
    write offsets are the files' real sizes on disk, so data appended after the last
    database write (and not referenced by anything) is kept, never overwritten.
    """

    def __init__(self, blocks_dir: str | os.PathLike, magic: bytes, *,
                 infos: dict[int, FileInfo] | None = None, last_file: int = 0,
                 max_file_size: int = MAX_BLOCKFILE_SIZE,
                 on_fatal: Callable[[str], None] | None = None):
        self.blocks_dir = os.fspath(blocks_dir)
        os.makedirs(self.blocks_dir, exist_ok=True)
        self.magic = bytes(magic)
        self.max_file_size = max_file_size
        self.infos: dict[int, FileInfo] = dict(infos or {})
        self.last_file = last_file
        self._dirty_infos: set[int] = set()
        self._unsynced: set[str] = set()
        # The open blk and rev file: [path, buffered file, offset of its end].
        self._appenders: dict[str, list] = {}
        self._write_error: str | None = None
        self.on_fatal = on_fatal
        for n in range(0, last_file + 1):
            self._reconcile(n)

    def _reconcile(self, n: int) -> None:
        info = self.infos.get(n, FileInfo())
        size = os.path.getsize(blk_path(self.blocks_dir, n)) if os.path.exists(
            blk_path(self.blocks_dir, n)) else 0
        undo = os.path.getsize(rev_path(self.blocks_dir, n)) if os.path.exists(
            rev_path(self.blocks_dir, n)) else 0
        if size != info.size or undo != info.undo_size:
            self.infos[n] = info._replace(size=size, undo_size=undo)
            self._dirty_infos.add(n)

    # -- writing ---------------------------------------------------------------------

    def write_block(self, block_bytes: bytes, height: int = 0, time: int = 0) -> FilePos:
        """Append one block record; returns the position of the block bytes."""
        n = self.last_file
        info = self.infos.get(n, FileInfo())
        add = _HEADER.size + len(block_bytes)
        if info.size > 0 and info.size + add > self.max_file_size:
            n = self.last_file = n + 1
            info = self.infos.get(n, FileInfo())
            self._dirty_infos.add(n)
        path = blk_path(self.blocks_dir, n)
        offset = self._append("blk", path, _HEADER.pack(self.magic, len(block_bytes)), block_bytes)
        self.infos[n] = info.add_block(height, time, offset + add)
        self._dirty_infos.add(n)
        return FilePos(n, offset + _HEADER.size)

    def write_undo(self, file_no: int, undo_bytes: bytes, prev_hash_bytes: bytes) -> int:
        """Append an undo record to revNNNNN.dat of `file_no`; returns its data offset."""
        path = rev_path(self.blocks_dir, file_no)
        checksum = sha256d(prev_hash_bytes + undo_bytes)
        offset = self._append("rev", path, _HEADER.pack(self.magic, len(undo_bytes)), undo_bytes, checksum)
        end = offset + _HEADER.size + len(undo_bytes) + len(checksum)
        info = self.infos.get(file_no, FileInfo())
        self.infos[file_no] = info._replace(undo_size=end)
        self._dirty_infos.add(file_no)
        return offset + _HEADER.size

    def _append(self, kind: str, path: str, *parts: bytes) -> int:
        """Append `parts` to `path` through the open `kind` file; returns the offset
        they start at (the end of the file as it was)."""
        self._check_writable()
        try:
            a = self._appenders.get(kind)
            if a is None or a[0] != path:
                if a is not None:
                    del self._appenders[kind]
                    a[1].close()
                new_file = not os.path.exists(path)
                f = open(path, "ab", buffering=WRITE_BUFFER)  # noqa: SIM115 - kept open
                a = self._appenders[kind] = [path, f, f.seek(0, os.SEEK_END)]
                if new_file:
                    _fsync_path(self.blocks_dir)
            offset = a[2]
            write = a[1].write
            for part in parts:
                write(part)
                a[2] += len(part)
        except OSError as e:
            self._fail(e)
        self._unsynced.add(path)
        return offset

    @property
    def write_error(self) -> str | None:
        """Why writing failed (then nothing more is written until a restart), or None."""
        return self._write_error

    def _check_writable(self) -> None:
        if self._write_error is not None:
            raise InternalError(f"an earlier write to the block files failed ({self._write_error}): "
                                "restart the node once the cause is fixed")

    def _fail(self, error: OSError):
        """Latch a failed write: drop the open files (and what they buffered), tell
        `on_fatal`, raise."""
        self._write_error = str(error)
        appenders, self._appenders = self._appenders, {}
        for a in appenders.values():
            with contextlib.suppress(OSError):
                a[1].close()
        message = f"writing the block files failed: {error}"
        if self.on_fatal is not None:
            self.on_fatal(message)
        raise InternalError(message) from error

    def flush(self, path: str | None = None) -> None:
        """Hand buffered writes (of `path` only, if given) to the OS."""
        self._check_writable()
        try:
            for a in list(self._appenders.values()):
                if path is None or a[0] == path:
                    a[1].flush()
        except OSError as e:
            self._fail(e)

    def close(self) -> None:
        """Flush and close the open files (writing again reopens them)."""
        appenders, self._appenders = self._appenders, {}
        for a in appenders.values():
            if self._write_error is None:
                try:
                    a[1].close()
                except OSError as e:
                    self._write_error = str(e)
            else:
                with contextlib.suppress(OSError):
                    a[1].close()

    def sync(self, *, blocks_only: bool = False) -> None:
        """Flush, then fsync every file written since the last sync (only blk files if
        `blocks_only`)."""
        self.flush()
        open_files = {a[0]: a[1] for a in self._appenders.values()}
        for path in sorted(self._unsynced):
            if blocks_only and not os.path.basename(path).startswith("blk"):
                continue
            f = open_files.get(path)
            try:
                if f is not None:
                    os.fsync(f.fileno())
                else:
                    _fsync_path(path)
            except OSError as e:
                self._fail(e)
            self._unsynced.discard(path)

    @property
    def needs_sync(self) -> bool:
        return bool(self._unsynced)

    def take_dirty_infos(self) -> dict[int, FileInfo]:
        """The file infos changed since the last call (for the next database batch)."""
        out = {n: self.infos[n] for n in sorted(self._dirty_infos) if n in self.infos}
        self._dirty_infos.clear()
        return out

    def size_on_disk(self) -> int:
        return sum(i.size + i.undo_size for i in self.infos.values())

    # -- reading ---------------------------------------------------------------------

    def _read_record(self, path: str, pos: int, extra: int = 0) -> bytes:
        if pos < _HEADER.size:
            raise InternalError(f"bad record offset {pos} in {path}")
        self.flush(path)
        try:
            with open(path, "rb") as f:
                f.seek(pos - _HEADER.size)
                head = f.read(_HEADER.size)
                if len(head) != _HEADER.size:
                    raise InternalError(f"no record at {path}:{pos}")
                magic, length = _HEADER.unpack(head)
                if magic != self.magic:
                    raise InternalError(f"bad magic at {path}:{pos}")
                data = f.read(length + extra)
        except OSError as e:
            raise InternalError(f"cannot read {path}: {e}") from e
        if len(data) != length + extra:
            raise InternalError(f"truncated record at {path}:{pos}")
        return data

    def read_block_bytes(self, pos: FilePos) -> bytes:
        return self._read_record(blk_path(self.blocks_dir, pos.file_no), pos.pos)

    def read_block(self, pos: FilePos) -> Block:
        data = self.read_block_bytes(pos)
        try:
            return Block.from_bytes(data)
        except DecodeError as e:
            raise InternalError(f"corrupt block at {pos}: {e}") from e

    def read_undo(self, file_no: int, pos: int, prev_hash_bytes: bytes) -> bytes:
        """The undo bytes at `pos`, checked against their checksum (InternalError if bad)."""
        data = self._read_record(rev_path(self.blocks_dir, file_no), pos, extra=32)
        undo, checksum = data[:-32], data[-32:]
        if sha256d(prev_hash_bytes + undo) != checksum:
            raise InternalError(f"undo checksum mismatch at rev{file_no:05d}.dat:{pos}")
        return undo

    def block_file_numbers(self) -> list[int]:
        """Numbers of the blkNNNNN.dat files present, in order."""
        out = []
        for name in os.listdir(self.blocks_dir):
            if name.startswith("blk") and name.endswith(".dat") and name[3:-4].isdigit():
                out.append(int(name[3:-4]))
        return sorted(out)


def iter_blk_records(data, magic: bytes, start: int = 0) -> Iterator[tuple[int, int]]:
    """(data offset, length) of each plausible record in a blk-format buffer.

    Scans for `magic`, so padding and garbage between records are skipped; a record
    whose length is implausible is skipped; iteration stops at a truncated record.
    The caller may resume scanning at `offset - 7` if the record turns out bad.
    """
    end = len(data)
    pos = start
    while True:
        i = data.find(magic, pos)
        if i < 0 or i + _HEADER.size > end:
            return
        length = _HEADER.unpack_from(data, i)[1]
        if length < 80 or length > MAX_BLOCK_RECORD_SIZE:
            pos = i + 1
            continue
        body = i + _HEADER.size
        if body + length > end:
            return  # truncated final record
        yield body, length
        pos = body + length


def read_blk_file(path: str | os.PathLike, magic: bytes) -> Iterator[tuple[int, Block]]:
    """Yield (offset of block data, Block) for each block in a blk-format file.

    Tolerates zero padding and garbage between records, skips records that fail to
    parse (resuming the scan one byte after their magic, as Core does) and stops
    cleanly at a truncated last record.
    """
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = 0
            while True:
                rec = next(iter_blk_records(mm, magic, pos), None)
                if rec is None:
                    return
                body, length = rec
                try:
                    block = Block.from_bytes(mm[body:body + length])
                except DecodeError:
                    pos = body - _HEADER.size + 1
                    continue
                yield body, block
                pos = body + length
