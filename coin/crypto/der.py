"""DER encoding of ECDSA signatures, strict (BIP-0066) and lax (pre-BIP66).

Three readers of the same bytes, each matching a piece of Bitcoin Core:

- ``is_valid_signature_encoding`` is Core's ``IsValidSignatureEncoding``
  (script/interpreter.cpp, BIP-0066): a pure shape check on a signature that still
  carries its trailing sighash-type byte.
- ``is_low_der_signature`` is Core's ``IsLowDERSignature`` (BIP-0062 rule 5, the
  ``LOW_S`` policy flag), again on a signature with its sighash-type byte.
- ``parse_der_lax`` is Core's ``ecdsa_signature_parse_der_lax`` (pubkey.cpp): the
  permissive parser every signature goes through before verification, which is what
  signatures from before BIP-0066 need.

``parse_der_strict`` accepts exactly the encodings ``encode_der`` can produce
(minimal, positive, no trailing bytes) with 0 < r, s < n. Nothing here raises on bad
input: the readers answer ``False`` or ``None``.
"""

__all__ = [
    "SECP256K1_ORDER",
    "SECP256K1_HALF_ORDER",
    "is_valid_signature_encoding",
    "is_low_der_signature",
    "parse_der_lax",
    "parse_der_strict",
    "encode_der",
    "normalize_s",
]

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_ORDER = SECP256K1_ORDER >> 1


def is_valid_signature_encoding(sig: bytes) -> bool:
    """Core's IsValidSignatureEncoding: strict DER plus one sighash-type byte (BIP-0066).

    Format: 0x30 [total-length] 0x02 [R-length] [R] 0x02 [S-length] [S] [sighash],
    where total-length covers R and S, both integers are minimally encoded, positive
    and non-empty, and the whole is 9 to 73 bytes. The script engine maps False to
    the ``SIG_DER`` script error.
    """
    n = len(sig)
    # Minimum and maximum size constraints.
    if n < 9 or n > 73:
        return False
    # A signature is of type 0x30 (compound).
    if sig[0] != 0x30:
        return False
    # Make sure the length covers the entire signature.
    if sig[1] != n - 3:
        return False
    # Extract the length of the R element.
    len_r = sig[3]
    # Make sure the length of the S element is still inside the signature.
    if 5 + len_r >= n:
        return False
    # Extract the length of the S element.
    len_s = sig[5 + len_r]
    # Verify that the length of the signature matches the sum of the elements.
    if len_r + len_s + 7 != n:
        return False
    # Check whether the R element is an integer.
    if sig[2] != 0x02:
        return False
    # Zero-length integers are not allowed for R.
    if len_r == 0:
        return False
    # Negative numbers are not allowed for R.
    if sig[4] & 0x80:
        return False
    # Null bytes at the start of R are not allowed, unless R would otherwise be
    # interpreted as a negative number.
    if len_r > 1 and sig[4] == 0x00 and not (sig[5] & 0x80):
        return False
    # Check whether the S element is an integer.
    if sig[len_r + 4] != 0x02:
        return False
    # Zero-length integers are not allowed for S.
    if len_s == 0:
        return False
    # Negative numbers are not allowed for S.
    if sig[len_r + 6] & 0x80:
        return False
    # Null bytes at the start of S are not allowed, unless S would otherwise be
    # interpreted as a negative number.
    if len_s > 1 and sig[len_r + 6] == 0x00 and not (sig[len_r + 7] & 0x80):
        return False
    return True


def is_low_der_signature(sig: bytes) -> bool:
    """Core's IsLowDERSignature minus the encoding check: is S <= n/2?

    ``sig`` carries its sighash-type byte and is assumed to pass
    ``is_valid_signature_encoding`` (the caller checks that first and reports
    ``SIG_DER``); False here maps to the ``SIG_HIGH_S`` script error. Core parses
    with the lax parser and asks libsecp256k1 whether normalisation changes S, so an
    S that overflows the order (parsed as zero) counts as low.
    """
    parsed = parse_der_lax(sig[:-1])
    if parsed is None:
        return False
    return parsed[1] <= SECP256K1_HALF_ORDER


def _read_len(der: bytes, pos: int, n: int) -> tuple[int, int] | None:
    # One integer length as ecdsa_signature_parse_der_lax reads it: short form, or
    # long form whose leading zero bytes are skipped and at most 3 bytes remain.
    if pos == n:
        return None
    lenbyte = der[pos]
    pos += 1
    if not lenbyte & 0x80:
        return lenbyte, pos
    lenbyte -= 0x80
    if lenbyte > n - pos:
        return None
    while lenbyte > 0 and der[pos] == 0:
        pos += 1
        lenbyte -= 1
    if lenbyte >= 4:
        return None
    value = 0
    while lenbyte > 0:
        value = (value << 8) + der[pos]
        pos += 1
        lenbyte -= 1
    return value, pos


def parse_der_lax(der: bytes) -> tuple[int, int] | None:
    """Core's ecdsa_signature_parse_der_lax, behaviour for behaviour.

    ``der`` is the signature WITHOUT its sighash-type byte. Returns None where Core
    returns 0 (no usable structure: wrong tags, lengths running past the end, an
    integer length of 4 or more bytes). Otherwise returns (r, s): the integers'
    bytes taken as unsigned big-endian after dropping leading zeros (sign bits and
    padding are ignored, the sequence length is skipped unread, trailing bytes are
    ignored). Where Core's parse "overflows" (an integer longer than 32 bytes, or
    r or s >= n) it still succeeds with the all-zero signature, and so does this:
    (0, 0), which no verification accepts.
    """
    n = len(der)
    pos = 0
    # Sequence tag byte.
    if pos == n or der[pos] != 0x30:
        return None
    pos += 1
    # Sequence length bytes (skipped, never checked).
    if pos == n:
        return None
    lenbyte = der[pos]
    pos += 1
    if lenbyte & 0x80:
        lenbyte -= 0x80
        if lenbyte > n - pos:
            return None
        pos += lenbyte
    # Integer tag byte for R.
    if pos == n or der[pos] != 0x02:
        return None
    pos += 1
    got = _read_len(der, pos, n)
    if got is None:
        return None
    rlen, pos = got
    if rlen > n - pos:
        return None
    rpos = pos
    pos += rlen
    # Integer tag byte for S.
    if pos == n or der[pos] != 0x02:
        return None
    pos += 1
    got = _read_len(der, pos, n)
    if got is None:
        return None
    slen, pos = got
    if slen > n - pos:
        return None
    spos = pos
    # Ignore leading zeroes in R and S; more than 32 significant bytes overflow.
    while rlen > 0 and der[rpos] == 0:
        rlen -= 1
        rpos += 1
    while slen > 0 and der[spos] == 0:
        slen -= 1
        spos += 1
    if rlen > 32 or slen > 32:
        return 0, 0
    r = int.from_bytes(der[rpos:rpos + rlen], "big")
    s = int.from_bytes(der[spos:spos + slen], "big")
    # secp256k1_ecdsa_signature_parse_compact rejects r or s >= n.
    if r >= SECP256K1_ORDER or s >= SECP256K1_ORDER:
        return 0, 0
    return r, s


def _encode_int(x: int) -> bytes:
    b = x.to_bytes((x.bit_length() + 7) // 8 or 1, "big")
    if b[0] & 0x80:
        b = b"\x00" + b
    return b"\x02" + bytes([len(b)]) + b


def encode_der(r: int, s: int) -> bytes:
    """Strict DER of (r, s), without a sighash-type byte: what libsecp256k1 emits.

    Raises ValueError unless 0 <= r, s < 2**256 (the encoding itself does not check
    the order; ``parse_der_strict`` does).
    """
    if not (0 <= r < 1 << 256 and 0 <= s < 1 << 256):
        raise ValueError("r and s must be 256-bit unsigned integers")
    body = _encode_int(r) + _encode_int(s)
    return b"\x30" + bytes([len(body)]) + body


def parse_der_strict(der: bytes) -> tuple[int, int] | None:
    """(r, s) if ``der`` (no sighash-type byte) is strict DER with 0 < r, s < n, else None.

    Strict means exactly what ``is_valid_signature_encoding`` accepts once a
    sighash-type byte is appended: minimal positive integers, no trailing bytes.
    """
    if not is_valid_signature_encoding(der + b"\x01"):
        return None
    len_r = der[3]
    r = int.from_bytes(der[4:4 + len_r], "big")
    s = int.from_bytes(der[6 + len_r:], "big")
    if not (0 < r < SECP256K1_ORDER and 0 < s < SECP256K1_ORDER):
        return None
    return r, s


def normalize_s(r: int, s: int) -> tuple[int, int]:
    """Low-S form (BIP-0062): replace s by n - s when s > n/2, as libsecp256k1 does."""
    if s > SECP256K1_HALF_ORDER:
        s = SECP256K1_ORDER - s
    return r, s
