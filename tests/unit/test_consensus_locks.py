"""Lock time (IsFinalTx), BIP-0068 sequence locks with BIP-0113 times, CheckTxInputs."""

import pytest

from coin.consensus.coins import Coin, MemoryCoinsView
from coin.consensus.constants import (
    LOCKTIME_THRESHOLD,
    LOCKTIME_VERIFY_SEQUENCE,
    MAX_MONEY,
    SEQUENCE_FINAL,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
)
from coin.consensus.errors import Rejection, RejectKind
from coin.consensus.tx_verify import (
    calculate_sequence_locks,
    check_tx_inputs,
    evaluate_sequence_locks,
    format_money,
    is_final_tx,
    sequence_locks,
)
from coin.primitives import OutPoint, Transaction, TxIn, TxOut


class _Header:
    def __init__(self, time):
        self.time = time


class _Entry:
    """Minimal index entry: height, header.time, prev, get_ancestor, median_time_past."""

    def __init__(self, prev, time):
        self.prev = prev
        self.height = 0 if prev is None else prev.height + 1
        self.header = _Header(time)

    def get_ancestor(self, height):
        e = self
        while e is not None and e.height > height:
            e = e.prev
        return e

    def median_time_past(self):
        times, e = [], self
        while e is not None and len(times) < 11:
            times.append(e.header.time)
            e = e.prev
        return sorted(times)[len(times) // 2]


def _chain(n, start=1_600_000_000, spacing=600, jitter=()):
    """Entries 0..n; block i has time start + i*spacing (+ jitter[i] if given)."""
    entries, prev = [], None
    for i in range(n + 1):
        t = start + i * spacing + (jitter[i] if i < len(jitter) else 0)
        prev = _Entry(prev, t)
        entries.append(prev)
    return entries


def _tx(sequences, version=2, lock_time=0):
    inputs = [TxIn(OutPoint(bytes([i + 1]) * 32, 0), b"", s) for i, s in enumerate(sequences)]
    return Transaction(version, inputs, [TxOut(1, b"\x51")], lock_time)


# -- IsFinalTx --------------------------------------------------------------------------

@pytest.mark.parametrize("lock_time,height,time,sequence,final", [
    (0, 1, 0, 0, True),
    (100, 100, 0, 0, False),                  # lock time is the last invalid height
    (100, 101, 0, 0, True),
    (100, 100, 0, SEQUENCE_FINAL, True),      # all inputs final: lock time ignored
    (LOCKTIME_THRESHOLD - 1, LOCKTIME_THRESHOLD - 1, 0, 0, False),
    (LOCKTIME_THRESHOLD - 1, LOCKTIME_THRESHOLD, 0, 0, True),
    (LOCKTIME_THRESHOLD, 10**9, LOCKTIME_THRESHOLD, 0, False),   # a time, not a height
    (LOCKTIME_THRESHOLD, 1, LOCKTIME_THRESHOLD + 1, 0, True),
    (0xFFFFFFFF, 1, 0xFFFFFFFF, 0xFFFFFFFE, False),
])
def test_is_final_tx(lock_time, height, time, sequence, final):
    assert is_final_tx(_tx([sequence], lock_time=lock_time), height, time) is final


def test_is_final_needs_every_input_final():
    tx = _tx([SEQUENCE_FINAL, SEQUENCE_FINAL - 1], lock_time=50)
    assert not is_final_tx(tx, 10, 0)
    assert is_final_tx(_tx([SEQUENCE_FINAL] * 2, lock_time=50), 10, 0)


# -- BIP-0068 ---------------------------------------------------------------------------

def test_height_lock_boundary():
    chain = _chain(40)
    coin_height = 10
    for n in (1, 5, 20):
        tx = _tx([n])
        # Spendable in the block at height coin_height + n, not one earlier.
        assert sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, [coin_height], chain[coin_height + n])
        assert not sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, [coin_height], chain[coin_height + n - 1])
        assert calculate_sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, [coin_height], chain[30]) == (
            coin_height + n - 1, -1)


def test_time_lock_measured_from_mtp_before_the_coin():
    # Irregular times so that the MTP differs from the block time.
    jitter = [0, 900, -300, 1200, 0, 50, -200, 700, 0, 100, 3000, -1000, 0, 400, 0, 0, 0,
              250, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    chain = _chain(30, jitter=jitter)
    coin_height = 12
    units = 5  # 2560 seconds: several blocks
    tx = _tx([SEQUENCE_LOCKTIME_TYPE_FLAG | units])
    base = chain[coin_height - 1].median_time_past()
    min_height, min_time = calculate_sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, [coin_height], chain[20])
    assert (min_height, min_time) == (-1, base + units * 512 - 1)
    for entry in chain[coin_height + 1:]:
        expected = entry.prev.median_time_past() >= base + units * 512
        assert evaluate_sequence_locks(entry, (min_height, min_time)) is expected
    assert any(evaluate_sequence_locks(e, (min_height, min_time)) for e in chain[13:])
    assert not all(evaluate_sequence_locks(e, (min_height, min_time)) for e in chain[13:])


def test_time_lock_of_coin_at_height_zero_uses_genesis():
    chain = _chain(5)
    tx = _tx([SEQUENCE_LOCKTIME_TYPE_FLAG | 1])
    assert calculate_sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, [0], chain[5])[1] == (
        chain[0].median_time_past() + 511)


def test_locks_not_enforced():
    chain = _chain(5)
    strict = _tx([100])
    assert not sequence_locks(strict, LOCKTIME_VERIFY_SEQUENCE, [1], chain[5])
    assert sequence_locks(strict, 0, [1], chain[5])                      # flag off
    assert sequence_locks(_tx([100], version=1), LOCKTIME_VERIFY_SEQUENCE, [1], chain[5])
    # A version read as unsigned is >= 2: 0xffffffff enforces, as in Core v28.
    assert not sequence_locks(_tx([100], version=0xFFFFFFFF), LOCKTIME_VERIFY_SEQUENCE, [1], chain[5])
    heights = [1, 1]
    tx = _tx([SEQUENCE_LOCKTIME_DISABLE_FLAG | 100, 2])
    assert calculate_sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, heights, chain[5]) == (2, -1)
    assert heights == [0, 1]   # disabled inputs' heights are zeroed, as Core does
    # Bits outside the type flag and the 16-bit mask are ignored.
    assert calculate_sequence_locks(_tx([(1 << 21) | (1 << 16) | 3]), LOCKTIME_VERIFY_SEQUENCE,
                                    [1], chain[5]) == (3, -1)


def test_max_of_all_inputs():
    chain = _chain(60)
    tx = _tx([3, 10, SEQUENCE_LOCKTIME_TYPE_FLAG | 1])
    min_height, min_time = calculate_sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, [20, 15, 40], chain[50])
    assert min_height == max(20 + 3 - 1, 15 + 10 - 1)
    assert min_time == chain[39].median_time_past() + 511


# -- CheckTxInputs ----------------------------------------------------------------------

def _view(*coins):
    view = MemoryCoinsView()
    for i, coin in enumerate(coins):
        view.add_coin(OutPoint(bytes([i + 1]) * 32, 0), coin, False)
    return view


def _spend(n_inputs, out_value):
    inputs = [TxIn(OutPoint(bytes([i + 1]) * 32, 0)) for i in range(n_inputs)]
    return Transaction(2, inputs, [TxOut(out_value, b"\x51")], 0)


def test_check_tx_inputs_fee():
    view = _view(Coin(TxOut(700, b"\x51"), 5, False), Coin(TxOut(300, b"\x51"), 6, True))
    assert check_tx_inputs(_spend(2, 900), view, 106) == 100


@pytest.mark.parametrize("coins,n_in,out,height,reason", [
    ([], 1, 1, 10, "bad-txns-inputs-missingorspent"),
    ([Coin(TxOut(5, b""), 10, True)], 1, 1, 109, "bad-txns-premature-spend-of-coinbase"),
    ([Coin(TxOut(-1, b""), 10, False)], 1, 0, 20, "bad-txns-inputvalues-outofrange"),
    ([Coin(TxOut(MAX_MONEY, b""), 1, False), Coin(TxOut(1, b""), 1, False)], 2, 0, 20,
     "bad-txns-inputvalues-outofrange"),
    ([Coin(TxOut(5, b""), 10, False)], 1, 6, 20, "bad-txns-in-belowout"),
])
def test_check_tx_inputs_reasons(coins, n_in, out, height, reason):
    with pytest.raises(Rejection) as info:
        check_tx_inputs(_spend(n_in, out), _view(*coins), height)
    assert info.value.reason == reason


def test_check_tx_inputs_details():
    with pytest.raises(Rejection) as info:
        check_tx_inputs(_spend(1, 1), _view(), 10)
    assert info.value.kind is RejectKind.MISSING_INPUTS
    view = _view(Coin(TxOut(5, b""), 10, True))
    with pytest.raises(Rejection) as info:
        check_tx_inputs(_spend(1, 1), view, 109)
    assert info.value.debug == "tried to spend coinbase at depth 99"
    assert check_tx_inputs(_spend(1, 1), view, 110) == 4   # depth 100 is mature
    with pytest.raises(Rejection) as info:
        check_tx_inputs(_spend(1, 2_500_000_001), _view(Coin(TxOut(10**8, b""), 1, False)), 9)
    assert info.value.debug == "value in (1.00) < value out (25.00000001)"


@pytest.mark.parametrize("amount,text", [
    (0, "0.00"), (1, "0.00000001"), (10_000, "0.0001"), (100_000_000, "1.00"),
    (150_000_000, "1.50"), (2_100_000_000_000_000, "21000000.00"), (-150_000_000, "-1.50"),
])
def test_format_money(amount, text):
    assert format_money(amount) == text
