"""scalekit-langchain: per-user Scalekit MCP tools for LangChain and LangGraph agents."""

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
