"""The ``blockchain`` RPC group: Bitcoin Core's chain queries and invalidate/reconsider.

Methods: getblockchaininfo, getblockcount, getbestblockhash, getblockhash, getblock,
getblockheader, getchaintips, getdifficulty, gettxout, gettxoutsetinfo,
invalidateblock, reconsiderblock, preciousblock.

Everything that reads the block index, the UTXO set or block files runs on the node's
validation thread (``node.run_validation``), so it never races block connection; only
single-attribute reads (getblockcount, getbestblockhash, getdifficulty) answer on the
event loop. Errors are Core's: -5 ``Block not found``, -8 ``Block height out of range``
and the hash-argument messages, -20 (RPC_DATABASE_ERROR) with the validation state for
invalidate/reconsider/precious failures, -8 ``'x' is not a valid hash_type``.
"""

from __future__ import annotations

from typing import Any

from coin.consensus.errors import Rejection
from coin.consensus.pow import get_difficulty
from coin.mempool.entry import MEMPOOL_HEIGHT
from coin.primitives import OutPoint
from coin.rpc.core_write import (
    block_to_json,
    chainwork_hex,
    header_to_json,
    script_to_univ,
    target_hex,
)
from coin.rpc.errors import (
    RPC_DATABASE_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, rpc_method
from coin.rpc.util import (
    help_example_cli,
    help_example_rpc,
    parse_hash_v,
    parse_verbosity,
    value_from_amount,
)

__all__ = [
    "getbestblockhash",
    "getblock",
    "getblockchaininfo",
    "getblockcount",
    "getblockhash",
    "getblockheader",
    "getchaintips",
    "getdifficulty",
    "gettxout",
    "gettxoutsetinfo",
    "invalidateblock",
    "reconsiderblock",
    "preciousblock",
]


def _entry_or_raise(chainstate, hash_bytes: bytes):
    entry = chainstate.get_entry(hash_bytes)
    if entry is None:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    return entry


@rpc_method(
    "getblockchaininfo",
    "blockchain",
    help="Returns an object containing various state info regarding blockchain processing.",
    result='{\n  "chain" : "str", "blocks" : n, "headers" : n, "bestblockhash" : "hex", "bits" : "hex",'
           ' "target" : "hex", "difficulty" : n, "time" : xxx, "mediantime" : xxx,'
           ' "verificationprogress" : n, "initialblockdownload" : true|false, "chainwork" : "hex",'
           ' "size_on_disk" : n, "pruned" : true|false, "warnings" : [ "str", ... ]\n}',
    examples=help_example_cli("getblockchaininfo") + help_example_rpc("getblockchaininfo"),
)
async def getblockchaininfo(ctx: RPCContext) -> dict[str, Any]:
    node = ctx.node

    def info() -> dict[str, Any]:
        cs = node.chainstate
        tip = cs.tip
        best_header = cs.best_header or tip
        return {
            "chain": node.params.name,
            "blocks": tip.height,
            "headers": best_header.height,
            "bestblockhash": tip.hash,
            "bits": f"{tip.header.bits:08x}",
            "target": target_hex(tip.header.bits),
            "difficulty": get_difficulty(tip.header.bits),
            "time": tip.header.time,
            "mediantime": tip.median_time_past(),
            # Core's GuessVerificationProgress with no chainTxData for the network: 1.
            "verificationprogress": 1.0 if tip.chain_tx else 0.0,
            "initialblockdownload": cs.is_initial_block_download(),
            "chainwork": chainwork_hex(tip.chain_work),
            "size_on_disk": cs.size_on_disk(),
            "pruned": False,
            "warnings": [],
        }

    return await node.run_validation(info)


@rpc_method(
    "getblockcount",
    "blockchain",
    help="Returns the height of the most-work fully-validated chain.\nThe genesis block has height 0.",
    result="n    (numeric) The current block count",
    examples=help_example_cli("getblockcount") + help_example_rpc("getblockcount"),
)
def getblockcount(ctx: RPCContext) -> int:
    return ctx.node.chainstate.tip.height


@rpc_method(
    "getbestblockhash",
    "blockchain",
    help="Returns the hash of the best (tip) block in the most-work fully-validated chain.",
    result='"hex"    (string) the block hash, hex-encoded',
    examples=help_example_cli("getbestblockhash") + help_example_rpc("getbestblockhash"),
)
def getbestblockhash(ctx: RPCContext) -> str:
    return ctx.node.chainstate.tip.hash


@rpc_method(
    "getdifficulty",
    "blockchain",
    help="Returns the proof-of-work difficulty as a multiple of the minimum difficulty.",
    result="n    (numeric) the proof-of-work difficulty as a multiple of the minimum difficulty.",
    examples=help_example_cli("getdifficulty") + help_example_rpc("getdifficulty"),
)
def getdifficulty(ctx: RPCContext) -> float:
    return get_difficulty(ctx.node.chainstate.tip.header.bits)


@rpc_method(
    "getblockhash",
    "blockchain",
    params=[Param("height", "int", "The height index")],
    help="Returns hash of block in best-block-chain at height provided.",
    result='"hex"    (string) The block hash',
    examples=help_example_cli("getblockhash", "1000") + help_example_rpc("getblockhash", "1000"),
)
async def getblockhash(ctx: RPCContext, height: int) -> str:
    def lookup() -> str:
        chain = ctx.node.chainstate.chain
        if height < 0 or height > chain.height:
            raise RPCError(RPC_INVALID_PARAMETER, "Block height out of range")
        return chain[height].hash

    return await ctx.node.run_validation(lookup)


@rpc_method(
    "getblockheader",
    "blockchain",
    params=[
        Param("blockhash", "hex", "The block hash"),
        Param("verbose", "bool", "true for a json object, false for the hex-encoded data", default=True),
    ],
    help="If verbose is false, returns a string that is serialized, hex-encoded data for blockheader 'hash'.\n"
         "If verbose is true, returns an Object with information about blockheader <hash>.",
    result='{ "hash", "confirmations", "height", "version", "versionHex", "merkleroot", "time", "mediantime",'
           ' "nonce", "bits", "target", "difficulty", "chainwork", "nTx", "previousblockhash", "nextblockhash" }',
    examples=help_example_cli("getblockheader", '"00000000c937983704a73af28acdec37b049d214adbda81d7e2a3dd146f6ed09"'),
)
async def getblockheader(ctx: RPCContext, blockhash: str, verbose: bool) -> Any:
    hash_bytes = parse_hash_v(blockhash, "hash")
    cs = ctx.node.chainstate

    def header() -> Any:
        entry = _entry_or_raise(cs, hash_bytes)
        if not verbose:
            return entry.header.to_bytes().hex()
        return header_to_json(entry, cs.tip, cs.chain.contains)

    return await ctx.node.run_validation(header)


@rpc_method(
    "getblock",
    "blockchain",
    params=[
        Param("blockhash", "hex", "The block hash"),
        Param("verbosity|verbose", "any", "0 for hex-encoded data, 1 for a JSON object, 2 for JSON object with "
              "transaction data, and 3 for JSON object with transaction data including prevout information for inputs",
              default=1, default_hint="1"),
    ],
    help="If verbosity is 0, returns a string that is serialized, hex-encoded data for block 'hash'.\n"
         "If verbosity is 1, returns an Object with information about block <hash>.\n"
         "If verbosity is 2, returns an Object with information about block <hash> and information about each transaction.\n"
         "If verbosity is 3, returns an Object with information about block <hash> and information about each transaction, "
         "including prevout information for inputs (only for unpruned blocks in the current best chain).",
    result="(verbosity 0) \"hex\"  (verbosity 1+) { header fields, \"strippedsize\", \"size\", \"weight\", \"tx\" }",
    examples=help_example_cli("getblock", '"00000000c937983704a73af28acdec37b049d214adbda81d7e2a3dd146f6ed09"'),
)
async def getblock(ctx: RPCContext, blockhash: str, verbosity: Any) -> Any:
    hash_bytes = parse_hash_v(blockhash, "blockhash")
    level = parse_verbosity(verbosity, 1)
    cs = ctx.node.chainstate
    params = ctx.node.params

    def block() -> Any:
        entry = _entry_or_raise(cs, hash_bytes)
        if not entry.have_data:
            raise RPCError(RPC_MISC_ERROR, "Block not available (not fully downloaded)")
        if level <= 0:
            return cs.get_block_bytes(entry).hex()
        blk = cs.get_block(entry)
        undo = cs.get_undo(entry) if level >= 2 else None
        return block_to_json(blk, entry, cs.tip, cs.chain.contains, params, verbosity=level, undo=undo)

    return await ctx.node.run_validation(block)


@rpc_method(
    "getchaintips",
    "blockchain",
    help="Return information about all known tips in the block tree, including the main chain as well as orphaned branches.",
    result='[ { "height" : n, "hash" : "hex", "branchlen" : n, "status" : "active|valid-fork|valid-headers|headers-only|invalid" }, ... ]',
    examples=help_example_cli("getchaintips") + help_example_rpc("getchaintips"),
)
async def getchaintips(ctx: RPCContext) -> list[dict[str, Any]]:
    return await ctx.node.run_validation(ctx.node.chainstate.chain_tips)


@rpc_method(
    "gettxout",
    "blockchain",
    params=[
        Param("txid", "hex", "The transaction id"),
        Param("n", "uint32", "vout number"),
        Param("include_mempool", "bool", "Whether to include the mempool. Note that an unspent output that is "
              "spent in the mempool won't appear.", default=True),
    ],
    help="Returns details about an unspent transaction output.",
    result='{ "bestblock" : "hex", "confirmations" : n, "value" : n, "scriptPubKey" : { "asm", "desc", "hex", '
           '"type", "address" }, "coinbase" : true|false }  (or null if the output is spent or unknown)',
    examples=help_example_cli("gettxout", '"txid" 1'),
)
async def gettxout(ctx: RPCContext, txid: str, n: int, include_mempool: bool) -> Any:
    txid_bytes = parse_hash_v(txid, "txid")
    outpoint = OutPoint(txid_bytes, n)
    node = ctx.node

    def lookup() -> Any:
        cs = node.chainstate
        mempool = node.mempool if include_mempool else None
        confirmations = None
        coin = None
        if mempool is not None:
            if mempool.get_spender(outpoint) is not None:
                return None
            coin = mempool.get_coin(outpoint)  # a pool transaction's output, or the chain's coin
            if coin is not None and coin.height == MEMPOOL_HEIGHT:
                confirmations = 0
        if coin is None:
            coin = cs.coins_tip.get_coin(outpoint)
            if coin is None:
                return None
        if confirmations is None:
            confirmations = cs.tip.height - coin.height + 1
        return {
            "bestblock": cs.tip.hash,
            "confirmations": confirmations,
            "value": value_from_amount(coin.output.value),
            "scriptPubKey": script_to_univ(coin.output.script_pubkey, node.params),
            "coinbase": coin.is_coinbase,
        }

    return await node.run_validation(lookup)


@rpc_method(
    "gettxoutsetinfo",
    "blockchain",
    params=[
        Param("hash_type", "str", "Which UTXO set hash should be calculated. Options: 'hash_serialized_3' "
              "(the legacy algorithm), 'none'.", default="hash_serialized_3", default_hint='"hash_serialized_3"'),
        Param("hash_or_height", "any", "The block hash or height of the target height (only available with coinstatsindex).",
              optional=True),
        Param("use_index", "bool", "Use coinstatsindex, if available.", default=True),
    ],
    help="Returns statistics about the unspent transaction output set.\nNote this call may take some time.",
    result='{ "height" : n, "bestblock" : "hex", "txouts" : n, "bogosize" : n, "hash_serialized_3" : "hex", '
           '"total_amount" : n, "transactions" : n, "disk_size" : n }',
    examples=help_example_cli("gettxoutsetinfo") + help_example_rpc("gettxoutsetinfo"),
    blocking=False,
)
async def gettxoutsetinfo(ctx: RPCContext, hash_type: str, hash_or_height: Any, use_index: bool) -> dict[str, Any]:
    if hash_type not in ("hash_serialized_3", "none"):
        raise RPCError(RPC_INVALID_PARAMETER, f"'{hash_type}' is not a valid hash_type")
    if hash_or_height is not None:
        raise RPCError(RPC_INVALID_PARAMETER, "Querying specific block heights requires coinstatsindex")
    stats = await ctx.node.run_validation(ctx.node.chainstate.utxo_stats)
    out: dict[str, Any] = {
        "height": stats.height,
        "bestblock": stats.best_block[::-1].hex(),
        "txouts": stats.txouts,
        "bogosize": stats.bogosize,
    }
    if hash_type == "hash_serialized_3":
        out["hash_serialized_3"] = stats.hash_serialized_hex
    out["total_amount"] = value_from_amount(stats.total_amount)
    out["transactions"] = stats.transactions
    out["disk_size"] = stats.disk_size
    return out


async def _chain_action(ctx: RPCContext, blockhash: str, method: str) -> None:
    """invalidateblock / reconsiderblock / preciousblock: the chain state's `method` on
    the block (validation thread); -5 Block not found, -20 with the validation state."""
    hash_bytes = parse_hash_v(blockhash, "blockhash")
    cs = ctx.node.chainstate

    def run() -> None:
        _entry_or_raise(cs, hash_bytes)
        try:
            getattr(cs, method)(hash_bytes)
        except Rejection as e:
            raise RPCError(RPC_DATABASE_ERROR, str(e)) from None

    await ctx.node.run_validation(run)


@rpc_method(
    "invalidateblock",
    "blockchain",
    params=[Param("blockhash", "hex", "the hash of the block to mark as invalid")],
    help="Permanently marks a block as invalid, as if it violated a consensus rule.",
    examples=help_example_cli("invalidateblock", '"blockhash"'),
)
async def invalidateblock(ctx: RPCContext, blockhash: str) -> None:
    await _chain_action(ctx, blockhash, "invalidate_block")


@rpc_method(
    "reconsiderblock",
    "blockchain",
    params=[Param("blockhash", "hex", "the hash of the block to reconsider")],
    help="Removes invalidity status of a block, its ancestors and its descendants, reconsider them for activation.\n"
         "This can be used to undo the effects of invalidateblock.",
    examples=help_example_cli("reconsiderblock", '"blockhash"'),
)
async def reconsiderblock(ctx: RPCContext, blockhash: str) -> None:
    await _chain_action(ctx, blockhash, "reconsider_block")


@rpc_method(
    "preciousblock",
    "blockchain",
    params=[Param("blockhash", "hex", "the hash of the block to mark as precious")],
    help="Treats a block as if it were received before others with the same work.\n\n"
         "A later preciousblock call can override the effect of an earlier one.\n\n"
         "The effects of preciousblock are not retained across restarts.",
    examples=help_example_cli("preciousblock", '"blockhash"'),
)
async def preciousblock(ctx: RPCContext, blockhash: str) -> None:
    await _chain_action(ctx, blockhash, "precious_block")
