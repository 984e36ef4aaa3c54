"""The benchmark harness: its command line and output format (behaviour, not timing)."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # bench/ runs from the checkout, not installed
QUICK_ENV = "BENCH_QUICK"
KEYS = {"name", "value", "unit", "baseline", "ratio"}


@pytest.fixture(scope="module")
def bench():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module = importlib.import_module("bench")
    assert module.QUICK_ENV == QUICK_ENV
    module.discover()
    return module


def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **{QUICK_ENV: "1"})
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_miner_group_prints_one_json_object_a_line():
    proc = run_bench("miner")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    names = [line["name"] for line in lines]
    assert names == sorted(names) and len(names) >= 3
    assert "miner.limit" in names and "miner.hashrate.1thread" in names
    assert all(name.startswith("miner.") for name in names)
    for line in lines:
        assert KEYS <= line.keys(), line
        assert "error" not in line, line
        assert line["value"] > 0 and line["baseline"] > 0 and line["ratio"] > 0


def test_single_name_and_markdown():
    proc = run_bench("miner.limit", "--markdown")
    assert proc.returncode == 0, proc.stderr
    rows = [r for r in proc.stdout.splitlines() if r.startswith("| miner")]
    assert len(rows) == 1 and rows[0].startswith("| miner.limit |")


def test_unknown_name_fails():
    proc = run_bench("no-such-benchmark")
    assert proc.returncode == 2
    assert proc.stdout == ""


def test_list_names_every_group():
    proc = run_bench("--list")
    assert proc.returncode == 0
    names = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert "parse.blocks" in names and "miner.limit" in names


def test_select_by_prefix_of_dotted_parts(bench):
    every = {b.name for b in bench.select([])}
    miner = {b.name for b in bench.select(["miner"])}
    assert miner == {n for n in every if n.startswith("miner.")}
    assert {b.name for b in bench.select(["miner.hashrate"])} < miner
    with pytest.raises(KeyError):
        bench.select(["mine"])  # a prefix must end at a dot


def test_run_computes_ratio_and_survives_a_failing_benchmark(bench):
    Benchmark, Measure = bench.Benchmark, bench.Measure
    ok = Benchmark("t.ok", lambda: Measure(3.0, "x/s", 2.0, "peer"), "")
    line = bench.run(ok)
    assert line["ratio"] == 1.5 and line["baseline_name"] == "peer"

    def broken() -> Measure:
        raise RuntimeError("nope")

    line = bench.run(Benchmark("t.broken", broken, ""))
    assert KEYS <= line.keys()
    assert line["value"] is None and "nope" in line["error"]
