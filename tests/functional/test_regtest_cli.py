"""``coin-regtest`` as a user runs it: ``up`` in a subprocess, coin-cli against each node,
``status`` and ``down`` from another process, Ctrl-C (SIGINT) stopping every node, and
the demo.
"""

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

from coin.regtest import cli
from coin.regtest.framework import pid_alive, wait_until
from coin.regtest.state import STATE_FILENAME


def regtest_cmd(*args):
    return [sys.executable, "-m", "coin.regtest", *args]


def run_regtest(*args, timeout=120):
    return subprocess.run(regtest_cmd(*args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class Up:
    """`coin-regtest up` running in the background; always ended (SIGKILL as a last resort)."""

    def __init__(self, directory, *args, env=None):
        self.dir = directory
        self.log = open(directory.parent / f"{directory.name}-up.out", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(regtest_cmd("up", "--dir", str(directory), *args), stdout=self.log,
                                     stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
                                     env=None if env is None else {**os.environ, **env})

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout=180):
        def ready():
            assert self.proc.poll() is None, f"up exited early:\n{self.output()}"
            path = self.dir / STATE_FILENAME
            return path.exists() and json.loads(path.read_text())["status"] == "running"

        wait_until(ready, timeout, what="coin-regtest up to be ready")
        return json.loads((self.dir / STATE_FILENAME).read_text())

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def up_factory(tmp_path):
    ups = []

    def factory(*args, name="net", env=None):
        u = Up(tmp_path / name, *args, env=env)
        ups.append(u)
        return u

    yield factory
    for u in ups:
        u.close()


SECRET = "not the default: s3cret passphrase"


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_up_cli_status_then_sigint_stops_everything(up_factory):
    up = up_factory("--nodes", "3", "--block-interval", "1", env={"COIN_WALLET_PASSPHRASE": SECRET})
    state = up.wait_ready()
    nodes = state["nodes"]
    assert len(nodes) == 3 and state["pid"] == up.proc.pid
    assert len({n["rpc_port"] for n in nodes} | {n["p2p_port"] for n in nodes}) == 6
    out = up.output()
    # private by default: DIR 0700, the state file 0600, a user's passphrase neither
    # stored nor printed (the wallet works with it: up funded it)
    assert _mode(up.dir) == 0o700 and _mode(up.dir / STATE_FILENAME) == 0o600
    assert SECRET not in (up.dir / STATE_FILENAME).read_text() and SECRET not in out
    st = run_regtest("status", "--dir", str(up.dir), "--json")
    assert SECRET not in st.stdout
    if state["wallet"] is not None:
        assert state["wallet"]["passphrase_default"] is False and "passphrase" not in state["wallet"]
        assert "COIN_WALLET_PASSPHRASE" in out
    for n in nodes:  # the table names every node's addresses, cookie and cli line
        assert n["p2p_address"] in out and n["rpc_url"] in out and n["cookie"] in out and n["cli"] in out

    # coin-cli, exactly as the table prints it, reaches each node
    for n in nodes:
        r = subprocess.run([*shlex.split(n["cli"]), "getblockchaininfo"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["chain"] == "regtest"
    r = subprocess.run([*shlex.split(nodes[0]["cli"]), "getblockcount"], capture_output=True, text=True, timeout=60)
    assert int(r.stdout) >= 101  # the funding blocks
    if state["wallet"] is not None:
        assert state["wallet"]["node"] == 0 and state["wallet"]["address"].startswith("bcrt1")

    # --block-interval: blocks keep coming on a rotating node
    heights = [n["height"] for n in json.loads(run_regtest("status", "--dir", str(up.dir), "--json").stdout)["nodes"]]
    wait_until(lambda: sum(n["height"] for n in json.loads(run_regtest("status", "--dir", str(up.dir), "--json").stdout)["nodes"])
               >= sum(heights) + 3, 60, what="blocks mined by --block-interval")

    st = run_regtest("status", "--dir", str(up.dir))
    assert st.returncode == 0, st.stderr
    assert st.stdout.count("running") >= 3

    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(timeout=120) == 0, up.output()
    assert "all nodes stopped." in up.output()
    assert not any(pid_alive(n["pid"]) for n in nodes)
    for n in nodes:  # clean shutdowns, not kills
        assert "Shutdown: done" in open(os.path.join(n["datadir"], "regtest", "debug.log")).read()
    assert not (up.dir / STATE_FILENAME).exists()
    st = run_regtest("status", "--dir", str(up.dir))
    assert st.returncode == 1 and "no coin-regtest network" in st.stderr


def test_down_from_another_process(up_factory):
    up = up_factory("--nodes", "2", "--topology", "ring")
    state = up.wait_ready()
    again = run_regtest("up", "--dir", str(up.dir))  # one network per directory
    assert again.returncode == 1 and "already running" in again.stderr
    r = run_regtest("down", "--dir", str(up.dir))
    assert r.returncode == 0, r.stderr
    assert up.proc.wait(timeout=60) == 0
    assert not pid_alive(state["pid"])
    assert not any(pid_alive(n["pid"]) for n in state["nodes"])
    r = run_regtest("down", "--dir", str(up.dir))
    assert r.returncode == 1 and "no coin-regtest network" in r.stderr


def test_down_stops_nodes_left_behind_by_a_killed_up(tmp_path):
    """`up` SIGKILLed: its nodes die with it (parent-death signal); `down` tidies the state."""
    up = Up(tmp_path / "net", "--nodes", "2")
    try:
        state = up.wait_ready()
        up.proc.kill()
        up.proc.wait()
        wait_until(lambda: not any(pid_alive(n["pid"]) for n in state["nodes"]), 60, what="the orphaned nodes to exit")
        assert (up.dir / STATE_FILENAME).exists()
        r = run_regtest("down", "--dir", str(up.dir))
        assert r.returncode == 0, r.stderr
        assert not (up.dir / STATE_FILENAME).exists()
    finally:
        up.close()


def test_up_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "precious.txt").write_text("not ours")
    r = run_regtest("up", "--dir", str(tmp_path))
    assert r.returncode == 1 and "not a coin-regtest directory" in r.stderr
    assert (tmp_path / "precious.txt").read_text() == "not ours"


def test_demo_confirms_the_payment_on_every_node(tmp_path):
    r = run_regtest("demo", "--dir", str(tmp_path / "demo"), timeout=600)
    assert "Traceback" not in r.stderr
    assert "all nodes stopped." in r.stdout
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the payment is confirmed on every node" in r.stdout
    for i in range(3):
        assert f"node{i}    height 102  confirmations 1" in r.stdout


def test_the_directory_is_taken_while_up_is_still_starting(up_factory):
    """A second `up` in the same DIR while the first is starting its nodes must refuse
    (it used to wipe the first one's node directories and start a second network
    there), and `down` must be able to stop a network that is not ready yet."""
    first = up_factory("--nodes", "1")
    wait_until(lambda: (first.dir / "node0").exists() or first.proc.poll() is not None, 60,
               what="the first up to create its node directory")
    again = run_regtest("up", "--dir", str(first.dir), "--nodes", "1", timeout=60)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"already running in {first.dir} (stop it with: coin-regtest down" in again.stderr, again.stderr
    assert first.proc.poll() is None, first.output()
    down = run_regtest("down", "--dir", str(first.dir))
    assert down.returncode == 0, down.stderr
    assert first.proc.wait(timeout=60) == 0, first.output()
    assert "all nodes stopped." in first.output()
    assert not (first.dir / STATE_FILENAME).exists()


# -- the default DIR (<tmp>/coin-regtest-<uid>) must be ours and private ------------------


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile.gettempdir() -> a fresh directory, so default_dir() lands in tmp_path;
    `up` in process gets a network that never starts a node."""
    base = tmp_path / "tmp"
    base.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    monkeypatch.setattr(cli, "Network", _FailingNetwork)
    monkeypatch.setattr(_FailingNetwork, "seen", {})
    return base


def _main_error(capsys, *argv):
    assert cli.main(list(argv)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("command", ["up", "status", "down"])
def test_default_dir_owned_by_someone_else_is_refused(private_tmp, monkeypatch, capsys, command):
    monkeypatch.setattr(os, "getuid", lambda real=os.getuid(): real + 1)
    d = cli.default_dir()
    d.mkdir(mode=0o700)  # owned by the real uid, which is now "someone else"
    err = _main_error(capsys, command)
    assert str(d) in err and "owned by" in err.replace(str(d), "DIR")
    assert list(d.iterdir()) == []


@pytest.mark.parametrize("command", ["up", "status", "down"])
def test_default_dir_writable_by_others_is_refused(private_tmp, capsys, command):
    d = cli.default_dir()
    d.mkdir()
    d.chmod(0o777)
    err = _main_error(capsys, command)
    assert str(d) in err and "writable" in err.replace(str(d), "DIR")
    assert list(d.iterdir()) == []


def test_default_dir_that_is_a_symlink_is_refused(private_tmp, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cli.default_dir().symlink_to(elsewhere)
    err = _main_error(capsys, "up")
    assert "symbolic link" in err
    assert list(elsewhere.iterdir()) == []


class _FailingNetwork:
    """Stands in for framework.Network: notes DIR and the state file as `up` left them
    before the first node would start, then fails."""

    seen: dict = {}

    def __init__(self, n, topology, directory):
        self.directory = directory

    def start(self, connect=True):
        state = self.directory / STATE_FILENAME
        _FailingNetwork.seen = {"dir": _mode(self.directory), "state": _mode(state),
                                "lock": _mode(self.directory / cli.LOCK_FILENAME),
                                "text": state.read_text()}
        raise RuntimeError("no nodes in this test")

    def stop(self, check=True):
        pass

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


@pytest.mark.parametrize("existing", [None, 0o755, 0o700], ids=["absent", "0755", "0700"])
def test_up_makes_the_default_dir_private(private_tmp, monkeypatch, capsys, existing):
    """A fresh default DIR is created 0700 (an own 0755 one from an older version is
    tightened); the state file is 0600 from the start, the lock file 0600."""
    old_umask = os.umask(0o022)
    try:
        d = cli.default_dir()
        if existing is not None:
            d.mkdir()
            d.chmod(existing)
        err = _main_error(capsys, "up", "--nodes", "1")
        assert "no nodes in this test" in err
    finally:
        os.umask(old_umask)
    seen = _FailingNetwork.seen
    assert (seen["dir"], seen["state"], seen["lock"]) == (0o700, 0o600, 0o600)
    assert json.loads(seen["text"])["status"] == "starting"
    assert _mode(d) == 0o700 and not (d / STATE_FILENAME).exists()


def test_up_creates_a_given_dir_private(tmp_path, monkeypatch, capsys):
    d = tmp_path / "a" / "net"
    monkeypatch.setattr(cli, "Network", _FailingNetwork)
    monkeypatch.setattr(_FailingNetwork, "seen", {})
    _main_error(capsys, "up", "--dir", str(d))
    assert _FailingNetwork.seen["dir"] == 0o700 and _FailingNetwork.seen["state"] == 0o600
