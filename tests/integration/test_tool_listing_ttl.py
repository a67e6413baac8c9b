"""Per-user tool listings in the MCP 2026-07-28 era: a ``tools/list`` answer is reused while its
``ttlMs`` lasts, per user when ``cacheScope`` is private, by everyone when public; a tool the
server does not list for a user is not called for them. The handshake era (and mcp 1.x) lists
once per toolkit, as before. Request counts come from the emulator and are exact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from scalekit_langchain import AsyncScalekitClient, ScalekitClient, ScalekitMCPToolkit, _mcp_stack
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import authorize_all, by_name, seed_toolkit

mcp2_only = pytest.mark.skipif(
    _mcp_stack.MCP_MAJOR < 2, reason="mcp 1.x speaks only the handshake era (no ttlMs)"
)

A, B = "user-a", "user-b"
FETCH = "gmail_fetch_mails"
CREATE = "googlecalendar_create_event"


def _mcp(emu: ScalekitEmulator) -> dict[str, int]:
    return {kind: n for kind, n in emu.counts().items() if kind.startswith("mcp.")}


def _lists(emu: ScalekitEmulator) -> int:
    return emu.counts().get("mcp.tools/list", 0)


def _calls(emu: ScalekitEmulator) -> int:
    return emu.counts().get("mcp.tools/call", 0)


def _multi(aclient: AsyncScalekitClient | ScalekitClient) -> ScalekitMCPToolkit:
    return seed_toolkit(aclient, user_identifier=None, discovery_user=A)


async def _call(tool: Any, user: str | None = None, call_id: str = "c") -> ToolMessage:
    config = {"configurable": {"user_id": user}} if user is not None else None
    message = await tool.ainvoke(
        {"type": "tool_call", "id": call_id, "name": tool.name, "args": {}}, config
    )
    assert isinstance(message, ToolMessage)
    return message


@mcp2_only
@pytest.mark.parametrize("mcp_era", ["new", "both"])
async def test_a_fresh_listing_costs_warm_calls_nothing(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator, "john-doe")
    async with seed_toolkit(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())[FETCH]
        for i in range(5):
            assert (await _call(fetch, call_id=f"c{i}")).status == "success"
        assert _lists(emulator) == 1
        assert _calls(emulator) == 5


@mcp2_only
@pytest.mark.parametrize("mcp_era", ["new"])
async def test_an_expired_listing_is_listed_again_once(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator, "john-doe")
    emulator.mcp_settings.tools_ttl_ms = 200
    async with seed_toolkit(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())[FETCH]
        assert _lists(emulator) == 1
        emulator.mcp_settings.tools_ttl_ms = 300_000  # the next listing lasts
        await asyncio.sleep(0.3)  # the first one (200 ms) is over
        emulator.reset_counts()
        for i in range(3):
            assert (await _call(fetch, call_id=f"c{i}")).status == "success"
        assert _mcp(emulator) == {"mcp.tools/list": 1, "mcp.tools/call": 3}


@mcp2_only
@pytest.mark.parametrize("mcp_era", ["new", "both"])
async def test_private_listings_are_per_user(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator, A)
    authorize_all(emulator, B)
    async with _multi(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())[FETCH]
        for i in range(2):
            assert (await _call(fetch, A, f"a{i}")).status == "success"
        assert (_lists(emulator), _calls(emulator)) == (1, 2)  # A's discovery listing
        emulator.reset_counts()
        for i in range(3):
            assert (await _call(fetch, B, f"b{i}")).status == "success"
        assert (_lists(emulator), _calls(emulator)) == (1, 3)  # B's own listing, once
        # ...made by the toolkit on B's session before B's first call (the mcp 2 SDK would
        # otherwise list after it, to validate the result, and leave this unset).
        listing = toolkit.session_pool.peek(B).listing
        assert listing is not None and listing.scope == "private"
        assert listing.ttl_seconds == 300.0
        emulator.reset_counts()
        assert (await _call(fetch, A, "a9")).status == "success"
        assert (await _call(fetch, B, "b9")).status == "success"
        assert _mcp(emulator) == {"mcp.tools/call": 2}


@mcp2_only
@pytest.mark.parametrize("mcp_era", ["new"])
async def test_a_public_listing_serves_every_user(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator, A)
    authorize_all(emulator, B)
    emulator.mcp_settings.tools_cache_scope = "public"
    # The server (against its own public word) hides the tool from B: B's call is sent on the
    # strength of A's listing alone, and B gets the server's error. (An error answer also keeps
    # the mcp 2 SDK from listing by itself to validate a structured result.)
    emulator.mcp_settings.user_hidden_tools = {B: frozenset({FETCH})}
    async with _multi(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())[FETCH]
        assert (await _call(fetch, A, "a")).status == "success"
        for i in range(2):
            refused = await _call(fetch, B, f"b{i}")
            assert refused.status == "error" and "Unknown tool" in str(refused.content)
        assert (_lists(emulator), _calls(emulator)) == (1, 3)


@mcp2_only
@pytest.mark.parametrize("mcp_era", ["new", "both"])
async def test_a_tool_not_listed_for_a_user_is_not_called_for_them(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator, A)
    authorize_all(emulator, B)
    emulator.mcp_settings.user_hidden_tools = {B: frozenset({FETCH})}
    async with _multi(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())[FETCH]  # A's listing has it
        emulator.reset_counts()
        refused = await _call(fetch, B, "b1")
        assert refused.status == "error"
        assert FETCH in str(refused.content)
        assert "does not offer this tool to user 'user-b'" in str(refused.content)
        # B's session opens (server/discover) and lists; no tools/call
        assert _mcp(emulator) == {"mcp.server/discover": 1, "mcp.tools/list": 1}
        # Asked again while B's listing is fresh: listed once more (the server may have added
        # it since), still refused, still not called.
        emulator.reset_counts()
        assert (await _call(fetch, B, "b2")).status == "error"
        assert _mcp(emulator) == {"mcp.tools/list": 1}
        emulator.reset_counts()
        assert (await _call(fetch, A, "a1")).status == "success"  # A still may
        assert _mcp(emulator) == {"mcp.tools/call": 1}


@mcp2_only
@pytest.mark.parametrize("mcp_era", ["new"])
async def test_a_users_listing_adds_tools_the_toolkit_lacked(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator, A)
    authorize_all(emulator, B)
    emulator.mcp_settings.user_hidden_tools = {A: frozenset({FETCH})}
    async with _multi(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        assert sorted(tools) == [CREATE]  # A's listing lacks FETCH
        create = tools[CREATE]
        # B's first call lists B's tools, which offer FETCH too.
        message = await create.ainvoke(
            {
                "type": "tool_call", "id": "b1", "name": CREATE,
                "args": {"summary": "x", "start_datetime": "2030-01-01T10:00:00Z"},
            },
            {"configurable": {"user_id": B}},
        )
        assert message.status == "success", message.content
        emulator.reset_counts()
        merged = by_name(await toolkit.aget_tools())
        assert sorted(merged) == sorted([CREATE, FETCH])
        assert merged[CREATE] is create  # the tool an agent holds is kept
        assert _mcp(emulator) == {"mcp.tools/list": 1}  # the re-discovery
        emulator.reset_counts()
        assert (await _call(merged[FETCH], B, "b2")).status == "success"
        assert _mcp(emulator) == {"mcp.tools/call": 1}
        refused = await _call(merged[FETCH], A, "a2")
        assert refused.status == "error" and "does not offer" in str(refused.content)
        assert _mcp(emulator) == {"mcp.tools/call": 1, "mcp.tools/list": 1}


@pytest.mark.parametrize("mcp_era", ["handshake"])
async def test_the_handshake_era_lists_once_per_toolkit(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator, A)
    authorize_all(emulator, B)
    emulator.mcp_settings.user_hidden_tools = {B: frozenset({FETCH})}
    async with _multi(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())[FETCH]
        assert (await _call(fetch, A, "a")).status == "success"
        assert (await _call(fetch, B, "b1")).status == "error"  # the server's own answer
        assert (await _call(fetch, B, "b2")).status == "error"
        assert (_lists(emulator), _calls(emulator)) == (1, 3)  # no per-user listing


@mcp2_only
@pytest.mark.parametrize("mcp_era", ["new"])
def test_sync_calls_check_the_users_listing_too(emulator: ScalekitEmulator) -> None:
    authorize_all(emulator, A)
    authorize_all(emulator, B)
    emulator.mcp_settings.user_hidden_tools = {B: frozenset({FETCH})}
    with ScalekitClient(
        env_url=emulator.env_url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
    ) as client, _multi(client) as toolkit:
        fetch = by_name(toolkit.get_tools())[FETCH]
        call = {"type": "tool_call", "id": "a", "name": FETCH, "args": {}}
        assert fetch.invoke(call, {"configurable": {"user_id": A}}).status == "success"
        emulator.reset_counts()
        refused = fetch.invoke({**call, "id": "b"}, {"configurable": {"user_id": B}})
        assert refused.status == "error" and "does not offer" in str(refused.content)
        assert _mcp(emulator) == {"mcp.server/discover": 1, "mcp.tools/list": 1}
