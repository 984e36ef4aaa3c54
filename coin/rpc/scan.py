"""``scantxoutset``: search the UTXO set for the outputs of output descriptors (Core's
rpc/blockchain.cpp scantxoutset and rpc/util.cpp EvalDescriptorStringOrObject).

``scantxoutset "start" [scanobjects]`` expands every scan object (a descriptor string,
or ``{"desc": ..., "range": n | [begin, end]}`` with range default 1000 for ranged
descriptors) into scriptPubKeys (:mod:`coin.script.descriptor`), flushes the UTXO
cache and takes a LevelDB iterator over the coins (a snapshot) on the validation
thread, then walks the snapshot on a worker thread, so blocks keep connecting while
it runs. ``"status"`` answers ``{"progress": percent}`` (or null when no scan runs) and
``"abort"`` asks a running scan to stop (true) or answers false; both answer on the
event loop, never waiting for the scan. One scan at a time per node.

Result of a start: ``{success, txouts (coins scanned), height, bestblock, unspents:
[{txid, vout, scriptPubKey, desc, amount, coinbase, height, blockhash,
confirmations}] (in outpoint order), total_amount}``; ``desc`` is Core's
InferDescriptor of the script with the keys learnt from its scan object
(``pkh([fingerprint/path]key)#checksum``, ``addr(...)`` for addr()/raw()).

Errors (Core's): -8 ``Scan already in progress, use action "abort" or "status"``,
-1 ``scanobjects argument is required for the start action``, -8 ``Invalid action
'<x>'``, -8 ``Scan object needs to be either a string or an object`` / ``Descriptor
needs to be provided in scan object`` / the range messages, -5 with the descriptor
parse error, -5 ``Cannot derive script without private keys: '<desc>'``.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

from coin.chain import layout
from coin.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, get_int, rpc_method
from coin.rpc.univalue import type_name
from coin.rpc.util import help_example_cli, help_example_rpc, value_from_amount
from coin.script.descriptor import InvalidDescriptor, Provider, infer_descriptor, parse_descriptor

__all__ = ["eval_descriptor_string_or_object", "parse_descriptor_range", "scantxoutset"]

DEFAULT_RANGE = 1000


class _ScanState:
    """Core's g_scan_in_progress / g_scan_progress / g_should_abort_scan, per node."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_progress = False
        self.progress = 0
        self.should_abort = False

    def reserve(self) -> bool:
        with self._lock:
            if self.in_progress:
                return False
            self.in_progress = True
            self.progress = 0
            self.should_abort = False
            return True

    def release(self) -> None:
        with self._lock:
            self.in_progress = False
            self.progress = 0


_STATES: weakref.WeakKeyDictionary[Any, _ScanState] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(node: Any) -> _ScanState:
    with _STATES_LOCK:
        state = _STATES.get(node)
        if state is None:
            state = _STATES[node] = _ScanState()
        return state


def parse_descriptor_range(value: Any) -> tuple[int, int]:
    """Core's ParseDescriptorRange: ``end`` or ``[begin, end]``; RPCError(-8) if invalid."""
    if type_name(value) == "number":
        low, high = 0, get_int(value, "int64")
    elif isinstance(value, list) and len(value) == 2 and all(type_name(v) == "number" for v in value):
        low, high = get_int(value[0], "int64"), get_int(value[1], "int64")
        if low > high:
            raise RPCError(RPC_INVALID_PARAMETER, "Range specified as [begin,end] must not have begin after end")
    else:
        raise RPCError(RPC_INVALID_PARAMETER, "Range must be specified as end or as [begin,end]")
    if low < 0:
        raise RPCError(RPC_INVALID_PARAMETER, "Range should be greater or equal than 0")
    if high >> 31:
        raise RPCError(RPC_INVALID_PARAMETER, "End of range is too high")
    if high >= low + 1_000_000:
        raise RPCError(RPC_INVALID_PARAMETER, "Range is too large")
    return low, high


def eval_descriptor_string_or_object(scanobject: Any, params, provider: Provider) -> list[bytes]:
    """Core's EvalDescriptorStringOrObject: every scriptPubKey of one scan object."""
    low, high = 0, DEFAULT_RANGE
    if isinstance(scanobject, str):
        desc_str = scanobject
    elif isinstance(scanobject, dict):
        desc = scanobject.get("desc")
        if desc is None:
            raise RPCError(RPC_INVALID_PARAMETER, "Descriptor needs to be provided in scan object")
        if not isinstance(desc, str):
            raise RPCError(-3, f"JSON value of type {type_name(desc)} is not of expected type string")
        desc_str = desc
        if scanobject.get("range") is not None:
            low, high = parse_descriptor_range(scanobject["range"])
    else:
        raise RPCError(RPC_INVALID_PARAMETER, "Scan object needs to be either a string or an object")
    try:
        parsed = parse_descriptor(desc_str, params)
    except InvalidDescriptor as e:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, str(e)) from None
    if not parsed.is_range:
        low, high = 0, 0
    scripts: list[bytes] = []
    for pos in range(low, high + 1):
        try:
            scripts.extend(parsed.expand(pos, provider))
        except InvalidDescriptor:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, f"Cannot derive script without private keys: '{desc_str}'") from None
    return scripts


def _needles(scanobjects: list, params) -> dict[bytes, str]:
    """scriptPubKey -> the descriptor Core infers for it (the first scan object wins)."""
    out: dict[bytes, str] = {}
    for scanobject in scanobjects:
        provider = Provider()
        for script in eval_descriptor_string_or_object(scanobject, params, provider):
            if script not in out:
                out[script] = infer_descriptor(script, params, provider)
    return out


def _find(cursor, needles: dict[bytes, str], state: _ScanState) -> tuple[bool, int, list]:
    """Core's FindScriptPubKey over a coins iterator: (completed, coins scanned, matches)."""
    count = 0
    found = []
    coin_key_outpoint = layout.coin_key_outpoint
    try:
        for key, value in cursor:
            count += 1
            if count % 8192 == 0 and state.should_abort:
                return False, count, found
            if count % 256 == 0:
                state.progress = int((key[1] * 256 + key[2]) * 100.0 / 65536.0 + 0.5)
            # value: code u32, amount i64, CompactSize length, script (coin.chain.layout)
            n = value[12]
            script = value[13:] if n < 0xFD else value[15:] if n == 0xFD else value[17:] if n == 0xFE else value[21:]
            if script in needles:
                txid, index = coin_key_outpoint(key)
                value_sat, _, height, coinbase = layout.decode_coin(value)
                found.append((txid, index, script, value_sat, height, coinbase))
    finally:
        cursor.close()
    state.progress = 100
    return True, count, found


@rpc_method(
    "scantxoutset",
    "blockchain",
    params=[
        Param("action", "str", 'The action to execute\n"start" for starting a scan\n"abort" for aborting the current '
              'scan (returns true when abort was successful)\n"status" for progress report (in %) of the current scan'),
        Param("scanobjects", "arr", 'Array of scan objects. Required for "start" action\nEvery scan object is either a '
              'string descriptor or an object: { "desc": "str", "range": n or [n,n] (default=1000) }',
              optional=True, oneline="[scanobjects,...]"),
    ],
    help="Scans the unspent transaction output set for entries that match certain output descriptors.\n"
         "Examples of output descriptors are:\n"
         "    addr(<address>)                      Outputs whose output script corresponds to the specified address (does not include P2PK)\n"
         "    raw(<hex script>)                    Outputs whose output script equals the specified hex-encoded bytes\n"
         "    combo(<pubkey>)                      P2PK, P2PKH, P2WPKH, and P2SH-P2WPKH outputs for the given pubkey\n"
         "    pkh(<pubkey>)                        P2PKH outputs for the given pubkey\n"
         "    sh(multi(<n>,<pubkey>,<pubkey>,...)) P2SH-multisig outputs for the given threshold and pubkeys\n"
         "\nIn the above, <pubkey> either refers to a fixed public key in hexadecimal notation, or to an xpub/xprv optionally followed by one\n"
         "or more path elements separated by \"/\", and optionally ending in \"/*\" (unhardened), or \"/*'\" or \"/*h\" (hardened) to specify all\n"
         "unhardened or hardened child keys.\n"
         "In the latter case, a range needs to be specified by below if different from 1000.\n"
         "tr(), rawtr() and miniscript are not supported (Taproot is not part of coind's rules).",
    result='(start) { "success" : bool, "txouts" : n, "height" : n, "bestblock" : "hex", "unspents" : [ { "txid" : "hex", '
           '"vout" : n, "scriptPubKey" : "hex", "desc" : "str", "amount" : n, "coinbase" : bool, "height" : n, '
           '"blockhash" : "hex", "confirmations" : n }, ... ], "total_amount" : n }\n'
           '(abort) true|false\n(status) { "progress" : n }  or null when no scan is in progress',
    examples=help_example_cli("scantxoutset", "start '[\"raw(76a91411b366edfc0a8b66feebae5c2e25a7b6a5d1cf3188ac)#fm24fxxy\"]'")
    + help_example_cli("scantxoutset", "status") + help_example_cli("scantxoutset", "abort")
    + help_example_rpc("scantxoutset", '"status"'),
)
async def scantxoutset(ctx: RPCContext, action: str, scanobjects: list | None) -> Any:
    node = ctx.node
    state = _state(node)
    if action == "status":
        return {"progress": state.progress} if state.in_progress else None
    if action == "abort":
        if not state.in_progress:
            return False
        state.should_abort = True
        return True
    if action != "start":
        raise RPCError(RPC_INVALID_PARAMETER, f"Invalid action '{action}'")
    if not state.reserve():
        raise RPCError(RPC_INVALID_PARAMETER, 'Scan already in progress, use action "abort" or "status"')
    try:
        if scanobjects is None:
            raise RPCError(RPC_MISC_ERROR, "scanobjects argument is required for the start action")
        loop = asyncio.get_running_loop()
        needles = await loop.run_in_executor(None, _needles, scanobjects, node.params)

        state.should_abort = False  # as Core: an abort during the expansion above is forgotten

        def snapshot():
            cs = node.chainstate
            cs.flush()
            return cs.coins_db.db.iterate_prefix(layout.PREFIX_COIN), cs.tip

        cursor, tip = await node.run_validation(snapshot)
        completed, count, found = await loop.run_in_executor(None, _find, cursor, needles, state)
    finally:
        state.release()
    unspents = []
    total = 0
    for txid, index, script, value, height, coinbase in found:
        total += value
        unspents.append({
            "txid": txid[::-1].hex(),
            "vout": index,
            "scriptPubKey": script.hex(),
            "desc": needles[script],
            "amount": value_from_amount(value),
            "coinbase": coinbase,
            "height": height,
            "blockhash": tip.get_ancestor(height).hash,
            "confirmations": tip.height - height + 1,
        })
    return {
        "success": completed,
        "txouts": count,
        "height": tip.height,
        "bestblock": tip.hash,
        "unspents": unspents,
        "total_amount": value_from_amount(total),
    }
