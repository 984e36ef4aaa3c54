"""Base58 and Base58Check (Bitcoin's alphabet), as Core's base58.cpp encodes them.

Leading zero bytes become leading '1' characters and back. ``b58check_*`` append or
check the first four bytes of SHA-256d of the payload. Decoding raises ValueError on
a character outside the alphabet or, for Base58Check, on a short string or a bad
checksum. Unlike Core we do not skip surrounding whitespace: callers strip.
"""

from coin.crypto.hashes import sha256d

__all__ = ["B58_ALPHABET", "b58encode", "b58decode", "b58check_encode", "b58check_decode"]

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}


def b58encode(data: bytes) -> str:
    """Base58 of ``data``; each leading zero byte becomes a '1'."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(out))


def b58decode(s: str) -> bytes:
    """Bytes of a Base58 string; ValueError on any character outside the alphabet."""
    n = 0
    for c in s:
        d = _INDEX.get(c)
        if d is None:
            raise ValueError(f"invalid base58 character {c!r}")
        n = n * 58 + d
    zeros = len(s) - len(s.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * zeros + body


def b58check_encode(payload: bytes) -> str:
    """Base58 of payload + first 4 bytes of SHA-256d(payload)."""
    return b58encode(payload + sha256d(payload)[:4])


def b58check_decode(s: str) -> bytes:
    """The payload of a Base58Check string; ValueError on a bad character, a string
    shorter than its 4-byte checksum, or a checksum mismatch."""
    raw = b58decode(s)
    if len(raw) < 4:
        raise ValueError("base58check string too short")
    payload, check = raw[:-4], raw[-4:]
    if sha256d(payload)[:4] != check:
        raise ValueError("base58check checksum mismatch")
    return payload
