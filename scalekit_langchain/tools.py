"""MCP tools as LangChain tools that call through a persistent session.

Each tool is built by langchain-mcp-adapters (name, description, JSON schema, result conversion,
interceptors) in *connection mode*, with one interceptor of ours in front that answers every call
from the user's persistent MCP session and never calls the adapters' default handler (which
would open a new session per call). :class:`ScalekitMCPTool` wraps that tool to add sync
``invoke``, per-user routing, authorization handling, and tracing metadata free of secrets.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_mcp_adapters.interceptors import MCPToolCallRequest, ToolCallInterceptor
from langchain_mcp_adapters.tools import convert_mcp_tool_to_langchain_tool
from mcp.types import CallToolResult
from mcp.types import Tool as MCPTool
from pydantic import ConfigDict, PrivateAttr

from scalekit_langchain import _runner
from scalekit_langchain.errors import AuthorizationRequired

__all__ = ["AUTH_REQUIRED_META", "ScalekitMCPTool"]

#: ``_meta`` key a Scalekit MCP server sets on a result when the tool's connection is not
#: authorized for the user (value: ``{"connection_name", "provider", "status"}``).
AUTH_REQUIRED_META = "scalekit/authorization_required"

# The adapters' connection-mode tools need a connection; ours never use it (the interceptor
# answers every call), so it points nowhere and holds no credential.
_UNUSED_CONNECTION: dict[str, Any] = {
    "transport": "streamable_http",
    "url": "http://scalekit-langchain.invalid/persistent-session-only",
}


class ToolBackend(Protocol):
    """What a tool needs from its toolkit."""

    async def call_tool(
        self, mcp_name: str, arguments: dict[str, Any], config: RunnableConfig | None
    ) -> CallToolResult:
        """Run the MCP tool on the right user's persistent session."""

    async def authorization_error(
        self, marker: dict[str, Any], config: RunnableConfig | None
    ) -> AuthorizationRequired:
        """Build the error (with fresh links) for a not-authorized answer."""

    async def handle_authorization(
        self, error: AuthorizationRequired, config: RunnableConfig | None
    ) -> None:
        """Pause for authorization (LangGraph interrupt) or re-raise ``error``."""

    def handle_authorization_sync(
        self, error: AuthorizationRequired, config: RunnableConfig | None
    ) -> None:
        """Sync twin of :meth:`handle_authorization`."""


@dataclass(frozen=True)
class _CallContext:
    backend: ToolBackend
    config: RunnableConfig | None


_current_call: contextvars.ContextVar[_CallContext | None] = contextvars.ContextVar(
    "scalekit_langchain_current_call", default=None
)


async def _persistent_session_interceptor(
    request: MCPToolCallRequest,
    handler: Callable[[MCPToolCallRequest], Awaitable[Any]],
) -> CallToolResult:
    """Answer the call from the persistent session; the default handler is never called."""
    ctx = _current_call.get()
    if ctx is None:  # pragma: no cover - only reachable by calling the inner tool directly
        raise RuntimeError("Scalekit tools must be called through ScalekitMCPTool")
    result = await ctx.backend.call_tool(request.name, dict(request.args), ctx.config)
    meta = result.meta or {}
    marker = meta.get(AUTH_REQUIRED_META) if result.isError else None
    if isinstance(marker, dict):
        raise await ctx.backend.authorization_error(marker, ctx.config)
    return result


def _handle_tool_error(error: ToolException) -> Any:
    """A tool's own error (``isError``) goes back to the model as an error ToolMessage."""
    blocks = getattr(error, "tool_content", None)
    if blocks:
        return _flatten(blocks)
    return str(error) or "The tool reported an error without details."


def _flatten(content: Any) -> Any:
    """Join all-text content blocks into one string (every chat model accepts that)."""
    if isinstance(content, list) and all(
        isinstance(b, dict) and b.get("type") == "text" for b in content
    ):
        return "\n".join(str(b.get("text", "")) for b in content)
    return content


class ScalekitMCPTool(BaseTool):
    """A Scalekit MCP tool as a LangChain tool (sync and async).

    ``invoke``/``ainvoke`` return text for the model; called with a ``ToolCall`` they return a
    ``ToolMessage`` whose ``artifact`` is the tool's ``structuredContent``. A tool's own error
    becomes ``ToolMessage(status="error")``; a connection the user has not authorized raises
    :class:`~scalekit_langchain.errors.AuthorizationRequired` (or pauses a LangGraph run).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    mcp_tool_name: str
    """The tool's name on the MCP server (``name`` may carry a prefix)."""

    response_format: str = "content_and_artifact"  # type: ignore[assignment]

    _inner: StructuredTool = PrivateAttr()
    _backend: ToolBackend = PrivateAttr()

    @classmethod
    def from_mcp_tool(
        cls,
        tool: MCPTool,
        backend: ToolBackend,
        *,
        name_prefix: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
        interceptors: Sequence[ToolCallInterceptor] = (),
    ) -> ScalekitMCPTool:
        """Build the tool from an MCP tool definition (via langchain-mcp-adapters).

        Args:
            tool: The MCP tool (from ``tools/list``).
            backend: The toolkit that routes calls to sessions.
            name_prefix: Prepended to the tool's name as ``{prefix}_{name}``.
            metadata: Extra tracing metadata (never put a URL or token here).
            tags: Tracing tags.
            interceptors: Your own adapters interceptors, run before ours.
        """
        inner = convert_mcp_tool_to_langchain_tool(
            None,
            tool,
            connection=_UNUSED_CONNECTION,  # type: ignore[arg-type]
            tool_interceptors=[*interceptors, _persistent_session_interceptor],
            server_name=name_prefix,
            tool_name_prefix=bool(name_prefix),
            handle_tool_errors=False,
        )
        if not isinstance(inner, StructuredTool) or inner.coroutine is None:  # pragma: no cover
            raise TypeError("langchain-mcp-adapters returned an unexpected tool type")
        annotations = tool.annotations.model_dump(exclude_none=True) if tool.annotations else {}
        self = cls(
            name=inner.name,
            description=inner.description,
            args_schema=tool.inputSchema,
            mcp_tool_name=tool.name,
            handle_tool_error=_handle_tool_error,
            metadata={**(metadata or {}), "mcp_tool": tool.name, "mcp_annotations": annotations},
            tags=list(tags),
        )
        self._inner = inner
        self._backend = backend
        return self

    async def _call(
        self, config: RunnableConfig | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, Any]:
        if args:
            raise ToolException(
                f"{self.name} takes its arguments as a JSON object, got {type(args[0]).__name__}"
            )
        token = _current_call.set(_CallContext(self._backend, config))
        try:
            assert self._inner.coroutine is not None
            content, artifact = await self._inner.coroutine(**kwargs)
        finally:
            _current_call.reset(token)
        structured = artifact.get("structured_content") if isinstance(artifact, dict) else None
        return _flatten(content), structured

    # LangChain injects the run's config into the parameter annotated RunnableConfig, whatever
    # its name, and a run manager only into one named ``run_manager``. The names below cannot
    # collide with a tool argument, so a model argument called ``config`` or ``run_manager``
    # reaches the server like any other.

    async def _arun(
        self, *args: Any, _scalekit_run_config: RunnableConfig, **kwargs: Any
    ) -> tuple[Any, Any]:
        config = _scalekit_run_config
        while True:
            try:
                return await self._call(config, args, kwargs)
            except AuthorizationRequired as exc:
                # Raises again, or returns once the user authorized (LangGraph resume).
                await self._backend.handle_authorization(exc, config)

    def _run(
        self, *args: Any, _scalekit_run_config: RunnableConfig, **kwargs: Any
    ) -> tuple[Any, Any]:
        config = _scalekit_run_config
        while True:
            try:
                return _runner.run_sync(self._call(config, args, kwargs))
            except AuthorizationRequired as exc:
                # In the caller's thread, where LangGraph's interrupt() can see the run.
                self._backend.handle_authorization_sync(exc, config)
