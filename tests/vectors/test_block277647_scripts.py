"""Mainnet block 277647: all 732 inputs (P2PKH and P2SH) verify under flags P2SH.

The block and the outputs it spends come from ../shared/vectors/blocks. Negative
checks on a sample of transactions: a flipped signature byte, a changed output amount
in the spending transaction, and a changed hash in the spent scriptPubKey each make
the input fail. (The spent amount itself is not signed by legacy signatures.)
"""

import bz2
import json
import struct

import pytest

from coin.primitives import Block, OutPoint, TxOut
from coin.script import Flags, ScriptError, SignatureCache, verify_input, verify_transaction
from coin.script.sighash import PrecomputedTxData

BLOCK_HASH = "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8"


def load_block_277647(vectors_dir):
    """(block, [(tx, spent_outputs)] for every non-coinbase transaction)."""
    raw = bz2.decompress((vectors_dir / "blocks" / "mainnet-block-277647.blk.bz2").read_bytes())
    assert raw[:4] == bytes.fromhex("f9beb4d9")
    (length,) = struct.unpack_from("<I", raw, 4)
    block = Block.from_bytes(raw[8:8 + length])
    prevouts = json.loads((vectors_dir / "blocks" / "mainnet-block-277647-prevouts.json").read_text())
    by_outpoint = {
        OutPoint(bytes.fromhex(p["txid"])[::-1], p["vout"]):
            TxOut(p["amount"], bytes.fromhex(p["script_pubkey"]))
        for p in prevouts
    }
    txs = []
    for tx in block.txs[1:]:
        txs.append((tx, [by_outpoint[txin.prevout] for txin in tx.inputs]))
    return block, txs


@pytest.fixture(scope="module")
def block277647(vectors_dir):
    return load_block_277647(vectors_dir)


def test_block_identity(block277647):
    block, txs = block277647
    assert block.hash == BLOCK_HASH
    assert len(block.txs) == 213
    assert sum(len(tx.inputs) for tx, _ in txs) == 732


def test_all_inputs_verify(block277647):
    _, txs = block277647
    checked = 0
    for tx, spent in txs:
        txdata = PrecomputedTxData(tx, spent)
        for i in range(len(tx.inputs)):
            verify_input(tx, i, spent, Flags.P2SH, txdata=txdata)
            checked += 1
    assert checked == 732


def test_all_inputs_verify_with_sigcache(block277647):
    _, txs = block277647
    cache = SignatureCache(100_000)
    for tx, spent in txs:
        verify_transaction(tx, spent, Flags.P2SH, sigcache=cache)
    first_misses = cache.misses
    assert cache.hits == 0 and len(cache) > 0
    for tx, spent in txs:  # the second pass is all hits
        verify_transaction(tx, spent, Flags.P2SH, sigcache=cache)
    assert cache.misses == first_misses and cache.hits == first_misses


def _sample(txs):
    # A few transactions spread over the block, P2SH ones included.
    p2sh = [t for t in txs if any(s.script_pubkey[:1] == b"\xa9" for s in t[1])]
    return txs[::40] + p2sh[:2]


def test_flipped_signature_byte_fails(block277647):
    _, txs = block277647
    for tx, spent in _sample(txs):
        txin = tx.inputs[0]
        sig = bytearray(txin.script_sig)
        sig[10] ^= 0x01  # inside the first push (the DER signature's R value)
        bad = tx.replace(inputs=[txin._replace(script_sig=bytes(sig)), *tx.inputs[1:]])
        with pytest.raises(ScriptError):
            verify_input(bad, 0, spent, Flags.P2SH)


def test_changed_output_value_fails(block277647):
    _, txs = block277647
    for tx, spent in _sample(txs):
        out = tx.outputs[0]
        bad = tx.replace(outputs=[out._replace(value=out.value + 1), *tx.outputs[1:]])
        with pytest.raises(ScriptError):
            verify_input(bad, 0, spent, Flags.P2SH)


def test_changed_spent_script_fails(block277647):
    _, txs = block277647
    for tx, spent in _sample(txs):
        spk = bytearray(spent[0].script_pubkey)
        spk[5] ^= 0xFF  # inside the 20-byte hash of P2PKH / P2SH
        bad_spent = [TxOut(spent[0].value, bytes(spk)), *spent[1:]]
        with pytest.raises(ScriptError):
            verify_input(tx, 0, bad_spent, Flags.P2SH)
