"""The hash functions Bitcoin uses: SHA-256d, HASH160, RIPEMD-160 and BIP-0340 tagged hashes.

All take and return bytes. RIPEMD-160 comes from OpenSSL through hashlib where the
build offers it, else from a small pure-Python implementation (OpenSSL 3 may drop it).
"""

import hashlib
from functools import lru_cache

__all__ = ["sha256", "sha256d", "ripemd160", "hash160", "hash256", "tagged_hash"]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    """SHA-256 applied twice: txids, block hashes, checksums (Core's Hash / hash256)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


hash256 = sha256d


def _ripemd160_py(data: bytes) -> bytes:
    # Pure-Python RIPEMD-160 (used only when OpenSSL lacks it).
    import struct

    def rol(x, n):
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    r1 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
          3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12, 1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
          4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13]
    r2 = [5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
          15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13, 8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
          12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11]
    s1 = [11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8, 7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
          11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5, 11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
          9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6]
    s2 = [8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6, 9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
          9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5, 15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
          8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11]
    k1 = [0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E]
    k2 = [0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000]

    def f(j, x, y, z):
        if j < 16:
            return x ^ y ^ z
        if j < 32:
            return (x & y) | (~x & z)
        if j < 48:
            return (x | ~y) ^ z
        if j < 64:
            return (x & z) | (y & ~z)
        return x ^ (y | ~z)

    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    msg = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", 8 * len(data))
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        al, bl, cl, dl, el = h
        ar, br, cr, dr, er = h
        for j in range(80):
            t = rol((al + (f(j, bl, cl, dl) & 0xFFFFFFFF) + x[r1[j]] + k1[j // 16]) & 0xFFFFFFFF, s1[j]) + el
            al, el, dl, cl, bl = el, dl, rol(cl, 10), bl, t & 0xFFFFFFFF
            t = rol((ar + (f(79 - j, br, cr, dr) & 0xFFFFFFFF) + x[r2[j]] + k2[j // 16]) & 0xFFFFFFFF, s2[j]) + er
            ar, er, dr, cr, br = er, dr, rol(cr, 10), br, t & 0xFFFFFFFF
        t = (h[1] + cl + dr) & 0xFFFFFFFF
        h[1] = (h[2] + dl + er) & 0xFFFFFFFF
        h[2] = (h[3] + el + ar) & 0xFFFFFFFF
        h[3] = (h[4] + al + br) & 0xFFFFFFFF
        h[4] = (h[0] + bl + cr) & 0xFFFFFFFF
        h[0] = t
    return struct.pack("<5I", *h)


def _openssl_has_ripemd160() -> bool:
    try:
        hashlib.new("ripemd160", b"")
    except ValueError:
        return False
    return True


if _openssl_has_ripemd160():
    def ripemd160(data: bytes) -> bytes:
        return hashlib.new("ripemd160", data).digest()
else:  # pragma: no cover - depends on the OpenSSL build
    ripemd160 = _ripemd160_py


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256: public key and script hashes in addresses."""
    return ripemd160(hashlib.sha256(data).digest())


@lru_cache(maxsize=64)
def _tag_prefix(tag: str) -> bytes:
    t = hashlib.sha256(tag.encode()).digest()
    return t + t


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP-0340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || data)."""
    return hashlib.sha256(_tag_prefix(tag) + data).digest()
