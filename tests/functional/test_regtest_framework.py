"""The functional-test framework itself (coin.regtest.framework): RPC warm-up retries,
kill/restart, debug-log assertions, networks, and no coind left behind whatever happens
to the process (or test) that started it.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coin.regtest.cli import fallback_address
from coin.regtest.framework import (
    Network,
    NodeStartError,
    RPCProxy,
    TestNode,
    free_port,
    pid_alive,
    topology_edges,
    wait_until,
)
from coin.rpc.client import ConnectionFailed, RPCClient
from coin.rpc.errors import RPCError

# -- the RPC proxy's retries, against a real HTTP server that plays a warming-up node ----------


class _WarmingUp(BaseHTTPRequestHandler):
    warmup_replies = 0
    calls = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        type(self).calls += 1
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if type(self).calls <= self.warmup_replies:
            reply = {"result": None, "error": {"code": -28, "message": "Loading block index…"}, "id": request["id"]}
            status = 500
        else:
            reply = {"result": request["method"], "error": None, "id": request["id"]}
            status = 200
        body = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(port, warmup_replies):
    handler = type("Handler", (_WarmingUp,), {"warmup_replies": warmup_replies, "calls": 0})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


def test_proxy_retries_while_warming_up():
    port = free_port()
    server, handler = _serve(port, warmup_replies=3)
    try:
        proxy = RPCProxy(RPCClient("127.0.0.1", port, user="u", password="p", timeout=10), timeout=30, interval=0.01)
        assert proxy.getblockcount() == "getblockcount"
        assert handler.calls == 4  # three -28 answers, then the real one
    finally:
        server.shutdown()
        server.server_close()


def test_proxy_gives_up_on_warmup_after_its_timeout():
    port = free_port()
    server, handler = _serve(port, warmup_replies=10**9)
    try:
        proxy = RPCProxy(RPCClient("127.0.0.1", port, user="u", password="p", timeout=10), timeout=0.3, interval=0.01)
        with pytest.raises(RPCError) as e:
            proxy.uptime()
        assert e.value.code == -28
        assert handler.calls > 1
    finally:
        server.shutdown()
        server.server_close()


def test_proxy_retries_connection_refused_only_while_starting():
    port = free_port()
    client = RPCClient("127.0.0.1", port, user="u", password="p", timeout=10)
    with pytest.raises(ConnectionFailed):  # not starting: refused is an error at once
        RPCProxy(client, timeout=30).uptime()

    started = []
    box = {}

    def late_server():
        box["server"], _ = _serve(port, warmup_replies=1)
        started.append(True)

    timer = threading.Timer(0.3, late_server)
    timer.start()
    try:
        connected = []
        proxy = RPCProxy(client, timeout=30, interval=0.01, starting=lambda: not connected, on_success=lambda: connected.append(1))
        assert proxy.uptime() == "uptime"  # refused, then -28, then the answer
        assert started and connected
    finally:
        timer.join()
        if "server" in box:
            box["server"].shutdown()
            box["server"].server_close()


def test_proxy_stops_retrying_when_the_process_died():
    port = free_port()
    client = RPCClient("127.0.0.1", port, user="u", password="p", timeout=10)
    with pytest.raises(ConnectionFailed):
        RPCProxy(client, timeout=30, starting=lambda: True, alive=lambda: False).uptime()


# -- real nodes -------------------------------------------------------------------------------


def test_node_start_stop_kill_restart(regtest_node):
    node = regtest_node
    pid = node.pid
    assert node.uptime() >= 0
    assert node.getblockcount() == 0
    node.kill()  # a crash: SIGKILL, no clean shutdown
    assert not pid_alive(pid)
    assert "Shutdown: done" not in node.debug_log_text()
    with node.assert_debug_log(["init message: Done loading"]):
        node.restart()
    assert node.pid != pid and node.getblockcount() == 0
    assert node.stop() == 0
    assert "Shutdown: done" in node.debug_log_text()
    assert not node.cookie_path.exists()


def test_chain_survives_restart(regtest_node):
    node = regtest_node
    hashes = node.generatetoaddress(3, fallback_address())
    node.restart()
    assert node.getblockcount() == 3 and node.getbestblockhash() == hashes[-1]


def test_assert_debug_log(make_node):
    node = make_node("-debug=rpc")
    with node.assert_debug_log(["ThreadRPCServer method=getblockcount"], unexpected_msgs=["method=getbestblockhash"]):
        node.getblockcount()
    with pytest.raises(AssertionError, match="not found in debug.log"):
        with node.assert_debug_log(["no such message, ever"], timeout=0.2):
            node.uptime()
    with pytest.raises(AssertionError, match="unexpected message"):
        with node.assert_debug_log([], unexpected_msgs=["ThreadRPCServer method=uptime"], timeout=0.2):
            node.uptime()


def test_start_failure_is_reported_with_stderr(tmp_path):
    node = TestNode(0, tmp_path / "bad", extra_args=["-debug=bogus"])
    with pytest.raises(NodeStartError, match="Unsupported logging category -debug=bogus"):
        node.start()
    assert not node.running


def test_wait_until_names_what_it_waited_for():
    with pytest.raises(AssertionError, match="the impossible"):
        wait_until(lambda: False, 0.1, what="the impossible")
    assert wait_until(lambda: 7, 1) == 7


@pytest.mark.parametrize(
    "n, topology, edges",
    [
        (3, "line", [(0, 1), (1, 2)]),
        (4, "ring", [(0, 1), (1, 2), (2, 3), (3, 0)]),
        (2, "ring", [(0, 1)]),
        (3, "mesh", [(0, 1), (0, 2), (1, 2)]),
        (1, "line", []),
    ],
    ids=["line3", "ring4", "ring2", "mesh3", "single"],
)
def test_topology_edges(n, topology, edges):
    assert topology_edges(n, topology) == edges


def test_unknown_topology():
    with pytest.raises(ValueError, match="star"):
        topology_edges(3, "star")


def test_network_without_p2p_starts_and_stops_every_node(tmp_path):
    net = Network(2, "line", tmp_path).start(connect=False)  # connect=True needs P2P
    try:
        assert len({n.rpc_port for n in net} | {n.p2p_port for n in net}) == 4
        assert [n.getblockcount() for n in net] == [0, 0]
        assert net.sync_blocks() == net[0].getbestblockhash()  # same genesis
        pids = [n.pid for n in net]
        with net:  # already running: __exit__ stops every node
            pass
        assert all(not n.running for n in net) and not any(pid_alive(p) for p in pids)
    finally:
        net.stop(check=False)


def test_split_and_join(make_network):
    net = make_network(3, "line")
    assert [n.getconnectioncount() for n in net] == [1, 2, 1]
    address = fallback_address()
    net[0].generatetoaddress(1, address)
    net.sync_all()
    net.split([0, 1], [2])
    assert [n.getconnectioncount() for n in net] == [1, 1, 0]
    left = net[0].generatetoaddress(2, address)[-1]
    right = net[2].generatetoaddress(3, address)[-1]  # more work
    assert net.sync_blocks([0, 1]) == left
    assert net[2].getbestblockhash() == right
    net.join()
    assert [n.getconnectioncount() for n in net] == [1, 2, 1]
    assert {n.getbestblockhash() for n in net} == {right}


# -- nothing is left behind --------------------------------------------------------------------

_DRIVER = textwrap.dedent(
    """
    import json, os, sys, time
    from coin.regtest.framework import Network
    net = Network(2, "line", sys.argv[1])
    net.start(connect=False)
    with open(sys.argv[2], "w") as f:
        json.dump([n.pid for n in net], f)
    mode = sys.argv[3]
    if mode == "exit":
        sys.exit(3)          # no stop(): atexit must clean up
    if mode == "raise":
        raise RuntimeError("the driver failed")
    time.sleep(600)          # wait to be signalled
    """
)


def _run_driver(tmp_path, mode, sig=None):
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER)
    pids_file = tmp_path / "pids.json"
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "net"), str(pids_file), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if sig is not None:
            wait_until(lambda: pids_file.exists() and pids_file.read_text(), 60, what="the driver's nodes")
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    pids = json.loads(pids_file.read_text())
    assert len(pids) == 2
    return proc.returncode, pids, err


@pytest.mark.parametrize(
    "mode, sig, code",
    [("exit", None, 3), ("raise", None, 1), ("wait", signal.SIGTERM, 128 + signal.SIGTERM), ("wait", signal.SIGKILL, -signal.SIGKILL)],
    ids=["exit-without-stop", "exception", "SIGTERM", "SIGKILL"],
)
def test_no_node_outlives_its_driver(tmp_path, mode, sig, code):
    rc, pids, err = _run_driver(tmp_path, mode, sig)
    assert rc == code, err
    # SIGKILL gives the driver no chance: the nodes' parent-death signal stops them instead
    wait_until(lambda: not any(pid_alive(p) for p in pids), 60, what="every node to exit")
    if sig is not signal.SIGKILL:
        for i in range(2):  # stopped cleanly (SIGTERM), not killed
            assert "Shutdown: done" in (tmp_path / "net" / f"node{i}" / "regtest" / "debug.log").read_text()


def test_fixture_stops_nodes_of_a_failing_test(tmp_path):
    test_file = tmp_path / "test_inner.py"
    pids_file = tmp_path / "pids.json"
    test_file.write_text(textwrap.dedent(
        f"""
        import json
        def test_fails(make_network, make_node):
            net = make_network(2, connect=False)
            extra = make_node()
            with open({str(pids_file)!r}, "w") as f:
                json.dump([n.pid for n in net] + [extra.pid], f)
            assert net[0].getblockcount() == 1, "deliberate failure"
        """
    ))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "coin.regtest.pytest_plugin", "-p", "no:cacheprovider",
                        f"--rootdir={tmp_path}", str(test_file)], capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "deliberate failure" in r.stdout
    pids = json.loads(pids_file.read_text())
    assert len(pids) == 3
    assert not any(pid_alive(p) for p in pids)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_whose_parent_died_before_the_death_signal_was_set_exits():
    """The parent-death signal only fires for a death AFTER prctl(); a parent killed
    between fork and prctl would leave coind running forever. The child checks that its
    parent is still the process that started it (here: a pid that is not its parent)."""
    import functools

    from coin.regtest import framework

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    orphan = subprocess.Popen(sleeper, preexec_fn=functools.partial(framework._die_with_parent, 1))
    try:
        assert orphan.wait(timeout=30) == 128 + signal.SIGTERM   # never ran the program
    finally:
        orphan.kill()
        orphan.wait()
    child = subprocess.Popen(sleeper, preexec_fn=functools.partial(framework._die_with_parent, os.getpid()))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=0.5)
    finally:
        child.kill()
        child.wait()
