"""JSON text exactly as Bitcoin Core's UniValue writes and reads it (stdlib only).

Why not :func:`json.dumps`: Core prints BTC amounts as ``50.00000000`` (8 decimals),
other doubles with 16 significant digits (``%.16g``), and bitcoin-cli pretty-prints
with UniValue's layout (an empty array is ``[\\n]``). Python's json cannot print a
number verbatim, so this module has its own small writer.

Values written: ``None``, ``bool``, ``int``, ``str``, ``dict`` (insertion order),
``list`` / ``tuple``, :class:`decimal.Decimal` (printed in fixed point with its own
exponent: ``Decimal("50.00000000")`` -> ``50.00000000``; see
:func:`coin.rpc.util.value_from_amount`), ``float`` (``%.16g``) and
:class:`RawNumber` (a number literal kept as text by :func:`loads`). Anything else is a
``TypeError``; NaN and infinities are a ``ValueError`` (not JSON).

:func:`loads` parses request / reply text: floats become ``Decimal`` (exact amounts)
or, with ``raw_numbers=True``, :class:`RawNumber` so coin-cli re-prints the server's
number text unchanged. NaN / Infinity literals are rejected (UniValue rejects them).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

__all__ = ["RawNumber", "dumps", "loads", "type_name"]

_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


class RawNumber(str):
    """A JSON number literal kept verbatim (e.g. ``4.656542373906925e-10``)."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def loads(text: str | bytes, *, raw_numbers: bool = False) -> Any:
    """Parse JSON text. Floats become Decimal (or RawNumber with ``raw_numbers``).

    Raises ``ValueError`` (``json.JSONDecodeError`` or ``UnicodeDecodeError``) on bad
    input.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    if raw_numbers:
        return json.loads(text, parse_float=RawNumber, parse_constant=_reject_constant)
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def _escape(s: str) -> str:
    out = _encode_str(s)
    if "\x7f" in out:
        out = out.replace("\x7f", "\\u007f")
    return out


def _number(value: Any) -> str:
    if isinstance(value, RawNumber):
        return str.__str__(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return format(value, "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value} as JSON")
        return format(value, ".16g")
    return int.__repr__(value)


def _write(value: Any, indent: int, level: int, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        if isinstance(value, RawNumber):
            out.append(_number(value))
        else:
            out.append(_escape(value))
    elif isinstance(value, int | float | Decimal):
        out.append(_number(value))
    elif isinstance(value, dict):
        out.append("{")
        if indent:
            out.append("\n")
        n = len(value)
        for i, (k, v) in enumerate(value.items()):
            if not isinstance(k, str):
                raise TypeError(f"JSON object keys must be strings, not {type(k).__name__}")
            if indent:
                out.append(" " * (indent * level))
            out.append(_escape(k))
            out.append(": " if indent else ":")
            _write(v, indent, level + 1, out)
            if i != n - 1:
                out.append(",")
            if indent:
                out.append("\n")
        if indent:
            out.append(" " * (indent * (level - 1)))
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        if indent:
            out.append("\n")
        n = len(value)
        for i, v in enumerate(value):
            if indent:
                out.append(" " * (indent * level))
            _write(v, indent, level + 1, out)
            if i != n - 1:
                out.append(",")
            if indent:
                out.append("\n")
        if indent:
            out.append(" " * (indent * (level - 1)))
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any, indent: int = 0) -> str:
    """UniValue's ``write(indent)``: compact (no spaces) when ``indent`` is 0."""
    out: list[str] = []
    _write(value, indent, 1, out)
    return "".join(out)


def type_name(value: Any) -> str:
    """UniValue's type name of a parsed JSON value: null, bool, number, string, object, array."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, RawNumber):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__
