"""Raw JSON-RPC over httpx: an MCP client by hand that keeps every HTTP answer as it came.

The ``mcp`` SDK hides HTTP statuses, content types and headers; the doctor needs them to tell
refusal shapes apart. :class:`RawMcp` speaks streamable HTTP by hand (one JSON-RPC message per
POST, SSE or JSON answers) and keeps every answer as an :func:`exchange` dict.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

__all__ = ["ACCEPT_BOTH", "RawMcp", "exchange", "parse_body"]

#: ``Accept`` of a streamable-HTTP client: the server may answer JSON or SSE.
ACCEPT_BOTH = "application/json, text/event-stream"
#: Response headers kept in an exchange (values of secret ones are replaced by a marker).
_KEPT_HEADERS = ("content-type", "www-authenticate", "connection", "retry-after")
_BODY_PREVIEW = 600


def parse_body(content_type: str, text: str) -> tuple[str, Any]:
    """Read an MCP POST answer.

    Returns:
        ``(framing, message)``: framing is ``sse``, ``json``, ``empty`` or ``other``; message is
        the first JSON-RPC message found (SSE: the first ``data`` that parses), else None.
    """
    ctype = content_type.split(";")[0].strip().lower()
    if not text.strip():
        return ("sse" if ctype == "text/event-stream" else "empty"), None
    if ctype == "text/event-stream":
        data: list[str] = []
        for line in [*text.splitlines(), ""]:
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line.strip() and data:
                try:
                    return "sse", json.loads("\n".join(data))
                except json.JSONDecodeError:
                    data = []
        return "sse", None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return "other", None
    return ("json" if ctype == "application/json" else "other"), parsed


def exchange(response: httpx.Response, text: str) -> dict[str, Any]:
    """Describe one HTTP answer: status, framing, kept headers and the parsed message.

    The ``Mcp-Session-Id`` value is never kept, only whether it was sent.
    """
    ctype = response.headers.get("content-type", "")
    framing, message = parse_body(ctype, text)
    headers = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
    record: dict[str, Any] = {
        "http_status": response.status_code,
        "content_type": ctype.split(";")[0].strip().lower() or None,
        "framing": framing,
        "headers": headers,
        "session_id_header": "mcp-session-id" in response.headers,
        "message": message,
    }
    if message is None and text.strip():
        record["body_preview"] = text[:_BODY_PREVIEW]
    return record


class RawMcp:
    """A hand-written streamable-HTTP MCP client that keeps every answer.

    Args:
        http: The HTTP client (its transport may be a
            :class:`~._tcp_connections.ConnectionCounter`).
        url: The MCP server URL.
        headers: Extra headers on every request (``Authorization`` for bearer servers).
    """

    def __init__(self, http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None):
        self._http = http
        self.url = url
        self._headers = dict(headers or {})
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self._next_id = 0

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def post(
        self,
        payload: dict[str, Any],
        *,
        session_id: str | bool | None = True,
    ) -> dict[str, Any]:
        """POST one JSON-RPC message and describe the answer.

        Args:
            payload: The message.
            session_id: True sends the session's id, False none, a string that id.
        """
        headers = {"accept": ACCEPT_BOTH, "content-type": "application/json", **self._headers}
        sid = self.session_id if session_id is True else session_id or None
        if sid:
            headers["mcp-session-id"] = sid
        if self.protocol_version and payload.get("method") != "initialize":
            headers["mcp-protocol-version"] = self.protocol_version
        response = await self._http.post(self.url, content=json.dumps(payload), headers=headers)
        return exchange(response, response.text)

    async def initialize(self, protocol_version: str) -> dict[str, Any]:
        """Open a session: ``initialize`` then ``notifications/initialized``."""
        payload = {
            "jsonrpc": "2.0",
            "id": self._id(),
            "method": "initialize",
            "params": {
                "protocolVersion": protocol_version,
                "capabilities": {},
                "clientInfo": {"name": "scalekit-langchain-doctor", "version": "1"},
            },
        }
        headers = {"accept": ACCEPT_BOTH, "content-type": "application/json", **self._headers}
        response = await self._http.post(self.url, content=json.dumps(payload), headers=headers)
        record = exchange(response, response.text)
        self.session_id = response.headers.get("mcp-session-id")
        result = (record["message"] or {}).get("result") if record["message"] else None
        if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
            self.protocol_version = result["protocolVersion"]
        if response.status_code == 200 and isinstance(result, dict):
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            record["initialized_notification"] = (await self.post(note))["http_status"]
        return record

    async def discover(self, protocol_version: str = "2026-07-28") -> dict[str, Any]:
        """Probe the sessionless era: ``server/discover`` with the version, client info and
        capabilities in ``_meta`` (and no session id), as a 2026-07-28 client sends it."""
        meta = {
            "io.modelcontextprotocol/protocolVersion": protocol_version,
            "io.modelcontextprotocol/clientInfo": {
                "name": "scalekit-langchain-doctor",
                "version": "1",
            },
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        payload = {
            "jsonrpc": "2.0",
            "id": self._id(),
            "method": "server/discover",
            "params": {"_meta": meta},
        }
        headers = {
            "accept": ACCEPT_BOTH,
            "content-type": "application/json",
            "mcp-protocol-version": protocol_version,
            "mcp-method": "server/discover",
            **self._headers,
        }
        response = await self._http.post(self.url, content=json.dumps(payload), headers=headers)
        return exchange(response, response.text)

    async def request(
        self, method: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Send a request with a fresh id (``session_id=`` as in :meth:`post`)."""
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": self._id(), "method": method}
        if params is not None:
            payload["params"] = params
        return await self.post(payload, **kwargs)

    async def close(self) -> int | None:
        """End the session with DELETE; return the HTTP status (None without a session)."""
        if not self.session_id:
            return None
        headers = {"mcp-session-id": self.session_id, **self._headers}
        response = await self._http.delete(self.url, headers=headers)
        return response.status_code
