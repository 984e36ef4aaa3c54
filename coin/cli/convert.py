"""Which command-line arguments coin-cli sends as JSON (Core's vRPCConvertParams).

bitcoin-cli sends every argument as a JSON string except those listed in a per-method
table, which it parses as JSON (``getblockhash 0`` sends the number 0; ``getblock <hash>
2`` sends the hash as a string and 2 as a number). coin-cli does the same for every
method listed here (:data:`CONVERT_PARAMS`, Core's table for the methods coind serves,
and :data:`STRING_ONLY_METHODS`, the methods whose arguments are all strings).

For a method in neither table (one added later, or a typo), coin-cli approximates:
an argument that parses as JSON is sent as JSON, anything else as a string. So
``coin-cli newmethod 5 abc`` sends ``[5, "abc"]``.

:func:`convert_positional` / :func:`convert_named` raise ``ValueError("Error parsing
JSON: <arg>")`` when a listed argument is not valid JSON, as Core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from coin.rpc.univalue import loads

__all__ = ["CONVERT_PARAMS", "STRING_ONLY_METHODS", "convert_named", "convert_positional"]

#: (method, index, name) of every argument sent as JSON (Core's vRPCConvertParams).
CONVERT_PARAMS: tuple[tuple[str, int, str], ...] = (
    ("setmocktime", 0, "timestamp"),
    ("mockscheduler", 0, "delta_time"),
    ("generatetoaddress", 0, "nblocks"),
    ("generatetoaddress", 2, "maxtries"),
    ("generatetodescriptor", 0, "num_blocks"),
    ("generatetodescriptor", 2, "maxtries"),
    ("generateblock", 1, "transactions"),
    ("generateblock", 2, "submit"),
    ("getnetworkhashps", 0, "nblocks"),
    ("getnetworkhashps", 1, "height"),
    ("waitforblockheight", 0, "height"),
    ("waitforblockheight", 1, "timeout"),
    ("waitforblock", 1, "timeout"),
    ("waitfornewblock", 0, "timeout"),
    ("getblock", 1, "verbosity"),
    ("getblock", 1, "verbose"),
    ("getblockheader", 1, "verbose"),
    ("getchaintxstats", 0, "nblocks"),
    ("getblockhash", 0, "height"),
    ("getblockstats", 0, "hash_or_height"),
    ("getblockstats", 1, "stats"),
    ("getrawtransaction", 1, "verbosity"),
    ("getrawtransaction", 1, "verbose"),
    ("createrawtransaction", 0, "inputs"),
    ("createrawtransaction", 1, "outputs"),
    ("createrawtransaction", 2, "locktime"),
    ("createrawtransaction", 3, "replaceable"),
    ("createrawtransaction", 4, "version"),
    ("decoderawtransaction", 1, "iswitness"),
    ("sendrawtransaction", 1, "maxfeerate"),
    ("sendrawtransaction", 2, "maxburnamount"),
    ("testmempoolaccept", 0, "rawtxs"),
    ("testmempoolaccept", 1, "maxfeerate"),
    ("submitpackage", 0, "package"),
    ("submitpackage", 1, "maxfeerate"),
    ("submitpackage", 2, "maxburnamount"),
    ("gettxout", 1, "n"),
    ("gettxout", 2, "include_mempool"),
    ("gettxoutproof", 0, "txids"),
    ("gettxoutsetinfo", 1, "hash_or_height"),
    ("gettxoutsetinfo", 2, "use_index"),
    ("getrawmempool", 0, "verbose"),
    ("getrawmempool", 1, "mempool_sequence"),
    ("getmempoolancestors", 1, "verbose"),
    ("getmempooldescendants", 1, "verbose"),
    ("gettxspendingprevout", 0, "outputs"),
    ("estimatesmartfee", 0, "conf_target"),
    ("estimaterawfee", 0, "conf_target"),
    ("estimaterawfee", 1, "threshold"),
    ("prioritisetransaction", 1, "dummy"),
    ("prioritisetransaction", 2, "fee_delta"),
    ("setban", 2, "bantime"),
    ("setban", 3, "absolute"),
    ("setnetworkactive", 0, "state"),
    ("disconnectnode", 1, "nodeid"),
    ("addnode", 2, "v2transport"),
    ("addpeeraddress", 1, "port"),
    ("addpeeraddress", 2, "tried"),
    ("getnodeaddresses", 0, "count"),
    ("sendmsgtopeer", 0, "peer_id"),
    ("logging", 0, "include"),
    ("logging", 1, "exclude"),
    ("stop", 0, "wait"),
    ("scantxoutset", 1, "scanobjects"),
    ("getblocktemplate", 0, "template_request"),
    ("verifychain", 0, "checklevel"),
    ("verifychain", 1, "nblocks"),
    ("pruneblockchain", 0, "height"),
    ("deriveaddresses", 1, "range"),
    ("createmultisig", 0, "nrequired"),
    ("createmultisig", 1, "keys"),
    ("createpsbt", 0, "inputs"),
    ("createpsbt", 1, "outputs"),
    ("createpsbt", 2, "locktime"),
    ("createpsbt", 3, "replaceable"),
    ("combinepsbt", 0, "txs"),
    ("joinpsbts", 0, "txs"),
    ("finalizepsbt", 1, "extract"),
    ("converttopsbt", 1, "permitsigdata"),
    ("converttopsbt", 2, "iswitness"),
    ("utxoupdatepsbt", 1, "descriptors"),
    ("getdescriptoractivity", 0, "blockhashes"),
    ("getdescriptoractivity", 1, "scanobjects"),
    ("getdescriptoractivity", 2, "include_mempool"),
    *((("echojson", i, f"arg{i}")) for i in range(10)),
)

#: Methods coind serves whose arguments bitcoin-cli always sends as strings.
STRING_ONLY_METHODS: frozenset[str] = frozenset(
    {
        "echo",
        "help",
        "uptime",
        "getmemoryinfo",
        "getrpcinfo",
        "getbestblockhash",
        "getblockcount",
        "getblockchaininfo",
        "getchaintips",
        "getdifficulty",
        "getdeploymentinfo",
        "getmempoolinfo",
        "getmempoolentry",
        "getmininginfo",
        "getnetworkinfo",
        "getpeerinfo",
        "getconnectioncount",
        "getnettotals",
        "getaddednodeinfo",
        "listbanned",
        "clearbanned",
        "ping",
        "invalidateblock",
        "reconsiderblock",
        "preciousblock",
        "submitblock",
        "submitheader",
        "validateaddress",
        "decodescript",
        "getdescriptorinfo",
        "getindexinfo",
        "savemempool",
        "getzmqnotifications",
        "decodepsbt",
        "analyzepsbt",
    }
)

_BY_INDEX = {(m, i) for m, i, _ in CONVERT_PARAMS}
_BY_NAME = {(m, n) for m, _, n in CONVERT_PARAMS}
_KNOWN = {m for m, _, _ in CONVERT_PARAMS} | STRING_ONLY_METHODS


def _parse(raw: str) -> Any:
    try:
        return loads(raw, raw_numbers=True)
    except ValueError:
        raise ValueError(f"Error parsing JSON: {raw}") from None


def _maybe_json(raw: str) -> Any:
    try:
        return loads(raw, raw_numbers=True)
    except (ValueError, json.JSONDecodeError):
        return raw


def _value(method: str, raw: str, convert: bool) -> Any:
    if method not in _KNOWN:
        return _maybe_json(raw)
    return _parse(raw) if convert else raw


def convert_positional(method: str, args: Sequence[str]) -> list[Any]:
    """Core's RPCConvertValues: the params array for positional arguments."""
    return [_value(method, raw, (method, i) in _BY_INDEX) for i, raw in enumerate(args)]


def convert_named(method: str, args: Sequence[str]) -> dict[str, Any]:
    """Core's RPCConvertNamedValues for ``-named``: ``name=value`` pairs (a later one
    overrides an earlier one); arguments without ``=`` go, in order, into ``args``.
    """
    params: dict[str, Any] = {}
    positional: list[Any] = []
    for raw in args:
        name, sep, value = raw.partition("=")
        if not sep:
            positional.append(_value(method, raw, (method, len(positional)) in _BY_INDEX))
            continue
        params[name] = _value(method, value, (method, name) in _BY_NAME)
    if positional and "args" not in params:
        params["args"] = positional
    return params
