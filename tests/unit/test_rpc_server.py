"""coin.rpc.server in-process: bind addresses, allow-list, 503 work queue, bind failure."""

import asyncio
import socket

import pytest

from coin.config import ConfigError, parse_args
from coin.rpc.client import RPCClient
from coin.rpc.server import RPCServer, parse_allowed_subnets, split_host_port
from coin.rpc.table import RPCTable


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(tmp_path, *args):
    config = parse_args([f"-datadir={tmp_path}", "-regtest", *args])
    table = RPCTable()
    table.finish_warmup()
    return RPCServer(config, table)


@pytest.mark.parametrize(
    "text, expected",
    [("1.2.3.4", ("1.2.3.4", 9)), ("1.2.3.4:80", ("1.2.3.4", 80)), ("[::1]:81", ("::1", 81)), ("::1", ("::1", 9)), ("[::1]", ("::1", 9))],
)
def test_split_host_port(text, expected):
    assert split_host_port(text, 9) == expected


def test_default_endpoints_are_loopback_even_with_rpcbind_alone(tmp_path):
    s = _server(tmp_path, "-rpcport=1234", "-rpcbind=0.0.0.0")
    assert s.endpoints() == [("::1", 1234), ("127.0.0.1", 1234)]


def test_rpcbind_with_allowip(tmp_path):
    s = _server(tmp_path, "-rpcport=1234", "-rpcbind=0.0.0.0", "-rpcbind=[::]:99", "-rpcallowip=10.0.0.0/8")
    assert s.endpoints() == [("0.0.0.0", 1234), ("::", 99)]


def test_allow_list(tmp_path):
    s = _server(tmp_path, "-rpcallowip=10.1.0.0/255.255.0.0", "-rpcallowip=192.168.1.7")
    assert s._client_allowed("127.0.0.1") and s._client_allowed("127.5.5.5") and s._client_allowed("::1")
    assert s._client_allowed("::ffff:127.0.0.1")
    assert s._client_allowed("10.1.200.3") and not s._client_allowed("10.2.0.1")
    assert s._client_allowed("192.168.1.7") and not s._client_allowed("192.168.1.8")
    assert not s._client_allowed(None)


def test_invalid_allowip():
    with pytest.raises(ConfigError, match="Invalid -rpcallowip subnet specification: 1.2.3.4/99"):
        parse_allowed_subnets(["1.2.3.4/99"])


def test_bind_failure_is_config_error(tmp_path):
    port = _free_port()
    blockers = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.bind((host, port))
            s.listen()
            blockers.append(s)
        except OSError:
            s.close()
    server = _server(tmp_path, f"-rpcport={port}")
    try:
        with pytest.raises(ConfigError, match="Unable to start HTTP server. See debug log for details."):
            asyncio.run(server.start())
        assert not (tmp_path / "regtest" / ".cookie").exists()  # cleaned up
    finally:
        for s in blockers:
            s.close()


def test_work_queue_full_is_503(tmp_path):
    port = _free_port()
    server = _server(tmp_path, f"-rpcport={port}", "-rpcthreads=1", "-rpcworkqueue=1")

    async def scenario():
        await server.start()
        try:
            server._inflight = 2  # as if two calls were running
            client = RPCClient("127.0.0.1", port, cookie_path=tmp_path / "regtest" / ".cookie", timeout=30)
            with pytest.raises(Exception, match="Server response: Work queue depth exceeded"):
                await asyncio.to_thread(client.call, "help")
            server._inflight = 0
        finally:
            await server.stop()

    asyncio.run(scenario())
