"""Benchmarks of the transaction pool (coin.mempool).

`mempool.accept`: transactions per second through `Mempool.accept` (every check: policy,
inputs, BIP-0068, fees, package limits, scripts under the standard flags with a fresh
signature cache), each a valid 1-in-2-out P2WPKH spend of its own confirmed coin
(distinct parents, distinct keys). Baseline, measured interleaved in the same run: the
same transactions' script verification alone (`coin.script.verify_input` under the
standard flags, no signature cache). `ratio` = accept time / script-only time (the
target is <= 2; the rate target >= 1,000 tx/s). The public-key parse cache of the
signature backend is emptied before every pass of either, so neither gains from
repetition.
"""

from __future__ import annotations

import hashlib
import os

from bench import QUICK_ENV, Measure, benchmark, best_rates

__all__ = ["make_workload"]


class _Tip:
    """The chain tip the pool sees: regtest, far past every soft fork."""

    def __init__(self, params, height: int, time: int):
        self.height = height
        self.hash_bytes = hashlib.sha256(b"bench tip").digest()
        self.prev = self
        self._time = time

    def get_ancestor(self, height: int):
        return self

    def median_time_past(self) -> int:
        return self._time


class _Chain:
    def __init__(self, tip, coins):
        self.tip = tip
        self.coins_tip = coins


def make_workload(n: int):
    """(params, chain view, txs, spent outputs): `n` signed 1-in-2-out P2WPKH spends."""
    from coin.consensus.coins import Coin, MemoryCoinsView
    from coin.crypto import ecc
    from coin.crypto.address import p2pkh_script, p2wpkh_script
    from coin.crypto.hashes import hash160
    from coin.params import get_params
    from coin.primitives import OutPoint, Transaction, TxIn, TxOut
    from coin.script.sighash import SIGHASH_ALL, segwit_v0_sighash

    params = get_params("regtest")
    coins = MemoryCoinsView()
    txs, spent = [], []
    for i in range(n):
        priv = hashlib.sha256(b"bench-mempool-key-%d" % i).digest()
        pub = ecc.pubkey_from_privkey(priv, compressed=True)
        h = hash160(pub)
        prev = OutPoint(hashlib.sha256(b"bench-mempool-parent-%d" % i).digest(), i % 3)
        out = TxOut(1_000_000, p2wpkh_script(h))
        coins.add_coin(prev, Coin(out, 100, False), False)
        dest = p2wpkh_script(hash160(b"dest-%d" % i))
        tx = Transaction(2, [TxIn(prev, b"", 0xFFFFFFFD)],
                         [TxOut(600_000, dest), TxOut(399_000, out.script_pubkey)], 0)
        digest = segwit_v0_sighash(tx, 0, p2pkh_script(h), out.value, SIGHASH_ALL)
        sig = ecc.sign(priv, digest) + bytes((SIGHASH_ALL,))
        tx = tx.replace(inputs=[tx.inputs[0]._replace(witness=(sig, pub))])
        tx = Transaction.from_bytes(tx.to_bytes())      # as if it came off the wire
        txs.append(tx)
        spent.append([out])
    tip = _Tip(params, 1000, params.genesis.header.time + 1000 * 600)
    return params, _Chain(tip, coins), txs, spent


@benchmark("mempool.accept")
def accept() -> Measure:
    """Mempool.accept of valid P2WPKH spends vs their script verification alone."""
    from coin.crypto import ecc
    from coin.mempool.pool import Mempool
    from coin.script import STANDARD_SCRIPT_VERIFY_FLAGS, SignatureCache, verify_input

    n = 30 if os.environ.get(QUICK_ENV) else 400
    params, chain, txs, spent = make_workload(n)
    backend = ecc.get_backend()
    cache = getattr(backend, "_cache", None)
    clock = lambda: chain.tip.median_time_past() + 3600  # noqa: E731
    flags = int(STANDARD_SCRIPT_VERIFY_FLAGS)

    def ours() -> None:
        if cache is not None:
            cache.clear()
        pool = Mempool(params, chain, clock=clock, sigcache=SignatureCache())
        for tx in txs:
            pool.accept(tx)
        if len(pool) != n:
            raise AssertionError("a benchmark transaction was refused")

    def scripts_only() -> None:
        if cache is not None:
            cache.clear()
        for tx, outs in zip(txs, spent, strict=True):
            verify_input(tx, 0, outs, flags)

    ours()  # a benchmark of refusals is worthless: this raises if any is refused
    rate, base = best_rates((ours, n), (scripts_only, n), seconds=0.3, repeat=7)
    return Measure(rate, "tx/s", base, "verify_input alone (standard flags, no sigcache)",
                   ratio=base / rate,
                   extra={"txs": n, "backend": backend.name,
                          "ratio_is": "accept time / script-only time (target <= 2)",
                          "note": f"{rate:.0f} tx/s accepted (target >= 1000)"})
