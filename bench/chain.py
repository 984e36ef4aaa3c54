"""Benchmarks of the chain state (coin.chain): connecting blocks and importing a blk file.

`chain.connect`: seconds to connect (process_new_block: checks, storage with fsync,
UTXO cache, undo data, scripts on a thread pool) 200 regtest blocks holding over 5,000
one-in-two-out P2WPKH transactions, on top of 110 blocks connected beforehand. The
chain is built before timing (signatures by coin.crypto.ecc.sign over BIP-0143
sighashes) and cached in the temp dir under a version key. Baseline: verifying the
same inputs' scripts alone, one after another, with coin.script.verify_input under the
block's flags (no signature cache). `ratio` = connect seconds / script-only seconds
(target <= 2; script threads push it below 1 on 2 cores). Each is the best of REPEAT
runs (a fresh datadir each), the two taken in turn. Extra keys: blocks/s, tx/s, peak RSS.

`chain.loadblock.mainnet255`: seconds to import mainnet blocks 1-255 from a blk file
with `ChainState.load_block_file` (fresh datadir, "main" params). Baseline:
python-bitcoinlib parsing the same file and applying it to a dict UTXO set (a peer
importer without validation or storage).
"""

from __future__ import annotations

import bz2
import os
import resource
import shutil
import struct
import tempfile
import time
from pathlib import Path

from bench import QUICK_ENV, VECTORS, Measure, benchmark

__all__ = ["build_chain", "CACHE_VERSION"]

CACHE_VERSION = "chain-bench-v1"
SETUP_BLOCKS = 110
TIMED_BLOCKS = 200
TXS_PER_BLOCK = 26
FEE = 500
REPEAT = 3


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def build_chain(n_setup: int = SETUP_BLOCKS, n_timed: int = TIMED_BLOCKS,
                txs_per_block: int = TXS_PER_BLOCK):
    """Regtest blocks 1..n_setup+n_timed; the last n_timed each hold up to
    `txs_per_block` signed P2WPKH 1-in-2-out spends. Returns (blocks, spent) where
    spent maps each spending tx's txid to the TxOut it spends."""
    from collections import deque

    from coin.consensus.pow import check_proof_of_work
    from coin.crypto import ecc
    from coin.crypto.address import p2pkh_script, p2wpkh_script
    from coin.crypto.hashes import hash160, sha256
    from coin.mining.template import create_block
    from coin.params import get_params
    from coin.primitives import Block, OutPoint, Transaction, TxIn, TxOut
    from coin.script.sighash import SIGHASH_ALL, segwit_v0_sighash

    params = get_params("regtest")
    priv = sha256(b"coin bench chain")
    pub = ecc.pubkey_from_privkey(priv, compressed=True)
    spk = p2wpkh_script(hash160(pub))
    script_code = p2pkh_script(hash160(pub))
    prev_hash = params.genesis_hash_bytes
    base_time = params.genesis.header.time
    blocks, spent = [], {}
    spendable: deque = deque()
    coinbases: dict[int, tuple] = {}
    for height in range(1, n_setup + n_timed + 1):
        mature = coinbases.pop(height - 100, None)
        if mature is not None:
            spendable.append(mature)
        txs, fees = [], 0
        if height > n_setup:
            for _ in range(min(txs_per_block, len(spendable))):
                op, out = spendable.popleft()
                half = (out.value - FEE) // 2
                tx = Transaction(2, [TxIn(op, b"", 0xFFFFFFFE)],
                                 [TxOut(half, spk), TxOut(out.value - FEE - half, spk)], 0)
                digest = segwit_v0_sighash(tx, 0, script_code, out.value, SIGHASH_ALL)
                sig = ecc.sign(priv, digest) + bytes((SIGHASH_ALL,))
                tx = tx.replace(inputs=[tx.inputs[0]._replace(witness=(sig, pub))])
                txs.append(tx)
                spent[tx.txid_bytes] = out
                fees += FEE
        block = create_block(prev_hash, height, txs, base_time + height, params.pow_limit_bits,
                             params, spk, fees, extra_nonce=height.to_bytes(4, "little"))
        header = block.header
        nonce = 0
        while not check_proof_of_work(header.replace(nonce=nonce).hash_bytes, header.bits, params):
            nonce += 1
        block = Block(header.replace(nonce=nonce), block.txs)
        blocks.append(block)
        prev_hash = block.hash_bytes
        cb = block.txs[0]
        coinbases[height] = (OutPoint(cb.txid_bytes, 0), cb.outputs[0])
        for tx in txs:
            for i, out in enumerate(tx.outputs):
                spendable.append((OutPoint(tx.txid_bytes, i), out))
    return blocks, spent


def _cached_chain(n_timed: int):
    """The benchmark chain, from the temp-dir cache when present."""
    from coin.chain.blockfiles import read_blk_file
    from coin.params import get_params

    magic = get_params("regtest").magic
    path = Path(tempfile.gettempdir()) / f"coin-{CACHE_VERSION}-{n_timed}.blk"
    if path.exists():
        blocks = [b for _, b in read_blk_file(path, magic)]
        if len(blocks) == SETUP_BLOCKS + n_timed:
            spent = {}
            outs = {}
            for b in blocks:
                for tx in b.txs:
                    for i, out in enumerate(tx.outputs):
                        outs[(tx.txid_bytes, i)] = out
                    if not tx.is_coinbase():
                        p = tx.inputs[0].prevout
                        spent[tx.txid_bytes] = outs[(p.txid_bytes, p.index)]
            return blocks, spent
    blocks, spent = build_chain(n_timed=n_timed)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(magic + struct.pack("<I", len(raw)) + raw
                             for raw in (b.to_bytes() for b in blocks)))
    os.replace(tmp, path)
    return blocks, spent


@benchmark("chain.connect")
def connect() -> Measure:
    """Connect 200 regtest blocks / 5,000+ P2WPKH spends vs verifying their scripts alone."""
    from coin.chain.chainstate import ChainState
    from coin.consensus.flags import get_block_script_flags
    from coin.params import get_params
    from coin.primitives import Block
    from coin.script import PrecomputedTxData, verify_input

    params = get_params("regtest")
    quick = bool(os.environ.get(QUICK_ENV))
    n_timed = 5 if quick else TIMED_BLOCKS
    blocks, spent = _cached_chain(n_timed)
    setup, timed = blocks[:SETUP_BLOCKS], blocks[SETUP_BLOCKS:]
    n_txs = sum(len(b.txs) - 1 for b in timed)
    checks = []
    for height, b in enumerate(timed, start=SETUP_BLOCKS + 1):
        flags = get_block_script_flags(height, b.hash_bytes, params)
        for tx in b.txs[1:]:
            checks.append((tx, [spent[tx.txid_bytes]], flags))

    raw_timed = [b.to_bytes() for b in timed]

    def connect_once() -> float:
        # Each run gets freshly parsed blocks (nothing cached on them by an earlier run),
        # their txids computed as the chain cache's loader leaves them.
        fresh = [Block.from_bytes(raw) for raw in raw_timed]
        for b in fresh:
            for tx in b.txs:
                tx.txid_bytes  # noqa: B018 - computed before timing, as when first loaded
        work = Path(tempfile.mkdtemp(prefix="coin-bench-connect-"))
        try:
            with ChainState(params, work / "node", script_threads=os.cpu_count()) as cs:
                for b in setup:
                    cs.process_new_block(b)
                t0 = time.perf_counter()
                for b in fresh:
                    cs.process_new_block(b)
                elapsed = time.perf_counter() - t0
                if cs.height != len(blocks):
                    raise RuntimeError(f"connected only to height {cs.height}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return elapsed

    def scripts_once() -> float:
        t0 = time.perf_counter()
        for tx, outs, flags in checks:
            verify_input(tx, 0, outs, flags, txdata=PrecomputedTxData(tx, outs))
        return time.perf_counter() - t0

    # Best of `repeat`, the two measured in turn so that both see the same machine load
    # (the machine is shared: a single run is at the mercy of its neighbours).
    connect_s = script_s = float("inf")
    for _ in range(1 if quick else REPEAT):
        connect_s = min(connect_s, connect_once())
        script_s = min(script_s, scripts_once())
    return Measure(connect_s, "s", script_s, "coin.script.verify_input of the same inputs, serially",
                   extra={"blocks": len(timed), "txs": n_txs,
                          "blocks_per_s": round(len(timed) / connect_s, 1),
                          "tx_per_s": round(n_txs / connect_s, 1),
                          "script_threads": os.cpu_count(),
                          "peak_rss_mib": _peak_rss_mib(),
                          "ratio_is": "connect seconds / script-only seconds"})


@benchmark("chain.loadblock.mainnet255")
def loadblock_mainnet255() -> Measure:
    """Import mainnet blocks 1-255 with -loadblock vs python-bitcoinlib parse + dict UTXO."""
    from bitcoin.core import CBlock

    from coin.chain.chainstate import ChainState
    from coin.params import get_params

    raw = bz2.decompress((VECTORS / "blocks" / "mainnet-blocks-1-255.blk.bz2").read_bytes())
    work = Path(tempfile.mkdtemp(prefix="coin-bench-loadblock-"))
    try:
        path = work / "bootstrap.dat"
        path.write_bytes(raw)
        repeat = 1 if os.environ.get(QUICK_ENV) else 3
        ours = float("inf")
        for i in range(repeat):
            with ChainState(get_params("main"), work / f"node{i}",
                            script_threads=os.cpu_count()) as cs:
                t0 = time.perf_counter()
                cs.load_block_file(path)
                ours = min(ours, time.perf_counter() - t0)
                if cs.height != 255:
                    raise RuntimeError(f"imported only to height {cs.height}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def bitcoinlib() -> None:
        utxo = {}
        pos = 0
        while pos < len(raw):
            (n,) = struct.unpack_from("<I", raw, pos + 4)
            block = CBlock.deserialize(raw[pos + 8:pos + 8 + n])
            pos += 8 + n
            for tx in block.vtx:
                if not tx.is_coinbase():
                    for txin in tx.vin:
                        del utxo[(txin.prevout.hash, txin.prevout.n)]
                txid = tx.GetTxid()
                for j, out in enumerate(tx.vout):
                    utxo[(txid, j)] = out

    theirs = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        bitcoinlib()
        theirs = min(theirs, time.perf_counter() - t0)
    return Measure(ours, "s", theirs, "python-bitcoinlib parse + dict UTXO (no validation, no storage)",
                   extra={"blocks": 255, "peak_rss_mib": _peak_rss_mib()})
