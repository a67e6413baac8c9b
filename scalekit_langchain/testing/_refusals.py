"""How the emulator refuses a tool whose connection is not ACTIVE for the user.

Scalekit does not document what its MCP servers answer in that case (wire contract, section
12), so the emulator can play each plausible answer. The mode is chosen per emulator
(``ScalekitEmulator(refusal_mode=...)``, :meth:`ScalekitEmulator.set_refusal_mode`, the CLI's
``--refusal-mode`` or ``POST /_emulator/refusal_mode``). In every mode the tool does not run,
the per-user data is untouched and the request is counted (kind ``mcp.tools/call``).

Wire shapes, for ``MY_GMAIL`` (provider ``gmail``) in status ``PENDING_AUTH``; ``<id>`` is the
request's JSON-RPC id:

``is_error_text`` (default)
    HTTP 200, a ``tools/call`` result with no ``_meta``::

        {"content": [{"type": "text", "text": "MY_GMAIL is not connected for this user;
          ask them to authorize it, then try again."}], "isError": true}

``marker``
    HTTP 200, an ``isError`` result whose text names connection, provider and status, plus
    ``"_meta": {"scalekit/authorization_required": {"connection_name": "MY_GMAIL",
    "provider": "GMAIL", "status": "PENDING_AUTH"}}``.

``jsonrpc_error``
    HTTP 200 carrying a JSON-RPC error (no ``data``)::

        {"jsonrpc": "2.0", "id": <id>, "error": {"code": -32001,
         "message": "Authorization required: MY_GMAIL is not connected for this user"}}

``http_401`` / ``http_403``
    HTTP 401 (``WWW-Authenticate: Bearer error="invalid_token", error_description="..."``) or
    HTTP 403 (``WWW-Authenticate: Bearer error="insufficient_scope", error_description="..."``),
    ``content-type: application/json``, body the same JSON-RPC error as ``jsonrpc_error``.
    The MCP session is not ended: other requests on it keep working.

``connect_prompt``
    HTTP 200, a *successful* result (another vendor answers this way)::

        {"content": [{"type": "text", "text": "Connect your Gmail account to continue:
          http://127.0.0.1:<port>/connect/<token>"}], "isError": false}

    The link is a fresh, working authorization link of the emulator.

``hidden``
    ``tools/list`` leaves out every tool of a connection that is not ACTIVE; calling one
    anyway gets the unknown-tool result::

        {"content": [{"type": "text", "text": "Unknown tool: 'gmail_send_message' is not
          available on this MCP server."}], "isError": true}

``url_elicitation``
    HTTP 200, MCP 2025-11-25's "URL elicitation required" error, pointing at a fresh, working
    authorization link::

        {"jsonrpc": "2.0", "id": <id>, "error": {"code": -32042,
         "message": "Authorization required: MY_GMAIL is not connected for this user",
         "data": {"elicitations": [{"mode": "url", "elicitationId": "...",
                   "url": "http://127.0.0.1:<port>/connect/<token>",
                   "message": "Authorize MY_GMAIL to continue"}]}}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args

from scalekit_langchain.testing._accounts import Connection
from scalekit_langchain.testing._jsonrpc import SERVER_ERROR, Reply, RequestId, error_response

RefusalMode = Literal[
    "is_error_text",
    "marker",
    "jsonrpc_error",
    "http_401",
    "http_403",
    "connect_prompt",
    "hidden",
    "url_elicitation",
]
#: Every refusal mode, the default first.
REFUSAL_MODES: tuple[RefusalMode, ...] = get_args(RefusalMode)
DEFAULT_REFUSAL_MODE: RefusalMode = "is_error_text"

#: The ``_meta`` key of the ``marker`` mode.
AUTH_META_KEY = "scalekit/authorization_required"
#: The JSON-RPC error code of ``jsonrpc_error``, ``http_401`` and ``http_403``.
REFUSAL_ERROR_CODE = SERVER_ERROR
#: MCP 2025-11-25's "URL elicitation required" error code (``url_elicitation``).
URL_ELICITATION_REQUIRED = -32042

_DISPLAY_NAMES = {"gmail": "Gmail", "googlecalendar": "Google Calendar", "slack": "Slack"}


def check_refusal_mode(mode: str) -> RefusalMode:
    """Return ``mode`` if it is a refusal mode.

    Raises:
        ValueError: Unknown mode.
    """
    for known in REFUSAL_MODES:
        if mode == known:
            return known
    raise ValueError(f"unknown refusal mode {mode!r}; expected one of {REFUSAL_MODES}")


def unknown_tool_text(name: str) -> str:
    """Return the text of the unknown-tool ``isError`` result."""
    return f"Unknown tool: {name!r} is not available on this MCP server."


def text_result(text: str, *, is_error: bool, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a ``tools/call`` result with one text block."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": is_error}
    if meta is not None:
        result["_meta"] = meta
    return result


def refuse(
    mode: RefusalMode,
    request_id: RequestId,
    tool_name: str,
    conn: Connection,
    status: str,
    new_link: Callable[[], str],
) -> Reply:
    """Build the answer to a ``tools/call`` whose connection is not ACTIVE.

    Args:
        mode: The refusal mode.
        request_id: The JSON-RPC id of the call.
        tool_name: The tool that was called.
        conn: The tool's connection.
        status: The user's account status on it (``PENDING_AUTH`` when there is none).
        new_link: Returns a fresh authorization link (``connect_prompt``, ``url_elicitation``).

    Returns:
        The reply, in the shape the module docstring describes.
    """
    not_connected = f"{conn.name} is not connected for this user"
    if mode == "marker":
        text = (
            f"The connection {conn.name} ({conn.provider}) is not authorized for this user"
            f" (status {status}). Ask the user to authorize {conn.name} and try again."
        )
        meta = {
            AUTH_META_KEY: {
                "connection_name": conn.name,
                "provider": conn.provider.upper(),
                "status": status,
            }
        }
        return _result(request_id, text_result(text, is_error=True, meta=meta))
    if mode == "connect_prompt":
        display = _DISPLAY_NAMES.get(conn.provider, conn.provider.title())
        text = f"Connect your {display} account to continue: {new_link()}"
        return _result(request_id, text_result(text, is_error=False))
    if mode == "hidden":
        return _result(request_id, text_result(unknown_tool_text(tool_name), is_error=True))
    if mode == "url_elicitation":
        link = new_link()
        data = {
            "elicitations": [
                {
                    "mode": "url",
                    "elicitationId": link.rstrip("/").rsplit("/", 1)[-1][:16],
                    "url": link,
                    "message": f"Authorize {conn.name} to continue",
                }
            ]
        }
        error = error_response(
            request_id, URL_ELICITATION_REQUIRED, f"Authorization required: {not_connected}", data
        )
        return Reply(200, error)
    if mode in ("jsonrpc_error", "http_401", "http_403"):
        error = error_response(
            request_id, REFUSAL_ERROR_CODE, f"Authorization required: {not_connected}"
        )
        if mode == "jsonrpc_error":
            return Reply(200, error)
        status_code, reason = (
            (401, "invalid_token") if mode == "http_401" else (403, "insufficient_scope")
        )
        challenge = f'Bearer error="{reason}", error_description="{not_connected}"'
        return Reply(status_code, error, (("www-authenticate", challenge),))
    text = f"{not_connected}; ask them to authorize it, then try again."
    return _result(request_id, text_result(text, is_error=True))


def _result(request_id: RequestId, result: dict[str, Any]) -> Reply:
    return Reply(200, {"jsonrpc": "2.0", "id": request_id, "result": result})
