"""coin-cli against a real coind: output formats, errors and exit codes, -named, -stdin,
coin.conf, unreachable node, -rpcwait.
"""

import json
import subprocess

import pytest

from coin.regtest.framework import TestNode, cli_command, free_port, run_cli


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = TestNode(0, tmp_path_factory.mktemp("cli")).start()
    yield n
    n.stop()


def test_integer_result(node):
    r = node.cli("uptime")
    assert r.returncode == 0 and r.stderr == ""
    assert int(r.stdout.strip()) >= 0


def test_string_result_printed_bare(node):
    r = node.cli("help", "stop")
    assert r.returncode == 0
    assert r.stdout.startswith("stop\n\nRequest a graceful shutdown")
    assert not r.stdout.startswith('"')


def test_json_result_indented_like_bitcoin_cli(node):
    r = node.cli("echojson", "[]", '{"a":[1,2.50000000]}', "null", "true")
    assert r.returncode == 0
    assert r.stdout == '[\n  [\n  ],\n  {\n    "a": [\n      1,\n      2.50000000\n    ]\n  },\n  null,\n  true\n]\n'
    assert json.loads(r.stdout) == [[], {"a": [1, 2.5]}, None, True]


def test_null_result_prints_nothing():
    from coin.cli.coin_cli import _format_result

    assert _format_result(None) == ""


def test_empty_array_and_object_results(node):
    r = node.cli("echo")
    assert r.returncode == 0 and r.stdout == "[\n]\n"
    r = node.cli("logging", "[]", "[]")
    assert r.returncode == 0 and json.loads(r.stdout)["net"] is False


def test_named_arguments(node):
    r = node.cli("-named", "echojson", "arg2=5", 'arg0={"k":"v"}')
    assert r.returncode == 0
    assert json.loads(r.stdout) == [{"k": "v"}, None, 5]
    r = node.cli("-named", "help", "command=uptime")
    assert r.stdout.startswith("uptime\n")


def test_stdin_arguments(node):
    r = node.cli("-stdin", "echo", input="first line\nsecond\n")
    assert r.returncode == 0
    assert json.loads(r.stdout) == ["first line", "second"]


def test_rpc_error_format_and_exit_code(node):
    r = node.cli("nosuchmethod")
    assert r.stdout == ""
    assert r.stderr == "error code: -32601\nerror message:\nMethod not found\n"
    assert r.returncode == 32601 % 256
    r = node.cli("getmemoryinfo", "bogus")
    assert r.stderr == "error code: -8\nerror message:\nunknown mode bogus\n"
    assert r.returncode == 8
    r = node.cli("uptime", "extra")  # wrong argument count: -1 and the help text
    assert r.returncode == 1 and r.stderr.startswith("error code: -1\nerror message:\nuptime\n")


def test_bad_json_argument(node):
    r = node.cli("logging", "not-json")
    assert r.returncode == 1
    assert r.stderr == "error: Error parsing JSON: not-json\n"


def test_wrong_password(node):
    r = node.cli("-rpcuser=x", "-rpcpassword=y", "uptime")
    assert r.returncode == 1
    assert r.stderr == "error: Authorization failed: Incorrect rpcuser or rpcpassword\n"


def test_reads_coin_conf_like_coind(node, tmp_path):
    """A conf with regtest=1 and [regtest] rpcport finds the node with no flags but -datadir."""
    # share the node's cookie through -rpccookiefile, everything else from the conf
    (tmp_path / "coin.conf").write_text(f"regtest=1\n[regtest]\nrpcport={node.rpc_port}\nrpccookiefile={node.cookie_path}\n")
    r = run_cli(f"-datadir={tmp_path}", "uptime")
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) >= 0


def test_unreachable_node(tmp_path):
    port = free_port()
    r = run_cli("-regtest", f"-datadir={tmp_path}", f"-rpcport={port}", "uptime")
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: timeout on transient error: Could not connect to the server 127.0.0.1:{port}")
    assert "Make sure the coind server is running and that you are connecting to the correct RPC port." in r.stderr


def test_rpcwait_timeout(tmp_path):
    port = free_port()
    r = run_cli("-regtest", f"-datadir={tmp_path}", f"-rpcport={port}", "-rpcwait", "-rpcwaittimeout=1", "uptime")
    assert r.returncode == 1
    assert "timeout on transient error: Could not connect to the server" in r.stderr


def test_rpcwait_waits_for_node_to_start(tmp_path):
    node = TestNode(0, tmp_path)
    cli = subprocess.Popen(
        cli_command("-regtest", f"-datadir={tmp_path}", f"-rpcport={node.rpc_port}", "-rpcwait", "-rpcwaittimeout=120", "help", "uptime"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        node.start(wait=False)
        out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        assert out.startswith("uptime\n")
    finally:
        if cli.poll() is None:
            cli.kill()
        assert node.stop() == 0


def test_usage_errors(tmp_path):
    r = run_cli(f"-datadir={tmp_path}", "-regtest")
    assert r.returncode == 1 and r.stderr == "error: too few parameters (need at least command)\n"
    r = run_cli("-bogus", "uptime")
    assert r.returncode == 1 and r.stderr == "Error parsing command line arguments: Invalid parameter -bogus\n"
    r = run_cli("-help")
    assert r.returncode == 0 and "-rpcwait" in r.stdout and "-named" in r.stdout
