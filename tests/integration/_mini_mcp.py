"""A wire-level MCP server whose answers the tests script fault by fault.

It speaks just enough streamable-HTTP MCP (initialize, tools/list, tools/call, the GET stream,
DELETE) for the session tests, written against the wire rather than an SDK so that it runs
unchanged beside mcp 1.x and mcp 2.x. Serve it with :class:`tests.integration._net_support.Served`.

Why it is not the emulator (which the connection-reuse tests of ``test_session_wire`` now use):
it plays answers the emulator does not give, because Scalekit does not either and the emulator
imitates Scalekit: a JSON-RPC error (with ``data``, e.g. a URL elicitation) for one chosen
method of a live session; an HTTP status whose body is arbitrary text (one that echoes the
URL's secret and the token) or a JSON-RPC error; an SSE answer cut mid-message; a bearer
token checked against a set the test edits (to revoke a token mid-session); a record of each
``clientInfo``; and a side-effect tool whose runs it lists. Folding those in would add
behaviour to the emulator beyond a restructuring, so they stay here, in this one module.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TOOLS = [
    {
        "name": "echo",
        "description": "Echo the text back.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        "annotations": {"readOnlyHint": True},
    },
    {
        "name": "send",
        "description": "A tool with a side effect: counts how often it ran.",
        "inputSchema": {"type": "object", "properties": {"subject": {"type": "string"}}},
        "annotations": {"destructiveHint": True},
    },
]


@dataclass
class Fault:
    """One injected fault for the next matching request."""

    method: str
    status: int = 200
    rpc_error: tuple[int, str] | None = None
    retry_after: float | None = None
    mode: str = "status"  # status | rpc_error | cut | hang
    body: str | None = None
    rpc_data: Any = None  # the JSON-RPC error's ``data`` (mode rpc_error)


@dataclass
class MiniMcp:
    """The server's state; ``path`` is the secret part of its URL."""

    answer: str = "sse"  # how POST requests are answered: "sse" or "json"
    path: str = field(default_factory=lambda: "/mcp/" + secrets.token_urlsafe(24))
    tokens: set[str] | None = None  # when set, a bearer token from this set is required
    sessions: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    ran: list[str] = field(default_factory=list)
    client_info: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    deleted: bool = False
    _ends: dict[str, asyncio.Event] = field(default_factory=dict)

    def fail_next(self, method: str, status: int = 200, **kw: Any) -> None:
        self.faults.append(Fault(method, status, **kw))

    def drop_sessions(self) -> None:
        self.sessions.clear()
        for end in self._ends.values():
            end.set()

    def _take_fault(self, method: str) -> Fault | None:
        for i, fault in enumerate(self.faults):
            if fault.method == method:
                return self.faults.pop(i)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["path"] != self.path or self.deleted:
            await _plain(send, 404, b"not found")
            return
        if self.tokens is not None:
            auth = headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                self.counts[f"refused {scope['method']}"] += 1
                await _plain(send, 401, b"bad token", [(b"www-authenticate", b"Bearer")])
                return
        method = scope["method"]
        sid = headers.get("mcp-session-id")
        if method == "GET":
            await self._stream(sid, send)
        elif method == "DELETE":
            self.sessions.discard(sid or "")
            end = self._ends.pop(sid or "", None)
            if end is not None:
                end.set()
            await _plain(send, 200, b"")
        elif method == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            await self._post(json.loads(body), sid, send)
        else:
            await _plain(send, 405, b"")

    async def _stream(self, sid: str | None, send: Send) -> None:
        if sid not in self.sessions:
            await _plain(send, 404, b"")
            return
        end = self._ends.setdefault(sid, asyncio.Event())
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        try:
            await asyncio.wait_for(end.wait(), 60)
        except asyncio.TimeoutError:
            pass
        await send({"type": "http.response.body", "body": b""})

    async def _post(self, message: dict[str, Any], sid: str | None, send: Send) -> None:
        method = message.get("method", "")
        self.counts[method] += 1
        if "id" not in message:  # a notification (or a response to us)
            await _plain(send, 202, b"")
            return
        fault = self._take_fault(method)
        if fault is not None and fault.mode == "status":
            extra = [(b"retry-after", str(fault.retry_after).encode())] if fault.retry_after else []
            if fault.rpc_error is not None:
                code, text = fault.rpc_error
                error = {"jsonrpc": "2.0", "id": message["id"],
                         "error": {"code": code, "message": text}}
                await _plain(send, fault.status, json.dumps(error).encode(),
                             [(b"content-type", b"application/json"), *extra])
            else:
                await _plain(send, fault.status, (fault.body or "refused").encode(), extra)
            return
        if fault is not None and fault.mode == "hang":
            await asyncio.sleep(30)
            return
        if method == "initialize":
            sid = secrets.token_hex(16)
            self.sessions.add(sid)
            self.client_info.append(message["params"].get("clientInfo", {}))
            result: dict[str, Any] = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "mini-mcp", "version": "1"},
            }
            await self._answer(send, message["id"], result, sid)
            return
        if sid not in self.sessions:
            await _plain(send, 404, b"session not found")
            return
        if fault is not None and fault.mode == "rpc_error":
            assert fault.rpc_error is not None
            code, text = fault.rpc_error
            error: dict[str, Any] = {"code": code, "message": text}
            if fault.rpc_data is not None:
                error["data"] = fault.rpc_data
            await self._answer(send, message["id"], None, sid, error=error)
            return
        if method == "tools/list":
            await self._answer(send, message["id"], {"tools": TOOLS}, sid)
        elif method == "tools/call":
            params = message["params"]
            name, args = params["name"], params.get("arguments") or {}
            if name == "send":
                self.ran.append(str(args.get("subject", "")))
                result = {"content": [{"type": "text", "text": f"sent {args.get('subject')}"}]}
            elif name == "echo":
                result = {"content": [{"type": "text", "text": str(args.get("text", ""))}],
                          "structuredContent": {"echo": args.get("text")}}
            else:
                await self._answer(send, message["id"], None, sid,
                                   error={"code": -32602, "message": f"Unknown tool: {name}"})
                return
            if fault is not None and fault.mode == "cut":
                await self._cut(send, sid)
                return
            await self._answer(send, message["id"], result, sid)
        else:
            await self._answer(send, message["id"], None, sid,
                               error={"code": -32601, "message": "Method not found"})

    async def _answer(self, send: Send, rid: Any, result: Any, sid: str,
                      error: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
        payload.update({"error": error} if error is not None else {"result": result})
        data = json.dumps(payload).encode()
        base = [(b"mcp-session-id", sid.encode())]
        if self.answer == "json":
            await _plain(send, 200, data, [(b"content-type", b"application/json"), *base])
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), *base]})
        await send({"type": "http.response.body", "body": b"event: message\ndata: " + data
                    + b"\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _cut(self, send: Send, sid: str) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"),
                                (b"mcp-session-id", sid.encode())]})
        await send({"type": "http.response.body", "body": b"event: message\ndata: {\"jsonr",
                    "more_body": True})
        raise RuntimeError("cut the connection mid-answer")  # uvicorn drops the connection


async def _plain(send: Send, status: int, body: bytes,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
