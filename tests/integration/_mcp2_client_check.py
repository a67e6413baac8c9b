"""Manual check: the mcp 2.x client (``mcp==2.3``, ``httpx2``) against a standalone emulator.

Not collected by pytest (this project's venv has mcp 1.x). The emulator runs from the project
venv, the client from a throwaway venv that has mcp 2.3::

    python3 -m venv /tmp/mcp2
    /tmp/mcp2/bin/pip install --no-deps -e .
    /tmp/mcp2/bin/pip install 'mcp==2.3.0' starlette uvicorn 'pyjwt[crypto]' pydantic httpx jsonschema
    .venv/bin/scalekit-langchain emulator --control-token chk-tok &    # prints env_url, id, secret
    /tmp/mcp2/bin/python tests/integration/_mcp2_client_check.py ENV_URL CLIENT_ID SECRET chk-tok

It initializes, lists and calls over an instance URL in both answer modes (a refused call, the
same call after authorizing, a JSON-RPC error refusal) and over a config's virtual server.
"""
import asyncio
import sys

import httpx
import httpx2
import mcp
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

env_url, client_id, client_secret, control = sys.argv[1:5]
print("mcp", mcp.__version__ if hasattr(mcp, "__version__") else "?",
      "from", mcp.__file__)

rest = httpx.Client(base_url=env_url, timeout=10)
tok = rest.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                      "client_secret": client_secret}).json()["access_token"]
rest.headers["Authorization"] = f"Bearer {tok}"
ctl = {"X-Emulator-Token": control}
cfg = rest.post("/api/v1/mcp/configs", json={"name": "mcp2-check", "connection_tool_mappings": [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails", "gmail_send_message"]},
    {"connection_name": "MY_CALENDAR"}]}).json()["config"]
inst = rest.post("/api/v1/mcp/instances", json={"config_name": "mcp2-check",
                                                "user_identifier": "zoe"}).json()["instance"]


async def session_run(url: str, headers: dict[str, str] | None = None) -> None:
    async with httpx2.AsyncClient(headers=headers, timeout=10) as http, \
            streamable_http_client(url, http_client=http) as streams, \
            ClientSession(*streams[:2]) as session:
        init = await session.initialize()
        print("  initialize:", init.protocol_version, init.server_info.name)
        tools = (await session.list_tools()).tools
        print("  tools/list:", [t.name for t in tools])
        refused = await session.call_tool("gmail_send_message",
                                          {"to": "a@b.co", "subject": "s", "body": "b"})
        print("  refused call (default is_error_text): is_error=%s text=%r meta=%r"
              % (refused.is_error, refused.content[0].text, refused.meta))
        rest.post("/_emulator/authorize", json={"user_identifier": "zoe",
                                                "connection_name": "MY_GMAIL"}, headers=ctl)
        sent = await session.call_tool("gmail_send_message",
                                       {"to": "a@b.co", "subject": "s", "body": "b"})
        print("  call after authorize: is_error=%s structured id=%s"
              % (sent.is_error, (sent.structured_content or {}).get("id")))
        rest.post("/_emulator/refusal_mode", json={"mode": "jsonrpc_error"}, headers=ctl)
        try:
            await session.call_tool("googlecalendar_list_events", {})
            print("  jsonrpc_error: NO ERROR (unexpected)")
        except Exception as exc:
            print("  jsonrpc_error mode raises:", type(exc).__name__, exc)
        rest.post("/_emulator/refusal_mode", json={"mode": "is_error_text"}, headers=ctl)
        rest.post("/_emulator/disconnect", json={"user_identifier": "zoe",
                                                 "connection_name": "MY_GMAIL"}, headers=ctl)


async def main() -> None:
    for mode in ("sse", "json"):
        rest.post("/_emulator/answer_mode", json={"mode": mode}, headers=ctl)
        print(f"instance URL, answer_mode={mode}")
        await session_run(inst["url"])
    counts = rest.post("/_emulator/counts", headers=ctl).json()["counts"]
    data = rest.post("/_emulator/user_data", json={"user_identifier": "zoe"},
                     headers=ctl).json()
    print("sent mails:", len(data["sent"]), "counts:", {k: v for k, v in counts.items()
                                                       if k.startswith("mcp.")})
    # Virtual server with a bearer session token (all connections ACTIVE first).
    for conn in ("MY_GMAIL", "MY_CALENDAR"):
        rest.post("/_emulator/authorize", json={"user_identifier": "zoe",
                                                "connection_name": conn}, headers=ctl)
    token = rest.post(f"/api/v1/mcp/configs/{cfg['id']}/tokens",
                      json={"identifier": "zoe"}).json()["token"]
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as h, \
            streamable_http_client(cfg["mcp_server_url"], http_client=h) as streams, \
            ClientSession(*streams[:2]) as session:
        init = await session.initialize()
        listed = await session.list_tools()
        result = await session.call_tool("gmail_fetch_mails", {"max_results": 1})
        print("virtual server:", init.protocol_version, len(listed.tools), "tools; fetch is_error =",
              result.is_error)


asyncio.run(main())
rest.close()
