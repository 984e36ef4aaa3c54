"""-loadblock of real mainnet blocks 1-255 into a ChainState on "main" params.

The UTXO set is checked against one python-bitcoinlib computes from the same file
(an independent parser and an independent set of spending rules: outputs created,
inputs removed), and against Core's hash_serialized_3 recomputed over that oracle set.
"""

import bz2
import hashlib
import random
import struct

import pytest
from bitcoin.core import CBlock

from coin.chain.chainstate import ChainState
from coin.consensus.errors import Rejection
from coin.params import get_params
from coin.primitives import Block

MAIN = get_params("main")
TIP_255 = "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c"


@pytest.fixture(scope="module")
def raw(vectors_dir) -> bytes:
    return bz2.open(vectors_dir / "blocks" / "mainnet-blocks-1-255.blk.bz2").read()


def _records(raw: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(raw):
        n = struct.unpack_from("<I", raw, pos + 4)[0]
        out.append(raw[pos + 8:pos + 8 + n])
        pos += 8 + n
    return out


def _blk(records) -> bytes:
    return b"".join(MAIN.magic + struct.pack("<I", len(r)) + r for r in records)


@pytest.fixture(scope="module")
def oracle(raw):
    """(txid, n) -> (value, script, height, coinbase) after blocks 1-255, by python-bitcoinlib."""
    utxo = {}
    for height, rec in enumerate(_records(raw), start=1):
        block = CBlock.deserialize(rec)
        for tx in block.vtx:
            if not tx.is_coinbase():
                for txin in tx.vin:
                    del utxo[(txin.prevout.hash, txin.prevout.n)]
            txid = tx.GetTxid()
            for n, out in enumerate(tx.vout):
                utxo[(txid, n)] = (out.nValue, bytes(out.scriptPubKey), height, tx.is_coinbase())
    return utxo


def _hash_serialized(utxo: dict) -> bytes:
    h = hashlib.sha256()
    for (txid, n), (value, script, height, coinbase) in sorted(utxo.items()):
        h.update(txid + struct.pack("<I", n) + struct.pack("<I", height * 2 + coinbase)
                 + struct.pack("<q", value) + bytes([len(script)]) + script)
    return hashlib.sha256(h.digest()).digest()


def _coins(cs: ChainState) -> dict:
    cs.flush()
    return {(op.txid_bytes, op.index): (c.output.value, c.output.script_pubkey, c.height, c.is_coinbase)
            for op, c in cs.coins_db.iter_coins()}


def test_loadblock_mainnet_255_matches_python_bitcoinlib(tmp_path, raw, oracle):
    path = tmp_path / "bootstrap.dat"
    path.write_bytes(raw)
    progress = []
    connected = []
    with ChainState(MAIN, tmp_path / "d", script_threads=2) as cs:
        cs.subscribe("block_connected", lambda b, e: connected.append(e.height))
        counts = cs.load_block_file(path, progress=lambda n, done, total: progress.append((n, done, total)))
        assert counts == {"read": 255, "accepted": 255, "duplicate": 0, "orphan": 0, "rejected": 0}
        assert cs.tip.hash == TIP_255 and cs.height == 255
        assert connected == list(range(1, 256))
        assert progress[-1][0] == 255 and progress[-1][2] == len(raw)
        assert _coins(cs) == oracle
        stats = cs.utxo_stats()
        assert stats.txouts == len(oracle)
        assert stats.total_amount == sum(v[0] for v in oracle.values())
        assert stats.transactions == len({k[0] for k in oracle})
        assert stats.hash_serialized == _hash_serialized(oracle)
        assert stats.bogosize == sum(50 + len(v[1]) for v in oracle.values())
        # Loading the same file again: all duplicates.
        again = cs.load_block_file(path)
        assert again["duplicate"] == 255 and cs.height == 255
    with ChainState(MAIN, tmp_path / "d", script_threads=2) as cs:
        assert cs.tip.hash == TIP_255 and cs.utxo_stats() == stats


def test_loadblock_out_of_order(tmp_path, raw, oracle):
    recs = _records(raw)
    rng = random.Random(255)
    # Shuffle within windows, as Core's parallel download leaves blk files.
    shuffled = []
    for i in range(0, len(recs), 40):
        window = recs[i:i + 40]
        rng.shuffle(window)
        shuffled += window
    path = tmp_path / "shuffled.dat"
    path.write_bytes(b"\x00" * 64 + _blk(shuffled) + b"\x00" * 1000)
    with ChainState(MAIN, tmp_path / "d", script_threads=1) as cs:
        counts = cs.load_block_file(path)
        assert counts["accepted"] == 255 and counts["orphan"] == 0
        assert cs.tip.hash == TIP_255
        assert cs.utxo_stats().hash_serialized == _hash_serialized(oracle)


def test_tampered_block_170_stops_the_chain_at_169(tmp_path, raw, oracle):
    """Block 170 holds the first real spend (a P2PK signature). A tampered signature
    changes the txid, so the block's merkle root no longer matches (bad-txnmrklroot, a
    mutation: nothing is marked invalid) and re-mining at mainnet difficulty is out of
    reach; the chain stops at 169 and the blocks after it wait as orphans. The genuine
    block then completes the chain."""
    recs = _records(raw)
    b170 = Block.from_bytes(recs[169])
    assert len(b170.txs) == 2
    tx = b170.txs[1]
    sig = bytearray(tx.inputs[0].script_sig)
    sig[10] ^= 0x01
    bad_tx = tx.replace(inputs=[tx.inputs[0]._replace(script_sig=bytes(sig))])
    bad = Block(b170.header, [b170.txs[0], bad_tx])
    path = tmp_path / "tampered.dat"
    path.write_bytes(_blk(recs[:169] + [bad.to_bytes()] + recs[170:]))
    with ChainState(MAIN, tmp_path / "d", script_threads=2) as cs:
        counts = cs.load_block_file(path)
        assert counts["rejected"] == 1 and counts["orphan"] == 85
        assert cs.height == 169 and cs.get_entry(bad.hash_bytes) is None
        with pytest.raises(Rejection, match="bad-txnmrklroot"):
            cs.process_new_block(bad)
        assert cs.process_new_block(b170) == (True, True)
        assert cs.tip.hash == TIP_255
        assert cs.utxo_stats().hash_serialized == _hash_serialized(oracle)


def test_file_orphans_keep_only_their_position(tmp_path, raw, oracle):
    """Blocks 2-255 without block 1: every one waits for its parent, remembered by its
    place in the file (nothing held in memory); block 1 then releases them all."""
    recs = _records(raw)
    path = tmp_path / "no-block-1.dat"
    path.write_bytes(_blk(recs[1:]))
    with ChainState(MAIN, tmp_path / "d", script_threads=1, max_orphans=10) as cs:
        counts = cs.load_block_file(path)
        assert counts["orphan"] == 254 and cs.height == 0
        assert all(o.block is None for o in cs._orphans.values())
        assert cs.process_new_block(Block.from_bytes(recs[0])) == (True, True)
        assert cs.tip.hash == TIP_255 and cs.orphan_count == 0
        assert cs.utxo_stats().hash_serialized == _hash_serialized(oracle)


def test_reindex_of_out_of_order_blk_files_reuses_positions(tmp_path, raw, oracle):
    """Our own blk file written in a shuffled order (as Core's parallel download leaves
    them): reindex indexes every block where it lies, without writing any again."""
    recs = _records(raw)
    rng = random.Random(7)
    shuffled = recs[:]
    rng.shuffle(shuffled)
    blocks_dir = tmp_path / "d" / "blocks"
    blocks_dir.mkdir(parents=True)
    blk0 = blocks_dir / "blk00000.dat"
    blk0.write_bytes(_blk([MAIN.genesis.to_bytes()] + shuffled))
    with ChainState(MAIN, tmp_path / "d", script_threads=1) as cs:
        size = blk0.stat().st_size          # opening appended a genesis of its own
        counts = cs.reindex()
        assert blk0.stat().st_size == size
        assert counts["accepted"] == 255 and counts["orphan"] == 0
        assert cs.tip.hash == TIP_255
        assert cs.get_entry(MAIN.genesis_hash_bytes).data_pos == 8
        assert cs.utxo_stats().hash_serialized == _hash_serialized(oracle)
    with ChainState(MAIN, tmp_path / "d", script_threads=1) as cs:
        assert cs.tip.hash == TIP_255
        assert cs.get_block(cs.tip).hash == TIP_255
