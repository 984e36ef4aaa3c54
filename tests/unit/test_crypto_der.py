"""coin.crypto.der: strict BIP66 encoding, low S, and Core's lax DER parser."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coin.crypto.der import (
    SECP256K1_HALF_ORDER,
    SECP256K1_ORDER,
    encode_der,
    is_low_der_signature,
    is_valid_signature_encoding,
    normalize_s,
    parse_der_lax,
    parse_der_strict,
)

N = SECP256K1_ORDER
scalars = st.integers(min_value=1, max_value=N - 1)


def _int_bytes(x: int) -> bytes:
    return x.to_bytes((x.bit_length() + 7) // 8 or 1, "big")


def _der_int(x: int) -> bytes:
    # Minimal positive DER integer content (sign pad where the high bit is set).
    b = _int_bytes(x)
    return b"\x00" + b if b[0] & 0x80 else b


def _raw_der(r_bytes: bytes, s_bytes: bytes, seq_len=None) -> bytes:
    body = b"\x02" + bytes([len(r_bytes)]) + r_bytes + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    return b"\x30" + bytes([len(body) if seq_len is None else seq_len]) + body


def test_order_constant():
    # The secp256k1 group order, as the ecdsa package knows it (independent source).
    from ecdsa import SECP256k1

    assert SECP256K1_ORDER == SECP256k1.order
    assert SECP256K1_HALF_ORDER == SECP256k1.order // 2


@given(scalars, scalars)
def test_encode_round_trips_strict_and_lax(r, s):
    der = encode_der(r, s)
    assert is_valid_signature_encoding(der + b"\x01")
    assert parse_der_strict(der) == (r, s)
    assert parse_der_lax(der) == (r, s)


@given(scalars, scalars)
def test_encode_matches_ecdsa_package(r, s):
    from ecdsa.util import sigencode_der

    assert encode_der(r, s) == sigencode_der(r, s, N)


@given(scalars, scalars, st.integers(min_value=1, max_value=5))
def test_padding_is_not_strict_but_lax_parses(r, s, pad):
    der = _raw_der(b"\x00" * pad + _int_bytes(r), _der_int(s))
    rb = _int_bytes(r)
    # Padding is allowed only once and only before a byte with the high bit set.
    minimal = pad == 1 and rb[0] & 0x80
    assert is_valid_signature_encoding(der + b"\x01") == bool(minimal)
    assert parse_der_lax(der) == (r, s)


@given(st.integers(min_value=1 << 255, max_value=N - 1), scalars, st.booleans())
def test_negative_integers_lax_reads_unsigned(big, other, r_negative):
    # Drop the 0x00 sign pad: DER reads a negative number, Core's lax parser does not care.
    neg = big.to_bytes(32, "big")
    if r_negative:
        der, want = _raw_der(neg, _der_int(other)), (big, other)
    else:
        der, want = _raw_der(_der_int(other), neg), (other, big)
    assert not is_valid_signature_encoding(der + b"\x01")
    assert parse_der_strict(der) is None
    assert parse_der_lax(der) == want


def test_lax_quirks_as_core():
    r, s = 0x1234, 0x5678
    good = encode_der(r, s)
    # Trailing garbage and a wrong sequence length are ignored by the lax parser.
    assert parse_der_lax(good + b"\xde\xad") == (r, s)
    assert parse_der_lax(_raw_der(b"\x12\x34", b"\x56\x78", seq_len=0x7F)) == (r, s)
    assert not is_valid_signature_encoding(good + b"\xde\xad" + b"\x01")
    # Long-form integer lengths (with leading zero length bytes) are read.
    long_form = b"\x30\x0c\x02\x82\x00\x02\x12\x34\x02\x81\x02\x56\x78"
    assert parse_der_lax(long_form) == (r, s)
    # Long-form sequence length: its bytes are skipped.
    assert parse_der_lax(b"\x30\x82\xff\xff" + good[2:]) == (r, s)
    # Leading zero length bytes do not count towards the limit...
    assert parse_der_lax(b"\x30\x00\x02\x84\x00\x00\x00\x02\x12\x34\x02\x02\x56\x78") == (r, s)
    # ...but four or more significant length bytes fail, as in Core.
    assert parse_der_lax(b"\x30\x00\x02\x84\x01\x00\x00\x00" + bytes(16)) is None
    # Empty integers are zero.
    assert parse_der_lax(b"\x30\x04\x02\x00\x02\x00") == (0, 0)
    # Structural failures.
    for bad in (b"", b"\x31" + good[1:], b"\x30", good[:2] + b"\x03" + good[3:], good[:-1],
                b"\x30\x06\x02\x01\x01\x02\x05\x01", b"\x30\x81"):
        assert parse_der_lax(bad) is None, bad.hex()


def test_lax_overflow_gives_zero_signature():
    # r or s of 33 significant bytes, or >= n: Core keeps a parsed all-zero signature.
    big = b"\x01" + b"\x00" * 32
    assert parse_der_lax(_raw_der(big, b"\x01")) == (0, 0)
    assert parse_der_lax(_raw_der(b"\x01", big)) == (0, 0)
    assert parse_der_lax(_raw_der(b"\x00" + N.to_bytes(32, "big"), b"\x01")) == (0, 0)
    assert parse_der_lax(_raw_der(b"\x01", b"\x00" + (N + 5).to_bytes(32, "big"))) == (0, 0)
    # n - 1 is fine; leading zeros beyond 32 bytes do not count.
    assert parse_der_lax(_raw_der(b"\x00" * 10 + (N - 1).to_bytes(32, "big"), b"\x01")) == (N - 1, 1)


def test_strict_rejects_zero_and_order():
    assert parse_der_strict(_raw_der(b"\x00", b"\x01")) is None
    assert parse_der_strict(_raw_der(b"\x01", b"\x00")) is None
    assert parse_der_strict(_raw_der(b"\x00" + N.to_bytes(32, "big"), b"\x01")) is None
    assert parse_der_strict(encode_der(1, 1)) == (1, 1)


@pytest.mark.parametrize("length", range(0, 80))
def test_encoding_size_bounds(length):
    # Sizes outside 9..73 are never valid, whatever the content.
    sig = bytes(length)
    if length < 9 or length > 73:
        assert not is_valid_signature_encoding(sig)


def test_encoding_examples():
    sig = encode_der(N - 1, N // 2) + b"\x01"
    assert is_valid_signature_encoding(sig)
    assert len(sig) == 72
    # Break each field in turn.
    assert not is_valid_signature_encoding(b"\x31" + sig[1:])
    assert not is_valid_signature_encoding(sig[:1] + bytes([sig[1] + 1]) + sig[2:])
    assert not is_valid_signature_encoding(sig[:2] + b"\x03" + sig[3:])
    assert not is_valid_signature_encoding(sig[:-1])  # no hashtype byte: lengths no longer add up
    assert not is_valid_signature_encoding(_raw_der(b"", b"\x01") + b"\x01")
    assert not is_valid_signature_encoding(_raw_der(b"\x01", b"") + b"\x01")
    assert not is_valid_signature_encoding(_raw_der(b"\x01", b"\x81") + b"\x01")
    assert not is_valid_signature_encoding(_raw_der(b"\x01", b"\x00\x01") + b"\x01")
    assert is_valid_signature_encoding(_raw_der(b"\x01", b"\x00\x81") + b"\x01")


@given(scalars, scalars)
def test_low_s(r, s):
    sig = encode_der(r, s) + b"\x01"
    assert is_low_der_signature(sig) == (s <= N // 2)
    r2, s2 = normalize_s(r, s)
    assert r2 == r and s2 <= N // 2 and s2 in (s, N - s)
    assert is_low_der_signature(encode_der(r2, s2) + b"\x01")


def test_low_s_boundary():
    assert is_low_der_signature(encode_der(1, N // 2) + b"\x01")
    assert not is_low_der_signature(encode_der(1, N // 2 + 1) + b"\x01")
    assert normalize_s(1, N // 2 + 1) == (1, N // 2)


def test_encode_der_range():
    with pytest.raises(ValueError):
        encode_der(-1, 1)
    with pytest.raises(ValueError):
        encode_der(1, 1 << 256)
