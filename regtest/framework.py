"""TestNode and Network: real ``coind -regtest`` processes for tests, the demo and ``coin-regtest``.

After Bitcoin Core's ``test/functional/test_framework`` (test_node.py, util.py):

* :class:`TestNode` owns one coind process (``sys.executable -m coin.cli.coind -regtest
  -datadir=... -port=... -rpcport=...`` on free loopback ports; ``chain="main"`` for
  mainnet tests), its datadir, and an :class:`RPCProxy` (``node.getblockcount()``,
  ``node.rpc.getblockcount()`` or ``node.rpc("getblockcount")``) that
  retries on -28 (warm-up) and, until the node first answered, on connection refused.
  ``start()``, ``stop()`` (the ``stop`` RPC, then SIGTERM, then SIGKILL after a
  timeout), ``kill()`` (SIGKILL, for crash tests), ``restart(extra_args)``,
  ``assert_debug_log(expected_msgs)``, ``wait_until(pred)``, ``cli(*args)`` (coin-cli).
* :class:`Network` is N TestNodes wired in a topology (line, ring, mesh) through the
  ``addnode ... onetry`` RPC, with ``sync_blocks`` / ``sync_mempools`` / ``sync_all``,
  ``split(*groups)`` / ``join()`` (``disconnectnode``) and ``set_network_active``.

No process is ever left behind: every started process is in a registry that an
``atexit`` hook empties (SIGTERM, then SIGKILL), SIGTERM/SIGHUP in the parent become
``SystemExit`` (so ``finally`` blocks and ``atexit`` run) when the parent had no handler
of its own, Network and TestNode are context managers, and on Linux each coind gets
``PR_SET_PDEATHSIG`` = SIGTERM, so even a SIGKILLed parent takes its nodes with it.
Processes are started from the calling thread only (the death signal follows the
thread that forked).

Errors: :class:`NodeStartError` when a node exits or does not answer while starting
(its stderr is in the message); :class:`AssertionError` from ``wait_until``,
``assert_debug_log`` and the sync helpers on timeout, naming what was awaited;
:class:`coin.rpc.errors.RPCError` from RPC calls, as the node answered.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import functools
import http.client
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from coin.rpc.auth import read_cookie
from coin.rpc.client import ConnectionFailed, RPCClient
from coin.rpc.errors import RPCError

__all__ = [
    "DEFAULT_RPC_TIMEOUT",
    "DEFAULT_START_TIMEOUT",
    "DEFAULT_STOP_TIMEOUT",
    "TOPOLOGIES",
    "Network",
    "NodeStartError",
    "RPCProxy",
    "TestNode",
    "cli_command",
    "cleanup_all",
    "coind_command",
    "free_port",
    "install_exit_handlers",
    "live_pids",
    "pid_alive",
    "run_cli",
    "topology_edges",
    "wait_until",
]

DEFAULT_START_TIMEOUT = 60.0
DEFAULT_STOP_TIMEOUT = 60.0
DEFAULT_RPC_TIMEOUT = 60.0
RPC_IN_WARMUP = -28
TOPOLOGIES = ("line", "ring", "mesh")
LOCALHOST = "127.0.0.1"

_PR_SET_PDEATHSIG = 1


class NodeStartError(RuntimeError):
    """A node exited, or did not answer, while starting."""


# -- small helpers -------------------------------------------------------------------


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (held open together so the kernel cannot repeat one)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOCALHOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, *, interval: float = 0.05, what: str | None = None) -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned); AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            name = what or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout:g}s waiting for {name}")
        time.sleep(interval)


# `-P`: don't put the working directory first on sys.path. Run from a checkout, it would
# make the source tree's `coin/` shadow the installed package (which alone has the
# compiled miner and `coin.wallet` / `coin.regtest`); an editable install still maps
# `coin` to the checkout through its own finder.
PYTHON = (sys.executable, "-P")


def coind_command(*args: str) -> list[str]:
    """The command line that starts coind with this interpreter."""
    return [*PYTHON, "-m", "coin.cli.coind", *args]


def cli_command(*args: str) -> list[str]:
    """The command line that runs coin-cli with this interpreter."""
    return [*PYTHON, "-m", "coin.cli.coin_cli", *args]


def run_cli(*args: str, input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run coin-cli with ``args``; returns the completed process (text)."""
    return subprocess.run(cli_command(*args), input=input, capture_output=True, text=True, timeout=timeout)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` names a process that has not exited (zombies count as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _die_with_parent(parent_pid: int) -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask for SIGTERM when the parent dies; if it already died (between fork and
    prctl: the signal would never come) or is not `parent_pid`, exit now, with the
    status a SIGTERMed shell child has (the parent's Python signal handlers are still
    installed in this forked child, so no signal is sent to ourselves)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(128 + signal.SIGTERM)


# -- the registry: nothing is left behind ---------------------------------------------

_LIVE: dict[int, TestNode] = {}
_LIVE_LOCK = threading.Lock()
_HANDLERS_INSTALLED = False


def live_pids() -> list[int]:
    """The pids of every coind this process started and has not yet seen exit."""
    with _LIVE_LOCK:
        return [pid for pid, node in _LIVE.items() if node.running]


def cleanup_all(timeout: float = 10.0) -> None:
    """SIGTERM every node still running, wait up to ``timeout``, then SIGKILL the rest."""
    with _LIVE_LOCK:
        nodes = list(_LIVE.values())
    for node in nodes:
        if node.running:
            with contextlib.suppress(OSError):
                node.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    for node in nodes:
        proc = node.process
        if proc is None:
            continue
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        node._forget()


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def install_exit_handlers() -> None:
    """Turn SIGTERM / SIGHUP into SystemExit (so cleanup runs) where no handler is set.

    Called by the first :meth:`TestNode.start`; only from the main thread, and only for
    signals still at their default action (pytest's and the caller's handlers stay).
    """
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)
    _HANDLERS_INSTALLED = True


atexit.register(cleanup_all)


# -- RPC -----------------------------------------------------------------------------


class RPCProxy:
    """``proxy.method(*args, **named)`` over :class:`RPCClient`, with the start-up retries.

    Retries, until ``timeout`` seconds have passed: error -28 (the node is warming up),
    always; :class:`ConnectionFailed`, only while ``starting()`` is true (before the
    node first answered). Gives up at once when ``alive()`` turns false.
    """

    def __init__(
        self,
        client: RPCClient,
        *,
        timeout: float = DEFAULT_START_TIMEOUT,
        starting: Callable[[], bool] = lambda: False,
        alive: Callable[[], bool] = lambda: True,
        on_success: Callable[[], None] = lambda: None,
        interval: float = 0.05,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._starting = starting
        self._alive = alive
        self._on_success = on_success
        self._interval = interval

    @property
    def client(self) -> RPCClient:
        return self._client

    def call(self, method: str, *args: Any, **named: Any) -> Any:
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                result = self._client.call(method, *args, **named)
            except RPCError as e:
                if e.code != RPC_IN_WARMUP or time.monotonic() > deadline or not self._alive():
                    raise
            except ConnectionFailed:
                if not self._starting() or time.monotonic() > deadline or not self._alive():
                    raise
            else:
                self._on_success()
                return result
            time.sleep(self._interval)

    def __call__(self, method: str, *args: Any, **named: Any) -> Any:
        """``proxy("getblock", h, 2)``: the same as ``proxy.getblock(h, 2)``."""
        return self.call(method, *args, **named)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **named: Any) -> Any:
            return self.call(name, *args, **named)

        method.__name__ = name
        return method


# -- one node --------------------------------------------------------------------------


class TestNode:
    """One ``coind -regtest`` process with its datadir and RPC proxy (see the module doc)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        index: int,
        datadir: str | os.PathLike[str],
        *,
        extra_args: Sequence[str] = (),
        rpc_port: int | None = None,
        p2p_port: int | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        rpc_timeout: float = DEFAULT_RPC_TIMEOUT,
        die_with_parent: bool = True,
        chain: str = "regtest",
    ) -> None:
        self.index = index
        self.chain = chain
        self.datadir = Path(datadir)
        self.extra_args = list(extra_args)
        if rpc_port is None or p2p_port is None:
            ports = _free_ports(2)
            rpc_port = rpc_port if rpc_port is not None else ports[0]
            p2p_port = p2p_port if p2p_port is not None else ports[1]
        self.rpc_port = rpc_port
        self.p2p_port = p2p_port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.rpc_timeout = rpc_timeout
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None
        self.rpc_connected = False
        self._stop_requested = False
        self._stdout: Any = None
        self._stderr: Any = None
        self.rpc = RPCProxy(
            self.client(),
            timeout=start_timeout,
            starting=lambda: self.running and not self.rpc_connected,
            alive=lambda: self.running,
            on_success=self._mark_connected,
        )

    def __repr__(self) -> str:
        state = f"pid={self.process.pid}" if self.running else "stopped"
        return f"TestNode({self.index}, rpc={self.rpc_port}, p2p={self.p2p_port}, {state})"

    # -- paths and addresses -----------------------------------------------------

    @property
    def net_datadir(self) -> Path:
        return self.datadir if self.chain == "main" else self.datadir / self.chain

    @property
    def cookie_path(self) -> Path:
        return self.net_datadir / ".cookie"

    @property
    def debug_log_path(self) -> Path:
        return self.net_datadir / "debug.log"

    @property
    def stderr_path(self) -> Path:
        return self.datadir / "stderr.txt"

    @property
    def stdout_path(self) -> Path:
        return self.datadir / "stdout.txt"

    @property
    def p2p_address(self) -> str:
        """``host:port`` as peers name this node (``addnode``)."""
        return f"{LOCALHOST}:{self.p2p_port}"

    @property
    def rpc_url(self) -> str:
        return f"http://{LOCALHOST}:{self.rpc_port}/"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _chain_arg(self) -> str:
        return "-regtest" if self.chain == "regtest" else f"-chain={self.chain}"

    def base_args(self) -> list[str]:
        return [self._chain_arg(), f"-datadir={self.datadir}", f"-rpcport={self.rpc_port}", f"-port={self.p2p_port}"]

    def cli_args(self) -> list[str]:
        """coin-cli's flags that reach this node."""
        return [self._chain_arg(), f"-datadir={self.datadir}", f"-rpcport={self.rpc_port}"]

    def client(self, **kw: Any) -> RPCClient:
        """A plain RPC client for this node (cookie auth unless a password is given)."""
        if "password" not in kw:
            kw.setdefault("cookie_path", self.cookie_path)
        kw.setdefault("timeout", self.rpc_timeout)
        return RPCClient(LOCALHOST, self.rpc_port, **kw)

    # -- lifecycle -------------------------------------------------------------------

    def start(self, extra_args: Sequence[str] | None = None, *, wait: bool = True) -> TestNode:
        """Start coind (``extra_args`` replace the constructor's for this run); wait for RPC."""
        if self.running:
            raise RuntimeError(f"node {self.index} is already running")
        install_exit_handlers()
        self._close_files()
        self.datadir.mkdir(parents=True, exist_ok=True)
        args = self.extra_args if extra_args is None else list(extra_args)
        self._stdout = open(self.stdout_path, "ab")  # noqa: SIM115 - closed in _forget
        self._stderr = open(self.stderr_path, "w+b")  # noqa: SIM115 - closed in _forget
        self.rpc_connected = False
        self._stop_requested = False
        self.process = subprocess.Popen(
            coind_command(*self.base_args(), *args),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            start_new_session=True,  # a terminal's Ctrl-C reaches the driver, which stops us
            preexec_fn=(functools.partial(_die_with_parent, os.getpid())
                        if self.die_with_parent and sys.platform == "linux" else None),
        )
        with _LIVE_LOCK:
            _LIVE[self.process.pid] = self
        if wait:
            self.wait_for_rpc_connection()
        return self

    def _mark_connected(self) -> None:
        self.rpc_connected = True

    def read_stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_rpc_connection(self, timeout: float | None = None) -> None:
        """Wait until the node answers an RPC call (past warm-up); NodeStartError if it exits."""
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        client = self.client(timeout=10)
        while True:
            if not self.running:
                code = self.process.returncode if self.process is not None else None
                err = self.read_stderr().strip()
                self._forget()
                raise NodeStartError(f"node {self.index} exited with code {code} while starting" + (f": {err}" if err else ""))
            try:
                client.call("getrpcinfo")
                self.rpc_connected = True
                return
            except ConnectionFailed:
                pass
            except RPCError as e:
                if e.code != RPC_IN_WARMUP:
                    raise
            except Exception:  # noqa: BLE001 - e.g. the cookie not written yet: keep waiting
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise NodeStartError(f"node {self.index} did not answer RPC within {self.start_timeout:g}s")
            time.sleep(0.05)

    def wait_exit(self, timeout: float | None = None) -> int:
        """Wait for the process to exit; return its code (TimeoutExpired if it does not)."""
        assert self.process is not None, "node was never started"
        code = self.process.wait(timeout=self.stop_timeout if timeout is None else timeout)
        return code

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None, "node was never started"
        self.process.send_signal(sig)

    def request_stop(self) -> None:
        """Ask the node to shut down (``stop`` RPC; SIGTERM if that fails) without waiting.

        Asks once per run. When the RPC fails the node may already be shutting down
        (its RPC server goes first), so it gets two seconds to exit before the signal.
        """
        if self._stop_requested or not self.running:
            return
        self._stop_requested = True
        try:
            self.client(timeout=10).call("stop")
            return
        except Exception:  # noqa: BLE001 - unreachable or warming up: use the signal
            pass
        assert self.process is not None
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float | None = None, *, expected_code: int | None = 0) -> int | None:
        """Stop cleanly: the ``stop`` RPC (SIGTERM if that fails), wait; SIGKILL after ``timeout``.

        Returns the exit code (None if the node was never started). Raises
        AssertionError if the code is not ``expected_code`` (pass None to accept any)
        or the node had to be killed.
        """
        if self.process is None:
            return None
        timeout = self.stop_timeout if timeout is None else timeout
        killed = False
        if self.running:
            self.request_stop()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                killed = True
        code = self.process.returncode
        self._forget()
        if killed:
            raise AssertionError(f"node {self.index} did not stop within {timeout:g}s and was killed")
        if expected_code is not None and code != expected_code:
            raise AssertionError(f"node {self.index} exited with code {code}, expected {expected_code}: {self.read_stderr().strip()}")
        return code

    def kill(self) -> None:
        """SIGKILL the process (a crash) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._forget()

    def restart(self, extra_args: Sequence[str] | None = None, *, wait: bool = True) -> TestNode:
        """Stop (if running) and start again on the same datadir and ports."""
        if self.running:
            self.stop()
        return self.start(extra_args, wait=wait)

    def _close_files(self) -> None:
        for f in (self._stdout, self._stderr):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()
        self._stdout = self._stderr = None

    def _forget(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            with _LIVE_LOCK:
                if _LIVE.get(self.process.pid) is self:
                    del _LIVE[self.process.pid]
            self._close_files()
            self.rpc_connected = False

    def __enter__(self) -> TestNode:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.running:
            try:
                self.stop(expected_code=None)
            except AssertionError:
                self.kill()
        else:
            self._forget()

    # -- calls -----------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or "rpc" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.rpc, name)

    def cli(self, *args: str, input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run coin-cli against this node; returns the completed process (text)."""
        return run_cli(*self.cli_args(), *args, input=input, timeout=timeout)

    def auth_header(self) -> str:
        cookie = read_cookie(self.cookie_path)
        if cookie is None:
            raise AssertionError(f"no cookie at {self.cookie_path}")
        return "Basic " + base64.b64encode(cookie.encode()).decode()

    def http(
        self,
        body: bytes | str = b"",
        *,
        method: str = "POST",
        path: str = "/",
        auth: str | None = "cookie",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP request to the RPC port; returns (status, headers, body)."""
        hdrs = dict(headers or {})
        if auth == "cookie":
            hdrs["Authorization"] = self.auth_header()
        elif auth is not None:
            hdrs["Authorization"] = auth
        conn = http.client.HTTPConnection(LOCALHOST, self.rpc_port, timeout=self.rpc_timeout)
        try:
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=hdrs)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def has_rpc(self, method: str) -> bool:
        """True if the node lists ``method`` in ``help`` (an optional subsystem is there)."""
        return any(line.split(" ", 1)[0] == method for line in self.help().splitlines())

    # -- waiting and logs ------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 60.0, *, what: str | None = None) -> Any:
        """:func:`wait_until`, failing early if this node exits meanwhile."""

        def check() -> Any:
            if not self.running:
                raise AssertionError(f"node {self.index} exited while waiting for {what or 'a condition'}")
            return predicate()

        return wait_until(check, timeout, what=what or getattr(predicate, "__name__", None))

    def debug_log_text(self) -> str:
        try:
            return self.debug_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @contextlib.contextmanager
    def assert_debug_log(self, expected_msgs: Iterable[str], unexpected_msgs: Iterable[str] = (), timeout: float = 5.0) -> Iterator[None]:
        """Assert that the block's duration writes every ``expected_msgs`` to debug.log.

        Only the bytes appended inside the ``with`` block count; they are polled for up
        to ``timeout`` seconds after it. Any of ``unexpected_msgs`` there fails at once.
        """
        expected, unexpected = list(expected_msgs), list(unexpected_msgs)
        path = self.debug_log_path
        start = path.stat().st_size if path.exists() else 0
        yield
        deadline = time.monotonic() + timeout
        while True:
            text = ""
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(start if path.stat().st_size >= start else 0)  # rotated: read the new file
                    text = f.read().decode("utf-8", "replace")
            for msg in unexpected:
                if msg in text:
                    raise AssertionError(f"unexpected message {msg!r} found in debug.log of node {self.index}:\n{text}")
            missing = [m for m in expected if m not in text]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"expected messages {missing!r} not found in debug.log of node {self.index}:\n{text}")
            time.sleep(0.05)


# -- a network ---------------------------------------------------------------------------


def topology_edges(n: int, topology: str) -> list[tuple[int, int]]:
    """The (a, b) pairs to connect: line 0-1-2..., ring (line closed), mesh (every pair)."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {topology!r} (one of {', '.join(TOPOLOGIES)})")
    if topology == "mesh":
        return list(itertools.combinations(range(n), 2))
    edges = [(i, i + 1) for i in range(n - 1)]
    if topology == "ring" and n > 2:
        edges.append((n - 1, 0))
    return edges


def _peer_to(a: TestNode, b: TestNode) -> dict[str, Any] | None:
    """a's getpeerinfo entry for its connection to b's P2P address, if any."""
    for peer in a.getpeerinfo():
        if peer.get("addr") == b.p2p_address:
            return peer
    return None


class Network:
    """N nodes under ``basedir`` (``node0``, ``node1``, ...), connected as ``topology``.

    ``Network(3, "line", basedir)`` creates the nodes; :meth:`start` starts them all,
    waits for RPC and (``connect=True``) connects the topology's edges. Use it as a
    context manager: ``__exit__`` stops every node whatever happened.
    ``extra_args`` is one list for every node, or a list of lists (one per node).
    """

    def __init__(
        self,
        n: int = 3,
        topology: str = "line",
        basedir: str | os.PathLike[str] | None = None,
        *,
        extra_args: Sequence[str] | Sequence[Sequence[str]] = (),
        start_timeout: float = DEFAULT_START_TIMEOUT,
        die_with_parent: bool = True,
    ) -> None:
        if n < 1:
            raise ValueError("a network needs at least one node")
        self.edges = topology_edges(n, topology)
        self.topology = topology
        self._own_basedir = basedir is None
        self.basedir = Path(tempfile.mkdtemp(prefix="coin-regtest-")) if basedir is None else Path(basedir)
        per_node: list[list[str]]
        if extra_args and not isinstance(extra_args[0], str):
            per_node = [list(a) for a in extra_args]  # type: ignore[arg-type]
            if len(per_node) != n:
                raise ValueError("extra_args per node must have one list per node")
        else:
            per_node = [list(extra_args)] * n  # type: ignore[arg-type]
        ports = _free_ports(2 * n)
        self.nodes = [
            TestNode(
                i,
                self.basedir / f"node{i}",
                extra_args=per_node[i],
                rpc_port=ports[2 * i],
                p2p_port=ports[2 * i + 1],
                start_timeout=start_timeout,
                die_with_parent=die_with_parent,
            )
            for i in range(n)
        ]
        self._cut: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, i: int) -> TestNode:
        return self.nodes[i]

    def __iter__(self) -> Iterator[TestNode]:
        return iter(self.nodes)

    # -- lifecycle -------------------------------------------------------------------

    def start(self, *, connect: bool = True) -> Network:
        """Start every node (processes first, then wait for each), then connect the edges."""
        try:
            for node in self.nodes:
                if not node.running:
                    node.start(wait=False)
            for node in self.nodes:
                node.wait_for_rpc_connection()
            if connect:
                self.connect_all()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def stop(self, *, check: bool = True) -> None:
        """Stop every node (``stop`` RPC to all first, so they shut down in parallel)."""
        for node in self.nodes:
            node.request_stop()
        errors = []
        for node in self.nodes:
            try:
                node.stop(expected_code=0 if check else None)
            except AssertionError as e:
                errors.append(str(e))
            finally:
                node.kill()  # only acts if stop() left it running
        if errors:
            raise AssertionError("; ".join(errors))

    def cleanup(self) -> None:
        """Remove the base directory if this Network created it (a temporary one)."""
        if self._own_basedir:
            shutil.rmtree(self.basedir, ignore_errors=True)

    def __enter__(self) -> Network:
        if not all(n.running for n in self.nodes):
            self.start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.stop(check=exc_type is None)

    # -- topology ----------------------------------------------------------------------

    def connect(self, a: int, b: int, timeout: float = 30.0) -> None:
        """Node a connects to node b (``addnode <b> onetry``); wait until both see the peer."""
        na, nb = self.nodes[a], self.nodes[b]
        before_b = len(nb.getpeerinfo())
        na.addnode(nb.p2p_address, "onetry")

        def connected() -> bool:
            peer = _peer_to(na, nb)
            if peer is None or not peer.get("version"):
                return False
            bind = peer.get("addrbind")
            theirs = nb.getpeerinfo()
            if bind:
                return any(p.get("addr") == bind and p.get("version") for p in theirs)
            return len(theirs) > before_b

        wait_until(connected, timeout, what=f"a connection from node {a} to node {b}")

    def disconnect(self, a: int, b: int, timeout: float = 30.0) -> None:
        """Drop the connection between a and b (``disconnectnode`` on the side that opened
        it); wait until neither lists the other.
        """
        na, nb = self.nodes[a], self.nodes[b]
        binds: list[tuple[TestNode, str]] = []  # (the accepting node, the opener's local address)
        for x, y in ((na, nb), (nb, na)):
            peer = _peer_to(x, y)
            if peer is not None:
                if peer.get("addrbind"):
                    binds.append((y, peer["addrbind"]))
                with contextlib.suppress(RPCError):
                    x.disconnectnode("", peer["id"])

        def gone() -> bool:
            if _peer_to(na, nb) is not None or _peer_to(nb, na) is not None:
                return False
            return not any(p.get("addr") == bind for y, bind in binds for p in y.getpeerinfo())

        wait_until(gone, timeout, what=f"nodes {a} and {b} to disconnect")

    def connect_all(self) -> None:
        for a, b in self.edges:
            self.connect(a, b)

    def split(self, *groups: Iterable[int]) -> None:
        """Cut every topology edge between different groups (e.g. ``split([0, 1], [2])``)."""
        where: dict[int, int] = {}
        for g, members in enumerate(groups):
            for i in members:
                where[i] = g
        for a, b in self.edges:
            if (a, b) in self._cut:
                continue
            if where.get(a, -1) != where.get(b, -2):
                self.disconnect(a, b)
                self._cut.append((a, b))

    def join(self, *, sync: bool = True) -> None:
        """Reconnect every edge that :meth:`split` cut; then ``sync_all`` unless ``sync=False``."""
        cut, self._cut = self._cut, []
        for a, b in cut:
            self.connect(a, b)
        if sync:
            self.sync_all()

    def set_network_active(self, i: int, active: bool) -> None:
        """Turn all of node i's networking off or on (``setnetworkactive``)."""
        self.nodes[i].setnetworkactive(active)

    # -- synchronisation -----------------------------------------------------------------

    def _pick(self, nodes: Iterable[TestNode | int] | None) -> list[TestNode]:
        if nodes is None:
            return list(self.nodes)
        return [self.nodes[n] if isinstance(n, int) else n for n in nodes]

    def sync_blocks(self, nodes: Iterable[TestNode | int] | None = None, timeout: float = 60.0) -> str:
        """Wait until every node has the same best block; returns its hash."""
        group = self._pick(nodes)
        seen: list[str] = []

        def same() -> bool:
            seen[:] = [n.getbestblockhash() for n in group]
            return len(set(seen)) == 1

        try:
            wait_until(same, timeout, what="blocks to sync")
        except AssertionError:
            raise AssertionError(f"blocks did not sync within {timeout:g}s: best hashes {seen}") from None
        return seen[0]

    def sync_mempools(self, nodes: Iterable[TestNode | int] | None = None, timeout: float = 60.0) -> set[str]:
        """Wait until every node's mempool holds the same txids; returns them."""
        group = self._pick(nodes)
        seen: list[set[str]] = []

        def same() -> bool:
            seen[:] = [set(n.getrawmempool()) for n in group]
            return all(s == seen[0] for s in seen)

        try:
            wait_until(same, timeout, what="mempools to sync")
        except AssertionError:
            raise AssertionError(f"mempools did not sync within {timeout:g}s: {[sorted(s) for s in seen]}") from None
        return seen[0]

    def sync_all(self, nodes: Iterable[TestNode | int] | None = None, timeout: float = 60.0) -> None:
        self.sync_blocks(nodes, timeout)
        self.sync_mempools(nodes, timeout)
