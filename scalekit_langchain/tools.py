"""MCP tools as LangChain tools that call through the toolkit's per-user sessions.

A :class:`ScalekitMCPTool` carries the MCP tool's name, description and JSON schema, checks a
call's arguments (JSON can carry them, the schema accepts them: else an error for the model,
nothing sent, see :mod:`scalekit_langchain._call_arguments`) and hands every call to its
backend (the toolkit), which routes it to the run's user, checks authorization, sends it once
and remembers the answer (see :mod:`scalekit_langchain._call_ledger`).
"""

from __future__ import annotations

import contextvars
import inspect
import types
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, get_type_hints

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import ConfigDict, PrivateAttr

from scalekit_langchain._call_arguments import SchemaCheck, encoding_problem
from scalekit_langchain._mcp_content import ToolSpec

__all__ = ["ScalekitMCPTool", "ToolBackend", "approval_policy", "tool_hints"]

#: A permissive schema for tools the server did not list yet (their connection is not
#: authorized and the server hides such tools); the real schema arrives after authorization.
_ANY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}

_tool_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "scalekit_langchain_tool_call_id", default=None
)


class ToolBackend(Protocol):
    """What a tool needs from its toolkit."""

    async def arun_tool(
        self,
        mcp_name: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> tuple[Any, Any, bool]:
        """Run the call; return ``(content, artifact, is_error)``."""

    def run_tool(
        self,
        mcp_name: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> tuple[Any, Any, bool]:
        """Sync twin of :meth:`arun_tool`."""


def tool_hints(annotations: dict[str, Any] | None) -> tuple[bool, bool]:
    """``(read_only, destructive)`` from an MCP tool's annotations, with the MCP defaults:
    a tool is not read-only unless ``readOnlyHint`` is true, and a tool that is not read-only
    may destroy unless ``destructiveHint`` is false. A tool with no annotations (or a tool the
    server has not listed yet) is therefore treated as writing and destructive."""
    hints = annotations or {}
    read_only = hints.get("readOnlyHint") is True
    return read_only, not read_only and hints.get("destructiveHint") is not False


def approval_policy(
    tools: Iterable[BaseTool], *, only_destructive: bool = False
) -> dict[str, bool]:
    """An ``interrupt_on`` map for LangChain's ``HumanInTheLoopMiddleware``: ``True`` (ask a
    person before the call) for each tool that is not annotated read-only, or with
    ``only_destructive`` for each tool that may destroy; ``False`` for the others.

    Args:
        tools: The tools (as listed by the toolkit; their metadata carries the annotations).
        only_destructive: Let tools that only add (``destructiveHint: false``) run unasked.

    Example:
        >>> HumanInTheLoopMiddleware(interrupt_on=approval_policy(tools))  # doctest: +SKIP
    """
    policy: dict[str, bool] = {}
    for tool in tools:
        metadata = tool.metadata or {}
        read_only, destructive = metadata.get("read_only"), metadata.get("destructive")
        if not isinstance(read_only, bool) or not isinstance(destructive, bool):
            read_only, destructive = tool_hints(None)
        policy[tool.name] = destructive if only_destructive else not read_only
    return policy


def _error_content(error: ToolException) -> Any:
    """A tool's own error goes back to the model as an error ToolMessage."""
    if error.args and error.args[0] not in (None, ""):
        return error.args[0]
    return "The tool reported an error without details."


def _call_id_of(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") == "tool_call":
        call_id = value.get("id")
        return call_id if isinstance(call_id, str) else None
    return None


class ScalekitMCPTool(BaseTool):
    """A Scalekit MCP tool as a LangChain tool (sync and async).

    ``invoke``/``ainvoke`` return text for the model; called with a ``ToolCall`` they return a
    ``ToolMessage`` whose ``artifact`` is ``{"structured_content": ...}`` (or ``None``). A tool's
    own error becomes ``ToolMessage(status="error")``, and so do arguments JSON cannot carry
    (a lone surrogate, ``NaN``, ``bytes``...) or the tool's input schema refuses (then nothing
    is sent); a connection the user has not authorized pauses a LangGraph run (or raises
    :class:`~scalekit_langchain.errors.AuthorizationRequired` outside a graph).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    mcp_tool_name: str
    """The tool's name on the MCP server (``name`` may carry a prefix)."""

    response_format: str = "content_and_artifact"  # type: ignore[assignment]

    _backend: ToolBackend = PrivateAttr()
    _schema_check: SchemaCheck | None = PrivateAttr(default=None)

    @classmethod
    def from_spec(
        cls,
        spec: ToolSpec | None,
        backend: ToolBackend,
        *,
        mcp_name: str | None = None,
        name_prefix: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
    ) -> ScalekitMCPTool:
        """Build the tool from a listed MCP tool (or, with ``spec=None``, a placeholder).

        Args:
            spec: The tool from ``tools/list``; ``None`` for a tool the config names but the
                server does not list yet (its connection awaits authorization).
            backend: The toolkit that routes calls to sessions.
            mcp_name: The MCP name when ``spec`` is ``None``.
            name_prefix: Prepended to the tool's name as ``{prefix}_{name}``.
            metadata: Extra tracing metadata (never put a URL or token here).
            tags: Tracing tags.
        """
        name = spec.name if spec is not None else mcp_name
        if not name:
            raise ValueError("a tool needs a name")
        annotations = spec.annotations if spec is not None else {}
        read_only, destructive = tool_hints(annotations)
        meta: dict[str, Any] = {
            **(metadata or {}),
            "mcp_tool": name,
            "read_only": read_only,
            "destructive": destructive,
            "mcp": {"tool": {"annotations": annotations, "_meta": spec.meta if spec else {}}},
        }
        description = (
            spec.description
            if spec is not None
            else f"{name} (available once the user authorizes its connection)"
        )
        self = cls(
            name=f"{name_prefix}_{name}" if name_prefix else name,
            description=description or name,
            args_schema=spec.input_schema if spec is not None else dict(_ANY_OBJECT),
            mcp_tool_name=name,
            handle_tool_error=_error_content,
            metadata=meta,
            tags=list(tags),
        )
        self._backend = backend
        return self

    # The model's call id is what makes a call replay-safe; BaseTool does not hand it to
    # ``_run``/``_arun``, so it travels in a context variable set around the call.

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        token = _tool_call_id.set(_call_id_of(input))
        try:
            return super().invoke(input, config, **kwargs)
        finally:
            _tool_call_id.reset(token)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        token = _tool_call_id.set(_call_id_of(input))
        try:
            return await super().ainvoke(input, config, **kwargs)
        finally:
            _tool_call_id.reset(token)

    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if args:
            raise ToolException(
                f"{self.name} takes its arguments as a JSON object, got {type(args[0]).__name__}"
            )
        # Checked here, before the call reaches the user's shared session: what fails is this
        # call's error only, and the model can correct it.
        check = self._schema_check
        if check is None or check.schema is not self.args_schema:  # a re-listing may change it
            check = self._schema_check = SchemaCheck(self.args_schema)
        problem = encoding_problem(kwargs) or check.problem(kwargs)
        if problem is not None:
            raise ToolException(f"{self.name} was not called (nothing was sent): {problem}.")
        return kwargs

    @staticmethod
    def _finish(answer: tuple[Any, Any, bool]) -> tuple[Any, Any]:
        content, artifact, is_error = answer
        if is_error:
            raise ToolException(content)
        return content, artifact

    # LangChain injects the run's config into the parameter annotated RunnableConfig, whatever
    # its name, and a run manager only into one named ``run_manager``. The names below cannot
    # collide with a tool argument, so a model argument called ``config`` or ``run_manager``
    # reaches the server like any other.

    async def _arun(
        self, *args: Any, _scalekit_run_config: RunnableConfig, **kwargs: Any
    ) -> tuple[Any, Any]:
        arguments = self._arguments(args, kwargs)
        answer = await self._backend.arun_tool(
            self.mcp_tool_name, arguments, _scalekit_run_config, _tool_call_id.get()
        )
        return self._finish(answer)

    def _run(
        self, *args: Any, _scalekit_run_config: RunnableConfig, **kwargs: Any
    ) -> tuple[Any, Any]:
        arguments = self._arguments(args, kwargs)
        answer = self._backend.run_tool(
            self.mcp_tool_name, arguments, _scalekit_run_config, _tool_call_id.get()
        )
        return self._finish(answer)


# On every call LangChain's BaseTool reads ``inspect.signature`` of ``_run``/``_arun`` (is there
# a ``run_manager``?) and ``typing.get_type_hints`` (which parameter takes the RunnableConfig?).
# Both are work redone per call (~60-100 us together): the signature is computed once and kept
# as ``__signature__`` (which ``inspect.signature`` returns as is), and the annotations are
# resolved once (the string annotations of this module, PEP 563, would be compiled anew each
# time) and kept to the one LangChain looks for. Type checkers read the source, not these.
for _method in ("_run", "_arun"):
    _function: types.FunctionType = vars(ScalekitMCPTool)[_method]
    _function.__signature__ = inspect.signature(_function)  # type: ignore[attr-defined]
    _function.__annotations__ = {
        name: hint
        for name, hint in get_type_hints(_function).items()
        if hint is RunnableConfig
    }
del _method, _function

