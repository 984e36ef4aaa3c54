"""BIP-0141 witness commitments and block weight.

The coinbase of a block with witness data commits to the witness merkle root in an
output whose scriptPubKey is OP_RETURN, a 36-byte push, the header aa21a9ed and
sha256d(witness_root || witness reserved value); the reserved value is the coinbase
input's single 32-byte witness item. If several outputs match, the last one counts
(Core's GetWitnessCommitmentIndex).

`check_witness_malleation` is Core's CheckWitnessMalleation; it raises Rejection with
bad-witness-nonce-size, bad-witness-merkle-match or unexpected-witness (all BLOCK_MUTATED
in Core: the block's header may still be valid with other witness data).
"""

from coin.consensus.constants import (
    MINIMUM_WITNESS_COMMITMENT,
    NO_WITNESS_COMMITMENT,
    WITNESS_COMMITMENT_HEADER,
)
from coin.consensus.errors import Rejection
from coin.crypto.hashes import sha256d

__all__ = [
    "get_witness_commitment_index",
    "is_witness_commitment_script",
    "witness_commitment_script",
    "compute_witness_commitment",
    "check_witness_malleation",
    "get_block_weight",
]

_COMMITMENT_PREFIX = b"\x6a\x24" + WITNESS_COMMITMENT_HEADER


def is_witness_commitment_script(script: bytes) -> bool:
    """Whether `script` has the commitment form: >= 38 bytes starting 6a24aa21a9ed."""
    return len(script) >= MINIMUM_WITNESS_COMMITMENT and script[:6] == _COMMITMENT_PREFIX


def get_witness_commitment_index(block) -> int:
    """Index of the coinbase output carrying the witness commitment (the last match), or -1."""
    pos = NO_WITNESS_COMMITMENT
    if block.txs:
        for i, txout in enumerate(block.txs[0].outputs):
            if is_witness_commitment_script(txout.script_pubkey):
                pos = i
    return pos


def compute_witness_commitment(block, reserved_value: bytes = b"\x00" * 32) -> bytes:
    """sha256d(witness merkle root || reserved value): the 32 committed bytes."""
    root, _ = block.compute_witness_merkle_root()
    return sha256d(root + reserved_value)


def witness_commitment_script(commitment: bytes) -> bytes:
    """The commitment output's scriptPubKey: OP_RETURN PUSH36(aa21a9ed || commitment)."""
    if len(commitment) != 32:
        raise ValueError("witness commitment must be 32 bytes")
    return _COMMITMENT_PREFIX + commitment


def check_witness_malleation(block, expect_witness_commitment: bool) -> None:
    """Core's CheckWitnessMalleation. Raises Rejection.

    With segwit active and a commitment present: the coinbase witness must be exactly
    one 32-byte item (bad-witness-nonce-size) and the commitment must match
    (bad-witness-merkle-match). Otherwise no transaction may carry witness data
    (unexpected-witness).
    """
    if expect_witness_commitment:
        pos = get_witness_commitment_index(block)
        if pos != NO_WITNESS_COMMITMENT:
            witness = block.txs[0].inputs[0].witness
            if len(witness) != 1 or len(witness[0]) != 32:
                raise Rejection("bad-witness-nonce-size",
                                "CheckWitnessMalleation : invalid witness reserved value size")
            commitment = compute_witness_commitment(block, witness[0])
            if commitment != block.txs[0].outputs[pos].script_pubkey[6:38]:
                raise Rejection("bad-witness-merkle-match",
                                "CheckWitnessMalleation : witness merkle commitment mismatch")
            return
    for tx in block.txs:
        if tx.has_witness():
            raise Rejection("unexpected-witness",
                            "CheckWitnessMalleation : unexpected witness data found")


def get_block_weight(block) -> int:
    """BIP-0141 weight: stripped size x 3 + total size (Core's GetBlockWeight)."""
    return block.weight
