"""Script numbers and pushes: round trips, size limits, minimal encoding, and
python-bitcoinlib as an independent encoder."""

import pytest
from bitcoin.core.script import CScript
from hypothesis import given
from hypothesis import strategies as st

from coin.script.opcodes import encode_op_n, iter_script
from coin.script.scriptnum import ScriptNumError, cast_to_bool, decode_num, encode_num
from coin.script.standard import push_int


@given(st.integers(-(2**31) + 1, 2**31 - 1))
def test_round_trip_4_bytes(n):
    data = encode_num(n)
    assert len(data) <= 4
    assert decode_num(data, require_minimal=True) == n


@given(st.integers(-(2**39) + 1, 2**39 - 1))
def test_round_trip_5_bytes(n):
    data = encode_num(n)
    assert len(data) <= 5
    assert decode_num(data, require_minimal=True, max_size=5) == n


@given(st.integers(-(2**63) + 1, 2**63 - 1))
def test_push_int_matches_bitcoinlib(n):
    assert push_int(n) == bytes(CScript([n]))


@given(st.binary(max_size=4))
def test_decode_then_encode_is_minimal_form(data):
    n = decode_num(data)
    again = encode_num(n)
    # The re-encoding is minimal, so it decodes under the minimal rule to the same value.
    assert decode_num(again, require_minimal=True) == n
    if again != data:
        with pytest.raises(ScriptNumError):
            decode_num(data, require_minimal=True)


@pytest.mark.parametrize("hex_, max_size", [("0000000080", 4), ("ffffffff80", 4), ("000000000001", 5)])
def test_overflow(hex_, max_size):
    with pytest.raises(ScriptNumError) as info:
        decode_num(bytes.fromhex(hex_), max_size=max_size)
    assert info.value.code == "SCRIPTNUM"


@pytest.mark.parametrize("hex_", ["00", "80", "0100", "ff0000", "0080", "7f00"])
def test_non_minimal_rejected_only_when_required(hex_):
    data = bytes.fromhex(hex_)
    decode_num(data)  # fine without the rule
    with pytest.raises(ScriptNumError):
        decode_num(data, require_minimal=True)


@pytest.mark.parametrize("hex_, value", [("ff00", 255), ("ff80", -255), ("8000", 128), ("81", -1)])
def test_minimal_with_sign_byte(hex_, value):
    assert decode_num(bytes.fromhex(hex_), require_minimal=True) == value


def test_limits_are_exact():
    assert decode_num(encode_num(2**31 - 1)) == 2**31 - 1
    with pytest.raises(ScriptNumError):
        decode_num(encode_num(2**31))  # five bytes
    with pytest.raises(ScriptNumError):
        decode_num(encode_num(-(2**31)))
    assert decode_num(encode_num(2**39 - 1), max_size=5) == 2**39 - 1


def test_cast_to_bool():
    assert not cast_to_bool(b"")
    assert not cast_to_bool(b"\x00\x00")
    assert not cast_to_bool(b"\x00\x80")  # negative zero
    assert cast_to_bool(b"\x80\x00")
    assert cast_to_bool(b"\x01")


def test_small_int_opcodes():
    assert push_int(0) == b"\x00" and push_int(-1) == b"\x4f"
    assert [push_int(n) for n in range(1, 17)] == [bytes([encode_op_n(n)]) for n in range(1, 17)]


def test_iter_script_truncation():
    assert [op for op, _, _ in iter_script(bytes.fromhex("5102aabb4c01cc"))] == [0x51, 2, 0x4C]
    for bad in ("02aa", "4c", "4c02aa", "4d0100", "4e01000000"):
        with pytest.raises(Exception) as info:
            list(iter_script(bytes.fromhex(bad)))
        assert getattr(info.value, "code", None) == "BAD_OPCODE"
