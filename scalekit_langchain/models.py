"""Pydantic models of Scalekit's MCP wire shapes.

Every model ignores-but-keeps fields it does not know (``extra="allow"``), so a new server field
never breaks a client, and reads empty strings as ``None`` (grpc-gateway emits unset strings
as ``""``). Field names follow the wire (snake_case).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "ConnectionAuthState",
    "McpConfig",
    "McpConfigConnectionToolMapping",
    "McpInstance",
    "Page",
    "SessionToken",
    "redact_url",
]

T = TypeVar("T")


def redact_url(url: str | None) -> str | None:
    """Return ``url`` with its path and query hidden, keeping scheme and host.

    Instance URLs are capability URLs: whoever holds the path can call the user's tools.

    >>> redact_url("https://env.scalekit.com/mcp/v2/servers/s3cr3t")
    'https://env.scalekit.com/mcp/v2/servers/***'
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    segments = parts.path.split("/")
    if len(segments) > 1:
        segments[-1] = "***"
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "", ""))


class _WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_strings_are_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if v == "" else v) for k, v in data.items()}
        return data


class McpConfigConnectionToolMapping(_WireModel):
    """Which tools of one connection a config exposes.

    Attributes:
        connection_name: The connection's name in Scalekit (AgentKit > Connections).
        tools: Tool names; empty means every tool of the connection.
        connection_id: Server-assigned.
        provider: Server-assigned, e.g. ``"GMAIL"``.
        connected_account_id: Set in an instance's context.
        connected_account_status: Set in an instance's context.
    """

    connection_name: str
    tools: list[str] = Field(default_factory=list)
    connection_id: str | None = None
    provider: str | None = None
    connected_account_id: str | None = None
    connected_account_status: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_tools(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tools") in (None, ""):
            data = {**data, "tools": []}
        return data


class McpConfig(_WireModel):
    """An MCP config: a named set of connections and tools, declared once per agent role.

    Attributes:
        id: Server-assigned, e.g. ``"cfg_..."``.
        name: Unique, ``^[a-z0-9_-]{1,100}$``.
        description: Free text.
        connection_tool_mappings: The connections and tools it exposes.
        mcp_server_url: The virtual MCP server URL (session-token mode); ``None`` when the
            feature is off for the environment.
    """

    id: str | None = None
    name: str
    description: str | None = None
    connection_tool_mappings: list[McpConfigConnectionToolMapping] = Field(default_factory=list)
    mcp_server_url: str | None = None


class McpInstance(_WireModel):
    """A user's MCP instance of a config.

    ``url`` is pre-authenticated: anyone holding it can call the user's tools. It is hidden in
    ``repr``/``str``; read the attribute only to connect.
    """

    id: str
    name: str | None = None
    user_identifier: str | None = None
    config: McpConfig | None = None
    last_used_at: datetime | None = None
    updated_at: datetime | None = None
    url: str | None = None

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (redact_url(value) if key == "url" else value)

    @property
    def redacted_url(self) -> str | None:
        """The instance URL with its secret path segment replaced by ``***``."""
        return redact_url(self.url)


class ConnectionAuthState(_WireModel):
    """The authorization state of one connection for one user.

    Statuses are compared case-insensitively: Scalekit's sources disagree on the case.

    Attributes:
        connection_name: The connection's name.
        provider: e.g. ``"GMAIL"``.
        connected_account_status: ``ACTIVE``, ``PENDING_AUTH``, ``EXPIRED``... or ``None`` when
            the user has no account for the connection yet.
        authentication_link: A link the user opens to authorize (short-lived); only when asked.
    """

    connection_name: str
    connection_id: str | None = None
    provider: str | None = None
    connected_account_id: str | None = None
    connected_account_status: str | None = None
    authentication_link: str | None = None

    @property
    def status(self) -> str | None:
        """The status in upper case, or ``None`` when there is no connected account."""
        return self.connected_account_status.upper() if self.connected_account_status else None

    @property
    def is_active(self) -> bool:
        """Whether the connection is authorized (``ACTIVE``, any case)."""
        return self.status == "ACTIVE"

    def to_payload(self) -> dict[str, Any]:
        """JSON-serializable form for interrupts and UIs."""
        return {
            "connection_name": self.connection_name,
            "provider": self.provider,
            "status": self.status,
            "authentication_link": self.authentication_link,
        }


class SessionToken(_WireModel):
    """A short-lived bearer token for a config's virtual MCP server.

    Attributes:
        token: The JWT, as a ``SecretStr`` (``token.get_secret_value()`` to send it).
        expires_at: When it stops being accepted.
    """

    token: SecretStr
    expires_at: datetime | None = None


class Page(BaseModel, Generic[T]):
    """One page of a list call.

    Attributes:
        items: The page's items.
        next_page_token: Pass as ``page_token`` for the next page; ``None`` on the last page.
        prev_page_token: Token of the previous page, when the server gives one.
        total_size: Total number of matching items, when the server gives it.
    """

    items: list[T]
    next_page_token: str | None = None
    prev_page_token: str | None = None
    total_size: int | None = None
