"""Bitcoin's 24-byte message header, one P2P message per WebSocket binary message.

Layout (src/protocol.h CMessageHeader), all of it covered by nothing but TCP in
Bitcoin and by the WebSocket frame here:

    offset  size  field
    0       4     network magic (ChainParams.magic: f9beb4d9 main, fabfb5da regtest)
    4       12    command: printable ASCII, NUL-padded on the right
    16      4     payload length, uint32 little-endian
    20      4     checksum: sha256d(payload)[:4]
    24      len   payload

`decode_frame` checks, in Core's order (V1Transport::readHeader, then the checksum
once the payload is complete): the header is complete, the magic, the command, the
length against MAX_PROTOCOL_MESSAGE_LENGTH, the length against the bytes that came,
the checksum. Any failure raises `FrameError(reason, ban_score)`; nothing else is
ever raised, whatever the bytes. After a FrameError the peer layer disconnects.
"""

import struct

from coin.crypto.hashes import sha256d
from coin.p2p.protocol import MAX_PROTOCOL_MESSAGE_LENGTH, MESSAGE_HEADER_SIZE, MESSAGE_TYPE_SIZE

__all__ = [
    "FrameError",
    "encode_frame",
    "decode_frame",
    "checksum",
    "is_valid_command",
]

_LEN = struct.Struct("<I")


class FrameError(Exception):
    """A WebSocket message that is not one well-formed P2P message.

    `reason` is one of: "not-binary", "truncated-header", "bad-magic", "bad-command",
    "oversized-payload", "bad-length", "bad-checksum". `ban_score` is the misbehaviour
    the sender earns: 0 for a wrong magic (a node of another network, which Core
    disconnects without penalty), 100 for the rest (over WebSocket nothing corrupts a
    frame in transit, so a malformed one is the sender's doing).
    """

    def __init__(self, reason: str, ban_score: int = 100, debug: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.ban_score = ban_score
        self.debug = debug

    def __str__(self) -> str:
        return f"{self.reason}, {self.debug}" if self.debug else self.reason

    def __repr__(self) -> str:
        return f"FrameError({self.reason!r}, ban_score={self.ban_score}, debug={self.debug!r})"


def checksum(payload: bytes) -> bytes:
    """The header checksum: the first 4 bytes of sha256d(payload)."""
    return sha256d(payload)[:4]


def is_valid_command(raw: bytes) -> bool:
    """Core's CMessageHeader::IsMessageTypeValid on the 12-byte command field.

    Printable ASCII (0x20..0x7e) up to the first NUL, then only NULs. An all-NUL
    field is valid (an empty, unknown command).
    """
    if len(raw) != MESSAGE_TYPE_SIZE:
        return False
    name, _, padding = raw.partition(b"\x00")
    if padding.strip(b"\x00"):
        return False
    return all(0x20 <= c <= 0x7E for c in name)


def encode_frame(magic: bytes, command: str, payload: bytes) -> bytes:
    """Header plus payload, ready to send as one WebSocket binary message.

    Raises ValueError (a bug of ours, never a peer's) for a magic that is not 4 bytes,
    a command that is empty, longer than 12 bytes or not printable ASCII, or a payload
    over MAX_PROTOCOL_MESSAGE_LENGTH.
    """
    if len(magic) != 4:
        raise ValueError(f"magic must be 4 bytes, not {len(magic)}")
    try:
        raw = command.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"command {command!r} is not ASCII") from None
    if not raw or len(raw) > MESSAGE_TYPE_SIZE or not is_valid_command(raw.ljust(MESSAGE_TYPE_SIZE, b"\x00")):
        raise ValueError(f"invalid command {command!r}")
    payload = bytes(payload)
    if len(payload) > MAX_PROTOCOL_MESSAGE_LENGTH:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PROTOCOL_MESSAGE_LENGTH}")
    return b"".join((
        bytes(magic),
        raw.ljust(MESSAGE_TYPE_SIZE, b"\x00"),
        _LEN.pack(len(payload)),
        checksum(payload),
        payload,
    ))


def decode_frame(magic: bytes, data: bytes) -> tuple[str, bytes]:
    """Split one WebSocket binary message into (command, payload).

    Raises FrameError and nothing else:
    - "not-binary" (100): `data` is not bytes-like (a text WebSocket message);
    - "truncated-header" (100): fewer than 24 bytes;
    - "bad-magic" (0): the first 4 bytes are not `magic`;
    - "bad-command" (100): the command field fails `is_valid_command`;
    - "oversized-payload" (100): the length field exceeds MAX_PROTOCOL_MESSAGE_LENGTH;
    - "bad-length" (100): the length field disagrees with the bytes that follow;
    - "bad-checksum" (100): sha256d(payload)[:4] differs from the header's.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FrameError("not-binary", 100, f"got {type(data).__name__}")
    try:
        data = bytes(data)
    except (TypeError, ValueError):  # a memoryview of a non-byte format
        raise FrameError("not-binary", 100, "unreadable buffer") from None
    if len(data) < MESSAGE_HEADER_SIZE:
        raise FrameError("truncated-header", 100, f"{len(data)} bytes")
    if data[0:4] != magic:
        raise FrameError("bad-magic", 0, f"got {data[0:4].hex()}, want {bytes(magic).hex()}")
    raw_command = data[4:16]
    if not is_valid_command(raw_command):
        raise FrameError("bad-command", 100, f"command field {raw_command.hex()}")
    command = raw_command.rstrip(b"\x00").decode("ascii")
    (length,) = _LEN.unpack_from(data, 16)
    if length > MAX_PROTOCOL_MESSAGE_LENGTH:
        raise FrameError("oversized-payload", 100, f"{command}: length {length}")
    payload = data[MESSAGE_HEADER_SIZE:]
    if len(payload) != length:
        raise FrameError("bad-length", 100, f"{command}: header says {length}, got {len(payload)}")
    if checksum(payload) != data[20:24]:
        raise FrameError("bad-checksum", 100, f"{command}: {data[20:24].hex()}")
    return command, payload
