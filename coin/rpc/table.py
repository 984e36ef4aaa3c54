"""The RPC method table: declarations, argument checking, dispatch, help (Core's CRPCTable
and RPCHelpMan).

Declaring a method (in a method-group module such as :mod:`coin.rpc.control`)::

    @rpc_method("getblockhash", "blockchain",
                params=[Param("height", "num", "The height index")],
                result='"hex"    (string) The block hash',
                help="Returns hash of block in best-block-chain at height provided.")
    def getblockhash(ctx, height):
        ...

A method is a sync or async callable ``fn(ctx, *args)``: ``ctx`` is the
:class:`RPCContext` (``ctx.node`` is the running Node), ``args`` one value per declared
parameter in order (``None`` where omitted or passed as JSON null, or the Param's
``default``). ``blocking=True`` runs a sync body in the server's thread pool so CPU-heavy
work (block verification, scans) leaves the event loop.

Parameter types (``Param.type``), checked before the call as Core's
RPCArg::MatchesType: ``str``, ``hex`` (JSON string), ``num`` (JSON number), ``bool``,
``obj``, ``arr``; ``amount`` (number or string, checked by
:func:`coin.rpc.util.amount_from_value`), ``range`` and ``any`` (not checked). A name
may list aliases, ``"verbosity|verbose"``.

Integer parameters (Core's ``UniValue::getInt<T>()``): ``int`` (C++ ``int``, 32 bits),
``int64``, ``uint32``, ``uint64``. They are JSON numbers (else -3 as ``num``), and the
method receives a Python ``int``; a number that is not an integer literal (``1.5``,
``1.0``, ``1e3``) or does not fit the C++ type fails with -1 ``JSON integer out of
range``, as Core's ``std::from_chars`` over the number's text does. Core converts
inside the handler, so an earlier argument's own error (a bad hash, say) comes first
there; here every integer argument is converted before the method runs.
:func:`get_int` is the same conversion for values inside objects and for arguments
declared ``any`` (verbosity).

Error contract of :meth:`RPCTable.execute` (Core's behaviour): -28 with the warm-up
status while warming up (before anything else); -32601 ``Method not found``; -8
``Unknown named parameter x`` / ``Parameter x specified multiple times``; -1 with the
method's full help text for a wrong argument count; -3 ``Wrong type passed:\\n{...}``;
RPCError raised by the method passes through; any other exception becomes -1 with its
text.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from coin.rpc.errors import (
    RPC_IN_WARMUP,
    RPC_INVALID_PARAMETER,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RPCError,
)
from coin.rpc.univalue import dumps, type_name

__all__ = [
    "CATEGORY_ORDER",
    "INT_BOUNDS",
    "Param",
    "RPCContext",
    "RPCMethod",
    "RPCTable",
    "get_int",
    "rpc_method",
    "transform_named_arguments",
]

_log = logging.getLogger("coin.rpc")

#: Expected UniValue type name per Param.type (None = not checked here).
_EXPECTED: dict[str, str | None] = {
    "str": "string",
    "hex": "string",
    "num": "number",
    "bool": "bool",
    "obj": "object",
    "arr": "array",
    "amount": None,
    "range": None,
    "any": None,
    "int": "number",
    "int64": "number",
    "uint32": "number",
    "uint64": "number",
}

#: Inclusive bounds of the C++ integer type behind each integer Param.type.
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "int": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}

_HELP_TYPE: dict[str, str] = {
    "str": "string",
    "hex": "string",
    "num": "numeric",
    "bool": "boolean",
    "obj": "json object",
    "arr": "json array",
    "amount": "numeric or string",
    "range": "numeric or array",
    "any": "any",
    "int": "numeric",
    "int64": "numeric",
    "uint32": "numeric",
    "uint64": "numeric",
}

#: Help categories in the order ``help`` prints them are alphabetical, as Core.
CATEGORY_ORDER = ("blockchain", "control", "generating", "mining", "network", "rawtransactions", "util", "wallet", "hidden")


def get_int(value: Any, kind: str = "int") -> int:
    """Core's ``UniValue::getInt<T>()`` for the C++ type named by ``kind`` (see INT_BOUNDS).

    Raises RPCError(-3, "JSON value of type <t> is not of expected type number") for a
    non-number (Core's UniValue::type_error) and RPCError(-1, "JSON integer out of
    range") for a number that is not an integer literal or does not fit the type.
    """
    lo, hi = INT_BOUNDS[kind]
    got = type_name(value)
    if got != "number":
        raise RPCError(RPC_TYPE_ERROR, f"JSON value of type {got} is not of expected type number")
    # Our JSON reader gives int for integer literals only; 1.5, 1.0, 1e3 are Decimal.
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise RPCError(RPC_MISC_ERROR, "JSON integer out of range")
    return int(value)


@dataclass(frozen=True, slots=True)
class Param:
    """One declared argument.

    ``name`` may hold aliases (``"verbosity|verbose"``); ``type`` see module doc;
    ``optional`` (implied by a ``default``); ``default`` the Python value passed when
    the argument is omitted or null; ``default_hint`` how help shows the default;
    ``oneline`` overrides the argument's spelling in the help's first line;
    ``hidden`` leaves it (and every later one) out of the help text, as Core.
    """

    name: str
    type: str
    description: str = ""
    optional: bool = False
    default: Any = None
    default_hint: str | None = None
    oneline: str | None = None
    hidden: bool = False

    def __post_init__(self) -> None:
        if self.type not in _EXPECTED:
            raise ValueError(f"unknown RPC param type {self.type!r}")

    @property
    def first_name(self) -> str:
        return self.name.split("|", 1)[0]

    @property
    def names(self) -> list[str]:
        return self.name.split("|")

    @property
    def is_optional(self) -> bool:
        return self.optional or self.default is not None

    def mismatch(self, value: Any) -> str | None:
        """Core's RPCArg::MatchesType: None if ``value`` fits, else the message."""
        expected = _EXPECTED[self.type]
        if expected is None:
            return None
        if value is None and self.is_optional:
            return None
        got = type_name(value)
        if got == expected:
            return None
        return f"JSON value of type {got} is not of expected type {expected}"

    def oneline_text(self) -> str:
        if self.oneline is not None:
            return self.oneline
        if self.type in ("str", "hex"):
            return f'"{self.first_name}"'
        return self.first_name

    def description_text(self) -> str:
        kind = _HELP_TYPE[self.type]
        if not self.is_optional:
            req = "required"
        else:
            hint = self.default_hint
            if hint is None and self.default is not None:
                hint = dumps(self.default)
            req = f"optional, default={hint}" if hint is not None else "optional"
        text = f"({kind}, {req})"
        if self.description:
            text += " " + self.description
        return text


@dataclass(frozen=True, slots=True)
class RPCMethod:
    """A registered method: its name, help category, parameters, help texts and body."""

    name: str
    category: str
    fn: Callable[..., Any]
    params: tuple[Param, ...] = ()
    help: str = ""
    result: str = ""
    examples: str = ""
    blocking: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def arg_names(self) -> list[str]:
        return [p.name for p in self.params]

    def required_count(self) -> int:
        for n in range(len(self.params), 0, -1):
            if not self.params[n - 1].is_optional:
                return n
        return 0

    def shown_params(self) -> list[Param]:
        shown: list[Param] = []
        for p in self.params:
            if p.hidden:
                break
            shown.append(p)
        return shown

    def help_text(self) -> str:
        """Core's RPCHelpMan::ToString: one-line usage, description, arguments, result, examples."""
        line = self.name
        was_optional = False
        shown = self.shown_params()
        for p in shown:
            line += " "
            if p.is_optional:
                if not was_optional:
                    line += "( "
                was_optional = True
            else:
                if was_optional:
                    line += ") "
                was_optional = False
            line += p.oneline_text()
        if was_optional:
            line += " )"
        out = line + "\n\n" + self.help.strip() + "\n"
        if shown:
            out += "\nArguments:\n"
            lefts = [f"{i + 1}. {p.first_name}" for i, p in enumerate(shown)]
            pad = max(len(s) for s in lefts)
            for left, p in zip(lefts, shown, strict=True):
                out += left + " " * (pad - len(left) + 4) + p.description_text() + "\n"
        out += "\nResult:\n" + (self.result.strip() if self.result else "null    (json null)") + "\n"
        if self.examples:
            out += "\nExamples:\n" + self.examples.rstrip("\n") + "\n"
        return out


def rpc_method(
    name: str,
    category: str,
    *,
    params: Sequence[Param] = (),
    help: str = "",
    result: str = "",
    examples: str = "",
    blocking: bool = False,
) -> Callable[[Callable[..., Any]], RPCMethod]:
    """Decorator turning ``fn(ctx, *args)`` into an :class:`RPCMethod`."""

    def wrap(fn: Callable[..., Any]) -> RPCMethod:
        if blocking and inspect.iscoroutinefunction(fn):
            raise TypeError(f"{name}: blocking=True is for sync functions")
        return RPCMethod(name, category, fn, tuple(params), help, result, examples, blocking)

    return wrap


@dataclass
class RPCContext:
    """What a method sees of the request and the node.

    ``node``: the running :class:`coin.node.Node` (or whatever owns the table);
    ``table``: the method table (for ``help``); ``user`` the authenticated user name;
    ``peer`` the client address; ``method`` the method name; ``json_version`` ``1`` or
    ``2``.
    """

    node: Any = None
    table: RPCTable | None = None
    user: str = ""
    peer: str = ""
    method: str = ""
    json_version: int = 1


def transform_named_arguments(params: dict[str, Any], arg_names: Sequence[str]) -> list[Any]:
    """Map a named-parameter object onto positional arguments (Core's transformNamedArguments).

    Gaps before a given parameter become null; ``args`` holds leading positional values.
    Raises RPCError(-8) for an unknown name or a parameter given twice.
    """
    args_in = dict(params)  # JSON objects from our parser cannot hold duplicate keys
    out: list[Any] = []
    hole = 0
    initial_hole_size = 0
    initial_param: str | None = None
    for pattern in arg_names:
        found = None
        for alias in pattern.split("|"):
            if alias in args_in:
                found = alias
                break
        if found is not None:
            out.extend([None] * hole)
            hole = 0
            if initial_param is None:
                initial_param = pattern
            out.append(args_in.pop(found))
        else:
            hole += 1
            if not out:
                initial_hole_size = hole
    if "args" in args_in and isinstance(args_in["args"], list):
        positional = args_in.pop("args")
        if initial_hole_size < len(positional) and initial_param is not None:
            raise RPCError(RPC_INVALID_PARAMETER, f"Parameter {initial_param} specified twice both as positional and named argument")
        named = out
        out = list(positional)
        for i in range(len(out), len(named)):
            out.append(named[i])
    if args_in:
        raise RPCError(RPC_INVALID_PARAMETER, f"Unknown named parameter {next(iter(args_in))}")
    return out


class RPCTable:
    """Registered methods, the warm-up state and dispatch.

    ``add(method)`` / ``add_module(module)`` register; ``execute(method, params, ctx)``
    runs one call (see the module doc for errors); ``help(command)`` is the ``help``
    RPC's text. ``set_warmup(status)`` / ``finish_warmup()`` switch the -28 replies.
    ``executor`` (set by the server) runs ``blocking=True`` methods.
    """

    def __init__(self) -> None:
        self._methods: dict[str, RPCMethod] = {}
        self._warmup: str | None = "RPC server started"
        self.executor: Any = None
        self.active: dict[int, tuple[str, float]] = {}
        self._next_active = 0

    # -- registration --------------------------------------------------------------

    def add(self, method: RPCMethod) -> None:
        if method.name in self._methods:
            raise ValueError(f"RPC method {method.name} registered twice")
        self._methods[method.name] = method

    def add_all(self, methods: Iterable[RPCMethod]) -> None:
        for m in methods:
            self.add(m)

    def add_module(self, module: ModuleType) -> None:
        """Register every RPCMethod the module exports in ``__all__``."""
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if isinstance(obj, RPCMethod):
                self.add(obj)

    def get(self, name: str) -> RPCMethod | None:
        return self._methods.get(name)

    def names(self) -> list[str]:
        return sorted(self._methods)

    # -- warm-up -----------------------------------------------------------------

    def set_warmup(self, status: str) -> None:
        """Enter (or update) warm-up: every call answers -28 with ``status``."""
        self._warmup = status

    def finish_warmup(self) -> None:
        self._warmup = None

    @property
    def in_warmup(self) -> bool:
        return self._warmup is not None

    @property
    def warmup_status(self) -> str | None:
        return self._warmup

    # -- dispatch ------------------------------------------------------------------

    def _positional(self, method: RPCMethod, params: Any) -> list[Any]:
        if isinstance(params, dict):
            return transform_named_arguments(params, method.arg_names)
        return list(params)

    def check_args(self, method: RPCMethod, args: list[Any]) -> list[Any]:
        """Core's RPCHelpMan::HandleRequest checks; returns args padded and defaulted."""
        if not (method.required_count() <= len(args) <= len(method.params)):
            raise RPCError(RPC_MISC_ERROR, method.help_text())
        mismatches: dict[str, str] = {}
        for i, p in enumerate(method.params):
            value = args[i] if i < len(args) else None
            if i >= len(args) and p.is_optional:
                continue
            msg = p.mismatch(value)
            if msg is not None:
                mismatches[f"Position {i + 1} ({p.name})"] = msg
        if mismatches:
            raise RPCError(RPC_TYPE_ERROR, "Wrong type passed:\n" + _write_indented(mismatches))
        full = list(args) + [None] * (len(method.params) - len(args))
        for i, p in enumerate(method.params):
            if full[i] is None:
                if p.default is not None:
                    full[i] = p.default
            elif p.type in INT_BOUNDS:
                full[i] = get_int(full[i], p.type)
        return full

    async def execute(self, name: str, params: Any, ctx: RPCContext) -> Any:
        """Run one call and return its result; raises RPCError (see module doc)."""
        if self._warmup is not None:
            raise RPCError(RPC_IN_WARMUP, self._warmup)
        method = self._methods.get(name)
        if method is None:
            raise RPCError(RPC_METHOD_NOT_FOUND, "Method not found")
        ctx.method = name
        ctx.table = self
        self._next_active += 1
        token = self._next_active
        self.active[token] = (name, time.monotonic())
        try:
            args = self.check_args(method, self._positional(method, params if params is not None else []))
            if method.blocking:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.executor, functools.partial(method.fn, ctx, *args))
            result = method.fn(ctx, *args)
            if inspect.isawaitable(result):
                result = await result
            return result
        except RPCError:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - Core maps any std::exception to -1
            _log.warning("RPC %s raised %s: %s", name, type(e).__name__, e, exc_info=True)
            raise RPCError(RPC_MISC_ERROR, str(e) or type(e).__name__) from e
        finally:
            self.active.pop(token, None)

    # -- help ------------------------------------------------------------------------

    def help(self, command: str = "") -> str:
        """Core's CRPCTable::help: the grouped list, or one method's full text."""
        if command:
            method = self._methods.get(command)
            if method is None:
                return f"help: unknown command: {command}"
            return method.help_text().rstrip("\n")
        entries = sorted(self._methods.values(), key=lambda m: (m.category, m.name))
        out: list[str] = []
        category = ""
        for m in entries:
            if m.category == "hidden":
                continue
            if m.category != category:
                if category:
                    out.append("")
                category = m.category
                out.append(f"== {category[:1].upper()}{category[1:]} ==")
            out.append(m.help_text().split("\n", 1)[0])
        return "\n".join(out)


def _write_indented(obj: dict[str, str]) -> str:
    """UniValue ``write(4)`` of a flat object of strings (the "Wrong type passed" body)."""
    return dumps(obj, 4)
