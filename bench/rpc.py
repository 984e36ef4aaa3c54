"""`rpc.*`: the JSON-RPC server's request rate.

`rpc.getblockcount`: requests per second that one client gets over one keep-alive HTTP
connection from a real `coind -regtest` (cookie auth, JSON-RPC 1.1 envelope, Core's
reply shape). Baseline: a bare aiohttp server in its own process answering every POST
with a constant JSON-RPC reply: what the HTTP stack alone costs, so the ratio is the
share of the bare rate our RPC layer keeps (target >= 0.7). Both servers run as
separate processes and are driven by the same client loop, interleaved.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import Measure, benchmark, best_rates

_BARE_SERVER = r"""
import sys
from aiohttp import web
BODY = b'{"result":0,"error":null,"id":1}\n'
async def handle(request):
    await request.read()
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_post("/", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

_REQUEST = b'{"version":"1.1","method":"getblockcount","params":[],"id":1}'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, auth: str | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = _post(http.client.HTTPConnection("127.0.0.1", port, timeout=5), auth)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer")


def _post(conn: http.client.HTTPConnection, auth: str | None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    conn.request("POST", "/", body=_REQUEST, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _client_job(port: int, auth: str | None, n: int):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def job() -> None:
        for _ in range(n):
            status, _ = _post(conn, auth)
            if status != 200:
                raise RuntimeError(f"HTTP {status}")

    return job, n


@benchmark("rpc.getblockcount")
def getblockcount() -> Measure:
    with tempfile.TemporaryDirectory() as tmp:
        coind_port, bare_port = _free_port(), _free_port()
        coind = subprocess.Popen(
            [sys.executable, "-P", "-m", "coin.cli.coind", "-regtest", f"-datadir={tmp}",
             f"-rpcport={coind_port}", f"-port={_free_port()}", "-printtoconsole=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bare = subprocess.Popen([sys.executable, "-c", _BARE_SERVER, str(bare_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            cookie_path = Path(tmp) / "regtest" / ".cookie"
            deadline = time.monotonic() + 60
            while not cookie_path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            auth = "Basic " + base64.b64encode(cookie_path.read_bytes()).decode()
            _wait_for(coind_port, auth)
            _wait_for(bare_port, None)
            n = 50 if os.environ.get("BENCH_QUICK") else 400
            ours, base = best_rates(_client_job(coind_port, auth, n), _client_job(bare_port, None, n))
        finally:
            for proc in (coind, bare):
                proc.terminate()
            for proc in (coind, bare):
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return Measure(ours, "req/s", base, "bare aiohttp handler",
                   extra={"note": "one client, one keep-alive connection, JSON-RPC 1.1"})
