"""The ``generating`` and ``mining`` RPC groups: generatetoaddress, generatetodescriptor,
generateblock, submitblock.

Blocks are assembled by `coin.mining.assembler` on the validation thread, mined with the
native miner (`node.miner`) off the event loop, and submitted through the same path as
a block from a peer (ChainState.process_new_block), so they are fully validated.

Errors and results are Core's: -5 ``Error: Invalid address`` / ``Error: Invalid address
or descriptor``; -22 ``Block decode failed`` / ``Block does not start with a coinbase``;
submitblock answers null (connected), ``duplicate``, ``inconclusive`` (stored on a side
branch), or the reject reason (BIP-0022).
"""

from __future__ import annotations

from typing import Any

from coin.consensus.errors import Rejection
from coin.consensus.witness import get_witness_commitment_index
from coin.crypto.address import InvalidAddress, address_to_script
from coin.mining.assembler import create_new_block, mine_block
from coin.mining.template import WITNESS_RESERVED_VALUE
from coin.primitives import Block, Transaction
from coin.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INTERNAL_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_MISC_ERROR,
    RPC_VERIFY_ERROR,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, rpc_method
from coin.rpc.util import help_example_cli, parse_hash_v
from coin.script.descriptor import InvalidDescriptor, descriptor_to_script
from coin.serialize import DecodeError

__all__ = ["generateblock", "generatetoaddress", "generatetodescriptor", "submitblock",
           "generate_blocks"]

DEFAULT_MAX_TRIES = 1_000_000


async def generate_blocks(node, script_pubkey: bytes, count: int, max_tries: int) -> list[str]:
    """Core's generateBlocks: mine `count` blocks to `script_pubkey`, each validated and connected.

    Stops early (returning what it mined) when `max_tries` nonces are used up, as Core.
    """
    hashes: list[str] = []
    tries_left = max_tries
    version_cache: dict = {}
    while len(hashes) < count and tries_left > 0:
        template = await node.run_validation(
            lambda: create_new_block(node.chainstate, node.params, script_pubkey, node.clock(),
                                     mempool=node.mempool, version_cache=version_cache))
        block = await node.run_mining(mine_block, template, node.miner, tries_left)
        if block is None:
            if node.miner.stopped or node.shutdown_requested:
                break
            tries_left -= min(tries_left, 2**32)
            continue
        tries_left -= max(1, block.header.nonce + 1)
        try:
            await node.run_validation(node.chainstate.process_new_block, block)
        except Rejection as r:
            raise RPCError(RPC_INTERNAL_ERROR, f"ProcessNewBlock, block not accepted: {r}") from None
        hashes.append(block.hash)
    return hashes


def _nblocks(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RPCError(-3, "Expected type number")
    return value


@rpc_method(
    "generatetoaddress",
    "generating",
    params=[
        Param("nblocks", "num", "How many blocks are generated."),
        Param("address", "str", "The address to send the newly generated bitcoin to."),
        Param("maxtries", "num", "How many iterations to try.", default=DEFAULT_MAX_TRIES),
    ],
    help="Mine to a specified address and return the block hashes.",
    result='[ "hex", ... ]    (json array) hashes of blocks generated',
    examples=help_example_cli("generatetoaddress", '11 "myaddress"'),
)
async def generatetoaddress(ctx: RPCContext, nblocks: int, address: str, maxtries: int) -> list[str]:
    try:
        script = address_to_script(address, ctx.node.params)
    except InvalidAddress:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None
    return await generate_blocks(ctx.node, script, _nblocks(nblocks), maxtries)


@rpc_method(
    "generatetodescriptor",
    "generating",
    params=[
        Param("num_blocks", "num", "How many blocks are generated."),
        Param("descriptor", "str", "The descriptor to send the newly generated bitcoin to."),
        Param("maxtries", "num", "How many iterations to try.", default=DEFAULT_MAX_TRIES),
    ],
    help="Mine to a specified descriptor and return the block hashes.",
    result='[ "hex", ... ]    (json array) hashes of blocks generated',
    examples=help_example_cli("generatetodescriptor", '11 "mydesc"'),
)
async def generatetodescriptor(ctx: RPCContext, num_blocks: int, descriptor: str, maxtries: int) -> list[str]:
    try:
        script = descriptor_to_script(descriptor, ctx.node.params)
    except InvalidDescriptor as e:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, str(e)) from None
    return await generate_blocks(ctx.node, script, _nblocks(num_blocks), maxtries)


def _output_script(output: str, params) -> bytes:
    try:
        return address_to_script(output, params)
    except InvalidAddress:
        pass
    try:
        return descriptor_to_script(output, params)
    except InvalidDescriptor:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address or descriptor") from None


@rpc_method(
    "generateblock",
    "generating",
    params=[
        Param("output", "str", "The address or descriptor to send the newly generated bitcoin to."),
        Param("transactions", "arr", "An array of hex strings which are either txids or raw transactions.\n"
              "Txids must reference transactions currently in the mempool.\n"
              "All transactions must be valid and in valid order, otherwise the block will be rejected."),
        Param("submit", "bool", "Whether to submit the block before the RPC call returns or to return it as hex.",
              default=True),
    ],
    help="Mine a set of ordered transactions to a specified address or descriptor and return the block hash.",
    result='{ "hash" : "hex", "hex" : "str" (if submit=false) }',
    examples=help_example_cli("generateblock", '"myaddress" \'["rawtx", "mempool_txid"]\''),
)
async def generateblock(ctx: RPCContext, output: str, transactions: list, submit: bool) -> dict[str, Any]:
    node = ctx.node
    script = _output_script(output, node.params)
    txs: list[Transaction] = []
    for item in transactions:
        if not isinstance(item, str):
            raise RPCError(-3, "Expected type string")
        if len(item) == 64:
            txid = parse_hash_v(item, "txid")
            tx = node.mempool.get(txid) if node.mempool is not None else None
            if tx is None:
                raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {item} not in mempool.")
            txs.append(tx)
            continue
        try:
            txs.append(Transaction.from_hex(item))
        except DecodeError:
            raise RPCError(RPC_DESERIALIZATION_ERROR,
                           f"Transaction decode failed for {item}. Make sure the tx has at least one input.") from None

    def build():
        # Core's generateblock pays only the subsidy: the fees of given txs are not counted.
        return create_new_block(node.chainstate, node.params, script, node.clock(), txs=txs)

    template = await node.run_validation(build)
    block = await node.run_mining(mine_block, template, node.miner, DEFAULT_MAX_TRIES)
    if block is None:
        raise RPCError(RPC_MISC_ERROR, "Failed to make block.")
    if not submit:
        return {"hash": block.hash, "hex": block.to_bytes().hex()}
    try:
        await node.run_validation(node.chainstate.process_new_block, block)
    except Rejection as r:
        raise RPCError(RPC_VERIFY_ERROR, f"TestBlockValidity failed: {r}") from None
    return {"hash": block.hash}


def _update_uncommitted_block_structures(block: Block) -> Block:
    """Core's UpdateUncommittedBlockStructures: give a coinbase the witness reserved value
    when the block commits to witnesses but the coinbase carries none."""
    if not block.txs or block.txs[0].inputs[0].witness:
        return block
    if get_witness_commitment_index(block) is None:
        return block
    coinbase = block.txs[0]
    cb_in = coinbase.inputs[0]._replace(witness=(WITNESS_RESERVED_VALUE,))
    fixed = coinbase.replace(inputs=[cb_in, *coinbase.inputs[1:]])
    return Block(block.header, [fixed, *block.txs[1:]])


@rpc_method(
    "submitblock",
    "mining",
    params=[
        Param("hexdata", "hex", "the hex-encoded block data to submit"),
        Param("dummy", "str", "dummy value, for compatibility with BIP22. This value is ignored.", optional=True,
              default_hint="ignored"),
    ],
    help="Attempts to submit new block to network.\nSee https://en.bitcoin.it/wiki/BIP_0022 for full specification.",
    result='null    (json null) When the block was accepted\n"str"    (string) Otherwise, the reject reason',
    examples=help_example_cli("submitblock", '"mydata"'),
)
async def submitblock(ctx: RPCContext, hexdata: str, dummy: Any) -> str | None:
    try:
        block = Block.from_bytes(bytes.fromhex(hexdata))
    except (ValueError, DecodeError):
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
    if not block.txs or not block.txs[0].is_coinbase():
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
    node = ctx.node
    cs = node.chainstate

    def submit() -> str | None:
        nonlocal block
        if cs.get_entry(block.header.prev_hash_bytes) is not None:
            block = _update_uncommitted_block_structures(block)
        try:
            _, new = cs.process_new_block(block)
        except Rejection as r:
            return r.reason or "rejected"
        if not new:
            return "duplicate"
        entry = cs.get_entry(block.hash_bytes)
        if entry is not None and cs.chain.contains(entry):
            return None
        return "inconclusive"

    return await node.run_validation(submit)
