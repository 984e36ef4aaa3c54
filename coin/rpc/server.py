"""The JSON-RPC HTTP server (aiohttp), as Bitcoin Core's httpserver.cpp + httprpc.cpp.

``RPCServer(config, table, node=node)``; ``await start()`` writes the cookie, binds
and serves; ``await stop()`` stops serving (in-flight calls finish and their replies
are sent) and removes the cookie. Warm-up: ``set_warmup(status)`` /
``finish_warmup()`` (every call answers -28 with ``status`` meanwhile).

Per HTTP request, in Core's order: client address not allowed -> 403 (empty body);
path other than ``/`` (and ``/wallet/<name>`` when ``wallet_endpoint``) -> 404 (empty
body); more calls in flight than ``-rpcthreads + -rpcworkqueue`` -> 503 ``Work queue
depth exceeded``; a method other than POST -> 405 ``JSONRPC server handles only POST
requests``; no ``Authorization`` header -> 401 with ``WWW-Authenticate: Basic
realm="jsonrpc"`` and no body; wrong credentials -> the same 401 after 250 ms; then the
body is handled by :func:`coin.rpc.request.handle_body` and answered with
``Content-Type: application/json`` (exactly) and compact JSON plus ``"\\n"``.

Binding: ``127.0.0.1`` and ``::1`` on ``-rpcport`` unless BOTH ``-rpcallowip`` and
``-rpcbind`` are given (then every ``-rpcbind=addr[:port]``); the allow-list is always
``127.0.0.0/8`` and ``::1`` plus every ``-rpcallowip`` (``1.2.3.4``, ``1.2.3.0/24`` or
``1.2.3.0/255.255.255.0``). Start-up errors (no endpoint could be bound, an invalid
``-rpcallowip``, ``-rpcauth``) raise :class:`coin.config.ConfigError`.

``GET /metrics`` (issue 8) answers the node's figures in Prometheus' text format
(:mod:`coin.rpc.metrics`) behind the same Basic auth; other methods there get 405.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from coin.config import Config, ConfigError
from coin.rpc.auth import RPCAuth
from coin.rpc.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from coin.rpc.metrics import NodeMetrics  # /metrics (issue 8)
from coin.rpc.request import JSONRPCRequest, handle_body
from coin.rpc.table import RPCContext, RPCTable

__all__ = ["MAX_REQUEST_SIZE", "RPCServer", "parse_allowed_subnets", "split_host_port"]

MAX_REQUEST_SIZE = 0x02000000  # Core's MAX_SIZE for an HTTP request body (32 MiB)
_AUTH_FAIL_DELAY = 0.25

_log = logging.getLogger("coin")
_http_log = logging.getLogger("coin.http")
_rpc_log = logging.getLogger("coin.rpc")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """Core's SplitHostPort: ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"Invalid host:port {text}")
        host = text[1:end]
        rest = text[end + 1 :]
        if rest.startswith(":"):
            return host, _port(rest[1:], text)
        return host, default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port, text)
    return text, default_port


def _port(text: str, whole: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ConfigError(f"Invalid port specified in {whole}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"Invalid port specified in {whole}")
    return port


def parse_allowed_subnets(values: list[str]) -> list[_Network]:
    """The allow-list: loopback plus every -rpcallowip; ConfigError on a bad entry."""
    nets: list[_Network] = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    for value in values:
        try:
            nets.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"Invalid -rpcallowip subnet specification: {value}. Valid values are a single IP (e.g. 1.2.3.4), "
                "a network/netmask (e.g. 1.2.3.4/255.255.255.0) or a network/CIDR (e.g. 1.2.3.4/24)."
            ) from None
    return nets


class RPCServer:
    """The node's JSON-RPC endpoint (see the module doc)."""

    def __init__(
        self,
        config: Config,
        table: RPCTable,
        *,
        node: Any = None,
        auth: RPCAuth | None = None,
        wallet_endpoint: bool = False,
    ) -> None:
        self.config = config
        self.table = table
        self.node = node
        self.auth = auth if auth is not None else RPCAuth.from_config(config)
        self.wallet_endpoint = wallet_endpoint
        self.allowed = parse_allowed_subnets(config.get_list("rpcallowip"))
        self.threads = max(1, config.get_int("rpcthreads", 16))
        self.queue_depth = max(1, config.get_int("rpcworkqueue", 64))
        self.timeout = max(1, config.get_int("rpcservertimeout", 30))
        self.bound: list[tuple[str, int]] = []
        self._runner: web.AppRunner | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._inflight = 0
        # -- /metrics (issue 8): Prometheus text, same auth; see coin.rpc.metrics --
        self.metrics = NodeMetrics(node, known_method=lambda name: table.get(name) is not None)

    # -- warm-up -------------------------------------------------------------

    def set_warmup(self, status: str) -> None:
        self.table.set_warmup(status)

    def finish_warmup(self) -> None:
        self.table.finish_warmup()

    # -- lifecycle -------------------------------------------------------------

    def endpoints(self) -> list[tuple[str, int]]:
        """Core's HTTPBindAddresses."""
        port = self.config.rpc_port
        allow = self.config.get_list("rpcallowip")
        binds = self.config.get_list("rpcbind")
        if not (allow and binds):
            if allow:
                _log.warning("option -rpcallowip was specified without -rpcbind; this doesn't usually make sense")
            if binds:
                _log.warning("option -rpcbind was ignored because -rpcallowip was not specified, refusing to allow everyone to connect")
            return [("::1", port), ("127.0.0.1", port)]
        return [split_host_port(b, port) for b in binds]

    async def start(self) -> None:
        """Write the cookie, bind every endpoint and serve. ConfigError if none binds."""
        endpoints = self.endpoints()
        cookie = self.auth.write_cookie(self.config.get("rpccookieperms", "owner") or "owner")
        if cookie is not None:
            _log.info("Generated RPC authentication cookie %s", cookie)
        elif not self.auth.credentials:
            _log.warning("No RPC credentials configured (-norpccookiefile without -rpcpassword or -rpcauth): every call will be refused")
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="rpc")
        self.table.executor = self._executor
        app = web.Application(client_max_size=MAX_REQUEST_SIZE)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=self.timeout, shutdown_timeout=10.0)
        await self._runner.setup()
        for host, port in endpoints:
            _log.info("Binding RPC on address %s port %d", host, port)
            site = web.TCPSite(self._runner, host or None, port, reuse_address=True)
            try:
                await site.start()
            except OSError as e:
                _log.info("Binding RPC on address %s port %d failed. (%s)", host, port, e.strerror or e)
                continue
            if host in ("", "0.0.0.0", "::"):
                _log.warning("the RPC server is not safe to expose to untrusted networks such as the public internet")
            self.bound.append((host, port))
        if not self.bound:
            await self.stop()
            raise ConfigError("Unable to start HTTP server. See debug log for details.")

    async def stop(self) -> None:
        """Stop serving (in-flight replies are sent), then remove the cookie."""
        if self._runner is not None:
            _http_log.debug("Stopping HTTP server")
            await self._runner.cleanup()
            self._runner = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self.auth.remove_cookie()
        self.bound = []

    # -- requests --------------------------------------------------------------

    def _client_allowed(self, remote: str | None) -> bool:
        if remote is None:
            return False
        try:
            addr = ipaddress.ip_address(remote.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == net.version and addr in net for net in self.allowed)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        remote = request.remote
        if not self._client_allowed(remote):
            _http_log.debug("HTTP request from %s rejected: Client network is not allowed RPC access", remote)
            return web.Response(status=403)
        _http_log.debug("Received a %s request for %s from %s", request.method, request.path, remote)
        path = request.path
        if path == "/metrics":  # issue 8: Prometheus scrape, behind the same auth
            return await self._handle_metrics(request, remote or "")
        if not (path == "/" or (self.wallet_endpoint and path.startswith("/wallet/"))):
            return web.Response(status=404)
        if self._inflight >= self.threads + self.queue_depth:
            _http_log.debug("WARNING: request rejected because http work queue depth exceeded, it can be increased with the -rpcworkqueue= setting")
            return web.Response(status=503, text="Work queue depth exceeded")
        self._inflight += 1
        try:
            return await self._handle_jsonrpc(request, remote or "")
        finally:
            self._inflight -= 1

    async def _handle_metrics(self, request: web.BaseRequest, remote: str) -> web.StreamResponse:
        """GET /metrics: 405 for other methods, 401 as JSON-RPC without valid credentials."""
        if request.method != "GET":
            return web.Response(status=405, text="/metrics handles only GET requests")
        header = request.headers.get("Authorization")
        if header is None or self.auth.check(header) is None:
            if header is not None:
                _log.info("ThreadRPCServer incorrect password attempt from %s", remote)
                await asyncio.sleep(_AUTH_FAIL_DELAY)
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
        return web.Response(status=200, body=self.metrics.render().encode(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def _handle_jsonrpc(self, request: web.BaseRequest, remote: str) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405, text="JSONRPC server handles only POST requests")
        header = request.headers.get("Authorization")
        unauthorized = web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
        if header is None:
            return unauthorized
        user = self.auth.check(header)
        if user is None:
            _log.info("ThreadRPCServer incorrect password attempt from %s", remote)
            await asyncio.sleep(_AUTH_FAIL_DELAY)
            return unauthorized
        body = await request.read()

        def make_ctx(req: JSONRPCRequest) -> RPCContext:
            _rpc_log.debug("ThreadRPCServer method=%s user=%s", req.method, user)
            self.metrics.rpc_call(req.method)
            return RPCContext(node=self.node, table=self.table, user=user, peer=remote, json_version=req.version)

        status, reply = await handle_body(body, self.table, make_ctx)
        if reply is None:
            return web.Response(status=status)
        return web.Response(status=status, body=reply, headers={"Content-Type": "application/json"})
