"""``coin-regtest demo``: the main job in one run that ends by itself.

Steps (each printed as ``[n/8] what ... ok (1.2s)``):

1. start 3 nodes (``node0 - node1 - node2``, a line) under a temporary directory;
2. connect them over P2P (``addnode ... onetry``);
3. create wallet ``alice`` on node 0 and ``bob`` on node 2 with coin-wallet;
4. fund alice: mine 101 blocks on node 0 to her address (one mature coinbase);
5. pay: ``coin-wallet send`` 1.5 BTC from alice to a new address of bob's;
   the transaction reaches every node's mempool;
6. mine one block on node 1 (the node that neither wallet uses);
7. confirm on every node: the block holding the payment is every node's tip, with the
   payment in it, and bob's wallet shows the 1.5 BTC as confirmed;
8. print a short report.

Every node is stopped at the end, whatever happened; the temporary directory is
removed unless ``keep`` (or a step failed: then its path is printed for the logs).

Errors: :func:`run_demo` returns 0 on success; on the first failing step it prints
``FAILED at step n (what): <reason>`` on stderr and returns 1.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from coin.regtest import walletcli
from coin.regtest.cli import fallback_address
from coin.regtest.framework import Network, wait_until

__all__ = ["PAYMENT", "run_demo"]

PAYMENT = Decimal("1.5")
FEERATE = "2"  # sat/vB: the demo does not depend on fee estimation
_STEPS = 8


class _StepFailed(Exception):
    pass


class _Steps:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.n = 0
        self.what = ""

    def __call__(self, what: str) -> _Steps:
        self.n += 1
        self.what = what
        return self

    def __enter__(self) -> _Steps:
        self.t0 = time.monotonic()
        print(f"[{self.n}/{_STEPS}] {self.what} ...", end=" ", file=self.out, flush=True)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            print(f"ok ({time.monotonic() - self.t0:.1f}s)", file=self.out, flush=True)
            return False
        if isinstance(exc, Exception):
            print("FAILED", file=self.out, flush=True)
            raise _StepFailed(f"FAILED at step {self.n} ({self.what}): {str(exc) or type(exc).__name__}") from exc
        return False


def run_demo(directory: Path | None = None, *, keep: bool = False, out: TextIO | None = None) -> int:
    """Run the demo (see the module doc); returns the exit code."""
    out = out or sys.stdout
    own = directory is None
    base = Path(tempfile.mkdtemp(prefix="coin-regtest-demo-")) if directory is None else directory
    step = _Steps(out)
    net = Network(3, "line", base)
    failed = False
    try:
        report = _run(net, step, out)
        print(report, file=out, flush=True)
    except _StepFailed as e:
        failed = True
        print(str(e), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        failed = True
        print("\ninterrupted", file=sys.stderr, flush=True)
    finally:
        try:
            net.stop(check=False)
        finally:
            for node in net:
                node.kill()
        print("all nodes stopped.", file=out, flush=True)
        if failed or keep or not own:
            print(f"datadirs (with each node's debug.log): {base}", file=out, flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


def _run(net: Network, step: _Steps, out: TextIO) -> str:
    with step("starting 3 nodes"):
        net.start(connect=False)
    n0, n1, n2 = net.nodes
    with step("connecting them over P2P: node0 - node1 - node2"):
        if not n0.has_rpc("addnode"):
            raise RuntimeError("this coind has no P2P networking (no addnode RPC)")
        net.connect_all()
    with step("creating wallet 'alice' on node0 and 'bob' on node2 (coin-wallet)"):
        if not walletcli.available():
            raise RuntimeError("coin-wallet (coin.wallet.cli) is not installed")
        alice = walletcli.WalletCLI(n0, "alice")
        bob = walletcli.WalletCLI(n2, "bob")
        alice.create()
        bob.create()
    with step("funding alice: mining 101 blocks on node0"):
        alice_addr = alice.getnewaddress()
        n0.generatetoaddress(101, alice_addr)
        net.sync_blocks()
        alice.sync()
        funded = Decimal(str(alice.getbalance()["confirmed"]))
        if funded < PAYMENT:
            raise RuntimeError(f"alice has {funded} BTC confirmed after 101 blocks, expected at least {PAYMENT}")
    with step(f"paying {PAYMENT} BTC from alice (node0) to bob (node2)"):
        bob_addr = bob.getnewaddress()
        sent = alice.send(bob_addr, PAYMENT, "--feerate", FEERATE)
        txid = sent["txid"]
        wait_until(lambda: all(txid in n.getrawmempool() for n in net), 60, what="the payment to reach every mempool")
    with step("mining one block on node1"):
        block_hash = n1.generatetoaddress(1, fallback_address())[0]
        net.sync_blocks()
    with step("checking the payment is confirmed on every node"):
        rows = []
        for node in net:
            block = node.getblock(block_hash, 1)
            if txid not in block["tx"]:
                raise RuntimeError(f"node{node.index}: block {block_hash} does not hold the payment {txid}")
            if node.getbestblockhash() != block_hash:
                raise RuntimeError(f"node{node.index}: tip is not block {block_hash}")
            if txid in node.getrawmempool():
                raise RuntimeError(f"node{node.index}: the payment is still in the mempool")
            rows.append((node.index, block["height"], block["confirmations"]))
        bob.sync()
        bob_balance = bob.getbalance()
        if Decimal(str(bob_balance["confirmed"])) != PAYMENT:
            raise RuntimeError(f"bob's confirmed balance is {bob_balance['confirmed']} BTC, expected {PAYMENT}")
    with step("report"):
        alice_after = alice.getbalance()
    lines = [
        "",
        "coin-regtest demo: the payment is confirmed on every node",
        f"  payment  {PAYMENT} BTC  alice (node0) -> bob (node2) {bob_addr}",
        f"  txid     {txid}  fee {sent.get('fee')} BTC",
        f"  block    {block_hash}  mined on node1",
    ]
    lines += [f"  node{i}    height {h}  confirmations {c}" for i, h, c in rows]
    lines += [
        f"  alice    {alice_after['balance']} BTC (confirmed {alice_after['confirmed']}, immature {alice_after.get('immature')})",
        f"  bob      {bob_balance['balance']} BTC (confirmed {bob_balance['confirmed']})",
    ]
    return "\n".join(lines)
