"""Coin views, undo records (byte layout and round trips) and the block subsidy."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coin.consensus.coins import Coin, CoinsView, MemoryCoinsView
from coin.consensus.errors import InternalError
from coin.consensus.subsidy import get_block_subsidy
from coin.consensus.undo import BlockUndo, TxUndo
from coin.params import get_params
from coin.primitives import OutPoint, TxOut
from coin.serialize import DecodeError

_coins = st.builds(
    lambda v, s, h, cb: Coin(TxOut(v, s), h, cb),
    st.integers(0, 21_000_000 * 100_000_000), st.binary(max_size=80),
    st.integers(1, 2**31 - 1), st.booleans())
_block_undos = st.builds(
    lambda txs: BlockUndo(tuple(TxUndo(tuple(c)) for c in txs)),
    st.lists(st.lists(_coins, max_size=4), max_size=5))


@settings(max_examples=100, deadline=None)
@given(_block_undos)
def test_block_undo_round_trip(undo):
    data = undo.to_bytes()
    assert BlockUndo.from_bytes(data) == undo
    for cut in {0, len(data) // 2, len(data) - 1}:
        if cut < len(data):
            with pytest.raises(DecodeError):
                BlockUndo.from_bytes(data[:cut])
    with pytest.raises(DecodeError):
        BlockUndo.from_bytes(data + b"\x00")


def test_undo_layout_worked_example():
    # The example of the undo module docstring, byte for byte.
    script = bytes.fromhex("76a914" + "11" * 20 + "88ac")
    undo = BlockUndo((TxUndo((Coin(TxOut(5_000_000_000, script), 9, True),)),))
    assert undo.to_bytes().hex() == "010113" + "00f2052a01000000" + "19" + script.hex()
    assert TxUndo.from_bytes(undo.txs[0].to_bytes()) == undo.txs[0]


def test_undo_refuses_absurd_counts():
    with pytest.raises(DecodeError):
        BlockUndo.from_bytes(b"\xfe\xff\xff\xff\x01")


def test_memory_view_protocol():
    view = MemoryCoinsView()
    assert isinstance(view, CoinsView)
    op = OutPoint(b"\x01" * 32, 0)
    coin = Coin(TxOut(5, b"\x51"), 3, False)
    assert view.get_coin(op) is None and not view.have_coin(op)
    view.add_coin(op, coin, False)
    assert view.get_coin(op) == coin and view.have_coin(op)
    with pytest.raises(InternalError):
        view.add_coin(op, coin, False)
    view.add_coin(op, Coin(TxOut(6, b"\x51"), 4, True), True)
    assert view.spend_coin(op).output.value == 6
    assert view.spend_coin(op) is None


@pytest.mark.parametrize("name", ["main", "regtest"])
def test_subsidy_schedule(name):
    params = get_params(name)
    interval = params.subsidy_halving_interval
    assert get_block_subsidy(0, params) == 50 * 100_000_000
    assert get_block_subsidy(interval - 1, params) == 50 * 100_000_000
    assert get_block_subsidy(interval, params) == 25 * 100_000_000
    assert get_block_subsidy(2 * interval, params) == 1_250_000_000
    assert get_block_subsidy(33 * interval - 1, params) == 1  # 5e9 >> 32
    assert get_block_subsidy(33 * interval, params) == 0
    assert get_block_subsidy(64 * interval, params) == 0
    # The total issuance stays below 21 million coins (Core's subsidy_limit_test).
    total = sum(get_block_subsidy(h * interval, params) * interval for h in range(64))
    assert total == 2_099_999_997_690_000 * interval // 210_000
