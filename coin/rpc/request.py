"""JSON-RPC envelopes: parse a request body, run it, build the reply and HTTP status.

Behaviour is Bitcoin Core v28's (src/rpc/request.cpp, src/httprpc.cpp), see
``../shared/spec/rpc.md`` section 1:

* Legacy (JSON-RPC 1.0/1.1: no ``jsonrpc`` key, or ``"1.0"``) replies always hold
  ``result``, ``error`` and ``id`` (in that order; ``id`` omitted only when the request
  had none). HTTP status 200 on success; on error 500, except -32600 -> 400 and
  -32601 -> 404.
* ``"jsonrpc": "2.0"`` replies hold ``jsonrpc``, then ``result`` or ``error``, then
  ``id``; RPC errors are HTTP 200; a request without ``id`` is a notification: it runs
  and the reply is HTTP 204 with no body.
* Batches (a top-level array) answer HTTP 200 with one reply per non-notification
  element, in order; an all-notification non-empty batch is 204; ``[]`` is ``[]``.
* A body that is not JSON: -32700 ``Parse error``; a top-level value that is neither
  object nor array: -32700 ``Top-level object parse error`` (HTTP 500, ``id`` null).
* Malformed request objects: -32600 ``Invalid Request object``, ``Missing method``,
  ``Method must be a string``, ``Params must be an array or object``,
  ``jsonrpc field must be a string``, ``JSON-RPC version not supported``.

Entry point: :func:`handle_body` returning ``(http_status, body_bytes_or_None)``; the
body is compact JSON plus ``"\\n"``, as Core writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coin.rpc.errors import (
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_PARSE_ERROR,
    RPCError,
)
from coin.rpc.table import RPCContext, RPCTable
from coin.rpc.univalue import dumps, loads

__all__ = [
    "HTTP_BAD_REQUEST",
    "HTTP_INTERNAL_SERVER_ERROR",
    "HTTP_NOT_FOUND",
    "HTTP_NO_CONTENT",
    "HTTP_OK",
    "JSONRPCRequest",
    "NO_ID",
    "handle_body",
    "reply_obj",
]

HTTP_OK = 200
HTTP_NO_CONTENT = 204
HTTP_BAD_REQUEST = 400
HTTP_NOT_FOUND = 404
HTTP_INTERNAL_SERVER_ERROR = 500


class _NoId:
    def __repr__(self) -> str:
        return "NO_ID"


#: Marks a request without an ``id`` key (distinct from ``"id": null``).
NO_ID: Any = _NoId()


class JSONRPCRequest:
    """One parsed request object (Core's JSONRPCRequest)."""

    def __init__(self) -> None:
        self.id: Any = None  # Core's default: id present and null
        self.version = 1
        self.method = ""
        self.params: Any = []

    @property
    def is_notification(self) -> bool:
        return self.id is NO_ID and self.version == 2

    def parse(self, value: Any) -> None:
        """Fill from a decoded request object; raises RPCError(-32600, ...) as Core."""
        if not isinstance(value, dict):
            raise RPCError(RPC_INVALID_REQUEST, "Invalid Request object")
        self.id = value["id"] if "id" in value else NO_ID
        self.version = 1
        jsonrpc = value.get("jsonrpc")
        if jsonrpc is not None:
            if not isinstance(jsonrpc, str):
                raise RPCError(RPC_INVALID_REQUEST, "jsonrpc field must be a string")
            if jsonrpc == "1.0":
                self.version = 1
            elif jsonrpc == "2.0":
                self.version = 2
            else:
                raise RPCError(RPC_INVALID_REQUEST, "JSON-RPC version not supported")
        method = value.get("method")
        if method is None:
            raise RPCError(RPC_INVALID_REQUEST, "Missing method")
        if not isinstance(method, str):
            raise RPCError(RPC_INVALID_REQUEST, "Method must be a string")
        self.method = method
        params = value.get("params")
        if isinstance(params, list | dict):
            self.params = params
        elif params is None:
            self.params = []
        else:
            raise RPCError(RPC_INVALID_REQUEST, "Params must be an array or object")


def reply_obj(result: Any, error: dict[str, Any] | None, req_id: Any, version: int) -> dict[str, Any]:
    """Core's JSONRPCReplyObj: the reply object for one request."""
    reply: dict[str, Any] = {}
    if version == 2:
        reply["jsonrpc"] = "2.0"
    if error is None:
        reply["result"] = result
        if version == 1:
            reply["error"] = None
    else:
        if version == 1:
            reply["result"] = None
        reply["error"] = error
    if req_id is not NO_ID:
        reply["id"] = req_id
    return reply


def _error_status(code: int) -> int:
    if code == RPC_INVALID_REQUEST:
        return HTTP_BAD_REQUEST
    if code == RPC_METHOD_NOT_FOUND:
        return HTTP_NOT_FOUND
    return HTTP_INTERNAL_SERVER_ERROR


def _body(obj: Any) -> bytes:
    return (dumps(obj) + "\n").encode("utf-8")


async def _exec_one(req: JSONRPCRequest, table: RPCTable, make_ctx: Callable[[JSONRPCRequest], RPCContext]) -> dict[str, Any]:
    """Run one parsed request, catching RPC errors into the reply (Core's catch_errors=true)."""
    try:
        result = await table.execute(req.method, req.params, make_ctx(req))
    except RPCError as e:
        return reply_obj(None, e.to_obj(), req.id, req.version)
    return reply_obj(result, None, req.id, req.version)


async def handle_body(body: bytes, table: RPCTable, make_ctx: Callable[[JSONRPCRequest], RPCContext]) -> tuple[int, bytes | None]:
    """Process one HTTP request body; return (HTTP status, reply bytes or None for 204).

    ``make_ctx(req)`` builds the RPCContext for each request object.
    """
    try:
        value = loads(body)
    except (ValueError, RecursionError):
        err = RPCError(RPC_PARSE_ERROR, "Parse error")
        return HTTP_INTERNAL_SERVER_ERROR, _body(reply_obj(None, err.to_obj(), None, 1))

    if isinstance(value, dict):
        req = JSONRPCRequest()
        try:
            req.parse(value)
            if req.version == 2:
                reply = await _exec_one(req, table, make_ctx)
                if req.is_notification:
                    return HTTP_NO_CONTENT, None
                return HTTP_OK, _body(reply)
            result = await table.execute(req.method, req.params, make_ctx(req))
            return HTTP_OK, _body(reply_obj(result, None, req.id, req.version))
        except RPCError as e:
            return _error_status(e.code), _body(reply_obj(None, e.to_obj(), req.id, req.version))

    if isinstance(value, list):
        replies: list[Any] = []
        for element in value:
            req = JSONRPCRequest()
            try:
                req.parse(element)
            except RPCError as e:
                reply = reply_obj(None, e.to_obj(), req.id, req.version)
            else:
                reply = await _exec_one(req, table, make_ctx)
            if not req.is_notification:
                replies.append(reply)
        if not replies and value:
            return HTTP_NO_CONTENT, None
        return HTTP_OK, _body(replies)

    err = RPCError(RPC_PARSE_ERROR, "Top-level object parse error")
    return HTTP_INTERNAL_SERVER_ERROR, _body(reply_obj(None, err.to_obj(), None, 1))
