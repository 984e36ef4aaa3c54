"""Crash safety: a ChainState process killed with SIGKILL at random instants restarts
consistent, without a reindex.

A child process feeds blocks (a chain, then a more-work fork: a reorg) into a
ChainState on a datadir and is killed mid-way. The parent then opens a copy of the
killed datadir: it must load, and its UTXO set must be exactly the one of its tip,
as computed by an independent oracle (tests/blockbuilder.MemoryChain: coin.consensus
over an in-memory coin dict, no coin.chain code). The child then carries on from its
own crashed state; at the end it completes the whole sequence.
"""

import hashlib
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

import pytest
from blockbuilder import BlockBuilder, MemoryChain

from coin.chain.chainstate import ChainState
from coin.params import get_params
from coin.serialize import compact_size

REGTEST = get_params("regtest")

CHILD = r"""
import sys
from coin.chain.blockfiles import read_blk_file
from coin.chain.chainstate import ChainState
from coin.params import get_params
params = get_params("regtest")
datadir, blocks, flush_interval, dbcache, now = sys.argv[1:6]
clock = (lambda: float(now)) if float(now) else None
cs = ChainState(params, datadir, flush_interval=float(flush_interval), dbcache_mib=int(dbcache),
                script_threads=2, **({"clock": clock} if clock else {}))
print("ready", flush=True)
for n, (_, block) in enumerate(read_blk_file(blocks, params.magic)):
    if cs.process_new_block(block)[1]:
        print(n, flush=True)
cs.close()
print("done", flush=True)
"""


def _utxo_hash(coins: dict) -> bytes:
    h = hashlib.sha256()
    for op in sorted(coins, key=lambda o: (o.txid_bytes, o.index)):
        c = coins[op]
        script = c.output.script_pubkey
        h.update(op.txid_bytes + struct.pack("<I", op.index)
                 + struct.pack("<Iq", c.height * 2 + c.is_coinbase, c.output.value)
                 + compact_size(len(script)) + script)
    return hashlib.sha256(h.digest()).digest()


def _branch(builder, prev, n):
    out = []
    for _ in range(n):
        h = prev.height + 1
        txs = []
        if h > 100:
            txs = [builder.spend([builder.coinbase_utxo(h - 100, tip=prev)], n_outputs=3)]
        b = builder.next_block(txs, prev=prev, set_tip=False)
        out.append(b)
        prev = builder.entry_of(b)
    return out


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    builder = BlockBuilder(REGTEST, seed=b"crash test")
    a = _branch(builder, builder.genesis, 116)
    b = _branch(builder, builder.entry_of(a[109]), 9)     # 110 -> 119: reorg of 6 blocks
    # The oracle: UTXO hash after every block of either branch.
    expected = {REGTEST.genesis_hash_bytes: _utxo_hash({})}
    for blocks in (a, a[:110] + b):
        mc = MemoryChain(REGTEST)
        for blk in blocks:
            mc.process_block(blk)
            expected[blk.hash_bytes] = _utxo_hash(mc.view.coins)
    root = tmp_path_factory.mktemp("crash")
    seed = root / "seed"
    with ChainState(REGTEST, seed, script_threads=1) as cs:
        for blk in a[:100]:
            cs.process_new_block(blk)
    feed = root / "feed.dat"
    feed.write_bytes(b"".join(REGTEST.magic + struct.pack("<I", len(r)) + r
                              for r in (blk.to_bytes() for blk in a[100:] + b)))
    return {"seed": seed, "feed": feed, "expected": expected, "final": b[-1].hash_bytes,
            "now": b[-1].header.time + 600}


def _check(datadir, expected) -> int:
    with ChainState(REGTEST, datadir, script_threads=1) as cs:
        stats = cs.utxo_stats()
        assert cs.tip.hash_bytes in expected, "tip is not a block of the scenario"
        assert stats.hash_serialized == expected[cs.tip.hash_bytes]
        # The active tip is the most-work block stored: nothing stored is left behind.
        assert all(e.chain_work <= cs.tip.chain_work for e in cs.index if e.have_data)
        return cs.height


def test_sigkill_at_random_points_restarts_consistent(tmp_path, scenario):
    datadir = tmp_path / "node"
    shutil.copytree(scenario["seed"], datadir)
    rng = random.Random(int(os.environ.get("CRASH_SEED", "20240607")))  # vary to explore
    heights = []
    for i in range(8):
        flush_interval, dbcache = [("0", "300"), ("1e9", "300"), ("1e9", "0")][i % 3]
        # Half the runs out of IBD (every block durable at once), half in IBD (group commits).
        now = str(scenario["now"]) if i % 2 else "0"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(datadir), str(scenario["feed"]), flush_interval, dbcache,
             now],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            # Let it get through a few blocks, then kill it at a random instant of the next.
            for _ in range(rng.randrange(1, 4)):
                child.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.004))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        copy = tmp_path / f"after-kill-{i}"
        shutil.copytree(datadir, copy)
        heights.append(_check(copy, scenario["expected"]))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(datadir), str(scenario["feed"]), "300", "300", "0"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "done"
    with ChainState(REGTEST, datadir, script_threads=1) as cs:
        assert cs.tip.hash_bytes == scenario["final"] and cs.height == 119
        assert cs.utxo_stats().hash_serialized == scenario["expected"][scenario["final"]]
    assert all(100 <= h <= 119 for h in heights)
    assert len(set(heights)) > 3    # the kills did land at different points
