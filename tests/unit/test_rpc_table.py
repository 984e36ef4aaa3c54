"""coin.rpc.table: named-argument mapping, argument checks, help text, registration."""

import asyncio

import pytest

from coin.rpc import control
from coin.rpc.errors import RPCError
from coin.rpc.table import Param, RPCContext, RPCTable, rpc_method, transform_named_arguments

NAMES = ["txid", "verbosity|verbose", "blockhash"]


@pytest.mark.parametrize(
    "named, expected",
    [
        ({"txid": "a"}, ["a"]),
        ({"txid": "a", "blockhash": "b"}, ["a", None, "b"]),  # hole filled with null
        ({"verbose": True, "txid": "a"}, ["a", True]),  # alias
        ({"blockhash": "b"}, [None, None, "b"]),
        ({"args": ["a", 1]}, ["a", 1]),
        ({"args": ["a"], "blockhash": "b"}, ["a", None, "b"]),
        ({}, []),
    ],
    ids=["first", "gap", "alias", "leading-gap", "args", "args-plus-named", "empty"],
)
def test_transform_named_arguments(named, expected):
    assert transform_named_arguments(named, NAMES) == expected


def test_named_errors():
    with pytest.raises(RPCError) as e:
        transform_named_arguments({"txid": "a", "nope": 1}, NAMES)
    assert (e.value.code, e.value.message) == (-8, "Unknown named parameter nope")
    with pytest.raises(RPCError) as e:
        transform_named_arguments({"args": ["a"], "txid": "b"}, NAMES)
    assert e.value.message == "Parameter txid specified twice both as positional and named argument"


@rpc_method(
    "getrawtransaction",
    "rawtransactions",
    params=[
        Param("txid", "hex", "The transaction id"),
        Param("verbosity|verbose", "num", "0 for hex", default=0),
        Param("blockhash", "hex", "The block", optional=True),
    ],
    help="Return the raw transaction data.",
    result='"str"    (string) The serialized transaction',
)
def getrawtransaction(ctx, txid, verbosity, blockhash):
    return [txid, verbosity, blockhash]


@rpc_method("sendtoaddress", "wallet", params=[Param("amount", "amount")], help="x")
def sendtoaddress(ctx, amount):
    return amount


@rpc_method("hashit", "util", params=[Param("data", "hex")], help="Hash in a thread.", blocking=True)
def hashit(ctx, data):
    import hashlib

    return hashlib.sha256(bytes.fromhex(data)).hexdigest()


def test_help_text_layout():
    text = getrawtransaction.help_text()
    assert text.splitlines()[0] == 'getrawtransaction "txid" ( verbosity "blockhash" )'
    assert "\nArguments:\n1. txid         (string, required) The transaction id\n" in text
    assert "2. verbosity    (numeric, optional, default=0) 0 for hex\n" in text
    assert "3. blockhash    (string, optional) The block\n" in text
    assert "\nResult:\n\"str\"    (string) The serialized transaction\n" in text


def _table():
    t = RPCTable()
    t.add_module(control)
    t.add_all([getrawtransaction, sendtoaddress, hashit])
    t.finish_warmup()
    return t


def _exec(t, method, params):
    return asyncio.run(t.execute(method, params, RPCContext()))


def test_help_list_grouped_like_core():
    text = _table().help()
    lines = text.split("\n")
    assert lines[0] == "== Control =="
    assert "== Rawtransactions ==" in lines and "== Util ==" in lines and "== Wallet ==" in lines
    # a blank line before each later category header, hidden methods not listed
    i = lines.index("== Rawtransactions ==")
    assert lines[i - 1] == ""
    assert not any(line.startswith("echo") for line in lines)
    assert "stop" in lines and "uptime" in lines


def test_help_command_and_unknown():
    t = _table()
    assert _exec(t, "help", ["stop"]).startswith("stop\n\nRequest a graceful shutdown")
    assert _exec(t, "help", ["nosuch"]) == "help: unknown command: nosuch"
    assert _exec(t, "help", ["echo"]).startswith("echo ( arg0")


def test_amount_param_not_type_checked_but_others_are():
    t = _table()
    assert _exec(t, "sendtoaddress", ["0.1"]) == "0.1"
    with pytest.raises(RPCError) as e:
        _exec(t, "getrawtransaction", [1, "x"])
    assert e.value.code == -3
    assert '"Position 1 (txid)": "JSON value of type number is not of expected type string"' in e.value.message
    assert '"Position 2 (verbosity|verbose)": "JSON value of type string is not of expected type number"' in e.value.message


def test_required_null_is_type_error():
    with pytest.raises(RPCError) as e:
        _exec(_table(), "getrawtransaction", {"verbosity": 1})
    assert e.value.code == -3
    assert "JSON value of type null is not of expected type string" in e.value.message


def test_bool_is_not_a_number():
    with pytest.raises(RPCError) as e:
        _exec(_table(), "getrawtransaction", ["aa", True])
    assert "JSON value of type bool is not of expected type number" in e.value.message


def test_blocking_method_runs_in_executor():
    from concurrent.futures import ThreadPoolExecutor

    t = _table()
    with ThreadPoolExecutor(1) as ex:
        t.executor = ex
        assert _exec(t, "hashit", ["00"]) == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_duplicate_registration_rejected():
    t = _table()
    with pytest.raises(ValueError):
        t.add(getrawtransaction)


def test_blocking_async_rejected():
    with pytest.raises(TypeError):

        @rpc_method("x", "util", blocking=True)
        async def x(ctx):
            return 1
