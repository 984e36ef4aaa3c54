"""Benchmarks of the Script interpreter (coin.script).

`script.block277647`: seconds to verify all 732 inputs of mainnet block 277647 (P2PKH
and P2SH, flags P2SH) one after another, with no signature cache, one
PrecomputedTxData per transaction as the chain uses it. Baseline, measured interleaved
in the same run: python-bitcoinlib's `VerifyScript(scriptSig, scriptPubKey, txTo,
inIdx, flags=(SCRIPT_VERIFY_P2SH,))` on the same inputs. `ratio` = baseline seconds /
our seconds, i.e. how many times faster we are (target: at least 4).
"""

from __future__ import annotations

import bz2
import json
import os
import struct

from bench import QUICK_ENV, VECTORS, Measure, benchmark, best_rates

__all__ = ["load_inputs"]


def load_inputs():
    """[(tx, spent_outputs)] for the non-coinbase transactions of block 277647."""
    from coin.primitives import Block, OutPoint, TxOut

    blocks = VECTORS / "blocks"
    raw = bz2.decompress((blocks / "mainnet-block-277647.blk.bz2").read_bytes())
    (length,) = struct.unpack_from("<I", raw, 4)
    block = Block.from_bytes(raw[8:8 + length])
    prevouts = json.loads((blocks / "mainnet-block-277647-prevouts.json").read_text())
    by_outpoint = {
        OutPoint(bytes.fromhex(p["txid"])[::-1], p["vout"]):
            TxOut(p["amount"], bytes.fromhex(p["script_pubkey"]))
        for p in prevouts
    }
    return [(tx, [by_outpoint[i.prevout] for i in tx.inputs]) for tx in block.txs[1:]]


@benchmark("script.block277647")
def block277647() -> Measure:
    """Verify the 732 inputs of block 277647 (no sigcache) vs python-bitcoinlib's VerifyScript."""
    from bitcoin.core import CTransaction
    from bitcoin.core.script import CScript
    from bitcoin.core.scripteval import SCRIPT_VERIFY_P2SH, VerifyScript

    from coin.script import Flags, PrecomputedTxData, verify_input

    inputs = load_inputs()
    if os.environ.get(QUICK_ENV):
        inputs = inputs[:5]
    n_inputs = sum(len(tx.inputs) for tx, _ in inputs)
    theirs = [
        (CTransaction.deserialize(tx.to_bytes()), [CScript(s.script_pubkey) for s in spent])
        for tx, spent in inputs
    ]
    flags = Flags.P2SH

    def ours() -> None:
        for tx, spent in inputs:
            txdata = PrecomputedTxData(tx, spent)
            for i in range(len(tx.inputs)):
                verify_input(tx, i, spent, flags, txdata=txdata)

    def bitcoinlib() -> None:
        for ctx, spks in theirs:
            for i, txin in enumerate(ctx.vin):
                VerifyScript(txin.scriptSig, spks[i], ctx, i, flags=(SCRIPT_VERIFY_P2SH,))

    ours()  # both must accept every input before they are timed
    bitcoinlib()
    rate, base = best_rates((ours, 1), (bitcoinlib, 1), seconds=0.0, repeat=3)
    ours_s, theirs_s = 1 / rate, 1 / base
    return Measure(ours_s, "s", theirs_s, "python-bitcoinlib VerifyScript, same inputs",
                   ratio=theirs_s / ours_s,
                   extra={"inputs": n_inputs, "ratio_is": "baseline seconds / our seconds"})
