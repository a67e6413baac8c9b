"""ScalekitMCPToolkit when the MCP session dies: reconnect transparently, never send a mail twice."""

from __future__ import annotations

import time

import pytest

from scalekit_langchain import (
    AsyncScalekitClient,
    ScalekitConnectionError,
    ScalekitError,
    ToolCallOutcomeUnknown,
)
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import USER, authorize_all, by_name, mail, mail_toolkit


def _subjects(emu: ScalekitEmulator) -> list[str]:
    return [m["subject"] for m in emu.user_data(USER).sent]


async def _warm_send_tool(toolkit, emulator):  # type: ignore[no-untyped-def]
    tools = by_name(await toolkit.aget_tools())
    await tools["gmail_fetch_mails"].ainvoke({"max_results": 1})
    return tools["gmail_send_message"]


@pytest.mark.parametrize("how", ["restart", "drop_mcp_sessions"])
async def test_next_call_reconnects_transparently_and_runs_once(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, how: str
) -> None:
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        getattr(emulator, how)()
        emulator.reset_counts()

        result = await send.ainvoke(mail("after " + how))
        assert "SENT" in str(result) or "msg_" in str(result)
        assert _subjects(emulator) == ["after " + how]
        assert emulator.count("mcp.initialize") == 1
        # At most the one call the dead session refused (404) plus the one that ran.
        assert 1 <= emulator.count("mcp.tools/call") <= 2

        # Warm again: one request per call.
        emulator.reset_counts()
        await send.ainvoke(mail("then"))
        assert emulator.counts() == {"mcp.tools/call": 1}
    assert _subjects(emulator) == ["after " + how, "then"]


async def test_sync_call_reconnects_after_restart(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    import asyncio

    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.restart()
        emulator.reset_counts()
        await asyncio.to_thread(send.invoke, mail("sync after restart"))
        assert emulator.count("mcp.initialize") == 1
    assert _subjects(emulator) == ["sync after restart"]


async def test_session_404_is_resent_exactly_once_and_the_mail_sent_once(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """A 404 on ``Mcp-Session-Id`` means the server did not run the call: re-send it once."""
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.reset_counts()
        emulator.fail_next(404, kind="mcp.tools/call")
        await send.ainvoke(mail("after 404"))
        counts = emulator.counts()
    assert counts["mcp.tools/call"] == 2  # the refused one and the re-sent one
    assert counts["mcp.initialize"] == 1  # on a new session
    assert _subjects(emulator) == ["after 404"]


async def test_two_404s_in_a_row_give_up_without_sending(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.reset_counts()
        emulator.fail_next(404, count=2, kind="mcp.tools/call")
        with pytest.raises(ScalekitConnectionError):
            await send.ainvoke(mail("never"))
        assert emulator.count("mcp.tools/call") == 2  # re-sent once, not more
        assert _subjects(emulator) == []
        await send.ainvoke(mail("later"))
    assert _subjects(emulator) == ["later"]


async def test_rate_limited_call_is_resent_once(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """A 429 on a tool call means it did not run: re-sent once, mail sent once."""
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.reset_counts()
        emulator.fail_next(429, kind="mcp.tools/call", retry_after=0.05)
        await send.ainvoke(mail("after 429"))
        assert emulator.count("mcp.tools/call") == 2
    assert _subjects(emulator) == ["after 429"]


async def test_connection_dropped_mid_call_is_never_resent(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """The server ran the call, then the connection broke before the result: the caller is
    told the outcome is unknown and the mail is not sent a second time."""
    authorize_all(emulator)
    async with mail_toolkit(aclient, call_timeout=1.5) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.reset_counts()
        emulator.fail_next(200, kind="mcp.tools/call", mode="drop_after")
        with pytest.raises(ToolCallOutcomeUnknown) as info:
            await send.ainvoke(mail("only once"))
        assert info.value.tool_name == "gmail_send_message"
        assert emulator.count("mcp.tools/call") == 1
        assert _subjects(emulator) == ["only once"]
        instance = await aclient.mcp.ensure_instance("mail-assistant", USER)
        assert instance.url and instance.url.rsplit("/", 1)[-1] not in str(info.value)

        # The next call works (on a new session).
        await send.ainvoke(mail("next"))
    assert _subjects(emulator) == ["only once", "next"]


async def test_connection_dropped_mid_call_is_reported_promptly(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with mail_toolkit(aclient, call_timeout=3.0) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.fail_next(200, kind="mcp.tools/call", mode="drop_after")
        started = time.monotonic()
        with pytest.raises(ToolCallOutcomeUnknown) as info:
            await send.ainvoke(mail("only once"))
        elapsed = time.monotonic() - started
    assert _subjects(emulator) == ["only once"]
    assert "no result within" not in str(info.value)
    assert elapsed < 1.5


async def test_server_error_on_a_tool_call_is_not_resent(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """A 5xx after the request left may hide a call that ran: raised, never re-sent."""
    authorize_all(emulator)
    async with mail_toolkit(aclient, call_timeout=3.0) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.reset_counts()
        emulator.fail_next(503, kind="mcp.tools/call")
        started = time.monotonic()
        with pytest.raises(ScalekitError):
            await send.ainvoke(mail("maybe"))
        elapsed = time.monotonic() - started
        assert emulator.count("mcp.tools/call") == 1
        await send.ainvoke(mail("after 503"))
    assert _subjects(emulator) == ["after 503"]
    assert elapsed < 3.0


async def test_hung_call_times_out_as_outcome_unknown(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with mail_toolkit(aclient, call_timeout=0.5) as toolkit:
        send = await _warm_send_tool(toolkit, emulator)
        emulator.reset_counts()
        emulator.fail_next(200, kind="mcp.tools/call", mode="hang")
        with pytest.raises(ToolCallOutcomeUnknown):
            await send.ainvoke(mail("hung"))
        assert emulator.count("mcp.tools/call") == 1
        await send.ainvoke(mail("after hang"))
    assert _subjects(emulator) == ["after hang"]
