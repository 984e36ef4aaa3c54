"""JSON-RPC envelopes (coin.rpc.request): reply shapes, HTTP statuses, batches, warm-up."""

import asyncio
import json

import pytest

from coin.rpc.errors import RPC_INVALID_ADDRESS_OR_KEY, RPCError
from coin.rpc.request import handle_body
from coin.rpc.table import Param, RPCContext, RPCTable, rpc_method

CALLS: list[str] = []


@rpc_method("getblockhash", "blockchain", params=[Param("height", "num", "The height index")], help="Returns hash of block.")
def getblockhash(ctx, height):
    CALLS.append(f"getblockhash {height}")
    if height > 0:
        raise RPCError(-8, "Block height out of range")
    return "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


@rpc_method("getblock", "blockchain", params=[Param("blockhash", "hex"), Param("verbosity|verbose", "num", default=1)], help="Get a block.")
async def getblock(ctx, blockhash, verbosity):
    if blockhash != "00" * 32:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    return {"hash": blockhash, "verbosity": verbosity}


@rpc_method("boom", "util", help="Raises a plain exception.")
def boom(ctx):
    raise ValueError("something broke")


@pytest.fixture
def table():
    t = RPCTable()
    t.add_all([getblockhash, getblock, boom])
    t.finish_warmup()
    return t


def run(table, body):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    status, reply = asyncio.run(handle_body(body, table, lambda req: RPCContext()))
    return status, reply


def obj(reply):
    assert reply.endswith(b"\n")
    return json.loads(reply)


def test_legacy_success_shape_and_order(table):
    status, reply = run(table, {"version": "1.1", "method": "getblockhash", "params": [0], "id": 7})
    assert status == 200
    assert reply == b'{"result":"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206","error":null,"id":7}\n'


def test_legacy_error_is_500_with_both_keys(table):
    status, reply = run(table, {"method": "getblockhash", "params": [5], "id": "a"})
    assert status == 500
    assert reply == b'{"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":"a"}\n'


def test_legacy_method_not_found_is_404(table):
    status, reply = run(table, {"method": "nosuch", "id": 1})
    assert status == 404
    assert obj(reply)["error"] == {"code": -32601, "message": "Method not found"}


def test_legacy_without_id_has_no_id_key(table):
    status, reply = run(table, {"method": "getblockhash", "params": [0]})
    assert status == 200
    assert "id" not in obj(reply)


def test_v2_shapes_and_status(table):
    status, reply = run(table, {"jsonrpc": "2.0", "method": "getblockhash", "params": [0], "id": 1})
    assert status == 200
    assert list(obj(reply)) == ["jsonrpc", "result", "id"]
    status, reply = run(table, {"jsonrpc": "2.0", "method": "nosuch", "id": 2})
    assert status == 200
    assert obj(reply) == {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 2}


def test_v2_notification_runs_and_is_204(table):
    CALLS.clear()
    status, reply = run(table, {"jsonrpc": "2.0", "method": "getblockhash", "params": [0]})
    assert (status, reply) == (204, None)
    assert CALLS == ["getblockhash 0"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"id": 1}, "Missing method"),
        ({"method": 5, "id": 1}, "Method must be a string"),
        ({"method": "getblockhash", "params": 5, "id": 1}, "Params must be an array or object"),
        ({"jsonrpc": 2, "method": "x", "id": 1}, "jsonrpc field must be a string"),
        ({"jsonrpc": "3.0", "method": "x", "id": 1}, "JSON-RPC version not supported"),
    ],
    ids=["missing-method", "method-not-string", "bad-params", "jsonrpc-not-string", "jsonrpc-unsupported"],
)
def test_invalid_request_is_400(table, body, message):
    status, reply = run(table, body)
    assert status == 400
    assert obj(reply)["error"] == {"code": -32600, "message": message}


def test_parse_errors_are_500_with_null_id(table):
    status, reply = run(table, b"{not json")
    assert status == 500
    assert reply == b'{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}\n'
    status, reply = run(table, b"42")
    assert status == 500
    assert obj(reply)["error"] == {"code": -32700, "message": "Top-level object parse error"}
    status, _ = run(table, b'{"method": "getblockhash", "params": [NaN]}')
    assert status == 500


def test_batch_mixed(table):
    body = [
        {"method": "getblockhash", "params": [0], "id": 1},
        {"method": "getblockhash", "params": [3], "id": 2},
        5,
        {"jsonrpc": "2.0", "method": "nosuch", "id": 3},
        {"jsonrpc": "2.0", "method": "getblockhash", "params": [0]},  # notification: no element
    ]
    status, reply = run(table, body)
    assert status == 200
    replies = obj(reply)
    assert [r.get("id") for r in replies] == [1, 2, None, 3]
    assert replies[0]["error"] is None
    assert replies[1]["error"]["code"] == -8
    assert replies[2] == {"result": None, "error": {"code": -32600, "message": "Invalid Request object"}, "id": None}
    assert replies[3]["error"]["code"] == -32601 and "result" not in replies[3]


def test_batch_all_notifications_and_empty(table):
    status, reply = run(table, [{"jsonrpc": "2.0", "method": "getblockhash", "params": [0]}])
    assert (status, reply) == (204, None)
    assert run(table, []) == (200, b"[]\n")


def test_named_params_and_alias(table):
    status, reply = run(table, {"method": "getblock", "params": {"blockhash": "00" * 32, "verbose": 2}, "id": 1})
    assert status == 200
    assert obj(reply)["result"] == {"hash": "00" * 32, "verbosity": 2}


def test_null_is_omitted_and_default_applies(table):
    _, reply = run(table, {"method": "getblock", "params": ["00" * 32, None], "id": 1})
    assert obj(reply)["result"]["verbosity"] == 1


def test_unknown_named_parameter(table):
    status, reply = run(table, {"method": "getblock", "params": {"blockhash": "00" * 32, "bogus": 1}, "id": 1})
    assert status == 500
    assert obj(reply)["error"] == {"code": -8, "message": "Unknown named parameter bogus"}


def test_wrong_type_message(table):
    _, reply = run(table, {"method": "getblockhash", "params": ["1"], "id": 1})
    assert obj(reply)["error"] == {
        "code": -3,
        "message": 'Wrong type passed:\n{\n    "Position 1 (height)": "JSON value of type string is not of expected type number"\n}',
    }


def test_wrong_arg_count_is_help_text(table):
    _, reply = run(table, {"method": "getblockhash", "params": [1, 2], "id": 1})
    err = obj(reply)["error"]
    assert err["code"] == -1
    assert err["message"].startswith("getblockhash height\n\nReturns hash of block.\n")


def test_plain_exception_is_misc_error(table):
    _, reply = run(table, {"method": "boom", "id": 1})
    assert obj(reply)["error"] == {"code": -1, "message": "something broke"}


def test_warmup_answers_28_before_method_lookup(table):
    table.set_warmup("Loading block index…")
    for method in ("getblockhash", "nosuch"):
        status, reply = run(table, {"method": method, "params": [0], "id": 1})
        assert status == 500
        assert obj(reply)["error"] == {"code": -28, "message": "Loading block index…"}
    table.finish_warmup()
    assert run(table, {"method": "getblockhash", "params": [0], "id": 1})[0] == 200
