"""More of Core's ``blockchain`` RPC group (rpc/blockchain.cpp): getdeploymentinfo,
getchaintxstats, getblockstats, verifychain, and the hidden waitfornewblock /
waitforblock / waitforblockheight.

Chain reads run on the validation thread (``node.run_validation``), from the chain
state's public surface (``chain``, ``get_entry``, ``get_block``, ``get_undo``,
``coins_tip``); nothing here changes chain state. The waitfor* methods never block the
event loop: a per-node :class:`_TipWatch` subscribes once to the chain's
``tip_changed`` event (fired on the validation thread), keeps the latest tip and wakes
the loop (``call_soon_threadsafe``) only when a waiting call wants that tip; a waiter
also returns when the node shuts down.

Errors are Core's: -5 ``Block not found``; -8 ``Block is not in main chain``,
``Invalid block count: should be between 0 and the block's height - 1``, ``Target
block height N is negative``, ``Target block height N after current tip M``,
``Invalid selected statistic 'x'``; -1 ``Block not available (not fully
downloaded)``, ``Undo data not available``, ``Negative timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from coin.consensus.block_check import check_block
from coin.consensus.connect import connect_block, disconnect_block, is_bip30_repeat
from coin.consensus.errors import InternalError, Rejection
from coin.consensus.subsidy import get_block_subsidy
from coin.mining.versionbits import VERSIONBITS_TOP_BITS, ThresholdState, deployment_state
from coin.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, get_int, rpc_method
from coin.rpc.univalue import type_name
from coin.rpc.util import help_example_cli, help_example_rpc, parse_hash_v
from coin.serialize import DecodeError, compact_size

__all__ = [
    "getblockstats",
    "getchaintxstats",
    "getdeploymentinfo",
    "verifychain",
    "waitforblock",
    "waitforblockheight",
    "waitfornewblock",
]

_log = logging.getLogger("coin.rpc")

DEFAULT_CHECKLEVEL = 3
DEFAULT_CHECKBLOCKS = 6
MAX_MONEY = 21_000_000 * 100_000_000
MAX_BLOCK_SERIALIZED_SIZE = 4_000_000
WITNESS_SCALE_FACTOR = 4
PER_UTXO_OVERHEAD = 36 + 4 + 1  # Core: sizeof(COutPoint) + sizeof(uint32_t) + sizeof(bool)
MAX_SCRIPT_SIZE = 10_000


def _entry_or_raise(cs, hash_bytes: bytes):
    entry = cs.get_entry(hash_bytes)
    if entry is None:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    return entry


# -- getdeploymentinfo -------------------------------------------------------------------


def _signals(version: int, bit: int) -> bool:
    return (version & 0xE0000000) == VERSIONBITS_TOP_BITS and (version >> bit) & 1 == 1


def _state_since_height(prev, deployment, params, cache: dict) -> int:
    """Core's GetStateSinceHeightFor: the first height of the run of windows in this state."""
    state = deployment_state(prev, deployment, params, cache)
    if state is ThresholdState.DEFINED:
        return 0
    window = params.rule_change_window
    prev = prev.get_ancestor(prev.height - ((prev.height + 1) % window))
    parent = prev.get_ancestor(prev.height - window)
    while parent is not None and deployment_state(parent, deployment, params, cache) is state:
        prev = parent
        parent = prev.get_ancestor(prev.height - window)
    return prev.height + 1


def _bip9_info(entry, deployment, params) -> dict[str, Any]:
    """Core's SoftForkDescPushBack for a BIP-0009 deployment, at block `entry`."""
    _, bit, start, timeout, min_height = deployment
    cache: dict = {}
    next_state = deployment_state(entry, deployment, params, cache)
    current = deployment_state(entry.prev, deployment, params, cache)
    has_signal = current in (ThresholdState.STARTED, ThresholdState.LOCKED_IN)
    bip9: dict[str, Any] = {}
    if has_signal:
        bip9["bit"] = bit
    bip9["start_time"] = start
    bip9["timeout"] = timeout
    bip9["min_activation_height"] = min_height
    bip9["status"] = current.value
    bip9["since"] = _state_since_height(entry.prev, deployment, params, cache) if entry.prev is not None else 0
    bip9["status_next"] = next_state.value
    if has_signal:
        # Core's GetStateStatisticsFor(entry): the blocks of entry's window up to entry.
        period, threshold = params.rule_change_window, params.rule_change_threshold
        in_period = 1 + entry.height % period
        signalling = [False] * in_period
        count, walk = 0, entry
        for i in range(in_period - 1, -1, -1):
            if _signals(walk.header.version, bit):
                count += 1
                signalling[i] = True
            walk = walk.prev
        stats: dict[str, Any] = {"period": period, "elapsed": in_period, "count": count}
        if current is not ThresholdState.LOCKED_IN:
            stats["threshold"] = threshold
            stats["possible"] = (period - threshold) >= (in_period - count)
        bip9["statistics"] = stats
        bip9["signalling"] = "".join("#" if s else "-" for s in signalling)
    out: dict[str, Any] = {"type": "bip9"}
    if next_state is ThresholdState.ACTIVE:
        out["height"] = _state_since_height(entry, deployment, params, cache)
    out["active"] = next_state is ThresholdState.ACTIVE
    out["bip9"] = bip9
    return out


def deployment_info(entry, params) -> dict[str, Any]:
    """Core's DeploymentInfo at `entry`: the buried deployments, then the BIP-0009 ones."""
    out: dict[str, Any] = {}
    for name, height in (("bip34", params.bip34_height), ("bip66", params.bip66_height),
                         ("bip65", params.bip65_height), ("csv", params.csv_height),
                         ("segwit", params.segwit_height)):
        out[name] = {"type": "buried", "active": entry.height + 1 >= height, "height": height}
    for deployment in params.version_bits_deployments:
        out[deployment[0]] = _bip9_info(entry, deployment, params)
    return out


@rpc_method(
    "getdeploymentinfo",
    "blockchain",
    params=[Param("blockhash", "hex", "The block hash at which to query deployment state", optional=True,
                  default_hint="hash of current chain tip")],
    help="Returns an object containing various state info regarding deployments of consensus changes.\n"
         "Taproot is not part of coind's rules and is not listed.",
    result='{ "hash" : "str", "height" : n, "deployments" : { "xxxx" : { "type" : "buried"|"bip9", "height" : n, '
           '"active" : bool, "bip9" : { "bit", "start_time", "timeout", "min_activation_height", "status", "since", '
           '"status_next", "statistics" : { "period", "elapsed", "count", "threshold", "possible" }, "signalling" } } } }',
    examples=help_example_cli("getdeploymentinfo") + help_example_rpc("getdeploymentinfo"),
)
async def getdeploymentinfo(ctx: RPCContext, blockhash: str | None) -> dict[str, Any]:
    node = ctx.node
    hash_bytes = parse_hash_v(blockhash, "blockhash") if blockhash is not None else None

    def info() -> dict[str, Any]:
        cs = node.chainstate
        entry = cs.tip if hash_bytes is None else _entry_or_raise(cs, hash_bytes)
        return {"hash": entry.hash, "height": entry.height, "deployments": deployment_info(entry, node.params)}

    return await node.run_validation(info)


# -- getchaintxstats ------------------------------------------------------------------------


@rpc_method(
    "getchaintxstats",
    "blockchain",
    params=[
        Param("nblocks", "int", "Size of the window in number of blocks", optional=True, default_hint="one month"),
        Param("blockhash", "hex", "The hash of the block that ends the window.", optional=True,
              default_hint="chain tip"),
    ],
    help="Compute statistics about the total number and rate of transactions in the chain.",
    result='{ "time" : xxx, "txcount" : n, "window_final_block_hash" : "hex", "window_final_block_height" : n, '
           '"window_block_count" : n, "window_interval" : n, "window_tx_count" : n, "txrate" : n }',
    examples=help_example_cli("getchaintxstats") + help_example_rpc("getchaintxstats", "2016"),
)
async def getchaintxstats(ctx: RPCContext, nblocks: int | None, blockhash: str | None) -> dict[str, Any]:
    node = ctx.node
    hash_bytes = parse_hash_v(blockhash, "blockhash") if blockhash is not None else None

    def stats() -> dict[str, Any]:
        cs = node.chainstate
        if hash_bytes is None:
            entry = cs.tip
        else:
            entry = _entry_or_raise(cs, hash_bytes)
            if not cs.chain.contains(entry):
                raise RPCError(RPC_INVALID_PARAMETER, "Block is not in main chain")
        if nblocks is None:
            count = 30 * 24 * 60 * 60 // node.params.pow_target_spacing
            count = max(0, min(count, entry.height - 1))
        else:
            count = nblocks
            if count < 0 or (count > 0 and count >= entry.height):
                raise RPCError(RPC_INVALID_PARAMETER, "Invalid block count: should be between 0 and the block's height - 1")
        past = entry.get_ancestor(entry.height - count)
        time_diff = entry.median_time_past() - past.median_time_past()
        out: dict[str, Any] = {"time": entry.header.time}
        if entry.chain_tx:
            out["txcount"] = entry.chain_tx
        out["window_final_block_hash"] = entry.hash
        out["window_final_block_height"] = entry.height
        out["window_block_count"] = count
        if count > 0:
            out["window_interval"] = time_diff
            if entry.chain_tx and past.chain_tx:
                window_tx_count = entry.chain_tx - past.chain_tx
                out["window_tx_count"] = window_tx_count
                if time_diff > 0:
                    out["txrate"] = window_tx_count / time_diff
        return out

    return await node.run_validation(stats)


# -- getblockstats --------------------------------------------------------------------------


def _truncated_median(values: list[int]) -> int:
    if not values:
        return 0
    values = sorted(values)
    n = len(values)
    return (values[n // 2 - 1] + values[n // 2]) // 2 if n % 2 == 0 else values[n // 2]


def _percentiles_by_weight(scores: list[tuple[int, int]], total_weight: int) -> list[int]:
    """Core's CalculatePercentilesByWeight: feerates at the 10/25/50/75/90th weight unit."""
    result = [0] * 5
    if not scores:
        return result
    scores = sorted(scores)
    marks = (total_weight / 10.0, total_weight / 4.0, total_weight / 2.0, (total_weight * 3.0) / 4.0,
             (total_weight * 9.0) / 10.0)
    index = cumulative = 0
    for feerate, weight in scores:
        cumulative += weight
        while index < 5 and cumulative >= marks[index]:
            result[index] = feerate
            index += 1
    for i in range(index, 5):
        result[i] = scores[-1][0]
    return result


def _txout_size(out) -> int:
    """GetSerializeSize(CTxOut): value, CompactSize length, script."""
    return 8 + len(compact_size(len(out.script_pubkey))) + len(out.script_pubkey)


def _is_unspendable(script: bytes) -> bool:
    return (len(script) > 0 and script[0] == 0x6A) or len(script) > MAX_SCRIPT_SIZE


def block_stats(block, undo, entry, params) -> dict[str, Any]:
    """Core's getblockstats with every statistic (amounts in satoshis)."""
    maxfee = maxfeerate = total_out = totalfee = inputs = maxtxsize = outputs = 0
    minfee = minfeerate = MAX_MONEY
    mintxsize = MAX_BLOCK_SERIALIZED_SIZE
    swtotal_size = swtotal_weight = swtxs = total_size = total_weight = 0
    utxos = utxo_size_inc = utxo_size_inc_actual = 0
    fees: list[int] = []
    feerates: list[tuple[int, int]] = []
    sizes: list[int] = []
    bip30_repeat = is_bip30_repeat(entry.height, entry.hash_bytes)
    for i, tx in enumerate(block.txs):
        outputs += len(tx.outputs)
        tx_total_out = 0
        for out in tx.outputs:
            tx_total_out += out.value
            out_size = _txout_size(out) + PER_UTXO_OVERHEAD
            utxo_size_inc += out_size
            if entry.height == 0 or (bip30_repeat and tx.is_coinbase()):
                continue
            if _is_unspendable(out.script_pubkey):
                continue
            utxos += 1
            utxo_size_inc_actual += out_size
        if tx.is_coinbase():
            continue
        inputs += len(tx.inputs)
        total_out += tx_total_out
        tx_size = tx.total_size
        sizes.append(tx_size)
        maxtxsize = max(maxtxsize, tx_size)
        mintxsize = min(mintxsize, tx_size)
        total_size += tx_size
        weight = tx.weight
        total_weight += weight
        if tx.has_witness():
            swtxs += 1
            swtotal_size += tx_size
            swtotal_weight += weight
        tx_total_in = 0
        for coin in undo.txs[i - 1].spent:
            tx_total_in += coin.output.value
            prevout_size = _txout_size(coin.output) + PER_UTXO_OVERHEAD
            utxo_size_inc -= prevout_size
            utxo_size_inc_actual -= prevout_size
        txfee = tx_total_in - tx_total_out
        fees.append(txfee)
        maxfee = max(maxfee, txfee)
        minfee = min(minfee, txfee)
        totalfee += txfee
        feerate = (txfee * WITNESS_SCALE_FACTOR) // weight if weight else 0
        feerates.append((feerate, weight))
        maxfeerate = max(maxfeerate, feerate)
        minfeerate = min(minfeerate, feerate)
    n = len(block.txs)
    return {
        "avgfee": totalfee // (n - 1) if n > 1 else 0,
        "avgfeerate": (totalfee * WITNESS_SCALE_FACTOR) // total_weight if total_weight else 0,
        "avgtxsize": total_size // (n - 1) if n > 1 else 0,
        "blockhash": entry.hash,
        "feerate_percentiles": _percentiles_by_weight(feerates, total_weight),
        "height": entry.height,
        "ins": inputs,
        "maxfee": maxfee,
        "maxfeerate": maxfeerate,
        "maxtxsize": maxtxsize,
        "medianfee": _truncated_median(fees),
        "mediantime": entry.median_time_past(),
        "mediantxsize": _truncated_median(sizes),
        "minfee": 0 if minfee == MAX_MONEY else minfee,
        "minfeerate": 0 if minfeerate == MAX_MONEY else minfeerate,
        "mintxsize": 0 if mintxsize == MAX_BLOCK_SERIALIZED_SIZE else mintxsize,
        "outs": outputs,
        "subsidy": get_block_subsidy(entry.height, params),
        "swtotal_size": swtotal_size,
        "swtotal_weight": swtotal_weight,
        "swtxs": swtxs,
        "time": entry.header.time,
        "total_out": total_out,
        "total_size": total_size,
        "total_weight": total_weight,
        "totalfee": totalfee,
        "txs": n,
        "utxo_increase": outputs - inputs,
        "utxo_size_inc": utxo_size_inc,
        "utxo_increase_actual": utxos - inputs,
        "utxo_size_inc_actual": utxo_size_inc_actual,
    }


def _hash_or_height(cs, value: Any):
    """Core's ParseHashOrHeight."""
    if type_name(value) == "number":
        height = get_int(value, "int")
        if height < 0:
            raise RPCError(RPC_INVALID_PARAMETER, f"Target block height {height} is negative")
        tip = cs.chain.height
        if height > tip:
            raise RPCError(RPC_INVALID_PARAMETER, f"Target block height {height} after current tip {tip}")
        return cs.chain[height]
    return _entry_or_raise(cs, parse_hash_v(value, "hash_or_height"))


@rpc_method(
    "getblockstats",
    "blockchain",
    params=[
        Param("hash_or_height", "any", "The block hash or height of the target block", oneline="hash_or_height"),
        Param("stats", "arr", "Values to plot (see result below)", optional=True, default_hint="all values",
              oneline="stats"),
    ],
    help="Compute per block statistics for a given window. All amounts are in satoshis.\n"
         "It won't work for some heights with pruning.",
    result='{ "avgfee", "avgfeerate", "avgtxsize", "blockhash", "feerate_percentiles" : [ n, n, n, n, n ], "height", '
           '"ins", "maxfee", "maxfeerate", "maxtxsize", "medianfee", "mediantime", "mediantxsize", "minfee", '
           '"minfeerate", "mintxsize", "outs", "subsidy", "swtotal_size", "swtotal_weight", "swtxs", "time", '
           '"total_out", "total_size", "total_weight", "totalfee", "txs", "utxo_increase", "utxo_size_inc", '
           '"utxo_increase_actual", "utxo_size_inc_actual" }',
    examples=help_example_cli("getblockstats", "1000 '[\"minfeerate\",\"avgfeerate\"]'")
    + help_example_rpc("getblockstats", '1000, ["minfeerate","avgfeerate"]'),
)
async def getblockstats(ctx: RPCContext, hash_or_height: Any, stats: list | None) -> dict[str, Any]:
    node = ctx.node
    selected: set[str] = set()
    for s in stats or ():
        if not isinstance(s, str):
            raise RPCError(-3, f"JSON value of type {type_name(s)} is not of expected type string")
        selected.add(s)

    def compute() -> dict[str, Any]:
        cs = node.chainstate
        entry = _hash_or_height(cs, hash_or_height)
        if not entry.have_data:
            raise RPCError(RPC_MISC_ERROR, "Block not available (not fully downloaded)")
        block = cs.get_block(entry)
        if entry.height == 0:
            undo = None
        elif not entry.have_undo:
            raise RPCError(RPC_MISC_ERROR, "Undo data not available")
        else:
            undo = cs.get_undo(entry)
        return block_stats(block, undo, entry, node.params)

    everything = await node.run_validation(compute)
    if not selected:
        return everything
    out: dict[str, Any] = {}
    for name in sorted(selected):
        if name not in everything:
            raise RPCError(RPC_INVALID_PARAMETER, f"Invalid selected statistic '{name}'")
        out[name] = everything[name]
    return out


# -- verifychain ------------------------------------------------------------------------------


def verify_db(cs, params, check_level: int, check_depth: int) -> bool:
    """Core's CVerifyDB::VerifyDB over the last `check_depth` blocks (0 or more than the
    height: all), at `check_level` (clamped to 0..4):

    0. read each block from disk; its hash must be the index entry's;
    1. CheckBlock (the context-free checks);
    2. read its undo data: it must parse and hold one record per input;
    3. disconnect the blocks from the tip in a throwaway UTXO view: every disconnect
       must be clean;
    4. reconnect them in that view (ConnectBlock, scripts included).

    Returns False (logging why) at the first failure; nothing is written.
    """
    tip = cs.tip
    if tip is None or tip.prev is None:
        return True
    if check_depth <= 0 or check_depth > tip.height:
        check_depth = tip.height
    level = max(0, min(4, check_level))
    _log.info("Verifying last %d blocks at level %d", check_depth, level)
    view = cs.coins_tip.child() if level >= 3 else None
    disconnected = []
    entry = tip
    while entry is not None and entry.prev is not None and entry.height > tip.height - check_depth:
        try:
            block = cs.get_block(entry)
        except (InternalError, DecodeError, OSError) as e:
            _log.error("Verification error: ReadBlockFromDisk failed at %d, hash=%s: %s", entry.height, entry.hash, e)
            return False
        if block.hash_bytes != entry.hash_bytes:
            _log.error("Verification error: block %s read back as %s", entry.hash, block.hash)
            return False
        if level >= 1:
            try:
                check_block(block, params)
            except Rejection as r:
                _log.error("Verification error: found bad block at %d, hash=%s (%s)", entry.height, entry.hash, r)
                return False
        undo = None
        if level >= 2:
            try:
                undo = cs.get_undo(entry)
            except (InternalError, OSError) as e:
                _log.error("Verification error: found bad undo data at %d, hash=%s: %s", entry.height, entry.hash, e)
                return False
            if undo is None or len(undo.txs) + 1 != len(block.txs) or any(
                    len(u.spent) != len(tx.inputs) for u, tx in zip(undo.txs, block.txs[1:], strict=True)):
                _log.error("Verification error: undo data of %d, hash=%s does not fit its block", entry.height, entry.hash)
                return False
        if level >= 3:
            try:
                clean = disconnect_block(block, undo, view, height=entry.height)
            except InternalError as e:
                clean = False
                _log.error("Verification error: %s", e)
            if not clean:
                _log.error("Verification error: irrecoverable inconsistency in block data at %d, hash=%s",
                           entry.height, entry.hash)
                return False
            disconnected.append((entry, block))
        entry = entry.prev
    if level >= 4:
        for entry, block in reversed(disconnected):
            try:
                connect_block(block, entry, view, params, sigcache=cs.sigcache)
            except Rejection as r:
                _log.error("Verification error: found unconnectable block at %d, hash=%s (%s)",
                           entry.height, entry.hash, r)
                return False
    _log.info("Verification: No coin database inconsistencies in last %d blocks", check_depth)
    return True


@rpc_method(
    "verifychain",
    "blockchain",
    params=[
        Param("checklevel", "int", "How thorough the block verification is:\n"
              "- level 0 reads the blocks from disk\n- level 1 verifies block validity\n"
              "- level 2 verifies undo data\n- level 3 checks disconnection of tip blocks\n"
              "- level 4 tries to reconnect the blocks\n- each level includes the checks of the previous levels",
              optional=True, default_hint=f"{DEFAULT_CHECKLEVEL}, range=0-4"),
        Param("nblocks", "int", "The number of blocks to check.", optional=True,
              default_hint=f"{DEFAULT_CHECKBLOCKS}, 0=all"),
    ],
    help="Verifies blockchain database.",
    result="true|false    (boolean) Verification finished successfully. If false, check debug.log for reason.",
    examples=help_example_cli("verifychain") + help_example_rpc("verifychain"),
)
async def verifychain(ctx: RPCContext, checklevel: int | None, nblocks: int | None) -> bool:
    level = DEFAULT_CHECKLEVEL if checklevel is None else checklevel
    depth = DEFAULT_CHECKBLOCKS if nblocks is None else nblocks
    node = ctx.node
    return await node.run_validation(verify_db, node.chainstate, node.params, level, depth)


# -- waitfor* -----------------------------------------------------------------------------------


class _TipWatch:
    """The latest tip (hash, height) and the RPC calls waiting for a tip they want.

    The validation thread stores each new tip and wakes the event loop only when a
    waiting call's condition holds for it (a sync of thousands of blocks under a
    `waitforblock` costs one wake-up, not one a block)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tip) -> None:
        self.loop = loop
        self.tip = (tip.hash, tip.height)
        self.changed = asyncio.Event()
        self.waiting: dict[object, Callable[[str, int], bool]] = {}  # event loop writes
        self._wake_pending = False

    def on_tip_changed(self, entry) -> None:  # validation thread
        tip = self.tip = (entry.hash, entry.height)
        if self._wake_pending:
            return
        for wanted in list(self.waiting.values()):
            if wanted(*tip):
                self._wake_pending = True
                try:
                    self.loop.call_soon_threadsafe(self._wake)
                except RuntimeError:  # the loop is closed: the node is gone
                    pass
                return

    def _wake(self) -> None:
        self._wake_pending = False
        self.changed.set()
        self.changed = asyncio.Event()


_WATCHES: weakref.WeakKeyDictionary[Any, _TipWatch] = weakref.WeakKeyDictionary()
_WATCHES_LOCK = threading.Lock()


async def _watch(node) -> _TipWatch:
    with _WATCHES_LOCK:
        watch = _WATCHES.get(node)
    if watch is not None:
        return watch
    loop = asyncio.get_running_loop()

    def subscribe() -> _TipWatch:
        with _WATCHES_LOCK:
            existing = _WATCHES.get(node)
            if existing is not None:
                return existing
            w = _TipWatch(loop, node.chainstate.tip)
            node.chainstate.subscribe("tip_changed", w.on_tip_changed)
            _WATCHES[node] = w
            return w

    return await node.run_validation(subscribe)


async def _wait_for_tip(node, watch: _TipWatch, wanted: Callable[[str, int], bool],
                        deadline: float | None) -> tuple[str, int]:
    """Core's Mining::waitTipChanged, generalised: the tip once `wanted(hash, height)`
    holds for it, at the deadline (loop time), or at shutdown, whichever comes first."""
    loop = asyncio.get_running_loop()
    key = object()
    watch.waiting[key] = wanted  # before reading the tip: a change after this wakes us
    shutdown = asyncio.ensure_future(node.wait_for_shutdown())
    try:
        while not wanted(*watch.tip) and not node.shutdown_requested:
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                break
            changed = asyncio.ensure_future(watch.changed.wait())
            try:
                await asyncio.wait({changed, shutdown}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
    finally:
        shutdown.cancel()
        del watch.waiting[key]
    return watch.tip


def _timeout(value: int | None) -> int:
    if value is not None and value < 0:
        raise RPCError(RPC_MISC_ERROR, "Negative timeout")
    return value or 0


def _deadline(timeout_ms: int) -> float | None:
    return asyncio.get_running_loop().time() + timeout_ms / 1000 if timeout_ms else None


_WAIT_RESULT = '{ "hash" : "hex", "height" : n }'


@rpc_method(
    "waitfornewblock",
    "hidden",
    params=[Param("timeout", "int", "Time in milliseconds to wait for a response. 0 indicates no timeout.", default=0)],
    help="Waits for any new block and returns useful info about it.\n\nReturns the current block on timeout or exit.\n\n"
         "Make sure to use no RPC timeout (coin-cli -rpcclienttimeout=0)",
    result=_WAIT_RESULT,
    examples=help_example_cli("waitfornewblock", "1000") + help_example_rpc("waitfornewblock", "1000"),
)
async def waitfornewblock(ctx: RPCContext, timeout: int) -> dict[str, Any]:
    timeout = _timeout(timeout)
    watch = await _watch(ctx.node)
    start = watch.tip[0]
    hash_hex, height = await _wait_for_tip(ctx.node, watch, lambda h, _height: h != start, _deadline(timeout))
    return {"hash": hash_hex, "height": height}


@rpc_method(
    "waitforblock",
    "hidden",
    params=[Param("blockhash", "hex", "Block hash to wait for."),
            Param("timeout", "int", "Time in milliseconds to wait for a response. 0 indicates no timeout.", default=0)],
    help="Waits for a specific new block and returns useful info about it.\n\nReturns the current block on timeout or "
         "exit.\n\nMake sure to use no RPC timeout (coin-cli -rpcclienttimeout=0)",
    result=_WAIT_RESULT,
    examples=help_example_cli("waitforblock", '"0000000000079f8ef3d2c688c244eb7a4570b24c9ed7b4a8c619eb02596f8862" 1000'),
)
async def waitforblock(ctx: RPCContext, blockhash: str, timeout: int) -> dict[str, Any]:
    target = parse_hash_v(blockhash, "blockhash")[::-1].hex()
    timeout = _timeout(timeout)
    watch = await _watch(ctx.node)
    hash_hex, tip_height = await _wait_for_tip(ctx.node, watch, lambda h, _height: h == target, _deadline(timeout))
    return {"hash": hash_hex, "height": tip_height}


@rpc_method(
    "waitforblockheight",
    "hidden",
    params=[Param("height", "int", "Block height to wait for."),
            Param("timeout", "int", "Time in milliseconds to wait for a response. 0 indicates no timeout.", default=0)],
    help="Waits for (at least) block height and returns the height and hash\nof the current tip.\n\nReturns the current "
         "block on timeout or exit.\n\nMake sure to use no RPC timeout (coin-cli -rpcclienttimeout=0)",
    result=_WAIT_RESULT,
    examples=help_example_cli("waitforblockheight", "100 1000") + help_example_rpc("waitforblockheight", "100, 1000"),
)
async def waitforblockheight(ctx: RPCContext, height: int, timeout: int) -> dict[str, Any]:
    timeout = _timeout(timeout)
    watch = await _watch(ctx.node)
    hash_hex, tip_height = await _wait_for_tip(ctx.node, watch, lambda _h, ht: ht >= height, _deadline(timeout))
    return {"hash": hash_hex, "height": tip_height}
