"""Outermost ASGI layer: request ids, request kinds and counts, latency and injected faults."""

from __future__ import annotations

import asyncio
import json
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scalekit_langchain.testing._errors import error_body_bytes, new_request_id
from scalekit_langchain.testing._faults import Fault, FaultBoard

CONTROL_PREFIX = "/_emulator"


class StopSignal(Protocol):
    """Something that knows when the server is stopping (to release hung requests)."""

    @property
    def stopping(self) -> asyncio.Event:
        """Set once the emulator starts shutting down."""
        ...


def classify(method: str, path: str, body: bytes = b"") -> str:
    """Return the request kind used for counting and fault matching.

    Args:
        method: HTTP method.
        path: URL path.
        body: Request body (only read for MCP POSTs, to find the JSON-RPC method).

    Returns:
        A kind such as ``configs.list``, ``instances.auth_state``, ``connections.tokens`` or
        ``mcp.tools/call``;
        ``other`` for anything the emulator does not serve.
    """
    if path == "/oauth/token":
        return "oauth.token"
    if path == "/keys":
        return "keys"
    if path.startswith("/connect/"):
        return "auth.page"
    if path.startswith("/mcp/"):
        if method == "POST":
            return "mcp." + _jsonrpc_method(body)
        return "mcp." + method
    if path.startswith("/api/v1/mcp/connections/") and path.endswith("/tokens"):
        return "connections.tokens" if method == "POST" else "other"
    for resource in ("configs", "instances"):
        base = f"/api/v1/mcp/{resource}"
        if path == base or path.startswith(base + "/"):
            return _rest_kind(resource, method, path[len(base) :].strip("/"))
    return "other"


def _rest_kind(resource: str, method: str, rest: str) -> str:
    parts = rest.split("/") if rest else []
    if not parts:
        kind = {"GET": "list", "POST": "create" if resource == "configs" else "ensure"}
        return f"{resource}.{kind[method]}" if method in kind else "other"
    if len(parts) == 1:
        if method == "POST" and parts[0].endswith(":get_auth_state"):
            return "instances.auth_state"
        verbs = {"GET": "get", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
        return f"{resource}.{verbs[method]}" if method in verbs else "other"
    sub_resources = ("connected_accounts", "tokens")
    if resource == "configs" and len(parts) == 2 and method == "POST" and parts[1] in sub_resources:
        return f"configs.{parts[1]}"
    return "other"


def _jsonrpc_method(body: bytes) -> str:
    try:
        message = json.loads(body)
    except ValueError:
        return "invalid"
    if isinstance(message, list):
        message = message[0] if message else {}
    if not isinstance(message, dict):
        return "invalid"
    method = message.get("method")
    if isinstance(method, str):
        return method
    return "response" if "result" in message or "error" in message else "invalid"


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks: list[bytes] = []
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replaying(buffered: list[Message], receive: Receive) -> Receive:
    """Return a ``receive`` that first hands out already-read messages, then the real ones."""

    async def replay() -> Message:
        if buffered:
            return buffered.pop(0)
        return await receive()

    return replay


class EmulatorMiddleware:
    """Counts every request by kind and applies latency and queued faults before the app."""

    def __init__(self, app: ASGIApp, faults: FaultBoard, signal: StopSignal) -> None:
        self.app = app
        self.faults = faults
        self.signal = signal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send_with_id)
            return

        body = b""
        if scope["method"] == "POST" and path.startswith("/mcp/"):
            body, buffered = await _read_body(receive)
            receive = _replaying(buffered, receive)

        kind = classify(scope["method"], path, body)
        scope["state"]["kind"] = kind
        self.faults.record(kind)
        delay = self.faults.latency_for(kind)
        if delay > 0:
            await asyncio.sleep(delay)
        fault = self.faults.take_fault(kind)
        if fault is None:
            await self.app(scope, receive, send_with_id)
        elif fault.mode == "drop_after":
            await self._drop_after(scope, receive, send_with_id)
        else:
            await self._answer_fault(fault, rid, send_with_id)

    async def _drop_after(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, forward only the response head, then abort the connection."""

        async def swallow_body(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send(message)
            # Body messages are swallowed, so the response never completes; when the app
            # returns, uvicorn closes the connection mid-response.

        await self.app(scope, receive, swallow_body)

    async def _answer_fault(self, fault: Fault, rid: str, send: Send) -> None:
        status = 200
        headers: list[tuple[bytes, bytes]] = []
        if fault.mode == "hang":
            await self.signal.stopping.wait()
            status, content_type = 503, b"application/json"
            body = error_body_bytes(503, "emulator stopping", request_id=rid)
        elif fault.mode == "garbage":
            content_type, body = b"text/plain; charset=utf-8", b"upstream said: \x00 not json ~~~"
        elif fault.mode == "malformed_json":
            content_type, body = b"application/json", b'{"config": {"id": "cfg_1", "name": '
        elif fault.mode == "wrong_content_type":
            content_type = b"text/html; charset=utf-8"
            body = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"
        else:
            status, content_type = fault.status, b"application/json"
            body = error_body_bytes(status, _fault_message(status), request_id=rid)
            if fault.retry_after is not None:
                headers.append((b"retry-after", _retry_after(fault.retry_after).encode()))
        headers += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _retry_after(seconds: float) -> str:
    # Whole seconds as HTTP wants; a fractional value is sent as is so tests can stay fast.
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


def _fault_message(status: int) -> str:
    if status == 429:
        return "Too many requests: rate limit exceeded"
    if status >= 500:
        return "injected server error"
    return "injected error"
