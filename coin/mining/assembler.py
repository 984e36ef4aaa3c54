"""Block assembly and mining a block: what generatetoaddress, generateblock and
getblocktemplate build on (Core's BlockAssembler::CreateNewBlock and GenerateBlock).

`create_new_block(chainstate, params, script_pubkey, now, mempool=None, txs=None)`
returns a `BlockTemplate`: a block on top of the current tip with

- version from BIP-0009 version bits (`coin.mining.versionbits`);
- time = max(median time past + 1, now) (Core's UpdateTime);
- bits = the next work required;
- transactions: `txs` as given (generateblock), else the mempool's selection by
  ancestor fee rate within the weight and sigop limits (Core's addPackageTxs);
- the coinbase paying subsidy + fees to `script_pubkey`, with the BIP-0034 height and,
  once segwit is active, the witness commitment and reserved value.

`mine_block(template, miner, max_tries)` grinds the nonce with the native miner and
returns the solved block, or None when `max_tries` nonces found nothing.

`test_block_validity(chainstate, block, params, now)` is Core's TestBlockValidity for
a block on the current tip: every check but proof of work, connected against a
throwaway layer of the UTXO cache. Raises Rejection with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coin.chain.blockindex import BlockIndexEntry
from coin.consensus.block_check import (
    check_block,
    contextual_check_block,
    contextual_check_block_header,
)
from coin.consensus.connect import connect_block
from coin.consensus.pow import bits_to_target, get_next_work_required
from coin.mining.template import create_block
from coin.mining.versionbits import compute_block_version
from coin.primitives import Block

__all__ = ["BlockTemplate", "create_new_block", "mine_block", "test_block_validity",
           "DEFAULT_BLOCK_MAX_WEIGHT", "MAX_BLOCK_SIGOPS_COST", "COINBASE_RESERVED_WEIGHT"]

DEFAULT_BLOCK_MAX_WEIGHT = 4_000_000 - 4_000  # Core's -blockmaxweight default (3,996,000)
MAX_BLOCK_SIGOPS_COST = 80_000
COINBASE_RESERVED_WEIGHT = 4_000
COINBASE_RESERVED_SIGOPS = 400


@dataclass
class BlockTemplate:
    """A block to mine and what getblocktemplate reports about it."""

    block: Block
    height: int
    fees: int
    tx_fees: list[int] = field(default_factory=list)
    tx_sigops: list[int] = field(default_factory=list)
    coinbase_value: int = 0
    prev_entry: object = None


def create_new_block(chainstate, params, script_pubkey: bytes, now: float, *, mempool=None,
                     txs=None, tx_fees=None, version_cache: dict | None = None) -> BlockTemplate:
    """Core's CreateNewBlock on top of `chainstate.tip` (call on the validation thread)."""
    prev = chainstate.tip
    height = prev.height + 1
    time = max(prev.median_time_past() + 1, int(now))
    bits = get_next_work_required(prev, time, params)
    version = compute_block_version(prev, params, version_cache)
    fees_each: list[int] = []
    sigops_each: list[int] = []
    if txs is None:
        txs = []
        if mempool is not None:
            selected = mempool.select_for_block(DEFAULT_BLOCK_MAX_WEIGHT - COINBASE_RESERVED_WEIGHT,
                                                MAX_BLOCK_SIGOPS_COST - COINBASE_RESERVED_SIGOPS)
            for item in selected:
                txs.append(item.tx)
                fees_each.append(item.fee)
                sigops_each.append(item.sigop_cost)
    else:
        txs = list(txs)
        fees_each = list(tx_fees) if tx_fees is not None else [0] * len(txs)
    fees = sum(fees_each)
    block = create_block(prev.hash_bytes, height, txs, time, bits, params, script_pubkey,
                         fees=fees, version=version)
    return BlockTemplate(block, height, fees, fees_each, sigops_each,
                         coinbase_value=block.txs[0].outputs[0].value, prev_entry=prev)


def mine_block(template: BlockTemplate, miner, max_tries: int) -> Block | None:
    """Find a nonce for the template's header with at most `max_tries` hashes."""
    block = template.block
    header = block.header
    target = bits_to_target(header.bits)
    tries = min(max_tries, 2**32)
    nonce = miner.mine(header.to_bytes(), target, threads=1 if tries <= 1 << 20 else None,
                       end_nonce=tries)
    if nonce is None:
        return None
    return Block(header.replace(nonce=nonce), block.txs)


def test_block_validity(chainstate, block: Block, params, now: float) -> None:
    """Core's TestBlockValidity(check_pow=False): raises Rejection if `block`, on top of
    the current tip, breaks any rule; changes nothing."""
    tip = chainstate.tip
    check_block(block, params, check_pow=False)
    contextual_check_block_header(block.header, tip, params, int(now))
    contextual_check_block(block, tip, params)
    entry = BlockIndexEntry(block.header, tip)
    connect_block(block, entry, chainstate.coins_tip.child(), params, sigcache=chainstate.sigcache)
