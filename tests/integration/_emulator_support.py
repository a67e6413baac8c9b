"""Shared helpers of the emulator's MCP tests (``test_emulator_mcp.py``, ``test_emulator_refusals.py``).

Just enough REST to set up configs, instances and tokens; an ``mcp`` SDK session; and a raw
JSON-RPC client that shows exactly what crossed the wire (status, headers, SSE or JSON body).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import ClientSession

from scalekit_langchain.testing import ScalekitEmulator

MAPPINGS = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails", "gmail_send_message"]},
    {"connection_name": "MY_CALENDAR"},
]
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "raw-test", "version": "0"}},
}


class Rest:
    """Just enough REST to set up configs, instances and session tokens."""

    def __init__(self, emu: ScalekitEmulator) -> None:
        self.http = httpx.Client(base_url=emu.env_url, timeout=10)
        r = self.http.post("/oauth/token", data={
            "grant_type": "client_credentials", "client_id": emu.client_id,
            "client_secret": emu.client_secret})
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def config(self, name: str, mappings: list[dict[str, Any]] | None = None) -> Any:
        r = self.http.post("/api/v1/mcp/configs", json={
            "name": name, "connection_tool_mappings": MAPPINGS if mappings is None else mappings})
        assert r.status_code == 201, r.text
        return r.json()["config"]

    def instance(self, config_name: str, user: str) -> Any:
        r = self.http.post("/api/v1/mcp/instances",
                           json={"config_name": config_name, "user_identifier": user})
        assert r.status_code == 200, r.text
        return r.json()["instance"]

    def token(self, config_id: str, user: str, expiry: str = "3600s") -> str:
        r = self.http.post(f"/api/v1/mcp/configs/{config_id}/tokens",
                           json={"identifier": user, "expiry": expiry})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def connection_token(self, connection: str, user: str) -> str:
        r = self.http.post(f"/api/v1/mcp/connections/{connection}/tokens",
                           json={"identifier": user})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])


@asynccontextmanager
async def mcp_session(url: str, headers: dict[str, str] | None = None
                      ) -> AsyncIterator[ClientSession]:
    """An initialized session of the real ``mcp`` SDK client (either stack)."""
    from scalekit_langchain import _mcp_stack

    async with _mcp_stack.http.AsyncClient(headers=headers, timeout=10) as http, _mcp_stack.open_streams(
        url, http
    ) as (read, write), _mcp_stack.new_session(read, write) as session:
        await session.initialize()
        yield session


async def raw_init(http: httpx.AsyncClient, url: str, **headers: str) -> str:
    """Initialize a session by hand; return its id."""
    r = await http.post(url, json=INIT, headers={**ACCEPT, **headers})
    assert r.status_code == 200, r.text
    sid = r.headers["mcp-session-id"]
    await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                    headers={**ACCEPT, "mcp-session-id": sid, **headers})
    return str(sid)


def ping(http: httpx.AsyncClient, url: str, sid: str, **headers: str) -> Any:
    """Send a ping on a session (a coroutine of the response)."""
    return http.post(url, json={"jsonrpc": "2.0", "id": 7, "method": "ping"},
                     headers={**ACCEPT, "mcp-session-id": sid, **headers})


def body_message(response: httpx.Response) -> Any:
    """Return the one JSON-RPC message of a response, whether sent as JSON or as one SSE event."""
    ctype = response.headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        events = [block for block in response.text.split("\r\n\r\n") if block.strip()]
        assert len(events) == 1, response.text
        lines = events[0].split("\r\n")
        assert lines[0] == "event: message", lines
        assert lines[1].startswith("data: "), lines
        return json.loads(lines[1][len("data: "):])
    assert ctype.startswith("application/json"), ctype
    return response.json()


async def rpc(http: httpx.AsyncClient, url: str, sid: str, method: str,
              params: dict[str, Any] | None = None, request_id: int = 5) -> httpx.Response:
    """Send one JSON-RPC request on a session; return the raw response."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return await http.post(url, json=message, headers={**ACCEPT, "mcp-session-id": sid})
