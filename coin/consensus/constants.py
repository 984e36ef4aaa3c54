"""Bitcoin's consensus constants, named as in Core (consensus/consensus.h, amount.h, primitives/transaction.h).

Amounts are integer satoshis. `money_range(v)` is Core's MoneyRange.
"""

__all__ = [
    "COIN",
    "MAX_MONEY",
    "money_range",
    "MAX_BLOCK_SERIALIZED_SIZE",
    "MAX_BLOCK_WEIGHT",
    "MAX_BLOCK_SIGOPS_COST",
    "WITNESS_SCALE_FACTOR",
    "COINBASE_MATURITY",
    "MIN_TRANSACTION_WEIGHT",
    "MIN_SERIALIZABLE_TRANSACTION_WEIGHT",
    "LOCKTIME_THRESHOLD",
    "LOCKTIME_VERIFY_SEQUENCE",
    "LOCKTIME_MEDIAN_TIME_PAST",
    "SEQUENCE_FINAL",
    "MAX_SEQUENCE_NONFINAL",
    "SEQUENCE_LOCKTIME_DISABLE_FLAG",
    "SEQUENCE_LOCKTIME_TYPE_FLAG",
    "SEQUENCE_LOCKTIME_MASK",
    "SEQUENCE_LOCKTIME_GRANULARITY",
    "MAX_FUTURE_BLOCK_TIME",
    "MEDIAN_TIME_SPAN",
    "MAX_SCRIPT_SIZE",
    "MINIMUM_WITNESS_COMMITMENT",
    "WITNESS_COMMITMENT_HEADER",
    "NO_WITNESS_COMMITMENT",
    "COINBASE_SCRIPT_SIG_MIN",
    "COINBASE_SCRIPT_SIG_MAX",
    "BIP34_IMPLIES_BIP30_LIMIT",
]

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN


def money_range(value: int) -> bool:
    """Core's MoneyRange: 0 <= value <= MAX_MONEY."""
    return 0 <= value <= MAX_MONEY


# consensus/consensus.h
MAX_BLOCK_SERIALIZED_SIZE = 4_000_000
MAX_BLOCK_WEIGHT = 4_000_000
MAX_BLOCK_SIGOPS_COST = 80_000
COINBASE_MATURITY = 100
WITNESS_SCALE_FACTOR = 4
MIN_TRANSACTION_WEIGHT = WITNESS_SCALE_FACTOR * 60
MIN_SERIALIZABLE_TRANSACTION_WEIGHT = WITNESS_SCALE_FACTOR * 10

# Lock-time flags (consensus.h). Only LOCKTIME_VERIFY_SEQUENCE is consensus in Core
# today; LOCKTIME_MEDIAN_TIME_PAST is kept for callers (the mempool) that choose the
# IsFinalTx cut-off as Core's policy did: with it, MTP of the tip rather than block time.
LOCKTIME_VERIFY_SEQUENCE = 1 << 0
LOCKTIME_MEDIAN_TIME_PAST = 1 << 1

# script/script.h: below this nLockTime is a block height, at or above a UNIX time.
LOCKTIME_THRESHOLD = 500_000_000
MAX_SCRIPT_SIZE = 10_000

# primitives/transaction.h (CTxIn), BIP-0068
SEQUENCE_FINAL = 0xFFFFFFFF
MAX_SEQUENCE_NONFINAL = SEQUENCE_FINAL - 1
SEQUENCE_LOCKTIME_DISABLE_FLAG = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0x0000FFFF
SEQUENCE_LOCKTIME_GRANULARITY = 9  # time locks count units of 512 seconds

# chain.h
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
MEDIAN_TIME_SPAN = 11

# consensus/validation.h: the BIP-0141 commitment output is OP_RETURN, a 36-byte push,
# the 4-byte header aa21a9ed, then 32 bytes of sha256d(witness root || reserved value).
MINIMUM_WITNESS_COMMITMENT = 38
WITNESS_COMMITMENT_HEADER = b"\xaa\x21\xa9\xed"
NO_WITNESS_COMMITMENT = -1

# tx_check.cpp: a coinbase scriptSig is 2..100 bytes.
COINBASE_SCRIPT_SIG_MIN = 2
COINBASE_SCRIPT_SIG_MAX = 100

# validation.cpp: BIP30 checks resume at this height (coinbases of old blocks indicate it).
BIP34_IMPLIES_BIP30_LIMIT = 1_983_702
