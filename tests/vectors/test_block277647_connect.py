"""Mainnet block 277647 connects against its prevouts: checks, scripts (P2SH), fees, undo.

The block (blk-file format) and every output it spends come from ../shared/vectors/blocks.
Its coinbase pays 2504737355 = 25 BTC subsidy + 4737355 satoshis of fees.
"""

import bz2
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from coin.consensus.block_check import check_block, contextual_check_block
from coin.consensus.coins import Coin, MemoryCoinsView
from coin.consensus.connect import connect_block, disconnect_block
from coin.consensus.errors import Rejection
from coin.consensus.flags import get_block_script_flags
from coin.consensus.subsidy import get_block_subsidy
from coin.consensus.undo import BlockUndo
from coin.params import get_params
from coin.primitives import Block, BlockHeader, OutPoint, TxOut
from coin.script.flags import Flags
from coin.serialize import hex_to_hash

HEIGHT = 277647
HASH = "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8"
MAIN = get_params("main")


class _Entry:
    """Stand-in index entry: this block at 277647 on a parent at 277646 (MTP given)."""

    def __init__(self, header, height, prev, mtp):
        self.header = header
        self.height = height
        self.hash_bytes = header.hash_bytes
        self.prev = prev
        self._mtp = mtp

    def get_ancestor(self, height):
        entry = self
        while entry is not None and entry.height != height:
            entry = entry.prev
        return entry

    def median_time_past(self):
        return self._mtp


@pytest.fixture(scope="module")
def block(vectors_dir) -> Block:
    raw = bz2.decompress((vectors_dir / "blocks" / "mainnet-block-277647.blk.bz2").read_bytes())
    assert raw[:4] == MAIN.magic
    size = int.from_bytes(raw[4:8], "little")
    assert len(raw) == 8 + size
    return Block.from_bytes(raw[8:])


@pytest.fixture(scope="module")
def all_prevouts(vectors_dir) -> dict:
    rows = json.loads((vectors_dir / "blocks" / "mainnet-block-277647-prevouts.json").read_text())
    return {OutPoint(hex_to_hash(r["txid"]), r["vout"]):
            Coin(TxOut(r["amount"], bytes.fromhex(r["script_pubkey"])), r["height"], r["coinbase"])
            for r in rows}


@pytest.fixture(scope="module")
def prevouts(all_prevouts) -> dict:
    """The UTXO set before the block: prevouts from earlier blocks (62 are made in it)."""
    return {op: c for op, c in all_prevouts.items() if c.height < HEIGHT}


def _entries(block):
    # The parent's header is not in the vectors; a stand-in with the right hash is not
    # needed: connect_block reads the parent's height and ancestors only.
    parent_header = BlockHeader(2, b"\x00" * 32, b"\x00" * 32, block.header.time - 600,
                                block.header.bits, 0)
    parent = _Entry(parent_header, HEIGHT - 1, None, block.header.time - 3600)
    return parent, _Entry(block.header, HEIGHT, parent, block.header.time - 3000)


def test_block_identity(block, all_prevouts, prevouts):
    assert block.hash == HASH
    assert len(block.txs) == 213
    assert sum(len(tx.inputs) for tx in block.txs[1:]) == 732 == len(all_prevouts)
    # The outputs spent inside the block are the block's own outputs.
    outputs = {OutPoint(tx.txid_bytes, i): o for tx in block.txs for i, o in enumerate(tx.outputs)}
    for op, coin in all_prevouts.items():
        if op not in prevouts:
            assert outputs[op] == coin.output and coin.height == HEIGHT
    assert len(all_prevouts) - len(prevouts) == 62


def test_context_free_and_contextual_checks(block):
    parent, _ = _entries(block)
    check_block(block, MAIN)                    # proof of work, merkle root, sigops, txs
    contextual_check_block(block, parent, MAIN)  # BIP34 height in the coinbase, finality


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "executor"])
def test_connect_and_disconnect(block, all_prevouts, prevouts, parallel):
    parent, entry = _entries(block)
    flags = get_block_script_flags(HEIGHT, block.hash_bytes, MAIN)
    assert flags == Flags.P2SH | Flags.WITNESS      # before BIP66/65/CSV/segwit heights
    view = MemoryCoinsView(prevouts)
    if parallel:
        with ThreadPoolExecutor(2) as executor:
            undo = connect_block(block, entry, view, MAIN, executor=executor)
    else:
        undo = connect_block(block, entry, view, MAIN)
    # Fees: what the inputs held minus what the non-coinbase outputs pay.
    fees = sum(c.output.value for t in undo.txs for c in t.spent) - sum(
        o.value for tx in block.txs[1:] for o in tx.outputs)
    assert fees == 4_737_355
    assert get_block_subsidy(HEIGHT, MAIN) + fees == 2_504_737_355
    assert sum(o.value for o in block.txs[0].outputs) == 2_504_737_355
    # Every prevout is spent; every other output created, with this height.
    assert not any(view.have_coin(op) for op in all_prevouts)
    created = {OutPoint(tx.txid_bytes, i) for tx in block.txs for i in range(len(tx.outputs))}
    assert set(view.coins) == created - set(all_prevouts)
    assert [c for t in undo.txs for c in t.spent] == [
        all_prevouts[txin.prevout] for tx in block.txs[1:] for txin in tx.inputs]
    assert all(c.height == HEIGHT for c in view.coins.values())
    assert BlockUndo.from_bytes(undo.to_bytes()) == undo
    assert disconnect_block(block, undo, view, height=HEIGHT) is True
    assert view.coins == prevouts


def _tampered_tx_block(block, tx_index, tx):
    txs = list(block.txs)
    txs[tx_index] = tx
    return Block(block.header, txs)


def test_tampered_signature_fails(block, prevouts):
    _, entry = _entries(block)
    tx = block.txs[5]
    txin = tx.inputs[0]
    script_sig = txin.script_sig
    # The first push is the signature: flip a byte inside R, keeping the DER valid.
    bad_sig = script_sig[:10] + bytes([script_sig[10] ^ 0x01]) + script_sig[11:]
    bad_tx = tx.replace(inputs=[txin._replace(script_sig=bad_sig), *tx.inputs[1:]])
    with pytest.raises(Rejection) as info:
        connect_block(_tampered_tx_block(block, 5, bad_tx), entry, MemoryCoinsView(prevouts), MAIN)
    assert info.value.reason.startswith("mandatory-script-verify-flag-failed (")
    assert bad_tx.txid in info.value.debug
    # The same block with scripts not checked (assumed valid) connects.
    connect_block(_tampered_tx_block(block, 5, bad_tx), entry, MemoryCoinsView(prevouts), MAIN,
                  check_scripts=False)


def test_tampered_prevouts_fail(block, prevouts):
    _, entry = _entries(block)
    first = block.txs[1].inputs[0].prevout
    # A smaller input amount (legacy signatures do not commit to it) leaves the coinbase
    # claiming more than subsidy + fees.
    smaller = dict(prevouts)
    c = smaller[first]
    smaller[first] = Coin(TxOut(c.output.value - 1, c.output.script_pubkey), c.height, c.is_coinbase)
    with pytest.raises(Rejection) as info:
        connect_block(block, entry, MemoryCoinsView(smaller), MAIN)
    assert info.value.reason == "bad-cb-amount"
    assert info.value.debug == "coinbase pays too much (actual=2504737355 vs limit=2504737354)"
    # A missing prevout.
    missing = dict(prevouts)
    del missing[first]
    with pytest.raises(Rejection, match="bad-txns-inputs-missingorspent"):
        connect_block(block, entry, MemoryCoinsView(missing), MAIN)
    # A different locking script: the signature's key no longer matches.
    other = dict(prevouts)
    other[first] = Coin(TxOut(c.output.value, bytes.fromhex("76a914" + "00" * 20 + "88ac")),
                        c.height, c.is_coinbase)
    with pytest.raises(Rejection) as info:
        connect_block(block, entry, MemoryCoinsView(other), MAIN)
    assert info.value.reason == ("mandatory-script-verify-flag-failed "
                                 "(Script failed an OP_EQUALVERIFY operation)")
