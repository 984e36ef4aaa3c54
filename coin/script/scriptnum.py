"""Script numbers (Core's CScriptNum): little-endian sign-magnitude with explicit size limits.

Python integers never overflow, so the limits Core gets from int64 are coded here:
operands are at most `max_size` bytes (4 by default, 5 for CHECKLOCKTIMEVERIFY and
CHECKSEQUENCEVERIFY) and, under MINIMALDATA, minimally encoded. Results of arithmetic may
be longer (an ADD of two 4-byte numbers yields up to 5 bytes); they are encoded as is.

Errors: `ScriptNumError` (a ScriptError with code SCRIPTNUM) on overflow or non-minimal
encoding.
"""

from coin.script.errors import ScriptError

__all__ = ["ScriptNumError", "decode_num", "encode_num", "cast_to_bool", "DEFAULT_MAX_NUM_SIZE"]

DEFAULT_MAX_NUM_SIZE = 4


class ScriptNumError(ScriptError):
    """A script number too long for its operand, or non-minimally encoded under MINIMALDATA."""

    def __init__(self, detail: str):
        super().__init__("SCRIPTNUM")
        self.detail = detail


def decode_num(data: bytes, require_minimal: bool = False, max_size: int = DEFAULT_MAX_NUM_SIZE) -> int:
    """Decode a script number (Core's CScriptNum(vch, fRequireMinimal, nMaxNumSize)).

    Raises ScriptNumError if `data` is longer than `max_size` or, with `require_minimal`,
    not minimally encoded (negative zero included).
    """
    n = len(data)
    if n > max_size:
        raise ScriptNumError("script number overflow")
    if n == 0:
        return 0
    last = data[-1]
    if require_minimal and not last & 0x7F and (n <= 1 or not data[-2] & 0x80):
        raise ScriptNumError("non-minimally encoded script number")
    if last & 0x80:
        return -int.from_bytes(data[:-1] + bytes((last & 0x7F,)), "little")
    return int.from_bytes(data, "little")


def encode_num(value: int) -> bytes:
    """Encode an integer as a minimal script number (Core's CScriptNum::serialize)."""
    if value == 0:
        return b""
    neg = value < 0
    absvalue = -value if neg else value
    length = (absvalue.bit_length() + 8) // 8  # room for the sign bit
    out = bytearray(absvalue.to_bytes(length, "little"))
    if neg:
        out[-1] |= 0x80
    return bytes(out)


def cast_to_bool(data: bytes) -> bool:
    """Core's CastToBool: false for empty, all zeros, or negative zero (zeros then 0x80)."""
    for i, b in enumerate(data):
        if b:
            return not (i == len(data) - 1 and b == 0x80)
    return False
