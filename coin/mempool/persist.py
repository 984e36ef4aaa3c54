"""-persistmempool: `mempool.dat` in the network datadir, in Bitcoin Core's format.

Layout (Core's DumpMempool / LoadMempool, kernel/mempool_persist.cpp), little-endian:

    u64 version                         1: plain; 2: obfuscated (Core v28's default)
    [version 2: CompactSize 8, 8-byte key]  every later byte at file offset p is
                                        XORed with key[p % 8]
    u64 count
    count x { transaction (BIP-0144, with witness) | i64 entry time (Unix seconds)
              | i64 fee delta (satoshis, prioritisetransaction) }
    CompactSize n, n x { 32-byte txid | i64 delta }   deltas of txids not in the pool
    CompactSize m, m x { 32-byte txid }               the unbroadcast set

Transactions are written parents first (by ancestor count), so loading re-accepts them
in an order that works. `save_mempool` writes `mempool.dat.new`, fsyncs it and renames
it over `mempool.dat`, so a crash leaves the old file or the new one, never half of one.
`load_mempool` re-applies the fee deltas, re-accepts each transaction with its original
entry time (skipping those older than -mempoolexpiry and any that fail), and returns the
counts. A file Core wrote loads here and vice versa.

Errors: `save_mempool` raises OSError from the file system. `load_mempool` never raises
on file contents: a missing file loads nothing, a bad version or truncated data stops
the load (what was read stays loaded) and is reported in the result.
"""

import logging
import os
import struct

from coin.consensus.errors import Rejection
from coin.primitives import Transaction
from coin.serialize import ByteReader, DecodeError, compact_size

__all__ = [
    "MEMPOOL_DAT",
    "MEMPOOL_DUMP_VERSION_NO_XOR_KEY",
    "MEMPOOL_DUMP_VERSION",
    "mempool_path",
    "save_mempool",
    "load_mempool",
    "dump_bytes",
]

log = logging.getLogger("coin.mempool")

MEMPOOL_DAT = "mempool.dat"
MEMPOOL_DUMP_VERSION_NO_XOR_KEY = 1
MEMPOOL_DUMP_VERSION = 2
_KEY_OFFSET = 8 + 1 + 8     # version, CompactSize(8), key

_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


def mempool_path(datadir) -> str:
    """`<network datadir>/mempool.dat`."""
    return os.path.join(os.fspath(datadir), MEMPOOL_DAT)


def _xor(data: bytes, key: bytes, offset: int) -> bytes:
    if not key or not any(key):
        return bytes(data)
    n = len(key)
    rotated = bytes(key[(offset + i) % n] for i in range(n))
    pattern = (rotated * (len(data) // n + 1))[:len(data)]
    x = int.from_bytes(data, "little") ^ int.from_bytes(pattern, "little")
    return x.to_bytes(len(data), "little")


def dump_bytes(pool, version: int = MEMPOOL_DUMP_VERSION, key: bytes | None = None) -> bytes:
    """The bytes of mempool.dat for `pool` (see the module docstring)."""
    with pool._lock:
        entries = sorted(pool.entries(), key=lambda e: e.count_with_ancestors)
        deltas = dict(pool.fee_deltas())
        unbroadcast = pool.unbroadcast_txids()
        body = [_U64.pack(len(entries))]
        for e in entries:
            body.append(e.tx.to_bytes())
            body.append(_I64.pack(e.time))
            body.append(_I64.pack(e.modified_fee - e.fee))
            deltas.pop(e.txid_bytes, None)
    body.append(compact_size(len(deltas)))
    for txid in sorted(deltas):
        body.append(txid + _I64.pack(deltas[txid]))
    body.append(compact_size(len(unbroadcast)))
    body.extend(unbroadcast)
    data = b"".join(body)
    if version == MEMPOOL_DUMP_VERSION_NO_XOR_KEY:
        return _U64.pack(version) + data
    if version != MEMPOOL_DUMP_VERSION:
        raise ValueError(f"unknown mempool.dat version {version}")
    if key is None:
        key = os.urandom(8)
    if len(key) != 8:
        raise ValueError("the obfuscation key is 8 bytes")
    return _U64.pack(version) + compact_size(8) + key + _xor(data, key, _KEY_OFFSET)


def save_mempool(pool, datadir, *, version: int = MEMPOOL_DUMP_VERSION) -> str:
    """Write `pool` to `<datadir>/mempool.dat` atomically (tmp file, fsync, rename);
    returns the path."""
    path = mempool_path(datadir)
    tmp = path + ".new"
    data = dump_bytes(pool, version)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - directories cannot be fsynced everywhere
        pass
    log.info("Dumped mempool: %d transactions to %s", len(pool), path)
    return path


def load_mempool(pool, datadir, *, now: float | None = None) -> dict:
    """Load `<datadir>/mempool.dat` into `pool` (Core's LoadMempool).

    Returns {"loaded", "failed", "expired", "already_there", "error"}: re-accepted,
    refused, older than the pool's expiry, already in the pool; `error` is None or why
    the file could not be read completely. Marks the pool `loaded`.
    """
    result = {"loaded": 0, "failed": 0, "expired": 0, "already_there": 0, "error": None}
    path = mempool_path(datadir)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        pool.loaded = True
        return result
    now = pool.clock() if now is None else now
    cutoff = int(now) - pool.expiry_seconds
    try:
        reader = ByteReader(raw)
        version = reader.read_u64()
        if version == MEMPOOL_DUMP_VERSION:
            key = reader.read_var_bytes(8)
            reader = ByteReader(raw[:reader.pos] + _xor(raw[reader.pos:], key, reader.pos),
                                reader.pos)
        elif version != MEMPOOL_DUMP_VERSION_NO_XOR_KEY:
            raise DecodeError(f"unknown mempool.dat version {version}")
        count = reader.read_u64()
        for _ in range(count):
            tx = Transaction.read_from(reader)
            entry_time = reader.read_i64()
            delta = reader.read_i64()
            if delta:
                pool.prioritise(tx.txid_bytes, delta)
            if entry_time <= cutoff:
                result["expired"] += 1
                continue
            try:
                pool.accept(tx, accept_time=entry_time)
                result["loaded"] += 1
            except Rejection as r:
                if pool.contains(tx.txid_bytes):
                    result["already_there"] += 1
                else:
                    result["failed"] += 1
                    log.debug("mempool.dat: %s not re-accepted: %s", tx.txid, r)
        for _ in range(reader.read_compact_size()):
            txid = reader.read_hash()
            pool.prioritise(txid, reader.read_i64())
        for _ in range(reader.read_compact_size()):
            pool.add_unbroadcast(reader.read_hash())
    except DecodeError as e:
        result["error"] = str(e)
        log.warning("Failed to deserialize mempool data on file %s: %s", path, e)
    pool.loaded = True
    log.info("Imported mempool transactions from disk: %d succeeded, %d failed, %d expired, "
             "%d already there", result["loaded"], result["failed"], result["expired"],
             result["already_there"])
    return result
