"""Benchmarks of ECDSA verification through coin.crypto.ecc (both backends).

Each verifies the same set of distinct (pubkey, signature, sighash) triples, every
one valid, with the public-key cache emptied before each pass so that no parse is
saved by repetition. Baseline, measured interleaved in the same run: the bare
coincurve call `coincurve.PublicKey(pub).verify(sig, msg, hasher=None)` on the same
triples. `ratio` = our rate / bare rate, so 1.0 means no overhead and a ratio below
1 is overhead (the target for the coincurve backend is >= 0.67, i.e. at most 1.5x
the bare call's time).
"""

from __future__ import annotations

import hashlib
import os

from bench import QUICK_ENV, Measure, benchmark, best_rates

__all__ = ["triples", "run"]


def triples(n: int) -> list[tuple[bytes, bytes, bytes]]:
    """n deterministic (compressed pubkey, DER signature, 32-byte message) triples."""
    import coincurve

    out = []
    for i in range(n):
        priv = hashlib.sha256(b"bench-key-%d" % i).digest()
        msg = hashlib.sha256(b"bench-msg-%d" % i).digest()
        key = coincurve.PrivateKey(priv)
        out.append((key.public_key.format(True), key.sign(msg, hasher=None), msg))
    return out


def _measure(backend_name: str, n: int) -> Measure:
    import coincurve

    from coin.crypto import ecc

    backend = ecc.get_backend(backend_name)
    data = triples(n)
    verify = backend.verify_signature
    cache = getattr(backend, "_cache", None)
    for pub, sig, msg in data:  # a benchmark of wrong answers is worthless
        if not verify(pub, sig, msg) or not coincurve.PublicKey(pub).verify(sig, msg, hasher=None):
            raise AssertionError("a benchmark signature does not verify")

    def ours() -> None:
        if cache is not None:
            cache.clear()
        for pub, sig, msg in data:
            verify(pub, sig, msg)

    def bare() -> None:
        pk = coincurve.PublicKey
        for pub, sig, msg in data:
            pk(pub).verify(sig, msg, hasher=None)

    rate, base = best_rates((ours, n), (bare, n), seconds=0.3, repeat=3)
    return Measure(rate, "verify/s", base, "bare coincurve PublicKey(pub).verify(sig, msg, hasher=None)",
                   extra={"triples": n, "ratio_is": "ours/bare rate; < 1 means overhead"})


def _n(full: int) -> int:
    return max(4, full // 50) if os.environ.get(QUICK_ENV) else full


@benchmark("ecdsa.verify.coincurve")
def verify_coincurve() -> Measure:
    """verify_signature (libsecp256k1 backend: lax DER, low-S, verify) vs the bare coincurve call."""
    return _measure("coincurve", _n(1000))


@benchmark("ecdsa.verify.ecdsa")
def verify_ecdsa() -> Measure:
    """verify_signature (pure-Python ecdsa backend) vs the bare coincurve call."""
    return _measure("ecdsa", _n(100))


def run() -> None:
    """Print this module's result lines as JSON (without the harness's command line)."""
    import json

    from bench import REGISTRY
    from bench import run as run_one

    for name in sorted(REGISTRY):
        if name.startswith("ecdsa."):
            print(json.dumps(run_one(REGISTRY[name])))
