"""Benchmarks of the wallet against a real regtest coind (started through coin.regtest).

- `wallet.sync`: blocks/s of a restore that rescans a 1,000-block regtest chain whose
  coinbases all pay the wallet (ChainFollower.sync on a fresh wallet file from the same
  words). Baseline, measured in the same run against the same node: the RPC cost alone,
  `getblockhash` + `getblock(hash, 0)` one call after another for the same blocks.
  `ratio` = sync time / baseline time (the target is <= 2; below 1 means the batched
  requests of the follower save more than its processing costs).
- `wallet.send`: seconds to build, sign and broadcast a payment (coin.wallet.spend.send)
  from a wallet holding 1,000 mature coinbase UTXOs; baseline: the `sendrawtransaction`
  of a transaction of the same shape alone (`ratio` = send time / baseline).
  Needs the node's sendrawtransaction; without it the line carries the node's error.

BENCH_QUICK=1 shrinks the chain to 120 blocks (for tests of the harness, not figures).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench import QUICK_ENV, Measure, benchmark

__all__ = ["WORDS"]

WORDS = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _blocks(full: int) -> int:
    return 120 if os.environ.get(QUICK_ENV) else full


def _generate(node, address: str, n: int) -> None:
    left = n
    while left:
        step = min(left, 200)
        node.client().call("generatetoaddress", step, address)
        left -= step


def _wallet(path: Path):
    from coin.wallet import store

    return store.create(path, "bench", "regtest", WORDS)


@benchmark("wallet.sync")
def sync_rate() -> Measure:
    """Restore rescan of a 1,000-block regtest chain (blocks/s) vs getblock alone."""
    from coin.regtest.framework import TestNode
    from coin.wallet.sync import ChainFollower

    n = _blocks(1000)
    with tempfile.TemporaryDirectory(prefix="bench-wallet-") as tmp, \
            TestNode(0, Path(tmp) / "node") as node:
        first = _wallet(Path(tmp) / "w0.sqlite")
        _generate(node, first.get_new_address().address, n)
        first.close()
        rpc = node.client()
        height = int(rpc.call("getblockcount"))
        best_base = best_sync = float("inf")
        for attempt in range(1 if os.environ.get(QUICK_ENV) else 3):
            t0 = time.perf_counter()
            for h in range(height + 1):
                rpc.call("getblock", rpc.call("getblockhash", h), 0)
            best_base = min(best_base, time.perf_counter() - t0)
            w = _wallet(Path(tmp) / f"restore{attempt}.sqlite")
            t0 = time.perf_counter()
            result = ChainFollower(w, rpc).sync()
            best_sync = min(best_sync, time.perf_counter() - t0)
            coins = len(w.coins())
            w.close()
            if result.tip_height != height or coins != n:
                raise RuntimeError(f"restore found {coins} coins up to {result.tip_height}")
    blocks = height + 1
    return Measure(blocks / best_sync, "blocks/s", blocks / best_base,
                   "getblockhash + getblock(raw) per block, sequential",
                   ratio=best_sync / best_base,
                   extra={"ratio_is": "sync time / getblock time (target <= 2)", "blocks": blocks})


@benchmark("wallet.send")
def send_time() -> Measure:
    """Build, sign and broadcast a payment from 1,000 UTXOs (s) vs sendrawtransaction alone."""
    from coin.crypto.address import p2wpkh_script, script_to_address
    from coin.params import get_params
    from coin.regtest.framework import TestNode
    from coin.wallet.spend import COIN, FeeRate, send
    from coin.wallet.sync import ChainFollower

    n = _blocks(1000)
    params = get_params("regtest")
    with tempfile.TemporaryDirectory(prefix="bench-wallet-") as tmp, \
            TestNode(0, Path(tmp) / "node") as node:
        w = _wallet(Path(tmp) / "w.sqlite")
        w.unlock("bench")
        _generate(node, w.get_new_address().address, n)
        _generate(node, script_to_address(p2wpkh_script(bytes(20)), params), 100)
        rpc = node.client()
        ChainFollower(w, rpc).sync()
        dest = script_to_address(p2wpkh_script(b"\x01" * 20), params)
        timings, base = [], []
        for i in range(1 if os.environ.get(QUICK_ENV) else 3):
            # an amount no single coin pays (several inputs, change)
            amount = 120 * COIN + i * 1000
            t0 = time.perf_counter()
            res = send(w, rpc, [(dest, amount)], FeeRate(2000), broadcast=False)
            t1 = time.perf_counter()
            rpc.call("sendrawtransaction", res.tx.to_hex())
            t2 = time.perf_counter()
            timings.append(t2 - t0)
            base.append(t2 - t1)
    value, baseline = min(timings), min(base)
    return Measure(value, "s", baseline, "sendrawtransaction of the same transaction",
                   ratio=value / baseline, extra={"utxos": n})
