"""The ``control`` RPC group: help, stop, uptime, getmemoryinfo, logging, getrpcinfo
(and Core's hidden ``echo`` / ``echojson`` test helpers, and ``setmocktime``, which
moves ``node.clock`` on regtest: -1 ``setmocktime is for regression testing (-regtest
mode) only`` elsewhere, -8 ``Mocktime must be in the range [0, 9223372036], not t.``).

These methods use only the node's shell (``ctx.node``: ``request_shutdown()``,
``uptime()``, ``logging`` (a :class:`coin.log.NodeLogging`), ``log_path``), not the
chain. Results and errors are Core's: ``stop`` answers ``"Bitcoin Core stopping"``
(Core's exact text, which clients may match) before the node shuts down; ``logging``
fails with -8 ``unknown logging category x``; ``getmemoryinfo`` with -8
``unknown mode x`` / ``mallocinfo mode not available``.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import time
from typing import Any

from coin.rpc.errors import RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RPCError
from coin.rpc.table import Param, RPCContext, rpc_method
from coin.rpc.util import help_example_cli, help_example_rpc

__all__ = [
    "STOP_MESSAGE",
    "echo",
    "echojson",
    "getmemoryinfo",
    "getrpcinfo",
    "help",
    "logging_rpc",
    "setmocktime",
    "stop",
    "uptime",
]

STOP_MESSAGE = "Bitcoin Core stopping"


@rpc_method(
    "help",
    "control",
    params=[Param("command", "str", "The command to get help on", optional=True, default_hint="all commands")],
    help="List all commands, or get help for a specified command.",
    result='"str"    (string) The help text',
)
def help(ctx: RPCContext, command: str | None) -> str:  # noqa: A001 - Core's method name
    assert ctx.table is not None
    return ctx.table.help(command or "")


@rpc_method(
    "stop",
    "control",
    params=[Param("wait", "int", "how long to wait in ms", optional=True, hidden=True)],
    help="Request a graceful shutdown of coind.",
    result='"str"    (string) A string with the content \'Bitcoin Core stopping\'',
)
async def stop(ctx: RPCContext, wait: Any) -> str:
    if wait is not None:
        await asyncio.sleep(max(0, int(wait)) / 1000)
    node = ctx.node
    if node is not None:
        # Shut down after this reply is on its way (the server finishes in-flight calls).
        asyncio.get_running_loop().call_soon(node.request_shutdown)
    return STOP_MESSAGE


@rpc_method(
    "uptime",
    "control",
    help="Returns the total uptime of the server.",
    result="n    (numeric) The number of seconds that the server has been running",
    examples=help_example_cli("uptime") + help_example_rpc("uptime"),
)
def uptime(ctx: RPCContext) -> int:
    return int(ctx.node.uptime())


def _mallocinfo() -> str:
    """glibc's malloc_info() XML, through open_memstream; -8 if not available."""
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name)
        malloc_info = libc.malloc_info
        open_memstream = libc.open_memstream
        fclose = libc.fclose
        free = libc.free
    except (OSError, AttributeError, TypeError):
        raise RPCError(RPC_INVALID_PARAMETER, "mallocinfo mode not available") from None
    buf = ctypes.c_void_p()
    size = ctypes.c_size_t()
    open_memstream.restype = ctypes.c_void_p
    open_memstream.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
    malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    fclose.argtypes = [ctypes.c_void_p]
    free.argtypes = [ctypes.c_void_p]
    stream = open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not stream:
        raise RPCError(RPC_INVALID_PARAMETER, "mallocinfo mode not available")
    malloc_info(0, stream)
    fclose(stream)
    try:
        return ctypes.string_at(buf, size.value).decode("utf-8", "replace")
    finally:
        free(buf)


@rpc_method(
    "getmemoryinfo",
    "control",
    params=[Param("mode", "str", 'determines what kind of information is returned.\n  - "stats" returns general statistics about memory usage in the daemon.\n  - "mallocinfo" returns an XML string describing low-level heap state (only available if compiled with glibc).', default="stats", default_hint='"stats"')],
    help="Returns an object containing information about memory usage.",
    result='{    (json object)\n  "locked" : {    (json object) Information about locked memory manager\n    "used" : n, "free" : n, "total" : n, "locked" : n, "chunks_used" : n, "chunks_free" : n\n  }\n}',
    examples=help_example_cli("getmemoryinfo") + help_example_rpc("getmemoryinfo"),
)
def getmemoryinfo(ctx: RPCContext, mode: str) -> Any:
    if mode == "stats":
        # coin keeps no secure (mlock'ed) arena: Core's LockedPool statistics are zero.
        return {"locked": {"used": 0, "free": 0, "total": 0, "locked": 0, "chunks_used": 0, "chunks_free": 0}}
    if mode == "mallocinfo":
        return _mallocinfo()
    raise RPCError(RPC_INVALID_PARAMETER, f"unknown mode {mode}")


@rpc_method(
    "logging",
    "control",
    params=[
        Param("include", "arr", "The categories to add to debug logging", optional=True, oneline='[ "include_category",... ]'),
        Param("exclude", "arr", "The categories to remove from debug logging", optional=True, oneline='[ "exclude_category",... ]'),
    ],
    help=(
        "Gets and sets the logging configuration.\n"
        "When called without an argument, returns the list of categories with status that are currently being debug logged or not.\n"
        "When called with arguments, adds or removes categories from debug logging and return the lists above.\n"
        "The arguments are evaluated in order \"include\", \"exclude\".\n"
        "If an item is both included and excluded, it will thus end up being excluded.\n"
        "In addition, the following are available as category names with special meanings:\n"
        "  - \"all\",  \"1\" : represent all logging categories."
    ),
    result='{    (json object) keys are the logging categories, and values indicates its status\n  "category" : true|false,    (boolean) if being debug logged or not. false:inactive, true:active\n  ...\n}',
    examples=help_example_cli("logging", '"[\\"all\\"]" "[\\"http\\"]"') + help_example_rpc("logging", '["all"], ["libevent"]'),
)
def logging_rpc(ctx: RPCContext, include: list[Any] | None, exclude: list[Any] | None) -> dict[str, bool]:
    logs = ctx.node.logging
    for values, enable in ((include, True), (exclude, False)):
        for cat in values or []:
            if not isinstance(cat, str):
                raise RPCError(RPC_INVALID_PARAMETER, f"unknown logging category {cat}")
            ok = logs.enable(cat) if enable else logs.disable(cat)
            if not ok:
                raise RPCError(RPC_INVALID_PARAMETER, f"unknown logging category {cat}")
    return logs.categories()


@rpc_method(
    "getrpcinfo",
    "control",
    help="Returns details of the RPC server.",
    result='{    (json object)\n  "active_commands" : [ { "method" : "str", "duration" : n } ],\n  "logpath" : "str"    (string) The complete file path to the debug log\n}',
    examples=help_example_cli("getrpcinfo") + help_example_rpc("getrpcinfo"),
)
def getrpcinfo(ctx: RPCContext) -> dict[str, Any]:
    now = time.monotonic()
    assert ctx.table is not None
    active = [{"method": name, "duration": int((now - started) * 1_000_000)} for name, started in list(ctx.table.active.values())]
    path = getattr(ctx.node, "log_path", None)
    return {"active_commands": active, "logpath": str(path) if path is not None else ""}


_ECHO_PARAMS = [Param(f"arg{i}", "any", optional=True) for i in range(10)]


def _echo(args: tuple[Any, ...]) -> list[Any]:
    out = list(args)
    while out and out[-1] is None:
        out.pop()
    if len(out) > 9 and out[9] == "trigger_internal_bug":
        raise RuntimeError("Internal bug detected: trigger_internal_bug")
    return out


@rpc_method("echo", "hidden", params=_ECHO_PARAMS, help="Simply echo back the input arguments. This command is for testing.")
def echo(ctx: RPCContext, *args: Any) -> list[Any]:
    return _echo(args)


@rpc_method("echojson", "hidden", params=_ECHO_PARAMS, help="Simply echo back the input arguments. This command is for testing (with JSON-typed arguments in coin-cli).")
def echojson(ctx: RPCContext, *args: Any) -> list[Any]:
    return _echo(args)


#: Core's Ticks<seconds>(nanoseconds::max()): the largest mock time.
MAX_MOCKTIME = 9_223_372_036


@rpc_method(
    "setmocktime",
    "hidden",
    params=[Param("timestamp", "int64", "UNIX epoch time\nPass 0 to go back to using the system time.")],
    help="Set the local time to given timestamp (-regtest only)",
)
async def setmocktime(ctx: RPCContext, timestamp: int) -> None:
    node = ctx.node
    if node.params.name != "regtest":
        raise RPCError(RPC_MISC_ERROR, "setmocktime is for regression testing (-regtest mode) only")
    if not 0 <= timestamp <= MAX_MOCKTIME:
        raise RPCError(RPC_INVALID_PARAMETER, f"Mocktime must be in the range [0, {MAX_MOCKTIME}], not {timestamp}.")
    # Under the validation thread, as Core holds cs_main: no check sees the clock move mid-way.
    await node.run_validation(node.clock.set_mocktime, timestamp)
