"""Mempool RPCs (Core's rpc/mempool.cpp, help category ``blockchain``): getrawmempool,
getmempoolentry, getmempoolinfo, getmempoolancestors, getmempooldescendants,
savemempool.

The pool keeps satoshis and sat/kvB; these methods convert to BTC and BTC/kvB as Core
prints them. Errors: -5 ``Transaction not in mempool``; -8 ``Verbose results cannot
contain mempool sequence values.``; savemempool -1 ``The mempool was not loaded yet`` /
``Unable to dump mempool to disk``.
"""

from __future__ import annotations

from typing import Any

from coin.mempool.persist import save_mempool
from coin.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, rpc_method
from coin.rpc.util import help_example_cli, parse_hash_v, value_from_amount

__all__ = ["getmempoolancestors", "getmempooldescendants", "getmempoolentry", "getmempoolinfo",
           "getrawmempool", "savemempool", "entry_to_json"]


def entry_to_json(info: dict[str, Any]) -> dict[str, Any]:
    """Core's entryToJSON from the pool's satoshi-denominated entry_info."""
    out = dict(info)
    out["fees"] = {k: value_from_amount(v) for k, v in info["fees"].items()}
    return out


def _entry_json(pool, txid_bytes: bytes) -> dict[str, Any]:
    try:
        return entry_to_json(pool.entry_info(txid_bytes))
    except KeyError:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool") from None


@rpc_method(
    "getrawmempool",
    "blockchain",
    params=[
        Param("verbose", "bool", "True for a json object, false for array of transaction ids", default=False),
        Param("mempool_sequence", "bool", "If verbose=false, returns a json object with transaction list and "
              "mempool sequence number attached.", default=False),
    ],
    help="Returns all transaction ids in memory pool as a json array of string transaction ids.\n\n"
         "Hint: use getmempoolentry to fetch a specific transaction from the mempool.",
    result='[ "hex", ... ]  or  { "txid" : { entry }, ... }  or  { "txids" : [ "hex", ... ], "mempool_sequence" : n }',
    examples=help_example_cli("getrawmempool", "true"),
)
async def getrawmempool(ctx: RPCContext, verbose: bool, mempool_sequence: bool) -> Any:
    if verbose and mempool_sequence:
        raise RPCError(RPC_INVALID_PARAMETER, "Verbose results cannot contain mempool sequence values.")
    pool = ctx.node.mempool

    def query() -> Any:
        if verbose:
            return {e.tx.txid: entry_to_json(pool.entry_info(e.txid_bytes)) for e in pool.entries()}
        txids = pool.txids()
        if mempool_sequence:
            return {"txids": txids, "mempool_sequence": pool.sequence}
        return txids

    return await ctx.node.run_validation(query)


@rpc_method(
    "getmempoolentry",
    "blockchain",
    params=[Param("txid", "hex", "The transaction id (must be in mempool)")],
    help="Returns mempool data for given transaction",
    result='{ "vsize", "weight", "time", "height", "descendantcount", "descendantsize", "ancestorcount", '
           '"ancestorsize", "wtxid", "fees" : { "base", "modified", "ancestor", "descendant" }, "depends", '
           '"spentby", "bip125-replaceable", "unbroadcast" }',
    examples=help_example_cli("getmempoolentry", '"mytxid"'),
)
async def getmempoolentry(ctx: RPCContext, txid: str) -> dict[str, Any]:
    txid_bytes = parse_hash_v(txid, "parameter 1")
    return await ctx.node.run_validation(_entry_json, ctx.node.mempool, txid_bytes)


def _relatives(ctx: RPCContext, txid: str, verbose: bool, which: str):
    txid_bytes = parse_hash_v(txid, "parameter 1")
    pool = ctx.node.mempool

    def query() -> Any:
        if pool.get(txid_bytes) is None:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
        entries = [e for e in getattr(pool, which)(txid_bytes) if e.txid_bytes != txid_bytes]
        if not verbose:
            return [e.tx.txid for e in entries]
        return {e.tx.txid: entry_to_json(pool.entry_info(e.txid_bytes)) for e in entries}

    return ctx.node.run_validation(query)


@rpc_method(
    "getmempoolancestors",
    "blockchain",
    params=[Param("txid", "hex", "The transaction id (must be in mempool)"),
            Param("verbose", "bool", "True for a json object, false for array of transaction ids", default=False)],
    help="If txid is in the mempool, returns all in-mempool ancestors.",
    result='[ "hex", ... ]  or  { "txid" : { entry }, ... }',
    examples=help_example_cli("getmempoolancestors", '"mytxid"'),
)
async def getmempoolancestors(ctx: RPCContext, txid: str, verbose: bool) -> Any:
    return await _relatives(ctx, txid, verbose, "ancestors")


@rpc_method(
    "getmempooldescendants",
    "blockchain",
    params=[Param("txid", "hex", "The transaction id (must be in mempool)"),
            Param("verbose", "bool", "True for a json object, false for array of transaction ids", default=False)],
    help="If txid is in the mempool, returns all in-mempool descendants.",
    result='[ "hex", ... ]  or  { "txid" : { entry }, ... }',
    examples=help_example_cli("getmempooldescendants", '"mytxid"'),
)
async def getmempooldescendants(ctx: RPCContext, txid: str, verbose: bool) -> Any:
    return await _relatives(ctx, txid, verbose, "descendants")


@rpc_method(
    "getmempoolinfo",
    "blockchain",
    help="Returns details on the active state of the TX memory pool.",
    result='{ "loaded", "size", "bytes", "usage", "total_fee", "maxmempool", "mempoolminfee", "minrelaytxfee", '
           '"incrementalrelayfee", "unbroadcastcount", "fullrbf" }',
    examples=help_example_cli("getmempoolinfo"),
)
async def getmempoolinfo(ctx: RPCContext) -> dict[str, Any]:
    info = await ctx.node.run_validation(ctx.node.mempool.info)
    out = dict(info)
    for key in ("total_fee", "mempoolminfee", "minrelaytxfee", "incrementalrelayfee"):
        out[key] = value_from_amount(info[key])
    return out


@rpc_method(
    "savemempool",
    "blockchain",
    help="Dumps the mempool to disk. It will fail until the previous dump is fully loaded.",
    result='{ "filename" : "str" }    (string) the directory and file where the mempool was saved',
    examples=help_example_cli("savemempool"),
)
async def savemempool(ctx: RPCContext) -> dict[str, Any]:
    node = ctx.node
    pool = node.mempool
    if not getattr(pool, "loaded", False):
        raise RPCError(RPC_MISC_ERROR, "The mempool was not loaded yet")
    try:
        path = await node.run_validation(save_mempool, pool, node.net_datadir)
    except OSError:
        raise RPCError(RPC_MISC_ERROR, "Unable to dump mempool to disk") from None
    return {"filename": str(path)}
