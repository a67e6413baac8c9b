"""The emulator's streamable-HTTP MCP endpoint: an ASGI app for every ``/mcp/...`` URL.

It is written against the MCP specification (streamable HTTP transport, JSON-RPC 2.0), not
against an ``mcp`` SDK, so it behaves the same beside mcp 1.x and mcp 2.x. Three URL families:

* ``/mcp/v2/servers/<secret>``: an MCP instance. The secret path segment is the credential
  (a capability URL); no header is needed. Unknown or deleted instances answer 404.
* ``/mcp/v3/servers/<uuid>``: a config's virtual server. It needs
  ``Authorization: Bearer <session token>`` minted for exactly this URL; otherwise 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"``. The user is the token's ``sub``.
* ``/mcp/v3/connections/<connection_name>``: a per-connection server, same bearer rule with a
  token minted at ``POST /api/v1/mcp/connections/<connection_name>/tokens``.

Transport rules:

* ``POST`` carries one JSON-RPC message (``content-type: application/json``, else 415; an
  ``Accept`` that allows neither JSON nor SSE is 406). ``initialize`` opens a session and the
  answer carries ``Mcp-Session-Id``; every later request needs that header (400 without it,
  404 when the id is unknown, was dropped, or belongs to another URL or user). A request is
  answered with HTTP 200: one ``event: message`` SSE event in answer mode ``sse`` (the default,
  as the SDK servers do), plain ``application/json`` in mode ``json`` (or when the client does
  not accept SSE). Notifications and responses get 202 with no body. A malformed body is 400
  with JSON-RPC ``-32700``/``-32600``; an unknown ``MCP-Protocol-Version`` header is 400.
* ``GET`` with a session id opens the session's server-to-client SSE stream (at most one per
  session, else 409). It stays open, silent, until the session ends or the server stops.
* ``DELETE`` with a session id ends the session (200); its id then answers 404.
* The 2026-07-28 era (when the ``era`` setting allows it; rules in
  :mod:`~scalekit_langchain.testing._mcp_eras`): a POST without a session id that is
  ``server/discover`` or names its version in ``_meta`` is answered on its own, with no session
  and no ``Mcp-Session-Id``; in era ``new`` ``initialize`` is ``-32022`` and ``GET`` is 405.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from scalekit_langchain.testing import _mcp_eras as eras
from scalekit_langchain.testing._jsonrpc import (
    ACCEPTED,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    SERVER_ERROR,
    Incoming,
    JsonRpcError,
    Reply,
    encode,
    error_response,
    parse_message,
    result_response,
)
from scalekit_langchain.testing._mcp_protocol import (
    CAPABILITIES,
    INSTRUCTIONS,
    PROTOCOL_VERSIONS,
    McpSettings,
    Target,
    ToolServer,
    initialize_result,
    negotiate,
    server_info,
)
from scalekit_langchain.testing._session_jwts import InvalidSessionToken, SigningKey
from scalekit_langchain.testing._state import EmulatorState

SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"

_INSTANCE_RE = re.compile(r"^/mcp/v2/servers/([^/]+)/?$")
_CONFIG_RE = re.compile(r"^/mcp/v3/servers/([^/]+)/?$")
_CONNECTION_RE = re.compile(r"^/mcp/v3/connections/([^/]+)/?$")


@dataclass
class _Session:
    """One MCP session: who opened it, its protocol version, and whether it has ended."""

    binding: str
    version: str
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    get_stream_open: bool = False


def _accepts(headers: Headers) -> tuple[bool, bool]:
    """Return whether the client accepts (JSON, SSE) according to its ``Accept`` header."""
    accept = headers.get("accept", "").lower()
    if not accept.strip() or "*/*" in accept:
        return True, True
    return "application/json" in accept, "text/event-stream" in accept


class McpHost:
    """ASGI app for ``/mcp/...``: resolves targets, checks tokens, keeps sessions.

    Sessions live in memory for the life of one server run; :meth:`drop_sessions` ends them
    all (their ids then answer 404) and :meth:`shutdown` also refuses new requests (503).
    """

    def __init__(self, state: EmulatorState, key: SigningKey, settings: McpSettings) -> None:
        self.state = state
        self.key = key
        self.settings = settings
        self.server = ToolServer(state, settings)
        self._sessions: dict[str, _Session] = {}
        self._stopping = False
        self._input_states: dict[str, str] = {}  # 2026-07-28 requestState -> tool
        self._task_board = eras.TaskBoard()

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Serve sessions for as long as the HTTP server runs; end them all at the end."""
        self._stopping = False
        try:
            yield
        finally:
            self.shutdown()

    async def drop_sessions(self) -> None:
        """End every live MCP session; their ids answer 404 afterwards."""
        self._end_all()

    def shutdown(self) -> None:
        """End every session (closing open GET streams); later requests get 503."""
        self._stopping = True
        self._end_all()

    def _end_all(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.ended.set()

    # resolving URLs -----------------------------------------------------------

    def _bearer_claims(self, headers: Headers, audience: str) -> dict[str, Any] | str:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing bearer session token"
        try:
            return self.key.verify(token.strip(), audience=audience, clock=self.state.clock)
        except InvalidSessionToken as exc:
            return f"invalid session token: {exc}"

    def _resolve(self, path: str, headers: Headers) -> Target | tuple[int, str]:
        state = self.state
        if match := _INSTANCE_RE.match(path):
            inst = state.instance_by_secret(match.group(1))
            if inst is None or inst.config_id not in state.configs:
                return 404, "MCP server not found"
            state.touch_instance(inst.id)
            return Target(inst.config_id, inst.user_identifier, f"i:{inst.id}", inst.id)
        if match := _CONFIG_RE.match(path):
            config = state.config_by_server_key(match.group(1))
            if config is None:
                return 404, "MCP server not found"
            claims = self._bearer_claims(headers, state.server_url(config))
            if isinstance(claims, str):
                return 401, claims
            if claims.get("mcp_cfg") != config.id:
                return 401, "invalid session token: minted for another config"
            user = str(claims["sub"])
            read_only = claims.get("access_level") == "READ_ONLY"
            binding = f"c:{config.id}:{user}:{read_only}"
            return Target(config.id, user, binding, read_only=read_only)
        if match := _CONNECTION_RE.match(path):
            conn = state.connections.get(match.group(1).lower())
            if conn is None or conn.name != match.group(1):
                return 404, "MCP server not found"
            claims = self._bearer_claims(headers, state.connection_server_url(conn))
            if isinstance(claims, str):
                return 401, claims
            if claims.get("conn_id") != conn.id:
                return 401, "invalid session token: minted for another server"
            user = str(claims["sub"])
            read_only = claims.get("access_level") == "READ_ONLY"
            binding = f"k:{conn.id}:{user}:{read_only}"
            return Target(None, user, binding, read_only=read_only, connection=conn.name)
        return 404, "MCP server not found"

    # ASGI ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request to an MCP URL."""
        headers = Headers(scope=scope)
        resolved = self._resolve(scope["path"], headers)
        if isinstance(resolved, tuple):
            status, message = resolved
            extra = [("www-authenticate", 'Bearer error="invalid_token"')] if status == 401 else []
            await _send_error(send, status, INVALID_REQUEST, message, extra)
            return
        if self._stopping:
            await _send_error(send, 503, SERVER_ERROR, "MCP service is shutting down")
            return
        method = scope["method"]
        if method == "POST":
            await self._post(receive, send, headers, resolved)
        elif method == "GET":
            await self._get(receive, send, headers, resolved)
        elif method == "DELETE":
            session_id, found = self._session(headers, resolved)
            if isinstance(found, Reply):
                await _send_reply(send, found, session_id)
                return
            self._sessions.pop(session_id, None)
            found.ended.set()
            await _send_json(send, 200, b"", [])
        else:
            await _send_error(
                send, 405, INVALID_REQUEST, "Method Not Allowed", [("allow", "GET, POST, DELETE")]
            )

    def _session(self, headers: Headers, target: Target) -> tuple[str, _Session | Reply]:
        """Find the request's session, or the error reply for a missing/unknown id."""
        session_id = headers.get(SESSION_HEADER)
        if not session_id:
            missing = error_response(None, INVALID_REQUEST, "Bad Request: Missing session ID")
            return "", Reply(400, missing)
        session = self._sessions.get(session_id)
        if session is None or session.binding != target.binding or self.settings.era == "new":
            return "", Reply(404, error_response(None, SERVER_ERROR, "Session not found"))
        return session_id, session

    async def _post(self, receive: Receive, send: Send, headers: Headers, target: Target) -> None:
        wants_json, wants_sse = _accepts(headers)
        if not (wants_json or wants_sse):
            await _send_error(send, 406, INVALID_REQUEST, "Not Acceptable: accept JSON or SSE")
            return
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            await _send_error(
                send, 415, INVALID_REQUEST, "Unsupported Media Type: use application/json"
            )
            return
        body = await _read_body(receive)
        try:
            message = parse_message(body)
        except JsonRpcError as exc:
            await _send_reply(send, Reply(400, exc.response()), "")
            return
        sse = wants_sse and (self.settings.answer_mode == "sse" or not wants_json)
        if message.kind == "request" and message.method == "initialize":
            session_id, reply = self._initialize(headers, message, target)
            await _send_reply(send, reply, session_id, sse=sse)
            return
        if not headers.get(SESSION_HEADER):
            sessionless = self._sessionless(message, target)
            if sessionless is not None:
                await _send_reply(send, sessionless, "", sse=sse)
                return
        session_id, found = self._session(headers, target)
        if isinstance(found, Reply):
            await _send_reply(send, found, session_id)
            return
        version = headers.get(VERSION_HEADER)
        if version is not None and version not in PROTOCOL_VERSIONS:
            reply = Reply(400, error_response(
                message.request_id, INVALID_REQUEST,
                f"Bad Request: unsupported protocol version {version!r}",
            ))
            await _send_reply(send, reply, session_id)
            return
        await _send_reply(send, self.server.handle(message, target), session_id, sse=sse)

    def _sessionless(self, message: Incoming, target: Target) -> Reply | None:
        """Answer a request sent without a session id the 2026-07-28 way, or ``None`` when it
        is a handshake-era request (which then needs a session)."""
        era = self.settings.era
        version = eras.request_version(message.params)
        discover = message.kind == "request" and message.method == "server/discover"
        if not (discover or version is not None or era == "new"):
            return None
        if message.kind != "request":
            return ACCEPTED  # the 2026-07-28 HTTP wire has no client notifications
        try:
            if era == "handshake":
                if not discover:
                    return None
                raise JsonRpcError(METHOD_NOT_FOUND, "Method not found: server/discover")
            supported = eras.supported_versions(era, PROTOCOL_VERSIONS)
            if version not in eras.NEW_ERA_VERSIONS:
                raise eras.unsupported(version, supported)
            if discover:
                result = eras.discover_result(supported, CAPABILITIES, server_info(), INSTRUCTIONS)
                return Reply(200, result_response(message.request_id, result))
        except JsonRpcError as exc:
            exc.request_id = message.request_id
            return Reply(200, exc.response())
        settings = self.settings
        if message.method == "tools/call" and settings.url_elicitation_tools:
            asked = eras.input_round(
                message.params, settings.url_elicitation_tools, self._input_states,
                self.state.env_url,
            )
            if asked is not None:
                return Reply(200, result_response(message.request_id, asked))
        if message.method in ("tasks/get", "tasks/result"):
            board = self._task_board
            try:
                getter = board.get if message.method == "tasks/get" else board.result
                answer = getter(message.params, target.binding)
            except JsonRpcError as exc:
                exc.request_id = message.request_id
                return Reply(200, exc.response())
            return Reply(200, result_response(message.request_id, answer))
        reply = self.server.handle(message, target)
        outcome = (reply.message or {}).get("result")
        name = message.params.get("name")
        if (
            message.method == "tools/call"
            and name in settings.task_tools
            and eras.wants_tasks(message.params)
            and isinstance(outcome, dict)
        ):
            handle = self._task_board.start(outcome, target.binding)
            return Reply(200, result_response(message.request_id, handle))
        eras.stamp_result(
            reply.message, message.method, settings.tools_ttl_ms, settings.tools_cache_scope
        )
        return reply

    def _initialize(
        self, headers: Headers, message: Incoming, target: Target
    ) -> tuple[str, Reply]:
        if self.settings.era == "new":
            supported = list(eras.NEW_ERA_VERSIONS)
            refusal = eras.unsupported(message.params.get("protocolVersion"), supported)
            refusal.request_id = message.request_id
            return "", Reply(200, refusal.response())
        if headers.get(SESSION_HEADER):
            error = error_response(
                message.request_id, INVALID_REQUEST, "Invalid Request: session already exists"
            )
            return "", Reply(400, error)
        try:
            version = negotiate(message.params)
        except JsonRpcError as exc:
            exc.request_id = message.request_id
            return "", Reply(200, exc.response())
        pinned = self.settings.protocol_version
        if pinned and version > pinned:  # revisions are dates: a profile caps negotiation
            version = pinned
        session_id = secrets.token_hex(16)
        self._sessions[session_id] = _Session(target.binding, version)
        result = initialize_result(version)
        return session_id, Reply(200, result_response(message.request_id, result))

    async def _get(self, receive: Receive, send: Send, headers: Headers, target: Target) -> None:
        if self.settings.era == "new":  # 2026-07-28 has no standing GET stream
            await _send_error(send, 405, INVALID_REQUEST, "Method Not Allowed", [("allow", "POST")])
            return
        if not _accepts(headers)[1]:
            await _send_error(
                send, 406, INVALID_REQUEST, "Not Acceptable: accept text/event-stream"
            )
            return
        session_id, found = self._session(headers, target)
        if isinstance(found, Reply):
            await _send_reply(send, found, session_id)
            return
        if found.get_stream_open:
            await _send_error(send, 409, INVALID_REQUEST, "Conflict: a GET stream is already open")
            return
        found.get_stream_open = True
        try:
            await send({
                "type": "http.response.start",
                "status": 200,
                "headers": _sse_headers(session_id),
            })
            disconnected = await _wait_end(receive, found.ended)
            if not disconnected:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            found.get_stream_open = False


async def _wait_end(receive: Receive, ended: asyncio.Event) -> bool:
    """Wait until the session ends or the client goes away; True if the client went away."""

    async def client_gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    gone = asyncio.ensure_future(client_gone())
    end = asyncio.ensure_future(ended.wait())
    try:
        await asyncio.wait({gone, end}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (gone, end):
            task.cancel()
        await asyncio.gather(gone, end, return_exceptions=True)
    return gone.done() and not gone.cancelled()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _sse_headers(session_id: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache, no-transform"),
    ]
    if session_id:
        headers.append((SESSION_HEADER.encode(), session_id.encode()))
    return headers


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[str, str]], session_id: str = ""
) -> None:
    raw = [(name.encode(), value.encode()) for name, value in headers]
    if body:
        raw.append((b"content-type", b"application/json"))
    raw.append((b"content-length", str(len(body)).encode()))
    if session_id:
        raw.append((SESSION_HEADER.encode(), session_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_error(
    send: Send, status: int, code: int, message: str, headers: list[tuple[str, str]] | None = None
) -> None:
    await _send_json(send, status, encode(error_response(None, code, message)), headers or [])


async def _send_reply(send: Send, reply: Reply, session_id: str, *, sse: bool = False) -> None:
    """Send a reply: 200 JSON-RPC answers as SSE or JSON, anything else as JSON."""
    if reply.message is None:
        await _send_json(send, reply.status, b"", list(reply.headers), session_id)
        return
    body = encode(reply.message)
    if not (sse and reply.status == 200):
        await _send_json(send, reply.status, body, list(reply.headers), session_id)
        return
    headers = _sse_headers(session_id)
    headers += [(name.encode(), value.encode()) for name, value in reply.headers]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    event = b"event: message\r\ndata: " + body + b"\r\n\r\n"
    await send({"type": "http.response.body", "body": event})


__all__ = ["SESSION_HEADER", "VERSION_HEADER", "McpHost"]
