"""Bitcoin's data structures, byte for byte: OutPoint, TxIn, TxOut, Transaction, BlockHeader, Block.

Outline:
- `transaction`: OutPoint, TxIn, TxOut, Transaction (BIP-0144 witness encoding).
- `block`: BlockHeader, Block, merkle_root (with Core's CVE-2012-2459 mutation flag).

Error contract: every `from_bytes` / `read_from` raises `coin.serialize.DecodeError`
(a ValueError) on truncated data, trailing bytes, non-minimal CompactSize, absurd counts
and the two BIP-0144 witness errors; nothing else escapes a decoder.

Conventions: objects are immutable; amounts are integer satoshis; a hash attribute `x`
is display hex (byte-reversed) and `x_bytes` the internal-order 32 bytes.
BIPs: BIP-0141 (weight, witness merkle root), BIP-0144 (witness serialization).
"""

from coin.primitives.block import HEADER_SIZE, Block, BlockHeader, merkle_root
from coin.primitives.transaction import (
    NULL_HASH,
    SEQUENCE_FINAL,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
)

__all__ = [
    "OutPoint",
    "TxIn",
    "TxOut",
    "Transaction",
    "BlockHeader",
    "Block",
    "merkle_root",
    "HEADER_SIZE",
    "NULL_HASH",
    "SEQUENCE_FINAL",
]
