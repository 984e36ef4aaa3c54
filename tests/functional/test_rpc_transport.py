"""The JSON-RPC transport over real HTTP against a real ``coind -regtest`` process."""

import base64
import http.client
import json
import stat

import bitcoin.rpc
import pytest

from coin.regtest.framework import TestNode


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = TestNode(0, tmp_path_factory.mktemp("transport")).start()
    yield n
    n.stop()


def post(node, obj, **kw):
    return node.http(json.dumps(obj), **kw)


def test_cookie_file_is_private_and_well_formed(node):
    mode = stat.S_IMODE(node.cookie_path.stat().st_mode)
    assert mode == 0o600
    user, _, secret = node.cookie_path.read_text().partition(":")
    assert user == "__cookie__" and len(secret) == 64 and all(c in "0123456789abcdef" for c in secret)


def test_success_reply_bytes_and_content_type(node):
    status, headers, body = post(node, {"version": "1.1", "method": "uptime", "params": [], "id": 1})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    reply = json.loads(body)
    assert list(reply) == ["result", "error", "id"]
    assert isinstance(reply["result"], int) and reply["error"] is None and reply["id"] == 1
    assert body.endswith(b"\n") and b" " not in body


def test_amounts_printed_with_eight_decimals(node):
    """Numbers are exact decimals end to end: 50.00000000 comes back as 50.00000000."""
    status, _, raw = node.http(b'{"method":"echojson","params":[50.00000000,-0.00010000,21000000.00000000],"id":2}')
    assert status == 200
    assert raw == b'{"result":[50.00000000,-0.00010000,21000000.00000000],"error":null,"id":2}\n'


def test_missing_auth_is_401_with_challenge(node):
    status, headers, body = post(node, {"method": "uptime"}, auth=None)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    assert body == b""


def test_wrong_password_is_401(node):
    bad = "Basic " + base64.b64encode(b"__cookie__:" + b"0" * 64).decode()
    status, _, body = post(node, {"method": "uptime"}, auth=bad)
    assert status == 401 and body == b""


def test_get_is_405(node):
    status, _, body = node.http(method="GET")
    assert status == 405
    assert body == b"JSONRPC server handles only POST requests"


def test_unknown_path_is_404(node):
    status, _, body = post(node, {"method": "uptime"}, path="/rest/chaininfo.json")
    assert status == 404 and body == b""


def test_parse_error_is_500(node):
    status, headers, body = node.http(b"{this is not json")
    assert status == 500
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"result": None, "error": {"code": -32700, "message": "Parse error"}, "id": None}


def test_method_not_found_is_404_json(node):
    status, headers, body = post(node, {"method": "nosuchmethod", "id": 3})
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": 3}


def test_invalid_request_is_400(node):
    status, _, body = post(node, {"params": [], "id": 4})
    assert status == 400
    assert json.loads(body)["error"] == {"code": -32600, "message": "Missing method"}


def test_wrong_type_is_minus_3(node):
    status, _, body = post(node, {"method": "help", "params": [5], "id": 5})
    assert status == 500
    err = json.loads(body)["error"]
    assert err["code"] == -3
    assert err["message"].startswith("Wrong type passed:\n{\n    \"Position 1 (command)\"")


def test_too_many_args_is_help_text(node):
    _, _, body = post(node, {"method": "uptime", "params": [1], "id": 6})
    assert json.loads(body)["error"] == {"code": -1, "message": node.rpc("help", "uptime") + "\n"}


def test_batch_of_mixed_calls(node):
    batch = [
        {"method": "uptime", "id": 1},
        {"method": "nosuch", "id": 2},
        "garbage",
        {"jsonrpc": "2.0", "method": "help", "params": {"command": "stop"}, "id": 3},
        {"jsonrpc": "2.0", "method": "uptime"},
    ]
    status, _, body = post(node, batch)
    assert status == 200
    replies = json.loads(body)
    assert len(replies) == 4
    assert replies[0]["error"] is None
    assert replies[1]["error"]["code"] == -32601
    assert replies[2] == {"result": None, "error": {"code": -32600, "message": "Invalid Request object"}, "id": None}
    assert replies[3]["jsonrpc"] == "2.0" and replies[3]["result"].startswith("stop\n")


def test_named_params(node):
    _, _, body = post(node, {"method": "logging", "params": {"exclude": ["all"], "include": ["net"]}, "id": 7})
    result = json.loads(body)["result"]
    assert result["net"] is False  # include first, then exclude: excluded wins
    _, _, body = post(node, {"method": "echo", "params": {"arg2": "x"}, "id": 8})
    assert json.loads(body)["result"] == [None, None, "x"]
    _, _, body = post(node, {"method": "help", "params": {"cmd": "x"}, "id": 9})
    assert json.loads(body)["error"] == {"code": -8, "message": "Unknown named parameter cmd"}


def test_jsonrpc_2_shapes(node):
    status, _, body = post(node, {"jsonrpc": "2.0", "method": "nosuch", "id": "q"})
    assert status == 200
    assert json.loads(body) == {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "q"}
    status, _, body = post(node, {"jsonrpc": "2.0", "method": "uptime"})
    assert (status, body) == (204, b"")


def test_keep_alive_serves_several_requests(node):
    conn = http.client.HTTPConnection("127.0.0.1", node.rpc_port, timeout=30)
    try:
        for i in range(3):
            conn.request("POST", "/", body=json.dumps({"method": "uptime", "id": i}), headers={"Authorization": node.auth_header()})
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["id"] == i
    finally:
        conn.close()


def test_python_bitcoinlib_rawproxy_works(node):
    """An independent client (python-bitcoinlib) talks to coind unchanged."""
    cookie = node.cookie_path.read_text()
    proxy = bitcoin.rpc.RawProxy(service_url=f"http://{cookie}@127.0.0.1:{node.rpc_port}")
    assert isinstance(proxy.uptime(), int)
    assert proxy.help("uptime").startswith("uptime\n")
    with pytest.raises(bitcoin.rpc.JSONRPCError) as e:
        proxy.nosuchmethod()
    assert e.value.error["code"] == -32601
    with pytest.raises(bitcoin.rpc.InvalidParameterError):
        proxy.getmemoryinfo("bogus")
