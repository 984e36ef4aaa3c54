"""coin.p2p.framing: the 24-byte header, checked against python-bitcoinlib's framing."""

import hashlib
import struct

import bitcoin
import bitcoin.messages as blm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coin.p2p.framing import FrameError, decode_frame, encode_frame, is_valid_command
from coin.p2p.protocol import MAX_PROTOCOL_MESSAGE_LENGTH
from coin.params import get_params

REGTEST = get_params("regtest")
MAIN = get_params("main")
MAGIC = REGTEST.magic

commands = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
payloads = st.binary(max_size=2000)


def _frame(command: bytes, payload: bytes, *, magic: bytes = MAGIC, length: int | None = None,
           check: bytes | None = None) -> bytes:
    """A frame built by hand (not by encode_frame), so each field can be broken alone."""
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()
    return (magic + command.ljust(12, b"\x00")
            + struct.pack("<I", len(payload) if length is None else length)
            + (digest[:4] if check is None else check) + payload)


@pytest.fixture
def bitcoinlib_regtest():
    bitcoin.SelectParams("regtest")
    yield
    bitcoin.SelectParams("mainnet")


@given(commands, payloads)
def test_round_trip(command, payload):
    frame = encode_frame(MAGIC, command, payload)
    assert len(frame) == 24 + len(payload)
    assert decode_frame(MAGIC, frame) == (command, payload)
    assert decode_frame(MAGIC, bytearray(frame)) == (command, payload)
    assert decode_frame(MAGIC, memoryview(frame)) == (command, payload)


@given(commands, payloads)
def test_matches_hand_built_layout(command, payload):
    assert encode_frame(MAGIC, command, payload) == _frame(command.encode(), payload)


def test_magic_comes_from_params():
    assert MAIN.magic.hex() == "f9beb4d9"
    assert REGTEST.magic.hex() == "fabfb5da"
    frame = encode_frame(MAIN.magic, "verack", b"")
    assert frame.hex() == "f9beb4d9" + b"verack".ljust(12, b"\0").hex() + "00000000" + "5df6e0e2"


@pytest.mark.parametrize("command", ["version", "verack", "ping", "inv", "headers"])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(payload=payloads)
def test_bitcoinlib_frames_agree(bitcoinlib_regtest, command, payload):
    """python-bitcoinlib's MsgSerializable.to_bytes frames a payload as we do."""

    class Raw(blm.MsgSerializable):
        def msg_ser(self, f):
            f.write(payload)

    Raw.command = command.encode()
    theirs = Raw().to_bytes()
    assert encode_frame(REGTEST.magic, command, payload) == theirs
    assert decode_frame(REGTEST.magic, theirs) == (command, payload)


def test_bitcoinlib_parses_ours(bitcoinlib_regtest):
    nonce = 0x1122334455667788
    frame = encode_frame(REGTEST.magic, "ping", struct.pack("<Q", nonce))
    msg = blm.MsgSerializable.from_bytes(frame)
    assert isinstance(msg, blm.msg_ping) and msg.nonce == nonce


def _reason(magic, data) -> FrameError:
    with pytest.raises(FrameError) as info:
        decode_frame(magic, data)
    return info.value


@pytest.mark.parametrize("size", [0, 1, 4, 16, 23])
def test_truncated_header(size):
    err = _reason(MAGIC, _frame(b"ping", b"")[:size])
    assert err.reason == "truncated-header" and err.ban_score == 100


def test_wrong_magic_is_another_network():
    err = _reason(MAGIC, encode_frame(MAIN.magic, "verack", b""))
    assert err.reason == "bad-magic" and err.ban_score == 0


@pytest.mark.parametrize("field", [
    b"ver\x00ack\x00\x00\x00\x00\x00\x00",   # non-NUL after NUL
    b"verack\x00\x00\x00\x00\x00\x01",       # non-NUL at the very end
    b"ver\x01ack",                           # control character
    b"ver\x7fack",                           # DEL
    b"ver\xe9ack",                           # not ASCII
    b"\x00ping",                             # leading NUL then text
], ids=["nul-then-text", "trailing-byte", "control", "del", "non-ascii", "leading-nul"])
def test_bad_command(field):
    err = _reason(MAGIC, _frame(field, b""))
    assert err.reason == "bad-command" and err.ban_score == 100


def test_empty_command_is_valid_as_in_core():
    assert is_valid_command(b"\x00" * 12)
    assert decode_frame(MAGIC, _frame(b"", b"")) == ("", b"")


def test_full_width_command():
    assert decode_frame(MAGIC, _frame(b"abcdefghijkl", b"x")) == ("abcdefghijkl", b"x")


def test_length_field_over_limit():
    err = _reason(MAGIC, _frame(b"block", b"", length=MAX_PROTOCOL_MESSAGE_LENGTH + 1))
    assert err.reason == "oversized-payload"


def test_payload_over_limit():
    payload = bytes(MAX_PROTOCOL_MESSAGE_LENGTH + 1)
    err = _reason(MAGIC, _frame(b"block", payload))
    assert err.reason == "oversized-payload"
    assert decode_frame(MAGIC, _frame(b"block", payload[:-1]))[1] == payload[:-1]


@pytest.mark.parametrize("delta", [-1, 1, 1000], ids=["short", "long", "much-longer"])
def test_length_disagrees(delta):
    payload = b"\x01" * 10
    err = _reason(MAGIC, _frame(b"ping", payload, length=len(payload) + delta))
    assert err.reason == "bad-length" and err.ban_score == 100


def test_trailing_bytes_after_payload():
    frame = _frame(b"ping", bytes(8))
    assert _reason(MAGIC, frame + b"\x00").reason == "bad-length"


def test_bad_checksum():
    err = _reason(MAGIC, _frame(b"ping", bytes(8), check=b"\x00\x00\x00\x00"))
    assert err.reason == "bad-checksum" and err.ban_score == 100


@pytest.mark.parametrize("data", ["text frame", None, 42, [1, 2]], ids=["str", "none", "int", "list"])
def test_not_binary(data):
    assert _reason(MAGIC, data).reason == "not-binary"


@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data):
    try:
        command, payload = decode_frame(MAGIC, data)
    except FrameError as err:
        assert err.reason
    else:
        if command:  # an all-NUL command decodes but is not ours to send
            assert encode_frame(MAGIC, command, payload) == data


@given(commands, payloads, st.data())
def test_fuzz_mutated_frames(command, payload, data):
    frame = bytearray(encode_frame(MAGIC, command, payload))
    pos = data.draw(st.integers(0, len(frame) - 1))
    frame[pos] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(frame)))
    try:
        decode_frame(MAGIC, bytes(frame[:cut]))
    except FrameError:
        pass


@pytest.mark.parametrize("magic, command, payload", [
    (b"\xfa\xbf\xb5", "ping", b""),
    (MAGIC, "", b""),
    (MAGIC, "thirteenchars", b""),
    (MAGIC, "bad\x00cmd", b""),
    (MAGIC, "caf\u00e9", b""),
    (MAGIC, "block", bytes(MAX_PROTOCOL_MESSAGE_LENGTH + 1)),
], ids=["short-magic", "empty-command", "long-command", "nul-command", "non-ascii", "oversized"])
def test_encode_refuses_our_own_mistakes(magic, command, payload):
    with pytest.raises(ValueError):
        encode_frame(magic, command, payload)
