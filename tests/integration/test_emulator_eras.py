"""The emulator speaks MCP's two protocol eras (handshake only, both, 2026-07-28 only), over raw
HTTP and with the mcp 2.3 SDK's own era negotiation; the doctor records which eras a server
offers and its profile sets the emulator's era."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scalekit_langchain import AsyncScalekitClient, _mcp_stack
from scalekit_langchain.doctor import arun_probe
from scalekit_langchain.testing import MCP_ERAS, ScalekitEmulator
from tests.integration._toolkit_support import SEED_CONFIG, SEED_MAPPINGS, USER, authorize_all

NEW = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": NEW,
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


async def _instance_url(emu: ScalekitEmulator, client: AsyncScalekitClient) -> str:
    authorize_all(emu)
    await client.mcp.create_config(SEED_CONFIG, connection_tool_mappings=SEED_MAPPINGS)
    return (await client.mcp.ensure_instance(SEED_CONFIG, USER)).url


def _rpc(method: str, params: dict[str, Any], rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


async def _post(url: str, message: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(url, json=message, headers={**HEADERS, "accept": "application/json"})


def _initialize() -> dict[str, Any]:
    return _rpc(
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )


async def test_handshake_era_answers_discover_with_method_not_found(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    url = await _instance_url(emulator, aclient)
    assert emulator.mcp_era == "handshake"
    answer = await _post(url, _rpc("server/discover", {"_meta": META}))
    assert answer.status_code == 200 and answer.json()["error"]["code"] == -32601
    init = await _post(url, _initialize())
    assert init.json()["result"]["protocolVersion"] == "2025-11-25"
    assert init.headers.get("mcp-session-id")


async def test_both_eras_serve_discover_and_sessionless_requests(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    url = await _instance_url(emulator, aclient)
    emulator.set_mcp_era("both")
    found = await _post(url, _rpc("server/discover", {"_meta": META}))
    result = found.json()["result"]
    assert result["supportedVersions"][-1] == NEW and "2025-11-25" in result["supportedVersions"]
    assert result["resultType"] == "complete" and "mcp-session-id" not in found.headers
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "scalekit-emulator"
    listing = await _post(url, _rpc("tools/list", {"_meta": META}))
    page = listing.json()["result"]
    assert sorted(t["name"] for t in page["tools"]) == ["gmail_fetch_mails", "googlecalendar_create_event"]
    assert (page["ttlMs"], page["cacheScope"], page["resultType"]) == (300_000, "private", "complete")
    assert "mcp-session-id" not in listing.headers
    call = await _post(url, _rpc("tools/call", {"name": "gmail_fetch_mails", "arguments": {}, "_meta": META}))
    assert call.json()["result"]["isError"] is False
    assert (await _post(url, _initialize())).headers.get("mcp-session-id")  # handshake still works
    older = await _post(url, _rpc("tools/list", {"_meta": {**META, META_KEY: "2099-01-01"}}))
    error = older.json()["error"]
    assert error["code"] == -32022 and error["data"]["supported"][-1] == NEW


META_KEY = "io.modelcontextprotocol/protocolVersion"


async def test_new_era_only_refuses_the_handshake(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    url = await _instance_url(emulator, aclient)
    emulator.set_mcp_era("new")
    init = (await _post(url, _initialize())).json()
    assert init["error"]["code"] == -32022 and init["error"]["data"]["supported"] == [NEW]
    bare = (await _post(url, _rpc("tools/list", {}))).json()
    assert bare["error"]["code"] == -32022
    async with httpx.AsyncClient() as http:
        stream = await http.get(url, headers={"accept": "text/event-stream"})
    assert stream.status_code == 405
    found = (await _post(url, _rpc("server/discover", {"_meta": META}))).json()["result"]
    assert found["supportedVersions"] == [NEW]


@pytest.mark.skipif(_mcp_stack.MCP_MAJOR < 2, reason="mcp 1.x speaks only the handshake era")
@pytest.mark.parametrize("era", MCP_ERAS)
async def test_the_sdk_negotiates_each_era(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, era: str
) -> None:
    from mcp.client._probe import negotiate_auto

    url = await _instance_url(emulator, aclient)
    emulator.set_mcp_era(era)
    emulator.reset_counts()
    async with (
        _mcp_stack.http.AsyncClient() as http,
        _mcp_stack.open_streams(url, http) as (read, write),
        _mcp_stack.new_session(read, write) as session,
    ):
        await negotiate_auto(session)
        assert session.protocol_version == (NEW if era != "handshake" else "2025-11-25")
        listed = await session.list_tools()
        assert len(listed.tools) == 2
    counts = emulator.counts()
    if era == "handshake":
        assert counts.get("mcp.server/discover") == 1 and counts.get("mcp.initialize") == 1
    else:
        assert counts.get("mcp.server/discover") == 1 and counts.get("mcp.tools/list") == 1
        assert "mcp.initialize" not in counts and "mcp.GET" not in counts


def test_the_era_is_a_setting_profile_and_control_route() -> None:
    with pytest.raises(ValueError, match="era"):
        ScalekitEmulator(mcp_era="modern")  # type: ignore[arg-type]
    assert ScalekitEmulator(profile={"mcp_era": "new"}).mcp_era == "new"
    assert ScalekitEmulator(profile={"mcp_era": "new"}, mcp_era="both").mcp_era == "both"
    with ScalekitEmulator() as emu:
        answer = httpx.post(
            f"{emu.env_url}/_emulator/mcp_era", json={"era": "both"}, headers=emu.control_headers
        )
        assert answer.json() == {"era": "both"} and emu.mcp_era == "both"


@pytest.mark.parametrize(("era", "handshake", "new"), [("handshake", True, False), ("both", True, True), ("new", False, True)])
async def test_the_doctor_records_the_eras_offered(era: str, handshake: bool, new: bool) -> None:
    with ScalekitEmulator(mcp_era=era) as emu:  # type: ignore[arg-type]
        report = await arun_probe(
            ["MY_GMAIL"],
            env_url=emu.env_url,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            timeout=20,
        )
    assert report.data["mcp_era"] == era
    assert report.settings["mcp_era"] == era
    line = next(s for s in report.summary if "MCP eras offered" in s)
    assert f"handshake (initialize) {'yes' if handshake else 'no'}" in line
    assert f"2026-07-28 (server/discover) {'yes' if new else 'no'}" in line
    assert ScalekitEmulator(profile=report.data).mcp_era == era
    # The SDK probe connects as the toolkit does: the newest era both sides speak.
    sdk = report.data["observations"]["instance_mode"]["sdk"]
    if _mcp_stack.MCP_MAJOR >= 2 and new:
        assert sdk["protocol_version"] == "2026-07-28"
    elif handshake:
        assert sdk["protocol_version"] != "2026-07-28"
        assert sdk["server_info"]["name"]
    else:  # mcp 1.x cannot speak a 2026-07-28-only server
        assert "error" in sdk
