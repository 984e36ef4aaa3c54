"""Argument and value helpers for RPC methods, as Bitcoin Core's src/rpc/util.cpp.

* :func:`parse_hash_v` / :func:`parse_hex_v`: hex arguments, with Core's ``-8``
  messages (``blockhash must be of length 64 (not 3, for 'abc')``,
  ``txid must be hexadecimal string (not 'zz...')``).
* :func:`amount_from_value`: a BTC amount (JSON number or numeric string) to integer
  satoshis; ``-3`` ``Amount is not a number or string`` / ``Invalid amount`` /
  ``Amount out of range``.
* :func:`value_from_amount`: integer satoshis to a ``Decimal`` that the server prints
  as a JSON number with exactly 8 decimals (``50.00000000``).
* :func:`help_example_cli` / :func:`help_example_rpc`: the ``Examples:`` lines.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from coin.rpc.errors import RPC_INVALID_PARAMETER, RPC_TYPE_ERROR, RPCError
from coin.rpc.table import get_int
from coin.rpc.univalue import RawNumber

__all__ = [
    "COIN",
    "MAX_MONEY",
    "amount_from_value",
    "help_example_cli",
    "help_example_rpc",
    "is_hex",
    "money_range",
    "parse_hash_v",
    "parse_hex_v",
    "parse_verbosity",
    "value_from_amount",
]

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN

_HEX_RE = re.compile(r"[0-9a-fA-F]*")
# Core's ParseFixedPoint grammar: optional '-', one leading zero or a non-zero integer
# part, optional fraction, optional exponent.
_FIXED_POINT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def money_range(value: int) -> bool:
    """Core's MoneyRange: 0 <= value <= MAX_MONEY."""
    return 0 <= value <= MAX_MONEY


def is_hex(text: str) -> bool:
    """Core's IsHex: non-empty, even length, only hex digits."""
    return len(text) > 0 and len(text) % 2 == 0 and _HEX_RE.fullmatch(text) is not None


def _as_str(value: Any, name: str) -> str:
    if not isinstance(value, str) or isinstance(value, RawNumber):
        from coin.rpc.univalue import type_name

        raise RPCError(RPC_TYPE_ERROR, f"JSON value of type {type_name(value)} for field {name} is not of expected type string")
    return value


def parse_hash_v(value: Any, name: str) -> bytes:
    """A 64-hex-digit hash argument (display order) -> 32 bytes in INTERNAL order.

    Raises RPCError(-8, "<name> must be of length 64 (not N, for '<x>')") or
    RPCError(-8, "<name> must be hexadecimal string (not '<x>')").
    """
    text = _as_str(value, name)
    if len(text) == 64 and _HEX_RE.fullmatch(text):
        return bytes.fromhex(text)[::-1]
    if len(text) != 64:
        raise RPCError(RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(text)}, for '{text}')")
    raise RPCError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{text}')")


def parse_hex_v(value: Any, name: str) -> bytes:
    """A hex-string argument -> bytes; RPCError(-8, "<name> must be hexadecimal string (not '<x>')")."""
    text = _as_str(value, name)
    if not is_hex(text):
        raise RPCError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{text}')")
    return bytes.fromhex(text)


def amount_from_value(value: Any, decimals: int = 8) -> int:
    """A BTC amount (JSON number, or a string holding one) -> integer satoshis.

    Core's AmountFromValue: RPCError(-3, "Amount is not a number or string") for other
    JSON types, RPCError(-3, "Invalid amount") when the text is not a fixed-point number
    with at most ``decimals`` decimals, RPCError(-3, "Amount out of range") outside
    0..MAX_MONEY.
    """
    if isinstance(value, bool) or value is None or isinstance(value, dict | list | tuple):
        raise RPCError(RPC_TYPE_ERROR, "Amount is not a number or string")
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = str.__str__(value)
    else:
        raise RPCError(RPC_TYPE_ERROR, "Amount is not a number or string")
    if not _FIXED_POINT_RE.fullmatch(text):
        raise RPCError(RPC_TYPE_ERROR, "Invalid amount")
    try:
        scaled = Decimal(text).scaleb(decimals)
    except InvalidOperation:
        raise RPCError(RPC_TYPE_ERROR, "Invalid amount") from None
    if scaled != scaled.to_integral_value() or abs(scaled) >= Decimal(10) ** 18:
        raise RPCError(RPC_TYPE_ERROR, "Invalid amount")
    amount = int(scaled)
    if not money_range(amount):
        raise RPCError(RPC_TYPE_ERROR, "Amount out of range")
    return amount


def value_from_amount(amount: int) -> Decimal:
    """Integer satoshis -> Decimal with exactly 8 decimals (printed as ``50.00000000``)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amount must be integer satoshis")
    return Decimal(amount).scaleb(-8)


def parse_verbosity(value: Any, default: int) -> int:
    """Core's ParseVerbosity: null is `default`, a boolean is 1 / 0, else getInt<int>
    (-1 ``JSON integer out of range``, -3 for another JSON type)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return 1 if value else 0
    return get_int(value, "int")


def help_example_cli(method: str, args: str = "") -> str:
    """One ``> coin-cli method args`` example line, as Core's HelpExampleCli."""
    return f"> coin-cli {method} {args}\n"


def help_example_rpc(method: str, args: str = "") -> str:
    """One curl example line, as Core's HelpExampleRpc."""
    return (
        "> curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", "
        f"\"method\": \"{method}\", \"params\": [{args}]}}' -H 'content-type: application/json' http://127.0.0.1:8332/\n"
    )
