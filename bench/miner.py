"""Benchmarks of the native proof-of-work scanner (coin.mining).

All hash rates in MH/s (millions of nonces a second, each one a double SHA-256 of an
80-byte header). Each benchmark measures its value and its baseline interleaved, best of
a few runs, so both see the same load on a shared machine.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable

from bench import Measure, benchmark, best_rates
from coin.mining import Miner, has_avx2, has_sha_ni, scan
from coin.mining.scanner import native_available

__all__ = ["HEADER"]

# the mainnet genesis header (its nonce field is ignored by the scanner)
HEADER = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd"
    "7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)
_IMPOSSIBLE = 0  # target 0: no nonce wins, every nonce is hashed
_MH = 1e6
Job = tuple[Callable[[], object], float]


def _impl_name() -> str:
    if not native_available():
        return "python"
    return "shani" if has_sha_ni() else "portable"


def _hashlib_loop() -> Job:
    """A plain hashlib double-SHA256 loop over the header, nonce by nonce."""
    prefix = HEADER[:76]
    pack = struct.Struct("<I").pack
    sha256 = hashlib.sha256
    n = 20_000

    def loop() -> None:
        for nonce in range(n):
            sha256(sha256(prefix + pack(nonce)).digest()).digest()

    return loop, n


def _native(impl: str = "auto", count: int = 1 << 21) -> Job:
    return (lambda: scan(HEADER, _IMPOSSIBLE, 0, count, impl=impl)), count


def _sha256_limit() -> Job:
    """hashlib SHA-256 on 1 MiB buffers, counted in nonces (128 bytes compressed each)."""
    buf = os.urandom(1 << 20)
    return (lambda: hashlib.sha256(buf).digest()), len(buf) / 128


@benchmark("miner.hashrate.1thread")
def hashrate_one_thread() -> Measure:
    """One thread of the native scanner vs a hashlib double-SHA256 loop."""
    ours, base = best_rates(_native(), _hashlib_loop())
    return Measure(
        ours / _MH, "MH/s", base / _MH, "hashlib sha256d loop", extra={"impl": _impl_name()}
    )


@benchmark("miner.hashrate.portable")
def hashrate_portable() -> Measure:
    """One thread of the native scanner forced onto its portable C path."""
    ours, base = best_rates(_native("portable", 1 << 18), _hashlib_loop())
    return Measure(
        ours / _MH, "MH/s", base / _MH, "hashlib sha256d loop", extra={"impl": "portable"}
    )


if has_avx2():

    @benchmark("miner.hashrate.avx2")
    def hashrate_avx2() -> Measure:
        """One thread of the native scanner forced onto its AVX2 path (8 nonces a lane)."""
        ours, base = best_rates(_native("avx2", 1 << 20), _native("portable", 1 << 18))
        return Measure(
            ours / _MH, "MH/s", base / _MH, "miner.hashrate.portable", extra={"impl": "avx2"}
        )


@benchmark("miner.hashrate.threads")
def hashrate_threads() -> Measure:
    """Miner with one thread per core vs one native thread."""
    threads = os.cpu_count() or 1
    miner = Miner(threads=threads)
    count = threads << 21
    job = (lambda: miner.mine(HEADER, _IMPOSSIBLE, end_nonce=count)), count
    ours, one = best_rates(job, _native())
    return Measure(
        ours / _MH, "MH/s", one / _MH, "miner.hashrate.1thread",
        extra={"threads": threads, "impl": _impl_name()},
    )


@benchmark("miner.limit")
def limit() -> Measure:
    """This CPU's SHA-256 limit for mining (hashlib on 1 MiB / 128 bytes a nonce).

    Baseline: one native thread, so ratio = limit / one thread; below 1 means one thread
    beats hashlib's bulk SHA-256 throughput (the target is one thread >= 0.85 x limit,
    i.e. ratio <= 1 / 0.85).
    """
    lim, one = best_rates(_sha256_limit(), _native())
    return Measure(
        lim / _MH, "MH/s", one / _MH, "miner.hashrate.1thread",
        extra={
            "one_thread_of_limit": round(one / lim, 3),
            "note": f"one native thread at {one / lim:.2f} x the limit (target >= 0.85)",
            "impl": _impl_name(),
        },
    )
