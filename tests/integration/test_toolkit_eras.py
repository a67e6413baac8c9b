"""The toolkit in both MCP protocol eras: on mcp 2 the newest era the server offers
(2026-07-28: ``server/discover``, no handshake, no session), else the handshake; on mcp 1 the
handshake only. Request counts come from the emulator and are exact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scalekit_langchain import (
    AsyncScalekitClient,
    ScalekitClient,
    ScalekitConnectionError,
    ToolCallOutcomeUnknown,
    _mcp_stack,
)
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    USER,
    authorize_all,
    by_name,
    mail,
    mail_toolkit,
    seed_toolkit,
)
from tests.integration.conftest import ERAS

NEW = "2026-07-28"
mcp2_only = pytest.mark.skipif(_mcp_stack.MCP_MAJOR < 2, reason="mcp 1.x speaks only the handshake")


def _mcp(emu: ScalekitEmulator) -> dict[str, int]:
    return {kind: n for kind, n in emu.counts().items() if kind.startswith("mcp.")}


def _session_of(toolkit: Any) -> Any:
    """The user's pooled McpSession (its protocol version is public)."""
    return toolkit.session_pool.peek(USER)


@mcp2_only
async def test_cold_start_in_the_new_era_is_discover_and_list(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    emulator.set_mcp_era("new")
    authorize_all(emulator)
    async with seed_toolkit(aclient) as toolkit:
        emulator.reset_counts()
        await toolkit.aget_tools(user_identifier=USER)  # already listed: nothing is sent
        assert _mcp(emulator) == {}
    emulator.reset_counts()
    async with seed_toolkit(aclient) as toolkit:
        assert len(await toolkit.aget_tools()) == 2
        assert _mcp(emulator) == {"mcp.server/discover": 1, "mcp.tools/list": 1}
        assert _session_of(toolkit).protocol_version == NEW


@pytest.mark.parametrize("mcp_era", ["handshake", "both", "new"])
async def test_each_server_gets_the_newest_era_it_offers(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, mcp_era: str
) -> None:
    authorize_all(emulator)
    toolkit = seed_toolkit(aclient)
    if _mcp_stack.MCP_MAJOR < 2 and mcp_era == "new":
        # mcp 1.x cannot speak 2026-07-28: a clear connection error, nothing else sent.
        with pytest.raises(ScalekitConnectionError):
            await toolkit.aget_tools()
        await toolkit.aclose()
        assert _mcp(emulator) == {"mcp.initialize": 1}
        return
    async with toolkit:
        tools = by_name(await toolkit.aget_tools())
        version = _session_of(toolkit).protocol_version
        emulator.reset_counts()
        for _ in range(3):
            message = await tools["gmail_fetch_mails"].ainvoke(
                {"type": "tool_call", "id": "c", "name": "gmail_fetch_mails", "args": {}}
            )
            assert message.status == "success"
        assert _mcp(emulator) == {"mcp.tools/call": 3}  # one request per warm call
    newest = NEW if _mcp_stack.MCP_MAJOR >= 2 and mcp_era != "handshake" else "2025-11-25"
    assert version == newest


@pytest.mark.parametrize("mcp_era", ERAS)
async def test_a_reconnect_costs_no_negotiation_in_the_new_era(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, mcp_era: str
) -> None:
    """A "session" in the new era is the connection, credentials and version: reopening it
    adopts the remembered ``server/discover`` answer (no request); the handshake era ends the
    old session (DELETE) and opens a new one (initialize, initialized, GET). In both, the SDK
    lists the tools once on a fresh session's first call (for their output schemas)."""
    authorize_all(emulator)
    async with seed_toolkit(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())["gmail_fetch_mails"]
        emulator.reset_counts()
        await _session_of(toolkit).reset()
        await fetch.ainvoke({})
        counts = _mcp(emulator)
    expected = {"mcp.tools/list": 1, "mcp.tools/call": 1}
    if mcp_era == "handshake":
        expected.update({
            "mcp.DELETE": 1,
            "mcp.initialize": 1,
            "mcp.notifications/initialized": 1,
            "mcp.GET": 1,
        })
    assert counts == expected


@pytest.mark.parametrize("mcp_era", ERAS)
async def test_a_broken_stream_is_outcome_unknown_never_a_resend(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, mcp_era: str
) -> None:
    """No session to lose in the new era: a call whose answer never arrives may have run, so
    it is reported and never re-sent; the next call works."""
    authorize_all(emulator)
    async with mail_toolkit(aclient, call_timeout=2.0) as toolkit:
        send = by_name(await toolkit.aget_tools())["gmail_send_message"]
        emulator.fail_next(200, kind="mcp.tools/call", mode="drop_after")
        with pytest.raises(ToolCallOutcomeUnknown):
            await send.ainvoke(mail("cut"))
        calls = emulator.count("mcp.tools/call")
        await send.ainvoke(mail("next"))
    assert calls == 1
    assert [m["subject"] for m in emulator.user_data(USER).sent] == ["cut", "next"]


@pytest.mark.parametrize("mcp_era", ERAS)
async def test_an_unauthorized_connection_pauses_in_every_era(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, mcp_era: str
) -> None:
    from scalekit_langchain import AuthorizationRequired

    emulator.authorize(USER, "MY_GMAIL")
    async with mail_toolkit(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        with pytest.raises(AuthorizationRequired) as caught:
            await tools["googlecalendar_create_event"].ainvoke(
                {"summary": "x", "start_datetime": "2026-12-24T10:00:00Z"}
            )
        assert [c.connection_name for c in caught.value.connections] == ["MY_CALENDAR"]
        emulator.authorize(USER, "MY_CALENDAR")
        done = await tools["googlecalendar_create_event"].ainvoke(
            {"summary": "x", "start_datetime": "2026-12-24T10:00:00Z"}
        )
    assert "x" in str(done)


@pytest.mark.parametrize("mcp_era", ERAS)
async def test_many_users_share_the_pool_in_every_era(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, mcp_era: str
) -> None:
    users = [f"user-{i}" for i in range(6)]
    for user in users:
        authorize_all(emulator, user)
    async with seed_toolkit(
        aclient, user_identifier=None, discovery_user=users[0], max_sessions=2
    ) as toolkit:
        fetch = by_name(await toolkit.aget_tools())["gmail_fetch_mails"]
        results = await asyncio.gather(
            *(fetch.ainvoke({}, {"configurable": {"user_id": u}}) for u in users)
        )
    assert all("message" in str(r) for r in results)
    assert emulator.count("mcp.tools/call") == len(users)
    assert emulator.count("mcp.initialize") == (0 if mcp_era == "new" else len(users))


def test_mcp1_stays_on_the_handshake_era() -> None:
    """The README's promise: on mcp 1.x the toolkit speaks the handshake era, even to a server
    that offers both (mcp 2 takes the new one)."""
    with ScalekitEmulator(mcp_era="both") as emu:
        authorize_all(emu)
        with (
            ScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as client,
            seed_toolkit(client) as toolkit,  # type: ignore[arg-type]
        ):
            toolkit.get_tools()
            version = _session_of(toolkit).protocol_version
        counts = _mcp(emu)
    if _mcp_stack.MCP_MAJOR < 2:
        assert version == "2025-11-25" and "mcp.server/discover" not in counts
        assert counts["mcp.initialize"] == 1
    else:
        assert version == NEW and "mcp.initialize" not in counts


@mcp2_only
@pytest.mark.parametrize("first", ["both", "new"])
async def test_a_server_that_drops_the_new_era_is_negotiated_again(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, first: str
) -> None:
    """A server that stops speaking 2026-07-28 refuses the next sessionless request before
    running it; the toolkit forgets the remembered era, negotiates again (the handshake) and
    sends the call once more: it runs exactly once, and later calls cost one request."""
    emulator.set_mcp_era(first)
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = by_name(await toolkit.aget_tools())["gmail_send_message"]
        await send.ainvoke(mail("before"))
        assert _session_of(toolkit).protocol_version == NEW
        emulator.set_mcp_era("handshake")
        emulator.reset_counts()
        await send.ainvoke(mail("after"))
        assert _session_of(toolkit).protocol_version != NEW
        renegotiated = _mcp(emulator)
        emulator.reset_counts()
        await send.ainvoke(mail("later"))
        assert _mcp(emulator) == {"mcp.tools/call": 1}
    assert [m["subject"] for m in emulator.user_data(USER).sent] == ["before", "after", "later"]
    # The refused call (it did not run), the new negotiation, the SDK's listing, the call.
    assert renegotiated == {
        "mcp.tools/call": 2,
        "mcp.server/discover": 1,
        "mcp.initialize": 1,
        "mcp.notifications/initialized": 1,
        "mcp.GET": 1,
        "mcp.tools/list": 1,
    }


@mcp2_only
async def test_a_listing_refused_for_its_era_is_negotiated_again(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    emulator.set_mcp_era("new")
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        await toolkit.aget_tools()
        emulator.set_mcp_era("handshake")
        emulator.reset_counts()
        names = [spec.name for spec in await _session_of(toolkit).list_tools()]
        assert _session_of(toolkit).protocol_version != NEW
    assert "gmail_send_message" in names
    assert _mcp(emulator)["mcp.tools/list"] == 2  # the refused one, then the listing
    assert _mcp(emulator)["mcp.initialize"] == 1
