"""`python -m bench`: the benchmark suite (runs from a checkout, not installed).

Outline:
- this module: the registry (`@benchmark("group.name")`), group discovery (every module
  of this package but `__main__` is a group), selection by name or prefix, timing helpers,
  and `run()`, which turns a benchmark's measurement into one result line;
- `__main__`: the command line (`python -m bench [NAME ...] [--markdown] [--list]`);
- one module per group: `miner` (native proof-of-work scanner), `parse` (blocks).

A benchmark is a function returning a `Measure`: its value and unit, and a baseline
measured in the same run (a peer implementation or a physical limit). `run()` adds
`ratio` = value / baseline unless the benchmark states its own. Adding a group means
adding a module here; adding a benchmark means one decorated function.

Error contract: a benchmark that raises yields a line with null value, baseline and
ratio and an "error" key; the others still run.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Benchmark",
    "Measure",
    "REGISTRY",
    "QUICK_ENV",
    "ROOT",
    "VECTORS",
    "benchmark",
    "best_rate",
    "best_rates",
    "discover",
    "run",
    "select",
]

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT.parent / "shared" / "vectors"
#: set to 1 to run every benchmark once, briefly (for tests of the harness, not figures)
QUICK_ENV = "BENCH_QUICK"


@dataclass(frozen=True)
class Measure:
    """What a benchmark function returns. `extra` keys are copied into the output line;
    `ratio` overrides value / baseline (say why in a "ratio_is" extra)."""

    value: float
    unit: str
    baseline: float
    baseline_name: str
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    name: str
    fn: Callable[[], Measure]
    doc: str


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[Callable[[], Measure]], Callable[[], Measure]]:
    """Register `fn` under `name` ("group.what[.variant]")."""

    def register(fn: Callable[[], Measure]) -> Callable[[], Measure]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} registered twice")
        REGISTRY[name] = Benchmark(name, fn, (fn.__doc__ or "").strip())
        return fn

    return register


def discover() -> None:
    """Import every group module of this package (registering its benchmarks)."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def select(patterns: Iterable[str]) -> list[Benchmark]:
    """Benchmarks whose name equals a pattern or starts with `pattern.`; all if none.

    Raises KeyError naming a pattern that matches nothing.
    """
    patterns = list(patterns)
    if not patterns:
        return [REGISTRY[n] for n in sorted(REGISTRY)]
    chosen: dict[str, Benchmark] = {}
    for pat in patterns:
        hits = [b for n, b in sorted(REGISTRY.items()) if n == pat or n.startswith(pat + ".")]
        if not hits:
            raise KeyError(pat)
        for b in hits:
            chosen.setdefault(b.name, b)
    return list(chosen.values())


def best_rate(
    fn: Callable[[], Any], work: float, *, seconds: float = 0.4, repeat: int = 3
) -> float:
    """Best of `repeat` runs of: call `fn` (doing `work` units) until `seconds` passed;
    returns units per second. Taking the best fights noise on a shared machine."""
    if os.environ.get(QUICK_ENV):
        seconds, repeat = 0.0, 1
    best = 0.0
    for _ in range(repeat):
        calls = 0
        t0 = time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        best = max(best, calls * work / elapsed)
    return best


def best_rates(
    *jobs: tuple[Callable[[], Any], float], seconds: float = 0.25, repeat: int = 5
) -> list[float]:
    """`best_rate` for several (fn, work) jobs, interleaved run by run so that a value
    and its baseline see the same machine load; returns units per second for each."""
    if os.environ.get(QUICK_ENV):
        repeat = 1
    best = [0.0] * len(jobs)
    for _ in range(repeat):
        for i, (fn, work) in enumerate(jobs):
            best[i] = max(best[i], best_rate(fn, work, seconds=seconds, repeat=1))
    return best


def run(bench: Benchmark) -> dict[str, Any]:
    """Run one benchmark; returns its output line as a dict (never raises)."""
    try:
        m = bench.fn()
    except Exception as exc:  # a broken benchmark must not stop the others
        return {
            "name": bench.name,
            "value": None,
            "unit": None,
            "baseline": None,
            "ratio": None,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=3),
        }
    ratio = m.ratio if m.ratio is not None else (m.value / m.baseline if m.baseline else None)
    line: dict[str, Any] = {
        "name": bench.name,
        "value": _round(m.value),
        "unit": m.unit,
        "baseline": _round(m.baseline),
        "ratio": _round(ratio) if ratio is not None else None,
        "baseline_name": m.baseline_name,
    }
    line.update(m.extra)
    return line


def _round(x: float) -> float:
    return float(f"{x:.4g}")
