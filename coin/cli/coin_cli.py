"""``coin-cli``: bitcoin-cli's behaviour against coind (stdlib only, so it starts fast).

Usage::

    coin-cli [options] <command> [params]
    coin-cli [options] -named <command> [name=value]...
    coin-cli [options] -getinfo

Options (see ``coin-cli -help``): ``-regtest`` / ``-chain=``, ``-datadir=``,
``-conf=``, ``-rpcconnect=<ip>[:port]``, ``-rpcport=``, ``-rpcuser=`` /
``-rpcpassword=`` (else the ``.cookie`` of the network datadir), ``-rpcwait``,
``-rpcwaittimeout=``, ``-rpcclienttimeout=``, ``-named``, ``-stdin``, ``-stdinrpcpass``,
``-rpcwallet=``, ``-getinfo``. coin.conf is read as coind reads it (unknown keys are
ignored).

Arguments: sent as JSON or as strings following Core's per-method table, see
:mod:`coin.cli.convert` (methods missing from the table: JSON if it parses, else a
string).

Output, as bitcoin-cli: a string result is printed bare, null prints nothing, anything
else as JSON indented by 2 (UniValue's layout, numbers exactly as the node wrote them);
exit code 0. An RPC error prints ``error code: N`` and ``error message:`` then the
message on stderr, and exits with ``abs(N)`` (Core's exit status; e.g. 8 for -8, 1 for
-1). Any other failure prints ``error: <message>`` on stderr and exits 1, e.g.
``error: timeout on transient error: Could not connect to the server
127.0.0.1:18443 (error code 1 - "EOF reached")`` followed by Core's hint lines.
``-rpcwait`` retries once a second while the node is unreachable or warming up (-28),
until ``-rpcwaittimeout`` seconds (0 = forever).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import coin
from coin.cli.convert import convert_named, convert_positional
from coin.config import CLI_ARGS, Config, ConfigError, help_message, parse_args
from coin.rpc.client import ConnectionFailed, RPCClient, RPCClientError
from coin.rpc.errors import RPC_IN_WARMUP, RPC_WALLET_NOT_SPECIFIED
from coin.rpc.univalue import RawNumber, dumps

__all__ = ["main"]

_HEADER = f"Coin RPC client version v{coin.__version__}"
_USAGE = (
    f"{_HEADER}\n\n"
    "The coin-cli utility provides a command line interface to interact with a coind RPC server.\n\n"
    "It can be used to query network information, manage wallets, create or broadcast transactions, "
    "and control the coind server.\n\n"
    "Use the \"help\" command to list all commands. Use \"help <command>\" to show help for that command.\n"
    "The -named option allows you to specify parameters using the key=value format, eliminating the need "
    "to pass unused positional parameters.\n\n"
    "Usage: coin-cli [options] <command> [params]\n"
    "or:    coin-cli [options] -named <command> [name=value]...\n"
    "or:    coin-cli [options] help\n"
    "or:    coin-cli [options] help <command>\n"
)


class _Failure(Exception):
    """A failure to print as ``error: <message>`` with exit code 1."""


def _call_with_wait(client: RPCClient, request: Any, wait: bool, timeout: int) -> Any:
    """Core's ConnectAndCallRPC: retry on connection failure / warm-up with -rpcwait."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = client.post(request)
            if wait:
                replies = reply if isinstance(reply, list) else [reply]
                for r in replies:
                    err = r.get("error") if isinstance(r, dict) else None
                    if isinstance(err, dict) and _int(err.get("code")) == RPC_IN_WARMUP:
                        raise ConnectionFailed("server in warmup")
            return reply
        except ConnectionFailed as e:
            if wait and (timeout <= 0 or time.monotonic() < deadline):
                time.sleep(1.0)
                continue
            raise _Failure(f"timeout on transient error: {e}") from None


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _format_error(error: Any) -> tuple[str, int]:
    """Core's ParseError: (text for stderr, exit status)."""
    if isinstance(error, dict):
        text = ""
        code = error.get("code")
        message = error.get("message")
        if code is not None:
            text = f"error code: {code}\n"
        if isinstance(message, str):
            text += "error message:\n" + message
        if _int(code) == RPC_WALLET_NOT_SPECIFIED:
            text += '\nTry adding "-rpcwallet=<filename>" option to coin-cli command line.'
        status = abs(_int(code))
    else:
        text = "error: " + dumps(error)
        status = 1
    return text, (status if status % 256 else 1)


def _format_result(result: Any) -> str:
    if result is None:
        return ""
    if isinstance(result, str) and not isinstance(result, RawNumber):
        return result
    return dumps(result, 2)


def _getinfo(client: RPCClient, wait: bool, timeout: int) -> tuple[str, int]:
    """``-getinfo``: getnetworkinfo + getblockchaininfo as a human-readable summary."""
    batch = [
        {"method": "getnetworkinfo", "params": [], "id": 0},
        {"method": "getblockchaininfo", "params": [], "id": 1},
    ]
    replies = _call_with_wait(client, batch, wait, timeout)
    if not isinstance(replies, list) or len(replies) != 2:
        raise _Failure("expected reply to have result, error and id properties")
    by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
    for i in (0, 1):
        if by_id.get(i, {}).get("error") is not None:
            return _format_error(by_id[i]["error"])
    net = by_id[0].get("result") or {}
    chain = by_id[1].get("result") or {}
    progress = float(str(chain.get("verificationprogress", 0)))
    lines = [
        f"Chain: {chain.get('chain')}",
        f"Blocks: {chain.get('blocks')}",
        f"Headers: {chain.get('headers')}",
        f"Verification progress: {progress * 100:.4f}%",
        f"Difficulty: {chain.get('difficulty')}",
        "",
        f"Network: in {net.get('connections_in')}, out {net.get('connections_out')}, total {net.get('connections')}",
        f"Version: {net.get('version')}",
        f"Time offset (s): {net.get('timeoffset')}",
        "Proxies: n/a",
        f"Min tx relay fee rate (BTC/kvB): {net.get('relayfee')}",
        "",
    ]
    warnings = net.get("warnings") or []
    if isinstance(warnings, str):
        warnings = [warnings] if warnings else []
    lines.append("Warnings: " + ("(none)" if not warnings else "\n".join(str(w) for w in warnings)))
    return "\n".join(lines), 0


def _run(config: Config, stdin: Any) -> tuple[str, int]:
    args = list(config.positional)
    if config.get_bool("stdinrpcpass", False):
        line = stdin.readline()
        config.set("rpcpassword", line.rstrip("\r\n"))
    if config.get_bool("stdin", False):
        args.extend(line.rstrip("\r\n") for line in stdin)
    client = RPCClient.from_config(config, raw_numbers=True)
    wait = config.get_bool("rpcwait", False)
    timeout = config.get_int("rpcwaittimeout", 0)
    if config.get_bool("getinfo", False):
        if args:
            raise _Failure("-getinfo takes no arguments")
        return _getinfo(client, wait, timeout)
    if not args:
        raise _Failure("too few parameters (need at least command)")
    method, params_raw = args[0], args[1:]
    try:
        if config.get_bool("named", False):
            params: Any = convert_named(method, params_raw)
        else:
            params = convert_positional(method, params_raw)
    except ValueError as e:
        raise _Failure(str(e)) from None
    reply = _call_with_wait(client, client.request_obj(method, params), wait, timeout)
    if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
        raise _Failure("expected reply to have result, error and id properties")
    error = reply.get("error")
    if error is not None:
        return _format_error(error)
    return _format_result(reply.get("result")), 0


def main(argv: Sequence[str] | None = None, *, stdin: Any = None) -> int:
    """Run coin-cli; returns the process exit code (0, abs(RPC error code), or 1)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_args(args, args=CLI_ARGS, allow_positional=True, ignore_unknown_conf=True, create_default_datadir=False)
    except ConfigError as e:
        message = str(e)
        print(message if message.startswith("Error") else f"Error: {message}", file=sys.stderr)
        return 1
    if config.get_bool("help", False):
        sys.stdout.write(help_message(CLI_ARGS, header=_USAGE))
        return 0
    if config.get_bool("version", False):
        print(_HEADER)
        return 0
    try:
        text, status = _run(config, stdin if stdin is not None else sys.stdin)
    except (_Failure, RPCClientError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    if text != "":
        print(text, file=sys.stdout if status == 0 else sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
