"""scalekit-langchain: per-user Scalekit MCP tools for LangChain and LangGraph agents.

Public modules: :mod:`~scalekit_langchain.toolkit` (``ScalekitMCPToolkit``),
:mod:`~scalekit_langchain.tools`, :mod:`~scalekit_langchain.langgraph` (pause and resume),
:mod:`~scalekit_langchain.middleware` (``create_agent``), :mod:`~scalekit_langchain.client`,
:mod:`~scalekit_langchain.models`, :mod:`~scalekit_langchain.errors`,
:mod:`~scalekit_langchain.testing` (a local Scalekit), :mod:`~scalekit_langchain.doctor`,
:mod:`~scalekit_langchain.cli`. Every module whose name starts with ``_`` is internal.

How a tool call flows through the internal modules, from the REST API up:

* Scalekit's REST API: ``_rest_requests`` (credentials, validation, requests, retry rules) →
  ``_rest_responses`` (answers, typed errors) → ``_rest_operations`` (the MCP endpoints) →
  ``_rest_io`` (sending) → ``_rest_async`` / ``_rest_sync`` (the clients, one generated from
  the other) on ``_client_base`` and ``_client_state`` (access token, per-user caches);
* reaching a user's MCP server: ``_access/`` (instance URL, session token, a URL you have);
* talking MCP: ``_mcp_stack`` (the installed SDK), ``_mcp_content`` (what answers mean),
  ``_mcp_transport`` (what crossed the wire), ``_failure_policy`` (how a failed request ends),
  ``_mcp_features`` (logs, progress, sampling, elicitation), ``_mcp_session`` (one persistent
  session), ``_session_loop`` (the background loop of sync callers), ``_session_pool`` (per-user
  leases, one pool per event loop);
* authorization and calls: ``_connection_auth`` (connection states, never decided by wording),
  ``_call_ledger`` (never twice), ``_calls`` (one call, check → send → record),
  ``_discovery`` (tools from ``tools/list``);
* the faces: ``toolkit``, ``tools``, ``langgraph``, ``middleware``.
"""

from scalekit_langchain._version import __version__
from scalekit_langchain.client import AsyncScalekitClient, ScalekitClient
from scalekit_langchain.errors import (
    AuthenticationError,
    AuthorizationRequired,
    BadRequestError,
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
)
from scalekit_langchain.langgraph import (
    AUTHORIZATION_INTERRUPT_TYPE,
    authorization_gate,
    resume_authorization,
    resume_elicitation,
)
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
    "AuthorizationMiddleware",
    "AuthenticationError",
    "AuthorizationRequired",
    "BadRequestError",
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
    "__version__",
    "authorization_gate",
    "resume_authorization",
    "resume_elicitation",
]


def __getattr__(name: str) -> object:
    # The middleware needs `langchain` itself; import it only when asked for, so the rest of
    # the package works with langchain-core alone.
    if name == "AuthorizationMiddleware":
        from scalekit_langchain.middleware import AuthorizationMiddleware

        return AuthorizationMiddleware
    raise AttributeError(f"module 'scalekit_langchain' has no attribute {name!r}")
