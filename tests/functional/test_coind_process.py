"""coind as a process: clean stop (RPC, SIGTERM, SIGINT), start-up errors, datadir lock,
and the Node's warm-up / component lifecycle on a real HTTP server.
"""

import asyncio
import signal
import subprocess

import pytest
from storage_faults import fill_disk_under_open_blk_file

from coin.config import parse_args
from coin.node import Node
from coin.regtest.framework import TestNode, coind_command, free_port, wait_until
from coin.rpc.client import RPCClient
from coin.rpc.errors import RPCError


def run_coind(*args, timeout=60):
    return subprocess.run(coind_command(*args), capture_output=True, text=True, timeout=timeout)


def test_stop_rpc_exits_zero_and_cleans_up(tmp_path):
    node = TestNode(0, tmp_path).start()
    assert node.cookie_path.exists()
    assert (node.net_datadir / "coind.pid").read_text().strip() == str(node.pid)
    assert node.rpc("stop") == "Bitcoin Core stopping"
    assert node.wait_exit() == 0
    assert not node.cookie_path.exists()
    assert not (node.net_datadir / "coind.pid").exists()
    log = (node.net_datadir / "debug.log").read_text()
    assert "Shutdown: done" in log
    node.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_zero_and_removes_cookie(tmp_path, sig):
    node = TestNode(0, tmp_path).start()
    secret = node.cookie_path.read_text().partition(":")[2]
    node.send_signal(sig)
    assert node.wait_exit() == 0
    assert not node.cookie_path.exists()
    assert secret not in (node.net_datadir / "debug.log").read_text()  # never log secrets
    node.kill()


@pytest.mark.parametrize(
    "args, message",
    [
        (["-foo"], "Error: Error parsing command line arguments: Invalid parameter -foo"),
        (["-regtest", "-chain=main"], "Error: Invalid combination of -regtest and -chain. Can use at most one."),
        (["-debug=bogus"], "Error: Unsupported logging category -debug=bogus."),
        (["getblockcount"], "Error: Command line contains unexpected token 'getblockcount', see coind -h for a list of options."),
        (["-rpcallowip=not-an-ip"], "Error: Invalid -rpcallowip subnet specification: not-an-ip."),
    ],
    ids=["unknown-flag", "chain-conflict", "bad-debug-category", "positional", "bad-allowip"],
)
def test_configuration_errors_are_one_line_exit_1(tmp_path, args, message):
    r = run_coind(f"-datadir={tmp_path}", "-regtest", f"-rpcport={free_port()}", *args)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
    assert "Traceback" not in r.stderr


def test_missing_datadir(tmp_path):
    r = run_coind(f"-datadir={tmp_path / 'nope'}", "-regtest")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f'Error: Specified data directory "{tmp_path / "nope"}" does not exist.']


def test_second_coind_on_same_datadir_fails_with_lock_error(tmp_path):
    first = TestNode(0, tmp_path).start()
    try:
        second = TestNode(0, tmp_path)
        r = run_coind(*second.base_args())
        assert r.returncode == 1
        assert r.stderr.splitlines() == [
            f"Error: Cannot obtain a lock on data directory {first.net_datadir}. coind is probably already running."
        ]
        # the first node is unharmed: same cookie, still answering
        assert first.cookie_path.exists()
        assert isinstance(first.rpc("uptime"), int)
    finally:
        assert first.stop() == 0


def test_help_and_version():
    r = run_coind("-help")
    assert r.returncode == 0
    assert "  -regtest" in r.stdout and "  -rpcport=<port>" in r.stdout and "  -debug=<category>" in r.stdout
    r = run_coind("-version")
    assert r.returncode == 0 and r.stdout.startswith("Coin Daemon version v")


def test_conf_file_sets_rpc_credentials(tmp_path):
    port = free_port()
    (tmp_path / "coin.conf").write_text(f"regtest=1\nrpcuser=alice\nrpcpassword=s3cret\n[regtest]\nrpcport={port}\n")
    proc = subprocess.Popen(coind_command(f"-datadir={tmp_path}"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        client = RPCClient("127.0.0.1", port, user="alice", password="s3cret", timeout=30)

        def up():
            try:
                client.call("uptime")
                return True
            except Exception:  # noqa: BLE001 - still starting
                assert proc.poll() is None, proc.stderr.read()
                return False

        wait_until(up, what="coind with rpcpassword")
        assert not (tmp_path / "regtest" / ".cookie").exists()  # no cookie with rpcpassword
        assert client.call("stop") == "Bitcoin Core stopping"
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


# -- the Node object in-process: warm-up and component lifecycle ------------------------------


class SlowComponent:
    def __init__(self, events):
        self.name = "slow thing"
        self.events = events
        self.release = asyncio.Event()

    async def start(self):
        self.events.append("start")
        await self.release.wait()

    async def stop(self):
        self.events.append("stop")


def test_node_warmup_and_component_lifecycle(tmp_path):
    port = free_port()
    config = parse_args([f"-datadir={tmp_path}", "-regtest", f"-rpcport={port}", f"-port={free_port()}"])
    events: list[str] = []

    async def scenario():
        node = Node(config)
        comp = SlowComponent(events)
        node.add_component(comp)
        runner = asyncio.create_task(node.run())
        client = RPCClient("127.0.0.1", port, cookie_path=config.net_datadir / ".cookie", timeout=30)

        async def call(method, *args):
            return await asyncio.to_thread(client.call, method, *args)

        while "start" not in events:
            await asyncio.sleep(0.01)
        with pytest.raises(RPCError) as e:
            await call("uptime")
        assert (e.value.code, e.value.message) == (-28, "Loading slow thing…")
        comp.release.set()
        while node.rpc_table.in_warmup:
            await asyncio.sleep(0.01)
        assert isinstance(await call("uptime"), int)
        assert await call("stop") == "Bitcoin Core stopping"
        assert await asyncio.wait_for(runner, 60) == 0
        assert events == ["start", "stop"]
        assert not (config.net_datadir / ".cookie").exists()

    asyncio.run(scenario())


def test_node_mocktime_clock(tmp_path):
    config = parse_args([f"-datadir={tmp_path}", "-regtest", "-mocktime=1700000000"])
    node = Node(config)
    assert node.clock() == 1700000000
    node.clock.set_mocktime(0)
    assert node.clock() > 1700000000


def test_regtest_starts_with_default_datadir(tmp_path):
    """`coind -regtest` needs no configuration: ~/.coin/regtest is created (HOME points to a
    temporary directory; only the RPC port is chosen so parallel test runs do not collide).
    """
    import os

    port = free_port()
    env = dict(os.environ, HOME=str(tmp_path))
    proc = subprocess.Popen(coind_command("-regtest", f"-rpcport={port}"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cookie = tmp_path / ".coin" / "regtest" / ".cookie"
    try:
        client = RPCClient("127.0.0.1", port, cookie_path=cookie, timeout=30)

        def up():
            assert proc.poll() is None, proc.stderr.read()
            try:
                return isinstance(client.call("uptime"), int)
            except Exception:  # noqa: BLE001 - still starting
                return False

        wait_until(up, what="coind with the default datadir")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert (tmp_path / ".coin" / "regtest" / "debug.log").exists()
        assert not cookie.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_shutdown_request_during_warmup(tmp_path):
    """SIGTERM (here: request_shutdown) while a component is still loading stops the node."""
    config = parse_args([f"-datadir={tmp_path}", "-regtest", f"-rpcport={free_port()}"])
    events: list[str] = []

    async def scenario():
        node = Node(config)
        node.add_component(SlowComponent(events))  # never released
        runner = asyncio.create_task(node.run())
        while "start" not in events:
            await asyncio.sleep(0.01)
        node.request_shutdown()
        assert await asyncio.wait_for(runner, 60) == 0
        assert events == ["start", "stop"]
        assert not (config.net_datadir / ".cookie").exists()

    asyncio.run(scenario())


def test_a_failed_block_write_shuts_the_node_down_with_status_1(tmp_path):
    """Disk full while storing a block (simulated on the open blk file): the chain state
    reports a fatal error, the node shuts down cleanly and run() returns 1 (Core's
    AbortNode); the datadir restarts consistent, without the block that was lost."""
    port = free_port()
    config = parse_args([f"-datadir={tmp_path}", "-regtest", f"-rpcport={port}", f"-port={free_port()}",
                         "-listen=0"])
    address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"

    async def scenario():
        node = Node(config)
        runner = asyncio.create_task(node.run())
        client = RPCClient("127.0.0.1", port, cookie_path=config.net_datadir / ".cookie", timeout=30)

        async def call(method, *args):
            return await asyncio.to_thread(client.call, method, *args)

        while node.chainstate is None or node.rpc_table.in_warmup:
            await asyncio.sleep(0.01)
        assert len(await call("generatetoaddress", 2, address)) == 2

        await node.run_validation(fill_disk_under_open_blk_file, node.chainstate.blockfiles)
        with pytest.raises(RPCError):
            await call("generatetoaddress", 1, address)
        assert await asyncio.wait_for(runner, 60) == 1
        assert node.fatal_error is not None and "No space left" in node.fatal_error

    asyncio.run(scenario())
    log = (config.net_datadir / "debug.log").read_text()
    assert "A fatal internal error occurred" in log and "Shutdown: done" in log
    again = TestNode(0, tmp_path).start()
    try:
        assert again.getblockcount() == 2
    finally:
        again.stop()
