"""Bitcoin's byte encodings: one strict reader, and the writers that mirror it.

Every decoder in the project reads through `ByteReader`, so every decoder is strict in
the same way (python-bitcoinlib's and rust-bitcoin's rules):

- a read past the end raises `DecodeError` ("truncated"), never IndexError;
- CompactSize must be minimally encoded ("non-canonical CompactSize") and no larger
  than `MAX_SIZE` (Core's 0x02000000), so an absurd count or length is refused before
  anything is allocated;
- `expect_end()` raises on trailing bytes.

Numbers are little-endian as on the wire; hashes are read as 32 raw bytes in internal
order (display order is reversed; see `coin.primitives`).
"""

import struct

__all__ = [
    "MAX_SIZE",
    "DecodeError",
    "ByteReader",
    "compact_size",
    "var_bytes",
    "hash_to_hex",
    "hex_to_hash",
]

MAX_SIZE = 0x02000000  # Core's MAX_SIZE: largest CompactSize a decoder accepts

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


class DecodeError(ValueError):
    """Bytes that are not a valid encoding: truncated, trailing, non-canonical or absurd."""


class ByteReader:
    """A cursor over bytes with strict, bounds-checked reads.

    Works on `bytes` or `memoryview` without copying the buffer; `read(n)` returns a
    `bytes` copy of exactly `n` bytes.
    """

    __slots__ = ("_data", "pos", "_end")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0):
        self._data = data
        self.pos = pos
        self._end = len(data)

    @property
    def remaining(self) -> int:
        return self._end - self.pos

    @property
    def data(self) -> bytes | bytearray | memoryview:
        return self._data

    def at_end(self) -> bool:
        return self.pos >= self._end

    def expect_end(self) -> None:
        """Raise DecodeError if any bytes are left unread."""
        if self.pos != self._end:
            raise DecodeError(f"trailing data: {self._end - self.pos} bytes")

    def read(self, n: int) -> bytes:
        pos = self.pos
        end = pos + n
        if n < 0 or end > self._end:
            raise DecodeError(f"truncated: wanted {n} bytes at offset {pos}, {self._end - pos} left")
        self.pos = end
        return bytes(self._data[pos:end])

    def skip(self, n: int) -> None:
        end = self.pos + n
        if n < 0 or end > self._end:
            raise DecodeError(f"truncated: cannot skip {n} bytes at offset {self.pos}")
        self.pos = end

    def read_hash(self) -> bytes:
        return self.read(32)

    def read_u8(self) -> int:
        pos = self.pos
        if pos >= self._end:
            raise DecodeError(f"truncated: wanted 1 byte at offset {pos}")
        self.pos = pos + 1
        return self._data[pos]

    def _unpack(self, st: struct.Struct) -> int:
        pos = self.pos
        if pos + st.size > self._end:
            raise DecodeError(f"truncated: wanted {st.size} bytes at offset {pos}")
        self.pos = pos + st.size
        return st.unpack_from(self._data, pos)[0]

    def read_u16(self) -> int:
        return self._unpack(_U16)

    def read_u32(self) -> int:
        return self._unpack(_U32)

    def read_i32(self) -> int:
        return self._unpack(_I32)

    def read_u64(self) -> int:
        return self._unpack(_U64)

    def read_i64(self) -> int:
        return self._unpack(_I64)

    def read_compact_size(self, max_value: int = MAX_SIZE) -> int:
        """Read a CompactSize; raise on non-minimal encodings and values over `max_value`."""
        first = self.read_u8()
        if first < 0xFD:
            value = first
        elif first == 0xFD:
            value = self._unpack(_U16)
            if value < 0xFD:
                raise DecodeError("non-canonical CompactSize")
        elif first == 0xFE:
            value = self._unpack(_U32)
            if value < 0x10000:
                raise DecodeError("non-canonical CompactSize")
        else:
            value = self._unpack(_U64)
            if value < 0x100000000:
                raise DecodeError("non-canonical CompactSize")
        if value > max_value:
            raise DecodeError(f"CompactSize {value} exceeds limit {max_value}")
        return value

    def read_var_bytes(self, max_len: int = MAX_SIZE) -> bytes:
        """A CompactSize length followed by that many bytes (checked before reading)."""
        n = self.read_compact_size(max_len)
        return self.read(n)


def compact_size(n: int) -> bytes:
    """Encode `n` as a minimal CompactSize."""
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + _U16.pack(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


def var_bytes(b: bytes) -> bytes:
    """A CompactSize length prefix followed by `b`."""
    return compact_size(len(b)) + b


def hash_to_hex(h: bytes) -> str:
    """Internal-order hash bytes to Bitcoin's display hex (byte-reversed)."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Display hex (64 chars) to internal-order hash bytes; ValueError if malformed."""
    if len(s) != 64:
        raise ValueError(f"hash must be 64 hex characters, not {len(s)}")
    return bytes.fromhex(s)[::-1]
