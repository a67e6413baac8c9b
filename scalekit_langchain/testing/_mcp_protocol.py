"""The MCP methods the emulator's servers answer, independent of HTTP (no I/O, no ``mcp`` SDK).

=============================  ===============================================================
method                         answer
=============================  ===============================================================
``initialize``                 ``protocolVersion`` (the client's when supported, else the
                               newest), ``capabilities: {"tools": {"listChanged": false}}``,
                               ``serverInfo``, ``instructions``
``ping``                       ``{}``
``tools/list``                 the config's tools, ``nextCursor`` when paged
                               (``tools_page_size``); a bad cursor is ``-32602``
``tools/call``                 the tool's result, an ``isError`` result for bad arguments, a
                               failed operation or an unknown tool, or a refusal
                               (:mod:`~scalekit_langchain.testing._refusals`) when the tool's
                               connection is not ACTIVE for the user
notifications, responses       nothing (HTTP 202)
anything else                  ``-32601`` Method not found
=============================  ===============================================================

Supported protocol revisions: 2024-11-05, 2025-03-26, 2025-06-18 and 2025-11-25 (the handshake
era), and 2026-07-28 when the era setting allows it (``server/discover`` and the sessionless
rules: :mod:`~scalekit_langchain.testing._mcp_eras`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import jsonschema  # type: ignore[import-untyped, unused-ignore]

from scalekit_langchain._version import __version__
from scalekit_langchain.testing import _providers as providers
from scalekit_langchain.testing._accounts import ACTIVE, PENDING_AUTH, Connection
from scalekit_langchain.testing._jsonrpc import (
    ACCEPTED,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    Incoming,
    JsonRpcError,
    Reply,
    RequestId,
    result_response,
)
from scalekit_langchain.testing._mcp_eras import McpEra
from scalekit_langchain.testing._refusals import (
    DEFAULT_REFUSAL_MODE,
    RefusalMode,
    refuse,
    text_result,
    unknown_tool_text,
)
from scalekit_langchain.testing._state import EmulatorState

PROTOCOL_VERSIONS: tuple[str, ...] = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = PROTOCOL_VERSIONS[-1]

AnswerMode = Literal["sse", "json"]
#: How POSTs are answered: one SSE event (``text/event-stream``) or plain ``application/json``.
ANSWER_MODES: tuple[AnswerMode, ...] = get_args(AnswerMode)

SERVER_NAME = "scalekit-emulator"
INSTRUCTIONS = "Local Scalekit emulator: demo Gmail, Google Calendar and Slack tools."


def check_answer_mode(mode: str) -> AnswerMode:
    """Return ``mode`` if it is an answer mode.

    Raises:
        ValueError: Unknown mode.
    """
    for known in ANSWER_MODES:
        if mode == known:
            return known
    raise ValueError(f"unknown answer mode {mode!r}; expected one of {ANSWER_MODES}")


@dataclass
class McpSettings:
    """Behaviour switches of the MCP servers; changed at runtime by the emulator's setters.

    Attributes:
        refusal_mode: How a call to a tool of a non-ACTIVE connection is refused.
        answer_mode: ``sse`` or ``json``.
        tools_page_size: Tools per ``tools/list`` page; None lists every tool at once.
        protocol_version: The newest revision to answer ``initialize`` with (a profile recorded
            it from a live server): newer requests get this one; None negotiates as described
            in the module docstring.
        era: Which protocol eras are spoken (:mod:`~scalekit_langchain.testing._mcp_eras`).
        tools_ttl_ms: ``ttlMs`` of 2026-07-28 ``tools/list`` answers (how long a client may
            reuse the list).
        tools_cache_scope: ``cacheScope`` of those answers: ``private`` (the list depends on
            the user's token: access level, hidden tools) or ``public``.
        url_elicitation_tools: Tools that, in the 2026-07-28 era, first answer
            ``input_required`` with a URL elicitation (SEP-2322; see
            :func:`~scalekit_langchain.testing._mcp_eras.input_round`).
        task_tools: Tools that, in the 2026-07-28 era and for clients advertising the tasks
            extension, answer with a task handle (see
            :class:`~scalekit_langchain.testing._mcp_eras.TaskBoard`).
        user_hidden_tools: user -> tools the servers neither list nor run for that user (a
            per-user tool list, as a server's own permissions would make it).
    """

    refusal_mode: RefusalMode = DEFAULT_REFUSAL_MODE
    answer_mode: AnswerMode = "sse"
    tools_page_size: int | None = None
    protocol_version: str | None = None
    era: McpEra = "handshake"
    tools_ttl_ms: int = 300_000
    tools_cache_scope: Literal["public", "private"] = "private"
    url_elicitation_tools: frozenset[str] = frozenset()
    task_tools: frozenset[str] = frozenset()
    user_hidden_tools: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """Whom an MCP request is for, as resolved from its URL (and bearer token).

    Attributes:
        config_id: The config whose tools are served.
        user: The user identifier the tools act for.
        binding: Sessions created with this binding are only usable with the same binding.
        instance_id: The instance, for instance URLs.
        read_only: Only read-only tools are listed and callable (``access_level=READ_ONLY``).
        connection: Only this connection's tools are served (per-connection servers).
    """

    config_id: str | None
    user: str
    binding: str
    instance_id: str | None = None
    read_only: bool = False
    connection: str | None = None


def negotiate(params: dict[str, Any]) -> str:
    """Return the protocol version to answer an ``initialize`` with.

    Raises:
        JsonRpcError: ``-32602`` when ``protocolVersion`` is missing or not a string.
    """
    requested = params.get("protocolVersion")
    if not isinstance(requested, str) or not requested:
        raise JsonRpcError(INVALID_PARAMS, "Invalid params: protocolVersion is required")
    return requested if requested in PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION


CAPABILITIES: dict[str, Any] = {"tools": {"listChanged": False}}


def server_info() -> dict[str, Any]:
    """The servers' ``serverInfo``."""
    return {"name": SERVER_NAME, "version": __version__}


def initialize_result(version: str) -> dict[str, Any]:
    """Return the result of ``initialize`` for a negotiated version."""
    return {
        "protocolVersion": version,
        "capabilities": dict(CAPABILITIES),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
    }


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"tools:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "tools" or not number.isdigit():
        raise JsonRpcError(INVALID_PARAMS, "Invalid params: unknown cursor")
    return int(number)


class ToolServer:
    """Answers MCP requests for a resolved :class:`Target` from the emulator's state."""

    def __init__(self, state: EmulatorState, settings: McpSettings) -> None:
        self.state = state
        self.settings = settings
        self._validators: dict[str, Any] = {}

    def handle(self, message: Incoming, target: Target) -> Reply:
        """Answer one message of an initialized session (not ``initialize`` itself).

        Args:
            message: The parsed message.
            target: Whom the request is for.

        Returns:
            The reply; JSON-RPC errors are replies too (HTTP 200).
        """
        if message.kind != "request":
            return ACCEPTED
        request_id = message.request_id
        assert request_id is not None
        try:
            if message.method == "ping":
                return Reply(200, result_response(request_id, {}))
            if message.method == "tools/list":
                return Reply(200, result_response(request_id, self._list(message.params, target)))
            if message.method == "tools/call":
                return self._call(request_id, message.params, target)
            raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {message.method}")
        except JsonRpcError as exc:
            exc.request_id = request_id
            return Reply(200, exc.response())

    # tools --------------------------------------------------------------------

    def _exposed(self, target: Target) -> dict[str, tuple[providers.ProviderTool, Connection]]:
        """Map tool name -> (tool, connection) for what the target may see."""
        state = self.state
        config = state.configs.get(target.config_id) if target.config_id else None
        if config is not None:
            names = state.tool_names(config)
        elif target.connection is not None:
            conn = state.connection(target.connection)
            names = [(t.name, conn) for t in providers.tools_for_provider(conn.provider)]
        else:
            return {}
        hide = self.settings.refusal_mode == "hidden"
        out: dict[str, tuple[providers.ProviderTool, Connection]] = {}
        for name, conn in names:
            tool = providers.PROVIDER_TOOLS.get(name)
            if tool is None or (target.read_only and not tool.read_only):
                continue
            if hide and state.status(target.user, conn.name) != ACTIVE:
                continue
            if name in self.settings.user_hidden_tools.get(target.user, ()):
                continue
            out.setdefault(name, (tool, conn))
        return out

    def _list(self, params: dict[str, Any], target: Target) -> dict[str, Any]:
        tools = [
            {
                "name": tool.name,
                "description": tool.description,
                "inputSchema": tool.input_schema,
                "annotations": {
                    "readOnlyHint": tool.read_only,
                    "destructiveHint": not tool.read_only,
                },
            }
            for tool, _ in self._exposed(target).values()
        ]
        offset = _decode_cursor(params.get("cursor"))
        if offset > len(tools):
            raise JsonRpcError(INVALID_PARAMS, "Invalid params: unknown cursor")
        size = self.settings.tools_page_size or len(tools) or 1
        page: dict[str, Any] = {"tools": tools[offset : offset + size]}
        if offset + size < len(tools):
            page["nextCursor"] = _encode_cursor(offset + size)
        return page

    def _argument_problem(
        self, tool: providers.ProviderTool, arguments: dict[str, Any]
    ) -> str | None:
        # One compiled validator per tool: ``jsonschema.validate`` checks the schema itself
        # again on every call, which costs milliseconds per tool call.
        validator = self._validators.get(tool.name)
        if validator is None:
            cls = jsonschema.validators.validator_for(tool.input_schema)
            validator = self._validators[tool.name] = cls(tool.input_schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
        return None if error is None else f"Input validation error: {error.message}"

    def _call(self, request_id: RequestId, params: dict[str, Any], target: Target) -> Reply:
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise JsonRpcError(INVALID_PARAMS, "Invalid params: name is required")
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise JsonRpcError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        found = self._exposed(target).get(name)
        if found is None:
            return _answer(request_id, text_result(unknown_tool_text(name), is_error=True))
        tool, conn = found
        problem = self._argument_problem(tool, arguments)
        if problem is not None:
            return _answer(request_id, text_result(problem, is_error=True))
        status = self.state.status(target.user, conn.name) or PENDING_AUTH
        if status != ACTIVE:
            return refuse(
                self.settings.refusal_mode,
                request_id,
                name,
                conn,
                status,
                lambda: self.state.new_link(target.user, conn.name),
            )
        data = self.state.user_data(target.user)
        try:
            result = providers.call_tool(name, data, arguments)
        except providers.ToolArgumentError as exc:
            text = f"Invalid arguments for {name}: {exc}"
            return _answer(request_id, text_result(text, is_error=True))
        except providers.ToolExecutionError as exc:
            return _answer(request_id, text_result(f"{name} failed: {exc}", is_error=True))
        except KeyError:
            return _answer(request_id, text_result(unknown_tool_text(name), is_error=True))
        if target.instance_id is not None:
            self.state.touch_instance(target.instance_id)
        return _answer(
            request_id,
            {
                "content": [{"type": "text", "text": providers.render_text(tool.name, result)}],
                "structuredContent": result,
                "isError": False,
            },
        )


def _answer(request_id: RequestId, result: dict[str, Any]) -> Reply:
    return Reply(200, result_response(request_id, result))
