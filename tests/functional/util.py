"""Process helpers for functional tests: start a real coind, talk HTTP to it, run coin-cli.

(A stop-gap until regtest/ provides the shared framework; only the RPC/process tests use it.)
"""

from __future__ import annotations

import base64
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from coin.rpc.auth import read_cookie
from coin.rpc.client import ConnectionFailed, RPCClient
from coin.rpc.errors import RPCError

__all__ = ["CoindProcess", "free_port", "run_cli", "wait_until"]

START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = START_TIMEOUT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def coind_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "coin.cli.coind", *args]


def cli_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "coin.cli.coin_cli", *args]


def run_cli(*args: str, input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run(cli_cmd(*args), input=input, capture_output=True, text=True, timeout=timeout)


class CoindProcess:
    """One ``coind -regtest`` process on free ports with its own datadir."""

    def __init__(self, datadir: Path, *extra_args: str, rpc_port: int | None = None) -> None:
        self.datadir = Path(datadir)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.rpc_port = rpc_port if rpc_port is not None else free_port()
        self.p2p_port = free_port()
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None

    @property
    def net_datadir(self) -> Path:
        return self.datadir / "regtest"

    @property
    def cookie_path(self) -> Path:
        return self.net_datadir / ".cookie"

    def base_args(self) -> list[str]:
        return ["-regtest", f"-datadir={self.datadir}", f"-rpcport={self.rpc_port}", f"-port={self.p2p_port}"]

    def start(self, wait: bool = True) -> CoindProcess:
        self.proc = subprocess.Popen(
            coind_cmd(*self.base_args(), *self.extra_args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if wait:
            self.wait_for_rpc()
        return self

    def wait_for_rpc(self) -> None:
        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"coind exited with {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                self.client().call("uptime")
                return True
            except ConnectionFailed:
                return False
            except RPCError as e:
                if e.code == -28:
                    return False
                raise

        wait_until(ready, what="coind RPC")

    def client(self, **kw: Any) -> RPCClient:
        if "password" not in kw:
            kw.setdefault("cookie_path", self.cookie_path)
        return RPCClient("127.0.0.1", self.rpc_port, timeout=30, **kw)

    def rpc(self, method: str, *args: Any, **named: Any) -> Any:
        return self.client().call(method, *args, **named)

    def auth_header(self) -> str:
        cookie = read_cookie(self.cookie_path)
        assert cookie is not None
        return "Basic " + base64.b64encode(cookie.encode()).decode()

    def http(self, body: bytes | str = b"", *, method: str = "POST", path: str = "/", auth: str | None = "cookie",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP request; returns (status, headers, body)."""
        hdrs = dict(headers or {})
        if auth == "cookie":
            hdrs["Authorization"] = self.auth_header()
        elif auth is not None:
            hdrs["Authorization"] = auth
        conn = http.client.HTTPConnection("127.0.0.1", self.rpc_port, timeout=30)
        try:
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=hdrs)
            r = conn.getresponse()
            return r.status, {k: v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def cli(self, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        return run_cli("-regtest", f"-datadir={self.datadir}", f"-rpcport={self.rpc_port}", *args, **kw)

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def stop(self) -> int:
        """Stop through the RPC (or kill if that fails); return the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            try:
                self.rpc("stop")
            except Exception:  # noqa: BLE001 - fall back to a signal
                self.signal(signal.SIGTERM)
        try:
            return self.wait_exit()
        finally:
            if self.proc.stderr:
                self.proc.stderr.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
