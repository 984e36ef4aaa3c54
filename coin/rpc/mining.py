"""The ``generating`` and ``mining`` RPC groups: generatetoaddress, generatetodescriptor,
generateblock, submitblock, getblocktemplate (BIP-0022/0023, with the segwit rule and
proposal mode), getmininginfo, submitheader, prioritisetransaction,
getprioritisedtransactions; and estimatesmartfee (``util``).

Blocks are assembled by `coin.mining.assembler` on the validation thread, mined with the
native miner (`node.miner`) off the event loop, and submitted through the same path as
a block from a peer (ChainState.process_new_block), so they are fully validated.

Errors and results are Core's: -5 ``Error: Invalid address`` / ``Error: Invalid address
or descriptor``; -22 ``Block decode failed`` / ``Block does not start with a coinbase``;
submitblock answers null (connected), ``duplicate``, ``inconclusive`` (stored on a side
branch), or the reject reason (BIP-0022). submitheader: -22 ``Block header decode
failed``, -25 ``Must submit previous header (<hash>) first`` and -25 with the reject
reason. prioritisetransaction: -8 ``Priority is no longer supported, dummy argument to
prioritisetransaction must be 0.``
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from coin.consensus.constants import NO_WITNESS_COMMITMENT
from coin.consensus.errors import Rejection
from coin.consensus.pow import get_difficulty
from coin.consensus.witness import get_witness_commitment_index
from coin.crypto.address import InvalidAddress, address_to_script
from coin.mempool.fees import smart_fee_result
from coin.mining.assembler import (
    MAX_BLOCK_SIGOPS_COST,
    create_new_block,
    mine_block,
    test_block_validity,
)
from coin.mining.template import WITNESS_RESERVED_VALUE
from coin.mining.versionbits import ThresholdState, deployment_state
from coin.primitives import Block, BlockHeader, Transaction
from coin.rpc.core_write import target_hex
from coin.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INTERNAL_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RPC_VERIFY_ERROR,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, rpc_method
from coin.rpc.util import (
    help_example_cli,
    help_example_rpc,
    is_hex,
    parse_hash_v,
    value_from_amount,
)
from coin.script.descriptor import InvalidDescriptor, descriptor_to_script
from coin.serialize import DecodeError

__all__ = ["estimatesmartfee", "generateblock", "generatetoaddress", "generatetodescriptor",
           "getblocktemplate", "getmininginfo", "getprioritisedtransactions", "prioritisetransaction",
           "submitblock", "submitheader", "generate_blocks"]

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
        Param("nblocks", "int", "How many blocks are generated."),
        Param("address", "str", "The address to send the newly generated bitcoin to."),
        Param("maxtries", "uint64", "How many iterations to try.", default=DEFAULT_MAX_TRIES),
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
        Param("num_blocks", "int", "How many blocks are generated."),
        Param("descriptor", "str", "The descriptor to send the newly generated bitcoin to."),
        Param("maxtries", "uint64", "How many iterations to try.", default=DEFAULT_MAX_TRIES),
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
            entry = node.mempool.get(txid) if node.mempool is not None else None
            if entry is None:
                raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {item} not in mempool.")
            txs.append(entry.tx)
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


def _update_uncommitted_block_structures(block: Block, height: int, params) -> Block:
    """Core's UpdateUncommittedBlockStructures: give a coinbase the witness reserved value
    when the block at `height` commits to witnesses, segwit is active there and the
    coinbase carries no witness. A block without a commitment is left as it is."""
    if not block.txs or block.txs[0].has_witness() or height < params.segwit_height:
        return block
    if get_witness_commitment_index(block) == NO_WITNESS_COMMITMENT:
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
        prev = cs.get_entry(block.header.prev_hash_bytes)
        if prev is not None:
            block = _update_uncommitted_block_structures(block, prev.height + 1, node.params)
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


def _gbt_proposal(node, data: Any) -> str | None:
    """BIP-0023 proposal mode: None if the block would be valid on the tip, else a reason."""
    if not isinstance(data, str):
        raise RPCError(RPC_TYPE_ERROR, "Missing data String key for proposal")
    try:
        block = Block.from_bytes(bytes.fromhex(data))
    except (ValueError, DecodeError):
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
    cs = node.chainstate

    def check() -> str | None:
        entry = cs.get_entry(block.hash_bytes)
        if entry is not None:
            if entry.failed:
                return "duplicate-invalid"
            if cs.chain.contains(entry) or entry.have_data:
                return "duplicate"
            return "duplicate-inconclusive"
        if block.header.prev_hash_bytes != cs.tip.hash_bytes:
            return "inconclusive-not-best-prevblk"
        try:
            test_block_validity(cs, block, node.params, node.clock())
        except Rejection as r:
            return r.reason or "rejected"
        return None

    return check()


@rpc_method(
    "getblocktemplate",
    "mining",
    params=[Param("template_request", "obj", "Format of the template", default={}, default_hint="{}")],
    help="If the request parameters include a 'mode' key, that is used to explicitly select between the default "
         "'template' request or a 'proposal'.\nIt returns data needed to construct a block to work on.\n"
         "For full specification, see BIPs 22, 23, 9, and 145:\n"
         "    https://github.com/bitcoin/bips/blob/master/bip-0022.mediawiki\n"
         "    https://github.com/bitcoin/bips/blob/master/bip-0023.mediawiki\n"
         "    https://github.com/bitcoin/bips/blob/master/bip-0009.mediawiki#getblocktemplate_changes\n"
         "    https://github.com/bitcoin/bips/blob/master/bip-0145.mediawiki",
    result='{ "capabilities", "version", "rules", "vbavailable", "vbrequired", "previousblockhash", '
           '"transactions" : [ { "data", "txid", "hash", "depends", "fee", "sigops", "weight" } ], "coinbaseaux", '
           '"coinbasevalue", "longpollid", "target", "mintime", "mutable", "noncerange", "sigoplimit", '
           '"sizelimit", "weightlimit", "curtime", "bits", "height", "default_witness_commitment" }',
    examples=help_example_cli("getblocktemplate", '\'{"rules": ["segwit"]}\''),
)
async def getblocktemplate(ctx: RPCContext, template_request: dict) -> Any:
    node = ctx.node
    mode = template_request.get("mode", "template")
    if mode == "proposal":
        return await node.run_validation(_gbt_proposal, node, template_request.get("data"))
    if mode != "template":
        raise RPCError(RPC_INVALID_PARAMETER, "Invalid mode")
    rules = template_request.get("rules") or []
    if "segwit" not in rules:
        raise RPCError(RPC_INVALID_PARAMETER, "getblocktemplate must be called with the segwit rule set "
                       '(call with {"rules": ["segwit"]})')

    def build() -> dict[str, Any]:
        cs, params = node.chainstate, node.params
        template = create_new_block(cs, params, b"", node.clock(), mempool=node.mempool)
        block = template.block
        prev = template.prev_entry
        rules_out = ["csv"]
        if template.height >= params.segwit_height:
            rules_out.append("!segwit")
        vbavailable = {}
        for dep in params.version_bits_deployments:
            state = deployment_state(prev, dep, params)
            if state in (ThresholdState.STARTED, ThresholdState.LOCKED_IN):
                vbavailable[dep[0]] = dep[1]
            elif state is ThresholdState.ACTIVE:
                rules_out.append(dep[0])
        position = {tx.txid_bytes: i + 1 for i, tx in enumerate(block.txs[1:])}
        transactions = []
        for i, tx in enumerate(block.txs[1:]):
            depends = sorted({position[txin.prevout.txid_bytes] for txin in tx.inputs
                              if txin.prevout.txid_bytes in position})
            transactions.append({
                "data": tx.to_bytes().hex(),
                "txid": tx.txid,
                "hash": tx.wtxid,
                "depends": depends,
                "fee": template.tx_fees[i] if i < len(template.tx_fees) else 0,
                "sigops": template.tx_sigops[i] if i < len(template.tx_sigops) else 0,
                "weight": tx.weight,
            })
        header = block.header
        result: dict[str, Any] = {
            "capabilities": ["proposal"],
            "version": header.version,
            "rules": rules_out,
            "vbavailable": vbavailable,
            "vbrequired": 0,
            "previousblockhash": prev.hash,
            "transactions": transactions,
            "coinbaseaux": {},
            "coinbasevalue": template.coinbase_value,
            "longpollid": prev.hash + str(node.mempool.sequence if node.mempool is not None else 0),
            "target": target_hex(header.bits),
            "mintime": prev.median_time_past() + 1,
            "mutable": ["time", "transactions", "prevblock"],
            "noncerange": "00000000ffffffff",
            "sigoplimit": MAX_BLOCK_SIGOPS_COST,
            "sizelimit": 4_000_000,
            "weightlimit": 4_000_000,
            "curtime": header.time,
            "bits": f"{header.bits:08x}",
            "height": template.height,
        }
        index = get_witness_commitment_index(block)
        if index != NO_WITNESS_COMMITMENT:
            result["default_witness_commitment"] = block.txs[0].outputs[index].script_pubkey.hex()
        node.last_template = (block.weight, len(block.txs) - 1)
        return result

    return await node.run_validation(build)


def _network_hash_ps(tip, lookup: int = 120) -> float:
    """Core's GetNetworkHashPS: work over time across the last `lookup` blocks."""
    if tip is None or tip.height == 0:
        return 0.0
    start = tip.get_ancestor(max(0, tip.height - lookup))
    times = []
    walk = tip
    while walk is not None and walk.height >= start.height:
        times.append(walk.header.time)
        walk = walk.prev
    span = max(times) - min(times)
    if span == 0:
        return 0.0
    return (tip.chain_work - start.chain_work) / span


@rpc_method(
    "getmininginfo",
    "mining",
    help="Returns a json object containing mining-related information.",
    result='{ "blocks", "currentblockweight", "currentblocktx", "bits", "difficulty", "target", "networkhashps", '
           '"pooledtx", "chain", "warnings" }',
    examples=help_example_cli("getmininginfo"),
)
async def getmininginfo(ctx: RPCContext) -> dict[str, Any]:
    node = ctx.node

    def info() -> dict[str, Any]:
        tip = node.chainstate.tip
        out: dict[str, Any] = {"blocks": tip.height}
        last = getattr(node, "last_template", None)
        if last is not None:
            out["currentblockweight"], out["currentblocktx"] = last
        out["bits"] = f"{tip.header.bits:08x}"
        out["difficulty"] = get_difficulty(tip.header.bits)
        out["target"] = target_hex(tip.header.bits)
        out["networkhashps"] = _network_hash_ps(tip)
        out["pooledtx"] = len(node.mempool) if node.mempool is not None else 0
        out["chain"] = node.params.name
        out["warnings"] = []
        return out

    return await node.run_validation(info)


@rpc_method(
    "estimatesmartfee",
    "util",
    params=[
        Param("conf_target", "int", "Confirmation target in blocks (1 - 1008)"),
        Param("estimate_mode", "str", "The fee estimate mode.\nWhether to return a more conservative estimate "
              "which also satisfies\na longer history. A conservative estimate potentially returns a\nhigher "
              "feerate and is more likely to be sufficient for the desired\ntarget, but is not as responsive to "
              "short term drops in the\nprevailing fee market. Must be one of (case insensitive):\n"
              '"unset"\n"economical"\n"conservative"', default="economical", default_hint='"economical"'),
    ],
    help="Estimates the approximate fee per kilobyte needed for a transaction to begin\n"
         "confirmation within conf_target blocks if possible and return the number of blocks\n"
         "for which the estimate is valid.",
    result='{ "feerate" : n, "errors" : [ "str", ... ], "blocks" : n }',
    examples=help_example_cli("estimatesmartfee", "6"),
)
async def estimatesmartfee(ctx: RPCContext, conf_target: int, estimate_mode: str) -> dict[str, Any]:
    if not isinstance(conf_target, int) or not 1 <= conf_target <= 1008:
        raise RPCError(RPC_INVALID_PARAMETER, "Invalid conf_target, must be between 1 and 1008")
    mode = (estimate_mode or "economical").lower()
    if mode not in ("unset", "economical", "conservative"):
        raise RPCError(RPC_INVALID_PARAMETER, 'Invalid estimate_mode parameter, must be one of: "unset", '
                       '"economical", "conservative"')
    node = ctx.node

    def estimate() -> dict[str, Any]:
        pool = node.mempool
        if pool is None or pool.fee_estimator is None:
            return {"errors": ["Insufficient data or no feerate found"], "blocks": 0}
        result = smart_fee_result(pool.fee_estimator, pool, conf_target, mode)
        if "feerate" in result:
            result["feerate"] = value_from_amount(result["feerate"])
        return result

    return await node.run_validation(estimate)


@rpc_method(
    "submitheader",
    "mining",
    params=[Param("hexdata", "hex", "the hex-encoded block header data")],
    help="Decode the given hexdata as a header and submit it as a candidate chain tip if valid.\n"
         "Throws when the header is invalid.",
    result="null    (json null) None",
    examples=help_example_cli("submitheader", '"aabbcc"') + help_example_rpc("submitheader", '"aabbcc"'),
)
async def submitheader(ctx: RPCContext, hexdata: str) -> None:
    """Core's submitheader: decode 80 bytes (trailing data ignored, as Core's stream read),
    require the parent header, then ProcessNewBlockHeaders."""
    data = bytes.fromhex(hexdata) if is_hex(hexdata) else b""
    if len(data) < 80:
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block header decode failed")
    header = BlockHeader.from_bytes(data[:80])
    cs = ctx.node.chainstate

    def submit() -> None:
        if cs.get_entry(header.prev_hash_bytes) is None:
            raise RPCError(RPC_VERIFY_ERROR, f"Must submit previous header ({header.prev_hash}) first")
        try:
            cs.process_new_block_header(header)
        except Rejection as r:
            raise RPCError(RPC_VERIFY_ERROR, r.reason) from None

    await ctx.node.run_validation(submit)


@rpc_method(
    "prioritisetransaction",
    "mining",
    params=[
        Param("txid", "hex", "The transaction id."),
        Param("dummy", "num", "API-Compatibility for previous API. Must be zero or null.\n"
              "DEPRECATED. For forward compatibility use named arguments and omit this parameter.", optional=True,
              default_hint="null"),
        Param("fee_delta", "int64", "The fee value (in satoshis) to add (or subtract, if negative).\n"
              "Note, that this value is not a fee rate. It is a value to modify absolute fee of the TX.\n"
              "The fee is not actually paid, only the algorithm for selecting transactions into a block\n"
              "considers the transaction as it would have paid a higher (or lower) fee."),
    ],
    help="Accepts the transaction into mined blocks at a higher (or lower) priority",
    result="true|false    (boolean) Returns true",
    examples=help_example_cli("prioritisetransaction", '"txid" 0.0 10000')
    + help_example_rpc("prioritisetransaction", '"txid", 0.0, 10000'),
)
async def prioritisetransaction(ctx: RPCContext, txid: str, dummy: Any, fee_delta: int) -> bool:
    txid_bytes = parse_hash_v(txid, "txid")
    if dummy is not None and Decimal(dummy) != 0:
        raise RPCError(RPC_INVALID_PARAMETER, "Priority is no longer supported, dummy argument to "
                       "prioritisetransaction must be 0.")
    pool = ctx.node.mempool
    await ctx.node.run_validation(pool.prioritise, txid_bytes, fee_delta)
    return True


@rpc_method(
    "getprioritisedtransactions",
    "mining",
    help="Returns a map of all user-created (see prioritisetransaction) fee deltas by txid, and whether the tx is "
         "present in mempool.",
    result='{ "<transactionid>" : { "fee_delta" : n, "in_mempool" : bool, "modified_fee" : n }, ... }',
    examples=help_example_cli("getprioritisedtransactions") + help_example_rpc("getprioritisedtransactions"),
)
async def getprioritisedtransactions(ctx: RPCContext) -> dict[str, Any]:
    pool = ctx.node.mempool

    def query() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for txid_bytes, delta in sorted(pool.fee_deltas().items()):
            entry = pool.get(txid_bytes)
            info: dict[str, Any] = {"fee_delta": delta, "in_mempool": entry is not None}
            if entry is not None:
                info["modified_fee"] = entry.modified_fee
            out[txid_bytes[::-1].hex()] = info
        return out

    return await ctx.node.run_validation(query)
