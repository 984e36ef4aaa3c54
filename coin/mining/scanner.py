"""The proof-of-work scanner: try a range of nonces on one 80-byte header.

`scan` calls the native scanner (`coin._miner`, built from native/sha256d.c); `scan_python`
is its pure-Python twin with the same signature and results, used to test the native
one and as the fallback when the extension is not built.

A hash meets the target when, read as a little-endian 256-bit number, it is <= target
(Bitcoin Core's CheckProofOfWork). The header's own nonce field is ignored.

The native scanner has three paths, chosen at run time: SHA-NI (x86 SHA extensions),
AVX2 (eight nonces at once, for x86 CPUs without SHA-NI) and portable C. `impl="portable"`
(or the environment variable COIN_MINER_IMPL=portable, read at each call) forces the
portable one; `impl="shani"` or `impl="avx2"` demands that path.
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import NamedTuple

__all__ = [
    "ScanResult",
    "StopFlag",
    "scan",
    "scan_python",
    "has_sha_ni",
    "has_avx2",
    "IMPLS",
    "native_available",
    "IMPL_ENV",
]

try:  # the extension is optional: a checkout without a build still mines (slowly)
    from coin._miner import ffi as _ffi
    from coin._miner import lib as _lib

    _NATIVE = hasattr(_lib, "coin_scan")
except ImportError:  # pragma: no cover - depends on the build
    _ffi = _lib = None
    _NATIVE = False

IMPL_ENV = "COIN_MINER_IMPL"
_IMPLS = {"auto": 0, "portable": 1, "shani": 2, "avx2": 3}
#: the names `scan(impl=...)` accepts
IMPLS = tuple(_IMPLS)
_NONCE_SPACE = 1 << 32
_HEADER_SIZE = 80


class ScanResult(NamedTuple):
    """`nonce`: the first nonce in the range that meets the target, or None;
    `hashes`: how many nonces were tried (up to and including the winner)."""

    nonce: int | None
    hashes: int


class StopFlag:
    """A flag the scanner polls every few thousand nonces; set it from any thread.

    It lives in C memory so a native scan running without the GIL sees it.
    """

    __slots__ = ("_ptr",)

    def __init__(self) -> None:
        self._ptr = _ffi.new("int *") if _NATIVE else [0]

    def set(self) -> None:
        self._ptr[0] = 1

    def clear(self) -> None:
        self._ptr[0] = 0

    def is_set(self) -> bool:
        return bool(self._ptr[0])


def native_available() -> bool:
    """True when the compiled scanner `coin._miner` is importable."""
    return _NATIVE


def has_sha_ni() -> bool:
    """True when this CPU has the x86 SHA extensions and the native scanner uses them."""
    return bool(_NATIVE and _lib.coin_has_sha_ni())


def has_avx2() -> bool:
    """True when this CPU has AVX2 and the native scanner can use its 8-lane path."""
    return bool(_NATIVE and _lib.coin_has_avx2())


def _check_args(header: bytes, target: int, start_nonce: int, count: int) -> None:
    if len(header) != _HEADER_SIZE:
        raise ValueError(f"header must be {_HEADER_SIZE} bytes, got {len(header)}")
    if not 0 <= target < 1 << 256:
        raise ValueError("target must be a 256-bit non-negative integer")
    if not 0 <= start_nonce < _NONCE_SPACE:
        raise ValueError("start_nonce must be in [0, 2**32)")
    if count < 0 or start_nonce + count > _NONCE_SPACE:
        raise ValueError("start_nonce + count must not exceed 2**32")


def scan(
    header: bytes,
    target: int,
    start_nonce: int,
    count: int,
    stop: StopFlag | None = None,
    *,
    impl: str | None = None,
) -> ScanResult:
    """Try nonces start_nonce .. start_nonce+count-1 natively; stop at the first hit.

    Releases the GIL while it runs. Returns early (nonce None) once `stop` is set.
    `impl` is "auto" (default: SHA-NI, else AVX2, else portable), "portable", "shani"
    or "avx2"; None reads COIN_MINER_IMPL. Raises ValueError on a malformed header or
    range, or when "shani" or "avx2" is asked for on a CPU without it. Falls back to `scan_python` when the extension is not built.
    """
    _check_args(header, target, start_nonce, count)
    if not _NATIVE:  # pragma: no cover - depends on the build
        return scan_python(header, target, start_nonce, count, stop)
    name = impl if impl is not None else os.environ.get(IMPL_ENV, "auto")
    try:
        code = _IMPLS[name]
    except KeyError:
        raise ValueError(f"unknown scanner implementation {name!r}") from None
    nonce_out = _ffi.new("uint32_t *")
    hashes_out = _ffi.new("uint64_t *")
    stop_ptr = stop._ptr if stop is not None else _ffi.NULL
    rc = _lib.coin_scan(
        bytes(header),
        target.to_bytes(32, "little"),
        start_nonce,
        count,
        stop_ptr,
        code,
        nonce_out,
        hashes_out,
    )
    if rc < 0:
        raise ValueError(f"the {name} scanner is not available on this CPU")
    return ScanResult(nonce_out[0] if rc == 1 else None, hashes_out[0])


def scan_python(
    header: bytes,
    target: int,
    start_nonce: int,
    count: int,
    stop: StopFlag | None = None,
    *,
    impl: str | None = None,
) -> ScanResult:
    """The pure-Python twin of `scan` (hashlib double SHA-256); same arguments, same
    results. `impl` is accepted for signature compatibility and ignored."""
    _check_args(header, target, start_nonce, count)
    prefix = hashlib.sha256(header[:76])
    sha256 = hashlib.sha256
    pack = struct.Struct("<I").pack
    from_bytes = int.from_bytes
    for i in range(count):
        if stop is not None and i % 4096 == 0 and stop.is_set():
            return ScanResult(None, i)
        nonce = start_nonce + i
        h = prefix.copy()
        h.update(pack(nonce))
        if from_bytes(sha256(h.digest()).digest(), "little") <= target:
            return ScanResult(nonce, i + 1)
    return ScanResult(None, count)
