"""Transactions: OutPoint, TxIn, TxOut and Transaction, byte-exact with Bitcoin (BIP-0144).

Encoding (Core's SerializeTransaction):

    version u32 | [marker 0x00, flag 0x01 if any witness] | vin | vout |
    [one witness stack per input] | lock_time u32

Decoding follows Core's UnserializeTransaction exactly, including its two witness
errors ("Superfluous witness record", "Unknown transaction optional data"), and is
strict: truncation, trailing bytes, non-minimal CompactSize and absurd counts raise
`coin.serialize.DecodeError` before anything large is allocated.

Objects are immutable. A parsed transaction keeps the bytes it came from, so
`to_bytes()` returns them unchanged and the txid/wtxid are hashed from them once,
never re-serialized. Hash attributes come in pairs: `txid` is display hex
(byte-reversed, as Bitcoin prints it) and `txid_bytes` is the raw internal order.
"""

import struct
from typing import NamedTuple

from coin.crypto.hashes import sha256d
from coin.serialize import MAX_SIZE, ByteReader, DecodeError, compact_size, hash_to_hex

__all__ = [
    "OutPoint",
    "TxIn",
    "TxOut",
    "Transaction",
    "NULL_HASH",
    "SEQUENCE_FINAL",
    "WITNESS_SCALE_FACTOR",
]

NULL_HASH = b"\x00" * 32
SEQUENCE_FINAL = 0xFFFFFFFF
WITNESS_SCALE_FACTOR = 4

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_OUTPOINT = struct.Struct("<32sI")


class OutPoint(NamedTuple):
    """A reference to output `index` of the transaction whose txid is `txid_bytes`."""

    txid_bytes: bytes
    index: int

    @property
    def txid(self) -> str:
        return hash_to_hex(self.txid_bytes)

    def is_null(self) -> bool:
        """The coinbase's prevout: a zero hash and index 0xffffffff."""
        return self.index == 0xFFFFFFFF and self.txid_bytes == NULL_HASH

    def to_bytes(self) -> bytes:
        return _OUTPOINT.pack(self.txid_bytes, self.index)

    @classmethod
    def from_bytes(cls, data: bytes) -> "OutPoint":
        if len(data) != 36:
            raise DecodeError(f"outpoint must be 36 bytes, not {len(data)}")
        return cls(*_OUTPOINT.unpack(data))

    def __repr__(self) -> str:
        return f"OutPoint({self.txid}:{self.index})"


NULL_OUTPOINT = OutPoint(NULL_HASH, 0xFFFFFFFF)


class TxOut(NamedTuple):
    """An output: `value` in satoshis and the `script_pubkey` that locks it."""

    value: int
    script_pubkey: bytes

    def to_bytes(self) -> bytes:
        return _I64.pack(self.value) + compact_size(len(self.script_pubkey)) + self.script_pubkey

    def __repr__(self) -> str:
        return f"TxOut({self.value}, {self.script_pubkey.hex()})"


class TxIn(NamedTuple):
    """An input: what it spends, its scriptSig, nSequence and witness stack (tuple of bytes)."""

    prevout: OutPoint
    script_sig: bytes = b""
    sequence: int = SEQUENCE_FINAL
    witness: tuple[bytes, ...] = ()

    def to_bytes(self) -> bytes:
        """The input without its witness, as inside the transaction."""
        return (self.prevout.to_bytes() + compact_size(len(self.script_sig)) + self.script_sig
                + _U32.pack(self.sequence))

    def __repr__(self) -> str:
        w = f", witness=[{', '.join(x.hex() for x in self.witness)}]" if self.witness else ""
        return f"TxIn({self.prevout!r}, {self.script_sig.hex()}, {self.sequence:#x}{w})"


def _read_cs(data, pos: int, end: int) -> tuple[int, int]:
    """Inline CompactSize read on a buffer: (value, new_pos). Strict as ByteReader's."""
    if pos >= end:
        raise DecodeError(f"truncated: wanted CompactSize at offset {pos}")
    first = data[pos]
    if first < 0xFD:
        return first, pos + 1
    if first == 0xFD:
        if pos + 3 > end:
            raise DecodeError("truncated CompactSize")
        value = data[pos + 1] | (data[pos + 2] << 8)
        if value < 0xFD:
            raise DecodeError("non-canonical CompactSize")
        pos += 3
    elif first == 0xFE:
        if pos + 5 > end:
            raise DecodeError("truncated CompactSize")
        value = _U32.unpack_from(data, pos + 1)[0]
        if value < 0x10000:
            raise DecodeError("non-canonical CompactSize")
        pos += 5
    else:
        if pos + 9 > end:
            raise DecodeError("truncated CompactSize")
        value = _U64.unpack_from(data, pos + 1)[0]
        if value < 0x100000000:
            raise DecodeError("non-canonical CompactSize")
        pos += 9
    if value > MAX_SIZE:
        raise DecodeError(f"CompactSize {value} exceeds limit {MAX_SIZE}")
    return value, pos


# The readers below build OutPoint, TxIn and TxOut with tuple.__new__ (what their
# NamedTuple constructors end up calling, minus a Python frame each) and read a
# one-byte CompactSize inline: parsing is on the path of every block a peer sends.
_tuple_new = tuple.__new__


def _read_inputs(data, pos: int, end: int, count: int) -> tuple[list, int]:
    # The smallest input is 41 bytes: refuse counts the remaining data cannot hold.
    if count * 41 > end - pos:
        raise DecodeError(f"input count {count} exceeds the data")
    inputs = []
    append = inputs.append
    unpack_outpoint = _OUTPOINT.unpack_from
    unpack_u32 = _U32.unpack_from
    tnew = _tuple_new
    for _ in range(count):
        if pos + 37 > end:
            raise DecodeError("truncated input")
        prevout = tnew(OutPoint, unpack_outpoint(data, pos))
        n = data[pos + 36]
        if n < 0xFD:
            pos += 37
        else:
            n, pos = _read_cs(data, pos + 36, end)
        script_end = pos + n
        if script_end + 4 > end:
            raise DecodeError("truncated input script")
        append(tnew(TxIn, (prevout, bytes(data[pos:script_end]), unpack_u32(data, script_end)[0], ())))
        pos = script_end + 4
    return inputs, pos


def _read_outputs(data, pos: int, end: int, count: int) -> tuple[list, int]:
    if count * 9 > end - pos:
        raise DecodeError(f"output count {count} exceeds the data")
    outputs = []
    append = outputs.append
    unpack_i64 = _I64.unpack_from
    tnew = _tuple_new
    for _ in range(count):
        if pos + 9 > end:
            raise DecodeError("truncated output")
        value = unpack_i64(data, pos)[0]
        n = data[pos + 8]
        if n < 0xFD:
            pos += 9
        else:
            n, pos = _read_cs(data, pos + 8, end)
        script_end = pos + n
        if script_end > end:
            raise DecodeError("truncated output script")
        append(tnew(TxOut, (value, bytes(data[pos:script_end]))))
        pos = script_end
    return outputs, pos


def _read_witness(data, pos: int, end: int) -> tuple[tuple, int]:
    count, pos = _read_cs(data, pos, end)
    if count > end - pos:
        raise DecodeError(f"witness item count {count} exceeds the data")
    items = []
    for _ in range(count):
        if pos >= end:
            raise DecodeError(f"truncated: wanted CompactSize at offset {pos}")
        n = data[pos]
        if n < 0xFD:
            pos += 1
        else:
            n, pos = _read_cs(data, pos, end)
        item_end = pos + n
        if item_end > end:
            raise DecodeError("truncated witness item")
        items.append(bytes(data[pos:item_end]))
        pos = item_end
    return tuple(items), pos


def _parse_transaction(data, pos: int, end: int, allow_witness: bool = True) -> tuple["Transaction", int]:
    """Core's UnserializeTransaction on data[pos:end]; returns (tx, position after it).
    Without `allow_witness` (Core's TX_NO_WITNESS) an empty vin is just that, never the
    segwit marker."""
    start = pos
    if pos + 5 > end:
        raise DecodeError("truncated transaction version" if pos + 4 > end else
                          f"truncated: wanted CompactSize at offset {pos + 4}")
    version = _U32.unpack_from(data, pos)[0]
    flags = 0
    n_in = data[pos + 4]
    if n_in < 0xFD:
        pos += 5
    else:
        n_in, pos = _read_cs(data, pos + 4, end)
    inputs, pos = _read_inputs(data, pos, end, n_in)
    base_start = 4  # offset of vin within the raw bytes (6 with marker and flag)
    if n_in == 0 and allow_witness:
        # An empty vin is either a real one or the segwit marker; the next byte is the flag.
        if pos >= end:
            raise DecodeError("truncated transaction")
        flags = data[pos]
        pos += 1
        if flags != 0:
            base_start = pos - start
            n_in, pos = _read_cs(data, pos, end)
            inputs, pos = _read_inputs(data, pos, end, n_in)
            n_out, pos = _read_cs(data, pos, end)
            outputs, pos = _read_outputs(data, pos, end, n_out)
        else:
            outputs = []
    else:
        n_out, pos = _read_cs(data, pos, end)
        outputs, pos = _read_outputs(data, pos, end, n_out)
    base_end = pos - start
    if flags & 1:
        flags ^= 1
        has_witness = False
        tnew = _tuple_new
        for i, txin in enumerate(inputs):
            wit, pos = _read_witness(data, pos, end)
            if wit:
                has_witness = True
                inputs[i] = tnew(TxIn, (txin[0], txin[1], txin[2], wit))
        if not has_witness:
            raise DecodeError("Superfluous witness record")
    if flags:
        raise DecodeError("Unknown transaction optional data")
    if pos + 4 > end:
        raise DecodeError("truncated transaction lock time")
    lock_time = _U32.unpack_from(data, pos)[0]
    pos += 4
    raw = bytes(data[start:pos])
    base_raw = raw if base_start == 4 else raw[:4] + raw[base_start:base_end] + raw[-4:]
    return _new_parsed_tx(version, tuple(inputs), tuple(outputs), lock_time, raw, base_raw), pos


class Transaction:
    """A Bitcoin transaction (immutable). Build one with lists or tuples; they are stored as tuples.

    `version` and `lock_time` are unsigned 32-bit, as in Core since v28 (BIP68 and CSV
    read the version as unsigned).
    """

    __slots__ = ("version", "inputs", "outputs", "lock_time", "_raw", "_base_raw",
                 "_txid", "_wtxid")

    def __init__(self, version: int, inputs, outputs, lock_time: int = 0):
        setattr_ = object.__setattr__
        setattr_(self, "version", version & 0xFFFFFFFF)
        setattr_(self, "inputs", tuple(inputs))
        setattr_(self, "outputs", tuple(outputs))
        setattr_(self, "lock_time", lock_time)
        setattr_(self, "_raw", None)
        setattr_(self, "_base_raw", None)
        setattr_(self, "_txid", None)
        setattr_(self, "_wtxid", None)

    def __setattr__(self, name, value):
        if name in ("_raw", "_base_raw"):  # set once by the parser
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"Transaction is immutable: cannot set {name}")

    # -- decoding ------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_witness: bool = True) -> "Transaction":
        """Parse exactly one transaction; trailing bytes raise DecodeError. With
        `allow_witness=False`, the legacy serialization only (an empty vin is not the
        segwit marker: Core's TX_NO_WITNESS)."""
        tx, pos = _parse_transaction(data, 0, len(data), allow_witness)
        if pos != len(data):
            raise DecodeError(f"trailing data: {len(data) - pos} bytes after transaction")
        return tx

    @classmethod
    def from_hex(cls, s: str) -> "Transaction":
        try:
            data = bytes.fromhex(s)
        except ValueError as exc:
            raise DecodeError(f"not hex: {exc}") from None
        return cls.from_bytes(data)

    @classmethod
    def read_from(cls, reader: ByteReader) -> "Transaction":
        tx, reader.pos = _parse_transaction(reader.data, reader.pos, len(reader.data))
        return tx

    # -- encoding ------------------------------------------------------------------

    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.inputs)

    def _serialize(self, witness: bool) -> bytes:
        parts = [_U32.pack(self.version)]
        if witness:
            parts.append(b"\x00\x01")
        parts.append(compact_size(len(self.inputs)))
        parts.extend(txin.to_bytes() for txin in self.inputs)
        parts.append(compact_size(len(self.outputs)))
        parts.extend(out.to_bytes() for out in self.outputs)
        if witness:
            for txin in self.inputs:
                parts.append(compact_size(len(txin.witness)))
                for item in txin.witness:
                    parts.append(compact_size(len(item)))
                    parts.append(item)
        parts.append(_U32.pack(self.lock_time))
        return b"".join(parts)

    def to_bytes(self, witness: bool = True) -> bytes:
        """Bitcoin's serialization; with `witness=False` the legacy (txid) form."""
        if witness:
            raw = self._raw
            if raw is None:
                raw = self._serialize(self.has_witness())
                object.__setattr__(self, "_raw", raw)
            return raw
        base = self._base_raw
        if base is None:
            base = self._serialize(False) if self.has_witness() else self.to_bytes()
            object.__setattr__(self, "_base_raw", base)
        return base

    def to_hex(self, witness: bool = True) -> str:
        return self.to_bytes(witness).hex()

    # -- identity ------------------------------------------------------------------

    @property
    def txid_bytes(self) -> bytes:
        h = self._txid
        if h is None:
            h = sha256d(self.to_bytes(witness=False))
            object.__setattr__(self, "_txid", h)
        return h

    @property
    def wtxid_bytes(self) -> bytes:
        h = self._wtxid
        if h is None:
            h = sha256d(self.to_bytes()) if self.has_witness() else self.txid_bytes
            object.__setattr__(self, "_wtxid", h)
        return h

    @property
    def txid(self) -> str:
        return hash_to_hex(self.txid_bytes)

    @property
    def wtxid(self) -> str:
        return hash_to_hex(self.wtxid_bytes)

    # -- sizes ---------------------------------------------------------------------

    @property
    def base_size(self) -> int:
        """Size without witness data (Core's stripped size)."""
        return len(self.to_bytes(witness=False))

    @property
    def total_size(self) -> int:
        return len(self.to_bytes())

    @property
    def weight(self) -> int:
        return self.base_size * (WITNESS_SCALE_FACTOR - 1) + self.total_size

    @property
    def vsize(self) -> int:
        return (self.weight + WITNESS_SCALE_FACTOR - 1) // WITNESS_SCALE_FACTOR

    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].prevout.is_null()

    # -- value semantics -----------------------------------------------------------

    def __eq__(self, other) -> bool:
        if not isinstance(other, Transaction):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.wtxid_bytes)

    def __repr__(self) -> str:
        return (f"Transaction(txid={self.txid}, version={self.version}, "
                f"inputs={len(self.inputs)}, outputs={len(self.outputs)}, lock_time={self.lock_time})")

    def replace(self, **changes) -> "Transaction":
        """A copy with some of version, inputs, outputs, lock_time changed (a builder step)."""
        fields = {"version": self.version, "inputs": self.inputs, "outputs": self.outputs,
                  "lock_time": self.lock_time}
        fields.update(changes)
        return Transaction(**fields)


def _parsed_tx_constructor():
    """A Transaction built by the parser, its slots set through their descriptors
    (no __init__, no __setattr__ calls: this runs for every transaction received)."""
    new = Transaction.__new__
    slots = [getattr(Transaction, name).__set__ for name in
             ("version", "inputs", "outputs", "lock_time", "_raw", "_base_raw", "_txid", "_wtxid")]
    set_version, set_inputs, set_outputs, set_lock_time, set_raw, set_base_raw, set_txid, set_wtxid = slots

    def make(version: int, inputs: tuple, outputs: tuple, lock_time: int, raw: bytes, base_raw: bytes):
        tx = new(Transaction)
        set_version(tx, version)
        set_inputs(tx, inputs)
        set_outputs(tx, outputs)
        set_lock_time(tx, lock_time)
        set_raw(tx, raw)
        set_base_raw(tx, base_raw)
        set_txid(tx, None)
        set_wtxid(tx, None)
        return tx

    return make


_new_parsed_tx = _parsed_tx_constructor()
