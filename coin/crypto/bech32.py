"""Bech32 (BIP-0173) and Bech32m (BIP-0350) strings and segwit addresses.

Low level: ``bech32_encode(hrp, data5, encoding)`` and ``bech32_decode(s) ->
(hrp, data5, encoding)`` over 5-bit groups; ``convertbits`` regroups bits.
Segwit addresses: ``encode(hrp, witver, witprog)`` and ``decode(hrp, addr) ->
(witver, witprog)``; version 0 uses Bech32, versions 1 to 16 Bech32m (BIP-0350).

Error contract: every decoder raises ValueError on anything invalid: a character
outside US-ASCII 33..126, mixed case, a string over 90 characters, no separator, an
empty HRP, a checksum shorter than 6 characters, a character outside the data
alphabet, a bad checksum, the wrong HRP, the wrong checksum variant for the witness
version, a version above 16, a program that is not whole bytes (padding over 4 bits
or non-zero), or a program length outside 2..40 (exactly 20 or 32 for version 0).
Encoders raise ValueError on arguments that could not decode back.
"""

import enum

__all__ = [
    "CHARSET",
    "Encoding",
    "bech32_polymod",
    "bech32_encode",
    "bech32_decode",
    "convertbits",
    "encode",
    "decode",
]

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV = {c: i for i, c in enumerate(CHARSET)}
_BECH32M_CONST = 0x2BC830A3
_MAX_LEN = 90


class Encoding(enum.Enum):
    """Which checksum constant a string uses."""

    BECH32 = 1
    BECH32M = 2


_CONST = {Encoding.BECH32: 1, Encoding.BECH32M: _BECH32M_CONST}


def bech32_polymod(values) -> int:
    """The BCH checksum over 5-bit values (BIP-0173)."""
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (b >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _create_checksum(hrp: str, data, encoding: Encoding) -> list[int]:
    values = _hrp_expand(hrp) + list(data)
    polymod = bech32_polymod(values + [0] * 6) ^ _CONST[encoding]
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def bech32_encode(hrp: str, data, encoding: Encoding) -> str:
    """``hrp`` + '1' + data (5-bit values) + checksum, lower case.

    Raises ValueError on an empty or non-ASCII-33..126 HRP, a value outside 0..31, or
    a result over 90 characters.
    """
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise ValueError("invalid human-readable part")
    if any(not 0 <= d < 32 for d in data):
        raise ValueError("data values must be 5-bit")
    hrp = hrp.lower()
    combined = list(data) + _create_checksum(hrp, data, encoding)
    out = hrp + "1" + "".join(CHARSET[d] for d in combined)
    if len(out) > _MAX_LEN:
        raise ValueError("bech32 string too long")
    return out


def bech32_decode(bech: str) -> tuple[str, list[int], Encoding]:
    """(hrp, data, encoding) of a Bech32 or Bech32m string, HRP in lower case and the
    6 checksum values removed. ValueError on any of the failures listed in the module
    docstring that concern the string itself."""
    if any(not 33 <= ord(c) <= 126 for c in bech):
        raise ValueError("character out of range")
    if bech.lower() != bech and bech.upper() != bech:
        raise ValueError("mixed case")
    if len(bech) > _MAX_LEN:
        raise ValueError("overall max length exceeded")
    bech = bech.lower()
    pos = bech.rfind("1")
    if pos < 0:
        raise ValueError("no separator character")
    if pos == 0:
        raise ValueError("empty human-readable part")
    if pos + 7 > len(bech):
        raise ValueError("checksum too short")
    hrp = bech[:pos]
    data = []
    for c in bech[pos + 1:]:
        d = _CHARSET_REV.get(c)
        if d is None:
            raise ValueError(f"invalid data character {c!r}")
        data.append(d)
    const = bech32_polymod(_hrp_expand(hrp) + data)
    if const == 1:
        encoding = Encoding.BECH32
    elif const == _BECH32M_CONST:
        encoding = Encoding.BECH32M
    else:
        raise ValueError("invalid checksum")
    return hrp, data[:-6], encoding


def convertbits(data, frombits: int, tobits: int, pad: bool = True) -> list[int]:
    """Regroup a sequence of ``frombits``-bit values into ``tobits``-bit values.

    Without ``pad``, leftover bits must be fewer than ``frombits`` and all zero.
    Raises ValueError on an out-of-range value or invalid padding.
    """
    acc = 0
    bits = 0
    ret = []
    maxv = (1 << tobits) - 1
    max_acc = (1 << (frombits + tobits - 1)) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise ValueError("value out of range")
        acc = ((acc << frombits) | value) & max_acc
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise ValueError("invalid padding")
    return ret


def _check_program(witver: int, prog: bytes) -> None:
    if not 0 <= witver <= 16:
        raise ValueError("invalid witness version")
    if not 2 <= len(prog) <= 40:
        raise ValueError("invalid witness program length")
    if witver == 0 and len(prog) not in (20, 32):
        raise ValueError("invalid witness v0 program length")


def decode(hrp: str, addr: str) -> tuple[int, bytes]:
    """(witness version, witness program) of segwit address ``addr`` for network ``hrp``.

    ``hrp`` is compared case-insensitively; ValueError on a different HRP and on any
    failure in the module docstring.
    """
    hrpgot, data, encoding = bech32_decode(addr)
    if hrpgot != hrp.lower():
        raise ValueError("wrong human-readable part")
    if not data:
        raise ValueError("empty data section")
    witver = data[0]
    if witver > 16:
        raise ValueError("invalid witness version")
    prog = bytes(convertbits(data[1:], 5, 8, False))
    _check_program(witver, prog)
    if (witver == 0) != (encoding is Encoding.BECH32):
        raise ValueError("wrong checksum variant for the witness version")
    return witver, prog


def encode(hrp: str, witver: int, witprog: bytes) -> str:
    """Segwit address: Bech32 for version 0, Bech32m for 1..16 (BIP-0350).

    Raises ValueError on a version outside 0..16 or a program length that ``decode``
    would reject.
    """
    _check_program(witver, bytes(witprog))
    encoding = Encoding.BECH32 if witver == 0 else Encoding.BECH32M
    return bech32_encode(hrp, [witver] + convertbits(witprog, 8, 5), encoding)
