"""How a user reaches an MCP server: one small protocol, one module per way.

* :class:`InstanceAccess` — the user's MCP instance, whose URL is pre-authenticated
  (``ensure_instance``); auth state from ``get_instance_auth_state``.
* :class:`SessionTokenAccess` — the config's virtual MCP server (``mcp_server_url``) with a
  short-lived bearer token minted per user; auth state from ``list_mcp_connected_accounts``.
* :class:`ConnectionTokenAccess` — one connection's virtual server
  (``{env}/mcp/v3/connections/{name}``) with a token minted for that connection.
* :class:`UrlAccess` — a URL you already have, optionally with a bearer token or a provider
  that renews it.

The toolkit only talks to the :class:`UserAccess` protocol.
"""

from __future__ import annotations

from scalekit_langchain._access.instance import InstanceAccess
from scalekit_langchain._access.protocol import UserAccess
from scalekit_langchain._access.session_token import ConnectionTokenAccess, SessionTokenAccess
from scalekit_langchain._access.url import UrlAccess

__all__ = [
    "ConnectionTokenAccess",
    "InstanceAccess",
    "SessionTokenAccess",
    "UrlAccess",
    "UserAccess",
]
