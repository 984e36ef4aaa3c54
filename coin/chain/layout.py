"""The chain database schema: every LevelDB key and record, built in this one module.

One LevelDB (plyvel) holds the block index, the UTXO set, the best-block marker and
the block-file bookkeeping. Every key starts with a one-byte prefix naming its record
(bcoin's lib/blockchain/layout.js, btcd's blockchain/chainio.go). Integers are
little-endian unless the layout says otherwise; hashes are the 32 raw bytes in
internal (serialization) order, never display hex. Raw blocks and undo data are not
in the database: they live in blk/rev files (`coin.chain.blockfiles`) and the index
records point at them.

Records
-------

``V`` -> database version (u32 LE)::

    key   56
    value 01000000                       version 1

``B`` -> best block: the block the UTXO set in this database is the state after
(Core's DB_BEST_BLOCK). Written in the same atomic batch as the coins it describes,
so the coins and the marker can never disagree::

    key   42
    value 6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000
          (mainnet genesis 000000000019d6...e26f, internal byte order)

``b`` + block hash (32) -> block index entry (104 bytes)::

    offset size field
    0      80   block header, as serialized on the wire
    80     4    height                         u32 LE
    84     4    status flags (BlockStatus)     u32 LE
    88     4    transaction count (0 = no data) u32 LE
    92     4    file number of blk/rev file    i32 LE (-1 = no data stored)
    96     4    offset of the block in blkNNNNN.dat (after its 8-byte record header) u32 LE
    100    4    offset of the undo in revNNNNN.dat (after its 8-byte record header)  u32 LE

    Example, mainnet block 1 stored in blk00000.dat at offset 301 (after the
    293-byte genesis record and block 1's own 8-byte record header), its undo
    at offset 8 of rev00000.dat, status VALID_HEADER|VALID_TREE|VALID_TRANSACTIONS|
    VALID_CHAIN|VALID_SCRIPTS|HAVE_DATA|HAVE_UNDO = 0x7f (coin.chain.blockindex.BlockStatus):
    key   62 4860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000
    value 010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000
          982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e
          61bc6649ffff001d01e36299                       header (80)
          01000000                                       height 1
          7f000000                                       status
          01000000                                       1 transaction
          00000000                                       file 0
          2d010000                                       data offset 301
          08000000                                       undo offset 8

    Chain work is not stored: it is the sum of the ancestors' work, recomputed from
    the headers' bits at load.

``C`` + txid (32) + output index (u32 BIG-endian, so keys sort by (txid, index)) ->
unspent coin (Core's Coin: height, coinbase flag, output)::

    offset size field
    0      4    code = height * 2 + is_coinbase   u32 LE
    4      8    value in satoshis                 i64 LE
    12     var  script_pubkey, CompactSize length prefix

    Example, output 0 of mainnet block 1's coinbase
    (0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098:0):
    key   43 982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e
          00000000                                       index 0
    value 03000000                                       height 1, coinbase
          00f2052a01000000                               5000000000 sat
          43 410496b538e853519c726a2c91e61ec11600ae1390813a627c66fb8be7947be6
             3c52da7589379515d4e0a604f8141781e62294721166bf621e73a82cbf2342c8
             58eeac                                      67-byte P2PK script

``f`` + file number (u32 BIG-endian) -> block file info (Core's CBlockFileInfo)::

    offset size field
    0      4    blocks in the file           u32 LE
    4      4    bytes used in blkNNNNN.dat   u32 LE
    8      4    bytes used in revNNNNN.dat   u32 LE
    12     4    lowest block height          u32 LE
    16     4    highest block height         u32 LE
    20     4    earliest block time          u32 LE
    24     4    latest block time            u32 LE

    Example: 66 00000000 -> 01000000 25010000 00000000 00000000 00000000
    29ab5f49 29ab5f49 (blk00000.dat holding only the mainnet genesis: 1 block,
    293 bytes (8-byte record header + 285-byte block), no undo, height 0..0,
    time 1231006505).

``l`` -> number of the last block file written to (u32 LE)::

    key 6c  value 00000000

``R`` -> reindex in progress (value 01). Present from the start of a reindex until it
completes, so a node killed mid-reindex resumes it on restart (Core's DB_REINDEX_FLAG).

Crash safety does not need Core's head-blocks marker (DB_HEAD_BLOCKS): the coins, the
best-block marker and the dirty index entries are always written in ONE LevelDB batch.
"""

import struct
from typing import NamedTuple

from coin.serialize import ByteReader, DecodeError, compact_size

__all__ = [
    "DB_VERSION",
    "PREFIX_VERSION",
    "PREFIX_BEST_BLOCK",
    "PREFIX_BLOCK_INDEX",
    "PREFIX_COIN",
    "PREFIX_FILE_INFO",
    "PREFIX_LAST_FILE",
    "PREFIX_REINDEX",
    "NO_FILE",
    "version_key",
    "best_block_key",
    "block_index_key",
    "coin_key",
    "coin_key_outpoint",
    "file_info_key",
    "last_file_key",
    "reindex_key",
    "encode_version",
    "decode_version",
    "IndexRecord",
    "encode_index_record",
    "decode_index_record",
    "encode_coin",
    "decode_coin",
    "FileInfo",
    "encode_file_info",
    "decode_file_info",
    "encode_u32",
    "decode_u32",
]

DB_VERSION = 1

PREFIX_VERSION = b"V"
PREFIX_BEST_BLOCK = b"B"
PREFIX_BLOCK_INDEX = b"b"
PREFIX_COIN = b"C"
PREFIX_FILE_INFO = b"f"
PREFIX_LAST_FILE = b"l"
PREFIX_REINDEX = b"R"

NO_FILE = -1  # file number of an index entry whose block data is not stored

_U32 = struct.Struct("<I")
_U32BE = struct.Struct(">I")
_INDEX_TAIL = struct.Struct("<IIIiII")  # height, status, n_tx, file, data_pos, undo_pos
_COIN_HEAD = struct.Struct("<Iq")       # code, value
_FILE_INFO = struct.Struct("<IIIIIII")


# -- keys ------------------------------------------------------------------------------

def version_key() -> bytes:
    return PREFIX_VERSION


def best_block_key() -> bytes:
    return PREFIX_BEST_BLOCK


def block_index_key(hash_bytes: bytes) -> bytes:
    if len(hash_bytes) != 32:
        raise ValueError("block hash must be 32 bytes")
    return PREFIX_BLOCK_INDEX + hash_bytes


def coin_key(txid_bytes: bytes, index: int) -> bytes:
    return PREFIX_COIN + txid_bytes + _U32BE.pack(index)


def coin_key_outpoint(key: bytes) -> tuple[bytes, int]:
    """The (txid_bytes, index) a coin key was built from."""
    if len(key) != 37 or key[:1] != PREFIX_COIN:
        raise DecodeError("not a coin key")
    return key[1:33], _U32BE.unpack_from(key, 33)[0]


def file_info_key(file_no: int) -> bytes:
    return PREFIX_FILE_INFO + _U32BE.pack(file_no)


def last_file_key() -> bytes:
    return PREFIX_LAST_FILE


def reindex_key() -> bytes:
    return PREFIX_REINDEX


# -- values ----------------------------------------------------------------------------

def encode_u32(n: int) -> bytes:
    return _U32.pack(n)


def decode_u32(data: bytes) -> int:
    if len(data) != 4:
        raise DecodeError("u32 record must be 4 bytes")
    return _U32.unpack(data)[0]


encode_version = encode_u32
decode_version = decode_u32


class IndexRecord(NamedTuple):
    """A block index entry as stored: the fields of the ``b`` record."""

    header_bytes: bytes
    height: int
    status: int
    n_tx: int
    file_no: int
    data_pos: int
    undo_pos: int


def encode_index_record(rec: IndexRecord) -> bytes:
    if len(rec.header_bytes) != 80:
        raise ValueError("header must be 80 bytes")
    return rec.header_bytes + _INDEX_TAIL.pack(rec.height, rec.status, rec.n_tx, rec.file_no,
                                               rec.data_pos, rec.undo_pos)


def decode_index_record(data: bytes) -> IndexRecord:
    if len(data) != 80 + _INDEX_TAIL.size:
        raise DecodeError(f"block index record must be {80 + _INDEX_TAIL.size} bytes, not {len(data)}")
    return IndexRecord(bytes(data[:80]), *_INDEX_TAIL.unpack_from(data, 80))


def encode_coin(value: int, script_pubkey: bytes, height: int, is_coinbase: bool) -> bytes:
    """The ``C`` record value of an unspent output."""
    return (_COIN_HEAD.pack(height * 2 + (1 if is_coinbase else 0), value)
            + compact_size(len(script_pubkey)) + script_pubkey)


def decode_coin(data: bytes) -> tuple[int, bytes, int, bool]:
    """(value, script_pubkey, height, is_coinbase) of a ``C`` record; DecodeError if malformed."""
    r = ByteReader(data)
    code = r.read_u32()
    value = r.read_i64()
    script = r.read_var_bytes()
    r.expect_end()
    return value, script, code >> 1, bool(code & 1)


class FileInfo(NamedTuple):
    """Core's CBlockFileInfo: what one blkNNNNN.dat / revNNNNN.dat pair holds."""

    blocks: int = 0
    size: int = 0
    undo_size: int = 0
    height_first: int = 0
    height_last: int = 0
    time_first: int = 0
    time_last: int = 0

    def add_block(self, height: int, time: int, size: int) -> "FileInfo":
        if self.blocks == 0:
            return FileInfo(1, size, self.undo_size, height, height, time, time)
        return FileInfo(self.blocks + 1, size, self.undo_size,
                        min(self.height_first, height), max(self.height_last, height),
                        min(self.time_first, time), max(self.time_last, time))


def encode_file_info(info: FileInfo) -> bytes:
    return _FILE_INFO.pack(*info)


def decode_file_info(data: bytes) -> FileInfo:
    if len(data) != _FILE_INFO.size:
        raise DecodeError("file info record must be 28 bytes")
    return FileInfo(*_FILE_INFO.unpack(data))
