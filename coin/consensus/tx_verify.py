"""Transaction checks that need context: lock time, BIP-0068 sequence locks, inputs.

Core's consensus/tx_verify.cpp:
- `is_final_tx(tx, block_height, block_time)`: nLockTime (IsFinalTx).
- `calculate_sequence_locks`, `evaluate_sequence_locks`, `sequence_locks`: BIP-0068
  relative lock times, measured (for time locks) from the median time past of the block
  before the one that created each spent coin (BIP-0113).
- `check_tx_inputs(tx, coins, spend_height) -> fee`: Consensus::CheckTxInputs.

Reject reasons raised by `check_tx_inputs`: bad-txns-inputs-missingorspent (kind
MISSING_INPUTS), bad-txns-premature-spend-of-coinbase, bad-txns-inputvalues-outofrange,
bad-txns-in-belowout, bad-txns-fee-outofrange. The lock-time functions return booleans;
their callers raise bad-txns-nonfinal (blocks) or non-final / non-BIP68-final (mempool).
"""

from coin.consensus.constants import (
    COIN,
    COINBASE_MATURITY,
    LOCKTIME_THRESHOLD,
    LOCKTIME_VERIFY_SEQUENCE,
    SEQUENCE_FINAL,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_GRANULARITY,
    SEQUENCE_LOCKTIME_MASK,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
    money_range,
)
from coin.consensus.errors import Rejection, RejectKind

__all__ = [
    "is_final_tx",
    "calculate_sequence_locks",
    "evaluate_sequence_locks",
    "sequence_locks",
    "check_tx_inputs",
    "check_spent_coins",
    "format_money",
]


def format_money(amount: int) -> str:
    """Core's FormatMoney: coins with 2 to 8 decimals ("0.0001", "50.00", "-1.50")."""
    quotient, remainder = divmod(abs(amount), COIN)
    s = f"{quotient}.{remainder:08d}".rstrip("0")
    if len(s) - s.index(".") < 3:
        s += "0" * (3 - (len(s) - s.index(".")))
    return "-" + s if amount < 0 else s


def is_final_tx(tx, block_height: int, block_time: int) -> bool:
    """Core's IsFinalTx: nLockTime 0, or below the height / time cut-off, or all inputs final.

    `block_height` is the height of the block the transaction would be in; `block_time`
    the cut-off time (the previous block's median time past once BIP-0113 is active).
    """
    lock_time = tx.lock_time
    if lock_time == 0:
        return True
    if lock_time < (block_height if lock_time < LOCKTIME_THRESHOLD else block_time):
        return True
    return all(txin.sequence == SEQUENCE_FINAL for txin in tx.inputs)


def calculate_sequence_locks(tx, flags: int, prev_heights: list[int], entry) -> tuple[int, int]:
    """Core's CalculateSequenceLocks: (min_height, min_time) as last-invalid values.

    `prev_heights[i]` is the height of the coin input i spends; inputs whose sequence
    disables the lock have their entry set to 0, as Core does (the list is modified).
    `entry` is the index entry of the block the transaction would be in (its ancestors
    give the median time past for time-based locks). Enforced only for version >= 2
    (read as unsigned) when `flags` has LOCKTIME_VERIFY_SEQUENCE; -1 means no lock.
    """
    if len(prev_heights) != len(tx.inputs):
        raise ValueError("prev_heights must have one height per input")
    min_height = -1
    min_time = -1
    if (tx.version & 0xFFFFFFFF) < 2 or not flags & LOCKTIME_VERIFY_SEQUENCE:
        return min_height, min_time
    for i, txin in enumerate(tx.inputs):
        sequence = txin.sequence
        if sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            prev_heights[i] = 0
            continue
        coin_height = prev_heights[i]
        if sequence & SEQUENCE_LOCKTIME_TYPE_FLAG:
            coin_time = entry.get_ancestor(max(coin_height - 1, 0)).median_time_past()
            min_time = max(min_time, coin_time
                           + ((sequence & SEQUENCE_LOCKTIME_MASK) << SEQUENCE_LOCKTIME_GRANULARITY)
                           - 1)
        else:
            min_height = max(min_height, coin_height + (sequence & SEQUENCE_LOCKTIME_MASK) - 1)
    return min_height, min_time


def evaluate_sequence_locks(entry, lock_pair: tuple[int, int]) -> bool:
    """Core's EvaluateSequenceLocks: the locks are met in the block at `entry`.

    Met when min_height < entry.height and min_time < median time past of entry.prev.
    """
    block_time = entry.prev.median_time_past()
    return not (lock_pair[0] >= entry.height or lock_pair[1] >= block_time)


def sequence_locks(tx, flags: int, prev_heights: list[int], entry) -> bool:
    """Core's SequenceLocks: calculate then evaluate the BIP-0068 locks at `entry`."""
    return evaluate_sequence_locks(entry, calculate_sequence_locks(tx, flags, prev_heights, entry))


def check_tx_inputs(tx, coins, spend_height: int) -> int:
    """Core's Consensus::CheckTxInputs: inputs exist, are mature and cover the outputs.

    `coins` is a CoinsView; `spend_height` the height of the block the transaction is in
    (or would be in). Returns the fee in satoshis. Raises Rejection:
    bad-txns-inputs-missingorspent (kind MISSING_INPUTS, ban score 0),
    bad-txns-premature-spend-of-coinbase ("tried to spend coinbase at depth N", ban 0),
    bad-txns-inputvalues-outofrange, bad-txns-in-belowout ("value in (x) < value out (y)"),
    bad-txns-fee-outofrange.
    """
    spent = []
    for txin in tx.inputs:
        coin = coins.get_coin(txin.prevout)
        if coin is None:
            raise Rejection("bad-txns-inputs-missingorspent",
                            "CheckTxInputs: inputs missing/spent",
                            kind=RejectKind.MISSING_INPUTS, ban_score=0)
        spent.append(coin)
    return check_spent_coins(tx, spent, spend_height)


def check_spent_coins(tx, spent, spend_height: int) -> int:
    """The part of CheckTxInputs after the coins are found: `spent[i]` is input i's Coin.

    Returns the fee; raises bad-txns-premature-spend-of-coinbase,
    bad-txns-inputvalues-outofrange, bad-txns-in-belowout, bad-txns-fee-outofrange.
    """
    value_in = 0
    for coin in spent:
        if coin.is_coinbase and spend_height - coin.height < COINBASE_MATURITY:
            raise Rejection("bad-txns-premature-spend-of-coinbase",
                            f"tried to spend coinbase at depth {spend_height - coin.height}",
                            ban_score=0)
        value = coin.output.value
        value_in += value
        if not money_range(value) or not money_range(value_in):
            raise Rejection("bad-txns-inputvalues-outofrange")

    value_out = sum(txout.value for txout in tx.outputs)
    if value_in < value_out:
        raise Rejection("bad-txns-in-belowout",
                        f"value in ({format_money(value_in)}) < value out ({format_money(value_out)})")
    fee = value_in - value_out
    if not money_range(fee):
        raise Rejection("bad-txns-fee-outofrange")
    return fee
