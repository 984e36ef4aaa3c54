"""Private keys in Wallet Import Format (WIF), as Core's key_io.cpp encodes them.

WIF is Base58Check of: one network prefix byte (``params.wif_prefix``: 128 on main,
239 on regtest/testnet), the 32-byte private key, and a 0x01 byte when the matching
public key is compressed. ``wif_decode`` raises ValueError on a bad checksum or
character, a wrong length, a compression byte other than 0x01, or a key outside
[1, n-1].
"""

from coin.crypto.base58 import b58check_decode, b58check_encode
from coin.crypto.ecc import is_valid_privkey

__all__ = ["wif_encode", "wif_decode"]


def _prefix_of(params_or_prefix) -> int:
    if isinstance(params_or_prefix, int):
        prefix = params_or_prefix
    else:
        prefix = params_or_prefix.wif_prefix
    if not 0 <= prefix <= 255:
        raise ValueError("WIF prefix must be one byte")
    return prefix


def wif_encode(priv32: bytes, params_or_prefix, compressed: bool = True) -> str:
    """WIF string of ``priv32`` for a network given as ChainParams (``.wif_prefix``) or
    as the prefix byte itself. Raises ValueError for an invalid private key."""
    if not is_valid_privkey(priv32):
        raise ValueError("invalid private key")
    payload = bytes([_prefix_of(params_or_prefix)]) + priv32
    if compressed:
        payload += b"\x01"
    return b58check_encode(payload)


def wif_decode(s: str) -> tuple[bytes, bool, int]:
    """(private key, compressed, prefix byte) of a WIF string; the caller checks the
    prefix against its network. ValueError on anything invalid (see module docstring)."""
    if len(s) > 60:
        raise ValueError("WIF string too long")
    payload = b58check_decode(s)
    if len(payload) == 34:
        if payload[33] != 1:
            raise ValueError("invalid WIF compression flag")
        compressed = True
    elif len(payload) == 33:
        compressed = False
    else:
        raise ValueError("invalid WIF length")
    priv = payload[1:33]
    if not is_valid_privkey(priv):
        raise ValueError("invalid private key")
    return priv, compressed, payload[0]
