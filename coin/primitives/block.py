"""Block headers, blocks and merkle roots, byte-exact with Bitcoin.

Header (80 bytes): version i32 | prev_hash 32 | merkle_root 32 | time u32 | bits u32 |
nonce u32. A block is its header, a CompactSize transaction count and the
transactions (BIP-0144 encoding when they carry witnesses).

Decoding is strict (see `coin.serialize`); a parsed block keeps its bytes, so
`to_bytes()` returns them unchanged. The block hash is sha256d of the header, computed
once. Hash attributes: `hash` / `prev_hash` / `merkle_root` are display hex,
`*_bytes` the raw internal order.
"""

import struct

from coin.crypto.hashes import sha256d
from coin.primitives.transaction import _parse_transaction, _read_cs
from coin.serialize import ByteReader, DecodeError, compact_size, hash_to_hex

__all__ = ["BlockHeader", "Block", "merkle_root", "HEADER_SIZE"]

HEADER_SIZE = 80
_HEADER = struct.Struct("<i32s32sIII")


def merkle_root(hashes: list[bytes]) -> tuple[bytes, bool]:
    """Core's ComputeMerkleRoot: (root, mutated).

    `mutated` is True when two adjacent hashes at some level are equal: the
    CVE-2012-2459 malleation, where duplicating the last transactions yields the same
    root (`bad-txns-duplicate`). An empty list gives the zero hash.
    """
    if not hashes:
        return b"\x00" * 32, False
    level = list(hashes)
    mutated = False
    while len(level) > 1:
        for pos in range(0, len(level) - 1, 2):
            if level[pos] == level[pos + 1]:
                mutated = True
        if len(level) & 1:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0], mutated


class BlockHeader:
    """An 80-byte block header (immutable)."""

    __slots__ = ("version", "prev_hash_bytes", "merkle_root_bytes", "time", "bits", "nonce",
                 "_raw", "_hash")

    def __init__(self, version: int, prev_hash_bytes: bytes, merkle_root_bytes: bytes,
                 time: int, bits: int, nonce: int):
        if len(prev_hash_bytes) != 32 or len(merkle_root_bytes) != 32:
            raise ValueError("header hashes must be 32 bytes")
        s = object.__setattr__
        s(self, "version", version)
        s(self, "prev_hash_bytes", prev_hash_bytes)
        s(self, "merkle_root_bytes", merkle_root_bytes)
        s(self, "time", time)
        s(self, "bits", bits)
        s(self, "nonce", nonce)
        s(self, "_raw", None)
        s(self, "_hash", None)

    def __setattr__(self, name, value):
        raise AttributeError(f"BlockHeader is immutable: cannot set {name}")

    @classmethod
    def from_bytes(cls, data: bytes) -> "BlockHeader":
        if len(data) != HEADER_SIZE:
            raise DecodeError(f"header must be {HEADER_SIZE} bytes, not {len(data)}")
        return cls._unpack(data, 0)

    @classmethod
    def _unpack(cls, data, pos: int) -> "BlockHeader":
        header = cls(*_HEADER.unpack_from(data, pos))
        object.__setattr__(header, "_raw", bytes(data[pos:pos + HEADER_SIZE]))
        return header

    @classmethod
    def read_from(cls, reader: ByteReader) -> "BlockHeader":
        pos = reader.pos
        reader.skip(HEADER_SIZE)
        return cls._unpack(reader.data, pos)

    def to_bytes(self) -> bytes:
        raw = self._raw
        if raw is None:
            raw = _HEADER.pack(self.version, self.prev_hash_bytes, self.merkle_root_bytes,
                               self.time, self.bits, self.nonce)
            object.__setattr__(self, "_raw", raw)
        return raw

    @property
    def hash_bytes(self) -> bytes:
        h = self._hash
        if h is None:
            h = sha256d(self.to_bytes())
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def hash(self) -> str:
        return hash_to_hex(self.hash_bytes)

    @property
    def prev_hash(self) -> str:
        return hash_to_hex(self.prev_hash_bytes)

    @property
    def merkle_root(self) -> str:
        return hash_to_hex(self.merkle_root_bytes)

    def replace(self, **changes) -> "BlockHeader":
        """A copy with some fields changed (e.g. `nonce=`), for builders and miners."""
        fields = {name: getattr(self, name) for name in
                  ("version", "prev_hash_bytes", "merkle_root_bytes", "time", "bits", "nonce")}
        fields.update(changes)
        return BlockHeader(**fields)

    def __eq__(self, other) -> bool:
        if not isinstance(other, BlockHeader):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.hash_bytes)

    def __repr__(self) -> str:
        return (f"BlockHeader(hash={self.hash}, version={self.version:#x}, prev={self.prev_hash}, "
                f"time={self.time}, bits={self.bits:#x}, nonce={self.nonce})")


class Block:
    """A block: header and transactions (immutable)."""

    __slots__ = ("header", "txs", "_raw")

    def __init__(self, header: BlockHeader, txs):
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "txs", tuple(txs))
        object.__setattr__(self, "_raw", None)

    def __setattr__(self, name, value):
        raise AttributeError(f"Block is immutable: cannot set {name}")

    @classmethod
    def from_bytes(cls, data: bytes) -> "Block":
        """Parse exactly one block; trailing bytes raise DecodeError."""
        block, pos = cls._parse(data, 0, len(data))
        if pos != len(data):
            raise DecodeError(f"trailing data: {len(data) - pos} bytes after block")
        return block

    @classmethod
    def read_from(cls, reader: ByteReader) -> "Block":
        block, reader.pos = cls._parse(reader.data, reader.pos, len(reader.data))
        return block

    @classmethod
    def _parse(cls, data, pos: int, end: int) -> tuple["Block", int]:
        start = pos
        if pos + HEADER_SIZE > end:
            raise DecodeError("truncated block header")
        header = BlockHeader._unpack(data, pos)
        n, pos = _read_cs(data, pos + HEADER_SIZE, end)
        # The smallest transaction is 10 bytes: refuse counts the data cannot hold.
        if n * 10 > end - pos:
            raise DecodeError(f"transaction count {n} exceeds the data")
        txs = []
        for _ in range(n):
            tx, pos = _parse_transaction(data, pos, end)
            txs.append(tx)
        block = cls(header, txs)
        object.__setattr__(block, "_raw", bytes(data[start:pos]))
        return block, pos

    def to_bytes(self, witness: bool = True) -> bytes:
        if not witness:
            return b"".join([self.header.to_bytes(), compact_size(len(self.txs))]
                            + [tx.to_bytes(witness=False) for tx in self.txs])
        raw = self._raw
        if raw is None:
            raw = b"".join([self.header.to_bytes(), compact_size(len(self.txs))]
                           + [tx.to_bytes() for tx in self.txs])
            object.__setattr__(self, "_raw", raw)
        return raw

    @property
    def hash_bytes(self) -> bytes:
        return self.header.hash_bytes

    @property
    def hash(self) -> str:
        return self.header.hash

    @property
    def base_size(self) -> int:
        return len(self.to_bytes(witness=False))

    @property
    def total_size(self) -> int:
        return len(self.to_bytes())

    @property
    def weight(self) -> int:
        return self.base_size * 3 + self.total_size

    def compute_merkle_root(self) -> tuple[bytes, bool]:
        """(root over txids, mutated); see `merkle_root`."""
        return merkle_root([tx.txid_bytes for tx in self.txs])

    def compute_witness_merkle_root(self) -> tuple[bytes, bool]:
        """Root over wtxids with the coinbase's taken as zero (BIP-0141)."""
        hashes = [b"\x00" * 32] + [tx.wtxid_bytes for tx in self.txs[1:]]
        return merkle_root(hashes)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Block):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.hash_bytes)

    def __repr__(self) -> str:
        return f"Block(hash={self.hash}, txs={len(self.txs)})"
