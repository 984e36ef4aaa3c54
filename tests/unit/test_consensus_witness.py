"""BIP-0141 witness commitments and weight, on real mainnet SegWit blocks."""

import bitcoin.core as bc
import pytest

from coin.consensus.errors import Rejection
from coin.consensus.witness import (
    check_witness_malleation,
    get_witness_commitment_index,
    is_witness_commitment_script,
    witness_commitment_script,
)
from coin.primitives import Block, TxIn, TxOut


@pytest.fixture(scope="module", params=["574200", "540107"])
def segwit_block(request, vectors_dir):
    files = sorted((vectors_dir / "blocks").glob("mainnet-block-0*.bin"))
    assert len(files) == 2
    blocks = {}
    for f in files:
        data = f.read_bytes()
        block = Block.from_bytes(data)
        script_sig = block.txs[0].inputs[0].script_sig   # BIP-0034 height push
        height = int.from_bytes(script_sig[1:1 + script_sig[0]], "little")
        blocks[str(height)] = (block, data)
    return blocks[request.param]


def _replace_coinbase(block, coinbase):
    return Block(block.header, [coinbase, *block.txs[1:]])


def test_real_commitment_matches(segwit_block):
    block, data = segwit_block
    pos = get_witness_commitment_index(block)
    assert pos >= 0
    check_witness_malleation(block, True)
    # python-bitcoinlib agrees on where the commitment is and on the weight.
    cblock = bc.CBlock.deserialize(data)
    assert cblock.get_witness_commitment_index() == pos
    assert cblock.GetWeight() == block.weight


def test_nonce_size_and_mismatch(segwit_block):
    block, _ = segwit_block
    cb = block.txs[0]
    cb_in = cb.inputs[0]
    for witness in [(), (b"\x00" * 31,), (b"\x00" * 32, b"")]:
        bad = _replace_coinbase(block, cb.replace(inputs=[cb_in._replace(witness=witness)]))
        with pytest.raises(Rejection) as info:
            check_witness_malleation(bad, True)
        assert info.value.reason == "bad-witness-nonce-size"
    # Another reserved value changes the commitment.
    bad = _replace_coinbase(block, cb.replace(inputs=[cb_in._replace(witness=(b"\x01" * 32,))]))
    with pytest.raises(Rejection) as info:
        check_witness_malleation(bad, True)
    assert info.value.reason == "bad-witness-merkle-match"
    # Dropping one transaction's witness changes the witness root.
    i = next(i for i, tx in enumerate(block.txs) if i and tx.has_witness())
    tx = block.txs[i]
    stripped = tx.replace(inputs=[txin._replace(witness=()) for txin in tx.inputs])
    txs = list(block.txs)
    txs[i] = stripped
    with pytest.raises(Rejection) as info:
        check_witness_malleation(Block(block.header, txs), True)
    assert info.value.reason == "bad-witness-merkle-match"


def test_last_commitment_wins(segwit_block):
    block, _ = segwit_block
    cb = block.txs[0]
    pos = get_witness_commitment_index(block)
    real = cb.outputs[pos]
    decoy = TxOut(0, witness_commitment_script(b"\x00" * 32))
    before = _replace_coinbase(block, cb.replace(outputs=[*cb.outputs, decoy]))
    assert get_witness_commitment_index(before) == len(cb.outputs)
    with pytest.raises(Rejection, match="bad-witness-merkle-match"):
        check_witness_malleation(before, True)
    after = _replace_coinbase(block, cb.replace(outputs=[decoy, *cb.outputs]))
    assert get_witness_commitment_index(after) == pos + 1
    check_witness_malleation(after, True)
    # A 39-byte script with the prefix still counts (>= 38 bytes).
    longer = TxOut(0, real.script_pubkey + b"\x00")
    assert is_witness_commitment_script(longer.script_pubkey)
    assert not is_witness_commitment_script(real.script_pubkey[:37])


def test_unexpected_witness(segwit_block):
    block, _ = segwit_block
    cb = block.txs[0]
    pos = get_witness_commitment_index(block)
    outputs = [o for i, o in enumerate(cb.outputs) if i != pos]
    no_commitment = _replace_coinbase(block, cb.replace(outputs=outputs))
    with pytest.raises(Rejection) as info:
        check_witness_malleation(no_commitment, True)
    assert info.value.reason == "unexpected-witness"
    # Before segwit any witness is unexpected, commitment or not.
    with pytest.raises(Rejection, match="unexpected-witness"):
        check_witness_malleation(block, False)
    # With the commitment but a coinbase without witness: the reserved value is missing.
    bare = Block(block.header, [
        tx.replace(inputs=[TxIn(t.prevout, t.script_sig, t.sequence) for t in tx.inputs])
        for tx in block.txs[:3]])
    with pytest.raises(Rejection, match="bad-witness-nonce-size"):
        check_witness_malleation(bare, True)
    # A block without any witness and without commitment is fine either way.
    bare = _replace_coinbase(bare, bare.txs[0].replace(outputs=outputs))
    check_witness_malleation(bare, True)
    check_witness_malleation(bare, False)
