"""Undo records: the coins a block spent, so that disconnecting it can restore them.

One `TxUndo` per non-coinbase transaction, in block order, holding the spent `Coin` of
each input in input order; `BlockUndo` is the tuple of them (Core's CBlockUndo/CTxUndo).

Byte layout (not Core's compressed format; every integer little-endian):

    BlockUndo := CompactSize(n_txundo) TxUndo*
    TxUndo    := CompactSize(n_coins) UndoCoin*
    UndoCoin  := CompactSize(height * 2 + is_coinbase)   -- Core's nCode
                 i64 value                                  -- satoshis
                 CompactSize(len(script_pubkey)) script_pubkey

Worked example: a block with one non-coinbase transaction spending one P2PKH coin of
50 BTC created by the coinbase of block 9:

    01                                      one TxUndo
    01                                      one coin
    13                                      9 * 2 + 1 (height 9, coinbase)
    00f2052a01000000                        5000000000 sat
    19 76a914<20-byte hash>88ac             25-byte script

`from_bytes` is strict (coin.serialize): truncated or trailing data raise DecodeError.
"""

import struct
from dataclasses import dataclass

from coin.consensus.coins import Coin
from coin.primitives import TxOut
from coin.serialize import ByteReader, DecodeError, compact_size

__all__ = ["TxUndo", "BlockUndo"]

_MIN_COIN_SIZE = 1 + 8 + 1
_I64 = struct.Struct("<q")
_ONE_BYTE = [bytes((i,)) for i in range(0xFD)]  # CompactSize of 0..252


def _write_coin(coin: Coin, parts: list) -> None:
    output = coin.output
    script = output.script_pubkey
    code = coin.height * 2 + (1 if coin.is_coinbase else 0)
    n = len(script)
    parts.append(b"".join((
        _ONE_BYTE[code] if code < 0xFD else compact_size(code),
        _I64.pack(output.value),
        _ONE_BYTE[n] if n < 0xFD else compact_size(n),
        script,
    )))


def _read_coin(reader: ByteReader) -> Coin:
    code = reader.read_compact_size(0xFFFFFFFFFFFFFFFF)
    value = reader.read_i64()
    script = reader.read_var_bytes()
    return Coin(TxOut(value, script), code >> 1, bool(code & 1))


def _read_count(reader: ByteReader, min_item_size: int) -> int:
    n = reader.read_compact_size()
    if n * min_item_size > reader.remaining:
        raise DecodeError(f"undo count {n} exceeds the data")
    return n


@dataclass(frozen=True, slots=True)
class TxUndo:
    """The coins one transaction spent, in input order."""

    spent: tuple[Coin, ...]

    def write_to(self, parts: list) -> None:
        parts.append(compact_size(len(self.spent)))
        for coin in self.spent:
            _write_coin(coin, parts)

    def to_bytes(self) -> bytes:
        parts: list = []
        self.write_to(parts)
        return b"".join(parts)

    @classmethod
    def read_from(cls, reader: ByteReader) -> "TxUndo":
        n = _read_count(reader, _MIN_COIN_SIZE)
        return cls(tuple(_read_coin(reader) for _ in range(n)))

    @classmethod
    def from_bytes(cls, data: bytes) -> "TxUndo":
        reader = ByteReader(data)
        undo = cls.read_from(reader)
        reader.expect_end()
        return undo


@dataclass(frozen=True, slots=True)
class BlockUndo:
    """One TxUndo per non-coinbase transaction of the block, in block order."""

    txs: tuple[TxUndo, ...]

    def to_bytes(self) -> bytes:
        parts: list = [compact_size(len(self.txs))]
        for txundo in self.txs:
            txundo.write_to(parts)
        return b"".join(parts)

    @classmethod
    def read_from(cls, reader: ByteReader) -> "BlockUndo":
        n = _read_count(reader, 1)
        return cls(tuple(TxUndo.read_from(reader) for _ in range(n)))

    @classmethod
    def from_bytes(cls, data: bytes) -> "BlockUndo":
        reader = ByteReader(data)
        undo = cls.read_from(reader)
        reader.expect_end()
        return undo
