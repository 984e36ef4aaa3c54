"""Block assembly helpers: coinbase transactions, witness commitments, block templates.

What Core's BlockAssembler::CreateNewBlock does around the transactions it picks:
- `create_coinbase`: one input spending the null outpoint with scriptSig
  `CScript() << height << OP_0` (BIP-0034 height, then OP_0, or a push of
  `extra_nonce` in its place, which keeps the scriptSig at least 2 bytes long as
  CheckTransaction requires), one output paying `value` to `script_pubkey`; version 2,
  lock time 0, as Core's miner builds it.
- `add_witness_commitment`: Core's GenerateCoinbaseCommitment and
  UpdateUncommittedBlockStructures: the BIP-0141 commitment output
  (OP_RETURN aa21a9ed || sha256d(witness root || reserved value)) appended to the
  coinbase, the 32-byte zero reserved value as the coinbase witness, and the merkle
  root recomputed.
- `create_block`: header (nonce 0, for the caller to mine) over coinbase + txs.

Nothing here checks validity: the result goes through coin.consensus like any block.
"""

from coin.consensus.block_check import bip34_height_script
from coin.consensus.subsidy import get_block_subsidy
from coin.consensus.witness import (
    compute_witness_commitment,
    is_witness_commitment_script,
    witness_commitment_script,
)
from coin.primitives import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from coin.primitives.transaction import NULL_HASH
from coin.script.interpreter import push_data

__all__ = [
    "WITNESS_RESERVED_VALUE",
    "coinbase_script_sig",
    "create_coinbase",
    "add_witness_commitment",
    "with_merkle_root",
    "create_block",
]

WITNESS_RESERVED_VALUE = b"\x00" * 32
_OP_0 = b"\x00"


def coinbase_script_sig(height: int, extra_nonce: bytes = b"") -> bytes:
    """`CScript() << height << OP_0`, or with a push of `extra_nonce` instead of OP_0."""
    return bip34_height_script(height) + (push_data(extra_nonce) if extra_nonce else _OP_0)


def create_coinbase(height: int, script_pubkey: bytes, value: int, params, *,
                    extra_nonce: bytes = b"") -> Transaction:
    """The coinbase of a block at `height` paying `value` satoshis to `script_pubkey`.

    No witness and no commitment yet: `add_witness_commitment` adds both once the
    block's transactions are known. `params` is accepted for symmetry with the other
    helpers (the layout is the same on every network).
    """
    del params
    txin = TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), coinbase_script_sig(height, extra_nonce),
                0xFFFFFFFF)
    return Transaction(2, [txin], [TxOut(value, script_pubkey)], 0)


def with_merkle_root(block: Block) -> Block:
    """`block` with its header's merkle root recomputed from its transactions."""
    root, _ = block.compute_merkle_root()
    return Block(block.header.replace(merkle_root_bytes=root), block.txs)


def add_witness_commitment(block: Block) -> Block:
    """Core's GenerateCoinbaseCommitment + UpdateUncommittedBlockStructures.

    Any commitment output the coinbase already has is replaced by a fresh one
    appended at the end (value 0); a coinbase without witness gets the 32-byte zero
    reserved value (a coinbase with a witness keeps its own). The merkle root is
    recomputed. Returns the new block.
    """
    coinbase = block.txs[0]
    outputs = [o for o in coinbase.outputs if not is_witness_commitment_script(o.script_pubkey)]
    cb_in = coinbase.inputs[0]
    reserved = cb_in.witness[0] if len(cb_in.witness) == 1 else WITNESS_RESERVED_VALUE
    if not cb_in.witness:
        cb_in = cb_in._replace(witness=(WITNESS_RESERVED_VALUE,))
    commitment = compute_witness_commitment(block, reserved)
    outputs.append(TxOut(0, witness_commitment_script(commitment)))
    new_coinbase = Transaction(coinbase.version, [cb_in, *coinbase.inputs[1:]], outputs,
                               coinbase.lock_time)
    return with_merkle_root(Block(block.header, [new_coinbase, *block.txs[1:]]))


def create_block(prev_hash_bytes: bytes, height: int, txs, time: int, bits: int, params,
                 coinbase_script_pubkey: bytes, fees: int = 0, version: int = 0x20000000, *,
                 extra_nonce: bytes = b"") -> Block:
    """A block template at `height` over `txs`: coinbase paying subsidy + `fees`.

    The witness commitment is added when segwit is active at `height`. The merkle root
    is computed; the nonce is 0 (the caller mines it).
    """
    coinbase = create_coinbase(height, coinbase_script_pubkey,
                               get_block_subsidy(height, params) + fees, params,
                               extra_nonce=extra_nonce)
    header = BlockHeader(version, prev_hash_bytes, NULL_HASH, time, bits, 0)
    block = Block(header, [coinbase, *txs])
    if height >= params.segwit_height:
        return add_witness_commitment(block)
    return with_merkle_root(block)
