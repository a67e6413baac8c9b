"""scalekit-langchain: per-user Scalekit MCP tools for LangChain and LangGraph agents.

Public modules: :mod:`~scalekit_langchain.toolkit` (``ScalekitMCPToolkit``),
:mod:`~scalekit_langchain.tools`, :mod:`~scalekit_langchain.langgraph` (pause and resume),
:mod:`~scalekit_langchain.middleware` (``create_agent``), :mod:`~scalekit_langchain.client`,
:mod:`~scalekit_langchain.models`, :mod:`~scalekit_langchain.errors`,
:mod:`~scalekit_langchain.web` (the fresh-link route), :mod:`~scalekit_langchain.webhooks`
(Scalekit's signed webhooks), :mod:`~scalekit_langchain.testing` (a local Scalekit),
:mod:`~scalekit_langchain.doctor`, :mod:`~scalekit_langchain.cli`. Every module whose name
starts with ``_`` is internal.

How a tool call flows through the internal modules, from the REST API up:

* Scalekit's REST API: ``_rest_requests`` (credentials, validation, requests, retry rules) →
  ``_rest_responses`` (answers, typed errors) → ``_rest_operations`` (the MCP endpoints) →
  ``_rest_io`` (sending) → ``_rest_async`` / ``_rest_sync`` (the clients, one generated from
  the other) on ``_client_base``, ``_client_state`` (per-user caches) and ``_access_token``;
  ``_redact`` keeps every credential out of logs;
* reaching a user's MCP server: ``_access/`` (instance URL, session token, a URL you have);
* talking MCP: ``_mcp_stack`` (the installed SDK), ``_mcp_content`` (what answers mean),
  ``_mcp_transport`` (what crossed the wire), ``_http2`` (HTTP/2: when, and what its failures
  prove), ``_failure_policy`` (how a failed request ends),
  ``_mcp_features`` (logs, progress, sampling, elicitation), ``_mcp_tasks`` (polling a task
  handle), ``_mcp_session`` (one persistent session), ``_session_opener`` (making one),
  ``_session_loop`` (the background loop of sync callers), ``_session_pool`` (per-user
  leases), ``_loop_pools`` (one pool per event loop: no thread hop for async callers);
* authorization and calls: ``_connection_auth`` (connection states, never decided by wording),
  ``_turns`` (what one model turn needs), ``_call_arguments`` (arguments checked before
  sending), ``_call_ledger`` (never twice), ``_calls`` (one call, check → send → record),
  ``_discovery`` (tools from ``tools/list``), ``_tool_listings`` (each user's listing while its
  2026-07-28 ``ttlMs`` lasts);
* the faces: ``toolkit``, ``tools``, ``langgraph``, ``middleware``, ``web``, ``webhooks``;
  ``_demo`` is the main job behind ``scalekit-langchain demo``.

Every public name is loaded on first use (:pep:`562`), so ``import scalekit_langchain`` and the
``scalekit-langchain`` command's ``--help`` load no LangChain, LangGraph or MCP module.
``AuthorizationMiddleware`` needs ``langchain>=1.5`` (the ``[agents]`` extra): without it the name
still imports (``from scalekit_langchain import *`` works on a plain install) and fails on use
with an ``ImportError`` that says what to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, NoReturn

from scalekit_langchain._version import __version__

if TYPE_CHECKING:  # what type checkers see; at run time each name is loaded on first use
    from scalekit_langchain.client import AsyncScalekitClient, ScalekitClient
    from scalekit_langchain.errors import (
        AuthenticationError,
        AuthorizationRequired,
        BadRequestError,
        ConfigDriftError,
        ConflictError,
        ElicitationRequired,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ScalekitAPIError,
        ScalekitConfigurationError,
        ScalekitConnectionError,
        ScalekitError,
        ScalekitProtocolError,
        ScalekitTimeoutError,
        ServerError,
        ToolCallOutcomeUnknown,
        ToolCallRejected,
        WebhookVerificationError,
    )
    from scalekit_langchain.langgraph import (
        AUTHORIZATION_INTERRUPT_TYPE,
        authorization_gate,
        resume_authorization,
        resume_elicitation,
    )
    from scalekit_langchain.middleware import AuthorizationMiddleware
    from scalekit_langchain.models import (
        ConnectionAuthState,
        McpConfig,
        McpConfigConnectionToolMapping,
        McpInstance,
        Page,
        SessionToken,
    )
    from scalekit_langchain.toolkit import ScalekitMCPToolkit
    from scalekit_langchain.tools import ScalekitMCPTool

__all__ = [
    "AUTHORIZATION_INTERRUPT_TYPE",
    "AsyncScalekitClient",
    "AuthenticationError",
    "AuthorizationMiddleware",
    "AuthorizationRequired",
    "BadRequestError",
    "ConfigDriftError",
    "ConflictError",
    "ConnectionAuthState",
    "ElicitationRequired",
    "McpConfig",
    "McpConfigConnectionToolMapping",
    "McpInstance",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "ScalekitAPIError",
    "ScalekitClient",
    "ScalekitConfigurationError",
    "ScalekitConnectionError",
    "ScalekitError",
    "ScalekitMCPTool",
    "ScalekitMCPToolkit",
    "ScalekitProtocolError",
    "ScalekitTimeoutError",
    "ServerError",
    "SessionToken",
    "ToolCallOutcomeUnknown",
    "ToolCallRejected",
    "WebhookVerificationError",
    "__version__",
    "authorization_gate",
    "resume_authorization",
    "resume_elicitation",
]

#: Where each public name lives (``__version__`` is loaded at once: it imports nothing).
_HOMES = {
    "AUTHORIZATION_INTERRUPT_TYPE": "langgraph",
    "AsyncScalekitClient": "client",
    "AuthenticationError": "errors",
    "AuthorizationMiddleware": "middleware",
    "AuthorizationRequired": "errors",
    "BadRequestError": "errors",
    "ConfigDriftError": "errors",
    "ConflictError": "errors",
    "ConnectionAuthState": "models",
    "ElicitationRequired": "errors",
    "McpConfig": "models",
    "McpConfigConnectionToolMapping": "models",
    "McpInstance": "models",
    "NotFoundError": "errors",
    "Page": "models",
    "PermissionDeniedError": "errors",
    "RateLimitError": "errors",
    "ScalekitAPIError": "errors",
    "ScalekitClient": "client",
    "ScalekitConfigurationError": "errors",
    "ScalekitConnectionError": "errors",
    "ScalekitError": "errors",
    "ScalekitMCPTool": "tools",
    "ScalekitMCPToolkit": "toolkit",
    "ScalekitProtocolError": "errors",
    "ScalekitTimeoutError": "errors",
    "ServerError": "errors",
    "SessionToken": "models",
    "ToolCallOutcomeUnknown": "errors",
    "ToolCallRejected": "errors",
    "WebhookVerificationError": "errors",
    "authorization_gate": "langgraph",
    "resume_authorization": "langgraph",
    "resume_elicitation": "langgraph",
}

#: Names whose module needs an optional package; without it they load as a stand-in that fails
#: on use (so ``import *`` works on a plain install).
_OPTIONAL = {"AuthorizationMiddleware"}


class _Unavailable:
    """Stands in for an optional name whose package is missing: any use raises the ImportError.

    Calling it, subclassing it or reading an attribute raises ``ImportError`` with the message of
    the failed import (which names the extra to install).
    """

    def __init__(self, name: str, error: ImportError) -> None:
        self.__name__ = self.__qualname__ = name
        self._message = str(error)

    def _fail(self) -> NoReturn:
        raise ImportError(self._message)

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._fail()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> NoReturn:
        self._fail()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # keep hasattr(), copy and introspection working
            raise AttributeError(attr)
        self._fail()

    def __repr__(self) -> str:
        return f"<{self.__name__}: unavailable ({self._message})>"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'scalekit_langchain' has no attribute {name!r}")
    try:
        module = importlib.import_module(f"scalekit_langchain.{home}")
    except ImportError as exc:
        if name not in _OPTIONAL:
            raise
        return _Unavailable(name, exc)  # not cached: installing the package later works
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
