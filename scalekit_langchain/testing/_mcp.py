"""The emulator's MCP servers, built on the official ``mcp`` SDK (low-level server, stateful
streamable HTTP).

Two URL families are served by one low-level :class:`~mcp.server.lowlevel.Server` and one
:class:`~mcp.server.streamable_http_manager.StreamableHTTPSessionManager`:

* ``/mcp/v2/servers/<secret>``: an MCP instance. The secret path segment is the credential
  (a capability URL); no header is needed. Unknown or deleted instances answer 404.
* ``/mcp/v3/servers/<uuid>``: a config's virtual server. It needs
  ``Authorization: Bearer <session token>`` minted for exactly this URL; otherwise 401 with
  ``WWW-Authenticate: Bearer``. The user is the token's ``sub``.

The ASGI layer here resolves which instance or config (and user) a request is for and stores
it in the request scope; the tool handlers read it back through the low-level server's
``request_context.request``. It also binds each MCP session id to the URL (and, for virtual
servers, the user) that created it, so a session id is useless anywhere else (404).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import jsonschema  # type: ignore[import-untyped, unused-ignore]
from anyio.abc import TaskGroup
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from scalekit_langchain._version import __version__
from scalekit_langchain.testing._state import ACTIVE, EmulatorState
from scalekit_langchain.testing._tokens import InvalidSessionToken, SigningKey

TARGET_KEY = "scalekit_emulator.target"
AUTH_META_KEY = "scalekit/authorization_required"
SESSION_HEADER = "mcp-session-id"

_INSTANCE_RE = re.compile(r"^/mcp/v2/servers/([^/]+)/?$")
_CONFIG_RE = re.compile(r"^/mcp/v3/servers/([^/]+)/?$")


class _QuietSessionEnd(logging.Filter):
    """Drops the SDK's traceback for a GET stream that ends because its session was closed.

    ``mcp`` logs "Error in standalone SSE writer" with a ``ClosedResourceError`` whenever a
    client deletes (or we drop) a session while its GET stream is open; that is a normal end
    of a session, and the traceback would otherwise reach the console of every emulator user.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (
            record.getMessage() == "Error in standalone SSE writer"
            and isinstance(exc, anyio.ClosedResourceError)
        )


def install_log_filter() -> None:
    """Attach :class:`_QuietSessionEnd` to the SDK's streamable-HTTP logger (once)."""
    sdk_logger = logging.getLogger("mcp.server.streamable_http")
    if not any(isinstance(f, _QuietSessionEnd) for f in sdk_logger.filters):
        sdk_logger.addFilter(_QuietSessionEnd())


@dataclass(frozen=True)
class Target:
    """Whom an MCP request is for, as resolved from its URL (and bearer token).

    Attributes:
        config_id: The config whose tools are served.
        user: The user identifier the tools act for.
        binding: Sessions created with this binding are only usable with the same binding.
        instance_id: The instance, for instance URLs.
        read_only: Only read-only tools are listed and callable (``access_level=READ_ONLY``).
    """

    config_id: str
    user: str
    binding: str
    instance_id: str | None = None
    read_only: bool = False


def _text_error(text: str, meta: dict[str, Any] | None = None) -> types.CallToolResult:
    result = types.CallToolResult(content=[types.TextContent(type="text", text=text)], isError=True)
    if meta is not None:
        result.meta = meta
    return result


def build_server(state: EmulatorState) -> Server[Any, Any]:
    """Create the low-level MCP server whose tools act on the emulator's state.

    Args:
        state: The emulator state (configs, accounts, user data).

    Returns:
        A server with ``tools/list`` and ``tools/call`` handlers.
    """
    from scalekit_langchain.testing import _providers as providers

    server: Server[Any, Any] = Server(
        "scalekit-emulator",
        version=__version__,
        instructions="Local Scalekit emulator: demo Gmail, Google Calendar and Slack tools.",
    )

    def current_target() -> Target | None:
        request = server.request_context.request
        if isinstance(request, Request):
            target = request.scope.get(TARGET_KEY)
            if isinstance(target, Target):
                return target
        return None

    def exposed(target: Target) -> dict[str, tuple[providers.ProviderTool, str]]:
        """Map tool name -> (tool, connection name) for the target's config."""
        config = state.configs.get(target.config_id)
        if config is None:
            return {}
        out: dict[str, tuple[providers.ProviderTool, str]] = {}
        for name, conn in state.tool_names(config):
            tool = providers.PROVIDER_TOOLS.get(name)
            if tool is not None and (tool.read_only or not target.read_only):
                out.setdefault(name, (tool, conn.name))
        return out

    @server.list_tools()  # type: ignore[no-untyped-call, untyped-decorator]
    async def list_tools() -> list[types.Tool]:
        target = current_target()
        if target is None:
            return []
        return [
            types.Tool(
                name=tool.name,
                description=tool.description,
                inputSchema=tool.input_schema,
                annotations=types.ToolAnnotations(
                    readOnlyHint=tool.read_only, destructiveHint=not tool.read_only
                ),
            )
            for tool, _ in exposed(target).values()
        ]

    validators: dict[str, Any] = {}

    def argument_problem(tool: providers.ProviderTool, arguments: dict[str, Any]) -> str | None:
        # Same check and message as the SDK's own input validation, but with one compiled
        # validator per tool: ``jsonschema.validate`` re-checks the schema on every call,
        # which costs several milliseconds per tool call.
        validator = validators.get(tool.name)
        if validator is None:
            cls = jsonschema.validators.validator_for(tool.input_schema)
            validator = validators[tool.name] = cls(tool.input_schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
        return None if error is None else f"Input validation error: {error.message}"

    @server.call_tool(validate_input=False)  # type: ignore[untyped-decorator]
    async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        target = current_target()
        found = exposed(target).get(name) if target is not None else None
        if target is None or found is None:
            return _text_error(f"Unknown tool: {name!r} is not available on this MCP server.")
        tool, connection_name = found
        problem = argument_problem(tool, arguments)
        if problem is not None:
            return _text_error(problem)
        status = state.status(target.user, connection_name) or "PENDING_AUTH"
        if status != ACTIVE:
            conn = state.connection(connection_name)
            return _text_error(
                f"The connection {conn.name} ({conn.provider}) is not authorized for this user"
                f" (status {status}). Ask the user to authorize {conn.name} and try again.",
                {
                    AUTH_META_KEY: {
                        "connection_name": conn.name,
                        "provider": conn.provider.upper(),
                        "status": status,
                    }
                },
            )
        data = state.user_data(target.user)
        try:
            result = providers.call_tool(name, data, arguments)
        except providers.ToolArgumentError as exc:
            return _text_error(f"Invalid arguments for {name}: {exc}")
        except providers.ToolExecutionError as exc:
            return _text_error(f"{name} failed: {exc}")
        except KeyError:
            return _text_error(f"Unknown tool: {name!r}.")
        if target.instance_id is not None:
            state.touch_instance(target.instance_id)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=providers.render_text(tool.name, result))],
            structuredContent=result,
        )

    return server


class McpHost:
    """ASGI app for ``/mcp/...``: resolves targets, checks tokens, binds sessions to URLs.

    The session manager lives in the starlette lifespan (:meth:`lifespan`). Dropping all
    sessions replaces the manager with a fresh one and ends the old one's ``run()``, which
    terminates every session it held.
    """

    def __init__(self, state: EmulatorState, key: SigningKey) -> None:
        self.state = state
        self.key = key
        self.server = build_server(state)
        install_log_filter()
        self._manager: StreamableHTTPSessionManager | None = None
        self._done: anyio.Event | None = None
        self._tg: TaskGroup | None = None
        self._bindings: dict[str, str] = {}

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the session manager for as long as the server runs."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            await self._start_manager()
            try:
                yield
            finally:
                self.shutdown()
                self._tg = None

    async def _start_manager(self) -> None:
        assert self._tg is not None
        manager = StreamableHTTPSessionManager(self.server, stateless=False)
        done = anyio.Event()
        started = anyio.Event()

        async def run() -> None:
            async with manager.run():
                started.set()
                await done.wait()

        self._tg.start_soon(run)
        await started.wait()
        old = self._done
        self._manager, self._done = manager, done
        self._bindings.clear()
        if old is not None:
            old.set()

    async def drop_sessions(self) -> None:
        """Terminate every live MCP session; their ids answer 404 afterwards."""
        if self._tg is not None:
            await self._start_manager()

    def shutdown(self) -> None:
        """End the session manager (and every session); later requests get 503."""
        if self._done is not None:
            self._done.set()
        self._manager, self._done = None, None
        self._bindings.clear()

    def _resolve(self, scope: Scope) -> Target | tuple[int, str]:
        path: str = scope["path"]
        if match := _INSTANCE_RE.match(path):
            inst = self.state.instance_by_secret(match.group(1))
            if inst is None or inst.config_id not in self.state.configs:
                return 404, "MCP server not found"
            self.state.touch_instance(inst.id)
            return Target(inst.config_id, inst.user_identifier, f"i:{inst.id}", inst.id)
        if match := _CONFIG_RE.match(path):
            config = self.state.config_by_server_key(match.group(1))
            if config is None:
                return 404, "MCP server not found"
            auth = Request(scope).headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return 401, "missing bearer session token"
            try:
                claims = self.key.verify(
                    token.strip(), audience=self.state.server_url(config), clock=self.state.clock
                )
            except InvalidSessionToken as exc:
                return 401, f"invalid session token: {exc}"
            if claims.get("mcp_cfg") != config.id:
                return 401, "invalid session token: minted for another config"
            user = str(claims["sub"])
            read_only = claims.get("access_level") == "READ_ONLY"
            return Target(config.id, user, f"c:{config.id}:{user}:{read_only}", read_only=read_only)
        return 404, "MCP server not found"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request to an MCP URL."""
        resolved = self._resolve(scope)
        if isinstance(resolved, tuple):
            status, message = resolved
            await _jsonrpc_error(send, status, message, www_auth=status == 401)
            return
        manager = self._manager
        if manager is None:
            await _jsonrpc_error(send, 503, "MCP service is shutting down")
            return
        scope[TARGET_KEY] = resolved
        session_id = Request(scope).headers.get(SESSION_HEADER)
        if session_id is not None:
            if self._bindings.get(session_id) != resolved.binding:
                await _jsonrpc_error(send, 404, "Session not found")
                return
            await manager.handle_request(scope, receive, send)
            return

        bindings = self._bindings

        async def record_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", []):
                    if name.lower() == SESSION_HEADER.encode():
                        bindings[value.decode()] = resolved.binding
            await send(message)

        await manager.handle_request(scope, receive, record_session)


async def _jsonrpc_error(send: Send, status: int, message: str, *, www_auth: bool = False) -> None:
    body = types.JSONRPCError(
        jsonrpc="2.0", id="server-error", error=types.ErrorData(code=-32600, message=message)
    ).model_dump_json(by_alias=True, exclude_none=True)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if www_auth:
        headers.append((b"www-authenticate", b'Bearer error="invalid_token"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


__all__ = ["AUTH_META_KEY", "McpHost", "Target", "build_server"]
