"""Context-free transaction checks: Core's CheckTransaction (consensus/tx_check.cpp).

Raises `Rejection` (kind CONSENSUS, ban score 100) with Core's reasons:
bad-txns-vin-empty, bad-txns-vout-empty, bad-txns-oversize, bad-txns-vout-negative,
bad-txns-vout-toolarge, bad-txns-txouttotal-toolarge, bad-txns-inputs-duplicate
(CVE-2018-17144), bad-cb-length, bad-txns-prevout-null.
"""

from coin.consensus.constants import (
    COINBASE_SCRIPT_SIG_MAX,
    COINBASE_SCRIPT_SIG_MIN,
    MAX_BLOCK_WEIGHT,
    MAX_MONEY,
    WITNESS_SCALE_FACTOR,
    money_range,
)
from coin.consensus.errors import Rejection

__all__ = ["check_transaction"]


def check_transaction(tx) -> None:
    """Core's CheckTransaction: the checks that need no context. Raises Rejection.

    In order: bad-txns-vin-empty, bad-txns-vout-empty, bad-txns-oversize (stripped size
    x4 > MAX_BLOCK_WEIGHT), bad-txns-vout-negative, bad-txns-vout-toolarge (> MAX_MONEY),
    bad-txns-txouttotal-toolarge (running sum out of MoneyRange), bad-txns-inputs-duplicate,
    then bad-cb-length (coinbase scriptSig not 2..100 bytes) or bad-txns-prevout-null
    (a non-coinbase spending the null outpoint).
    """
    if not tx.inputs:
        raise Rejection("bad-txns-vin-empty")
    if not tx.outputs:
        raise Rejection("bad-txns-vout-empty")
    if tx.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise Rejection("bad-txns-oversize")

    value_out = 0
    for txout in tx.outputs:
        if txout.value < 0:
            raise Rejection("bad-txns-vout-negative")
        if txout.value > MAX_MONEY:
            raise Rejection("bad-txns-vout-toolarge")
        value_out += txout.value
        if not money_range(value_out):
            raise Rejection("bad-txns-txouttotal-toolarge")

    inputs = tx.inputs
    if len(inputs) > 1 and len({txin.prevout for txin in inputs}) != len(inputs):
        raise Rejection("bad-txns-inputs-duplicate")

    if tx.is_coinbase():
        n = len(inputs[0].script_sig)
        if n < COINBASE_SCRIPT_SIG_MIN or n > COINBASE_SCRIPT_SIG_MAX:
            raise Rejection("bad-cb-length")
    else:
        for txin in inputs:
            if txin.prevout.is_null():
                raise Rejection("bad-txns-prevout-null")
