"""A small JSON-RPC client over the stdlib (http.client): coin-cli, tests, the wallet.

``RPCClient(host, port, user=..., password=...)`` or ``RPCClient(host, port,
cookie_path=...)`` (the cookie is re-read on every call, so a restarted node's new
cookie is picked up), or :meth:`RPCClient.from_config` (bitcoin-cli's rules:
``-rpcconnect``, ``-rpcport``, ``-rpcuser``/``-rpcpassword``, else the cookie in the
network datadir). ``client.call("getblockcount")``, ``client.call("getblock", h, 2)``,
``client.call("getblock", blockhash=h, verbosity=2)``, or ``client.getblockcount()``.

Errors, with bitcoin-cli's texts:

* :class:`ConnectionFailed` -- nothing answered: ``Could not connect to the server
  127.0.0.1:18443 (error code 1 - "EOF reached")`` plus the hint lines;
* :class:`RPCClientError` -- an HTTP-level failure: ``Authorization failed: Incorrect
  rpcuser or rpcpassword``, ``Could not locate RPC credentials. ...``, ``Server
  response: ...`` (503), ``server returned HTTP error N``, ``no response from server``,
  ``couldn't parse reply from server``;
* :class:`coin.rpc.errors.RPCError` -- the node answered with an error object
  (``call`` only; ``post`` returns the reply object as is).

Amounts come back as :class:`decimal.Decimal` (or, with ``raw_numbers=True``, as
:class:`coin.rpc.univalue.RawNumber` text). Stdlib only, so importing it is fast.
"""

from __future__ import annotations

import base64
import http.client
import itertools
from pathlib import Path
from typing import Any

from coin.config import Config
from coin.rpc.auth import read_cookie
from coin.rpc.errors import RPCError
from coin.rpc.univalue import dumps, loads

__all__ = ["ConnectionFailed", "RPCClient", "RPCClientError"]

_HINT = (
    "\n\nMake sure the coind server is running and that you are connecting to the correct RPC port.\n"
    'Use "coin-cli -help" for more info.'
)


class RPCClientError(Exception):
    """An HTTP-level failure talking to the node (message as bitcoin-cli's)."""


class ConnectionFailed(RPCClientError):
    """The node could not be reached (Core's CConnectionFailed)."""


class RPCClient:
    """A JSON-RPC client for one node (see the module doc)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 18443,
        *,
        user: str | None = None,
        password: str | None = None,
        cookie_path: Path | None = None,
        timeout: float | None = 900.0,
        wallet: str | None = None,
        conf_path: Path | None = None,
        raw_numbers: bool = False,
        hint: str = _HINT,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.cookie_path = cookie_path
        self.timeout = timeout
        self.wallet = wallet
        self.conf_path = conf_path
        self.raw_numbers = raw_numbers
        self.hint = hint
        self._ids = itertools.count(1)

    @classmethod
    def from_config(cls, config: Config, **kwargs: Any) -> RPCClient:
        """bitcoin-cli's connection rules: ``-rpcconnect[:port]``, ``-rpcport``, credentials."""
        port = config.network.rpc_port
        host = config.get("rpcconnect", "127.0.0.1") or "127.0.0.1"
        if host.startswith("["):
            end = host.find("]")
            if end > 0:
                rest = host[end + 1 :]
                host, port = host[1:end], int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else port
        elif host.count(":") == 1:
            h, _, p = host.partition(":")
            if p.isdigit():
                host, port = h, int(p)
        port = config.get_int("rpcport", port)
        password = config.get("rpcpassword", "") or ""
        timeout_s = config.get_int("rpcclienttimeout", 900) if "rpcclienttimeout" in config.table else 900
        kwargs.setdefault("timeout", float(timeout_s) if timeout_s > 0 else None)
        if "rpcwallet" in config.table:
            kwargs.setdefault("wallet", config.get("rpcwallet"))
        return cls(
            host,
            port,
            user=(config.get("rpcuser", "") or "") if password else None,
            password=password or None,
            cookie_path=None if password else config.get_path("rpccookiefile", ".cookie"),
            conf_path=config.conf_path or (config.datadir / "coin.conf"),
            **kwargs,
        )

    # -- transport ---------------------------------------------------------------

    def _credentials(self) -> tuple[str, bool]:
        """(user:password, found) -- found is False when cookie auth found no cookie."""
        if self.password is not None:
            return f"{self.user or ''}:{self.password}", True
        if self.cookie_path is not None:
            cookie = read_cookie(self.cookie_path)
            if cookie is not None:
                return cookie, True
        return ":", False

    def post(self, request: Any) -> Any:
        """Send one request object (or a batch list) and return the parsed reply."""
        user_pass, found = self._credentials()
        body = (dumps(request) + "\n").encode("utf-8")
        path = "/"
        if self.wallet is not None:
            from urllib.parse import quote

            path = "/wallet/" + quote(self.wallet, safe="")
        headers = {
            "Host": self.host,
            "Connection": "close",
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(user_pass.encode("utf-8")).decode("ascii"),
        }
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                status = response.status
                data = response.read()
            except TimeoutError:
                raise ConnectionFailed(self._connect_message(0, "timeout reached")) from None
            except (OSError, http.client.HTTPException):
                raise ConnectionFailed(self._connect_message(1, "EOF reached")) from None
        finally:
            conn.close()
        if status == 401:
            if not found:
                raise RPCClientError(
                    "Could not locate RPC credentials. No authentication cookie could be found, and RPC password is not set.  "
                    f"See -rpcpassword and -stdinrpcpass.  Configuration file: ({self.conf_path})"
                )
            raise RPCClientError("Authorization failed: Incorrect rpcuser or rpcpassword")
        if status == 503:
            raise RPCClientError(f"Server response: {data.decode('utf-8', 'replace')}")
        if status >= 400 and status not in (400, 404, 500):
            raise RPCClientError(f"server returned HTTP error {status}")
        if not data:
            raise RPCClientError("no response from server")
        try:
            return loads(data, raw_numbers=self.raw_numbers)
        except ValueError:
            raise RPCClientError("couldn't parse reply from server") from None

    def _connect_message(self, code: int, text: str) -> str:
        return f'Could not connect to the server {self.host}:{self.port} (error code {code} - "{text}")' + self.hint

    # -- calls -------------------------------------------------------------------

    def request_obj(self, method: str, params: Any) -> dict[str, Any]:
        """A legacy (1.1) request object, as bitcoin-cli sends."""
        return {"method": method, "params": params, "id": next(self._ids)}

    def call_reply(self, method: str, params: Any = None) -> dict[str, Any]:
        """The reply object for one call (``result``, ``error``, ``id``)."""
        reply = self.post(self.request_obj(method, [] if params is None else params))
        if not isinstance(reply, dict) or "result" not in reply and "error" not in reply:
            raise RPCClientError("expected reply to have result, error and id properties")
        return reply

    def call(self, method: str, *args: Any, **named: Any) -> Any:
        """Call and return the result; raises RPCError for an error reply."""
        if args and named:
            params: Any = dict(named)
            params["args"] = list(args)
        elif named:
            params = dict(named)
        else:
            params = list(args)
        reply = self.call_reply(method, params)
        error = reply.get("error")
        if error is not None:
            if isinstance(error, dict):
                raise RPCError(int(error.get("code", -1)), str(error.get("message", "")))
            raise RPCError(-1, str(error))
        return reply.get("result")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **named: Any) -> Any:
            return self.call(name, *args, **named)

        method.__name__ = name
        return method
