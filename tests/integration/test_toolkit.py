"""ScalekitMCPToolkit end to end: the emulator over loopback HTTP, through a real LangGraph agent.

The agent is ``langgraph.prebuilt.create_react_agent`` driven by a scripted chat model (no LLM):
every tool call crosses the real toolkit, the real MCP session and the emulator's HTTP server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ToolMessage

from scalekit_langchain import AsyncScalekitClient, ScalekitMCPTool, ScalekitMCPToolkit
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    SEED_CONFIG,
    USER,
    ScriptedChatModel,
    authorize_all,
    by_name,
    mail_toolkit,
    make_agent,
    new_events,
    parse_dt,
    reminder_in_15_minutes,
    seed_toolkit,
    tool_call,
    tool_messages,
    utcnow,
)


@pytest.fixture
def env_emulator(emulator: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch) -> ScalekitEmulator:
    """The emulator, with its credentials in ``SCALEKIT_*`` (toolkits then own their client)."""
    monkeypatch.setenv("SCALEKIT_ENV_URL", emulator.env_url)
    monkeypatch.setenv("SCALEKIT_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", emulator.client_secret)
    return emulator


# --------------------------------------------------------------------------- the seed story


async def test_seed_story_through_a_real_langgraph_agent(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """Config created by the toolkit, user authorized, the agent reads the latest mail and puts
    a 15-minute reminder in the calendar 15 minutes from now."""
    toolkit = seed_toolkit(aclient)
    try:
        tools = await toolkit.aget_tools()
        # get-or-create: the config did not exist, the toolkit created it with the mappings.
        assert emulator.count("configs.create") == 1
        config = await aclient.mcp.get_config_by_name(SEED_CONFIG)
        assert config is not None
        assert {m.connection_name: m.tools for m in config.connection_tool_mappings} == {
            "MY_GMAIL": ["gmail_fetch_mails"],
            "MY_CALENDAR": ["googlecalendar_create_event"],
        }
        assert sorted(t.name for t in tools) == ["gmail_fetch_mails", "googlecalendar_create_event"]
        assert all(isinstance(t, ScalekitMCPTool) for t in tools)
        assert {c.connection_name for c in toolkit.pending_connections} == {
            "MY_GMAIL",
            "MY_CALENDAR",
        }

        authorize_all(emulator)
        await toolkit.aensure_authorized()

        model = ScriptedChatModel(
            steps=[
                tool_call("gmail_fetch_mails", {"max_results": 1}, "call_fetch"),
                reminder_in_15_minutes,
                AIMessage(content="I read Dana's reminder and put it in your calendar."),
            ]
        )
        agent = make_agent(model, tools)
        before = utcnow().replace(microsecond=0)
        result = await agent.ainvoke(
            {"messages": [("user", "Read my latest email and remind me about it in 15 minutes")]}
        )
        after = utcnow()
    finally:
        await toolkit.aclose()

    assert model.turns == 3
    messages = result["messages"]
    assert isinstance(messages[-1], AIMessage)
    assert messages[-1].content == "I read Dana's reminder and put it in your calendar."

    fetched, created = tool_messages(messages)
    # The tool messages hold the mail text, for the model.
    assert fetched.status == "success" and fetched.tool_call_id == "call_fetch"
    assert fetched.name == "gmail_fetch_mails"
    assert isinstance(fetched.content, str)
    latest = emulator.user_data(USER).inbox[-1]
    assert latest["id"] == "msg_0005"
    assert latest["subject"] in fetched.content
    assert "Dana Whitfield" in fetched.content
    # ...and the artifact is the tool's structuredContent, unchanged.
    assert isinstance(fetched.artifact, dict)
    assert fetched.artifact["structured_content"]["messages"] == [latest]
    assert fetched.artifact["structured_content"]["result_size_estimate"] == 5

    assert created.status == "success" and created.tool_call_id == "call_create"
    [event] = new_events(emulator)
    assert created.artifact == {"structured_content": {"event": event}}
    assert event["summary"] == f"Reminder: {latest['subject']}"
    assert event["summary"] in str(created.content)
    start, end = parse_dt(event["start"]["dateTime"]), parse_dt(event["end"]["dateTime"])
    assert before + timedelta(minutes=15) <= start <= after + timedelta(minutes=15)
    assert end - start == timedelta(minutes=15)
    assert event["calendar_id"] == "primary"


def test_seed_story_through_the_sync_agent_path(env_emulator: ScalekitEmulator) -> None:
    """Plain sync code (no event loop): ``with toolkit``, ``get_tools()``, ``agent.invoke``."""
    authorize_all(env_emulator)
    model = ScriptedChatModel(
        steps=[
            tool_call("gmail_fetch_mails", {"max_results": 1}, "call_fetch"),
            reminder_in_15_minutes,
            AIMessage(content="Done."),
        ]
    )
    with seed_toolkit(None) as toolkit:
        agent = make_agent(model, toolkit.get_tools())
        result = agent.invoke({"messages": [("user", "Remind me about my latest mail")]})
    fetched, created = tool_messages(result["messages"])
    assert "Q3 budget" in str(fetched.content)
    assert fetched.artifact["structured_content"]["messages"][0]["id"] == "msg_0005"
    [event] = new_events(env_emulator)
    assert created.artifact == {"structured_content": {"event": event}}
    start, end = parse_dt(event["start"]["dateTime"]), parse_dt(event["end"]["dateTime"])
    assert end - start == timedelta(minutes=15)


async def test_get_or_create_reuses_an_existing_config(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """A second toolkit (another user) finds the config the first one created."""
    first = seed_toolkit(aclient)
    second = seed_toolkit(aclient, user_identifier="jane-roe")
    try:
        await first.aget_tools()
        await second.aget_tools()
    finally:
        await first.aclose()
        await second.aclose()
    assert emulator.count("configs.create") == 1
    page = await aclient.mcp.list_configs()
    assert [c.name for c in page.items] == [SEED_CONFIG]


async def test_missing_config_without_mappings_is_not_found(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    from scalekit_langchain import NotFoundError

    toolkit = ScalekitMCPToolkit(client=aclient, config_name="no-such-config", user_identifier=USER)
    try:
        with pytest.raises(NotFoundError):
            await toolkit.aget_tools()
    finally:
        await toolkit.aclose()
    assert emulator.count("configs.create") == 0


# --------------------------------------------------------------------------- tool errors


async def test_tool_error_is_an_error_tool_message(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with seed_toolkit(aclient) as toolkit:
        create = by_name(await toolkit.aget_tools())["googlecalendar_create_event"]
        message = await create.ainvoke(
            {
                "name": create.name,
                "args": {"summary": "Budget", "start_datetime": "tomorrow at noon-ish"},
                "id": "call_bad",
                "type": "tool_call",
            }
        )
        # The sync path gives the same answer.
        sync_message = await _in_thread(
            create.invoke,
            {
                "name": create.name,
                "args": {"summary": "Budget", "start_datetime": "not a date"},
                "id": "call_bad_sync",
                "type": "tool_call",
            },
        )
    for msg, call_id in ((message, "call_bad"), (sync_message, "call_bad_sync")):
        assert isinstance(msg, ToolMessage)
        assert msg.status == "error"
        assert msg.tool_call_id == call_id
        assert "start_datetime" in str(msg.content)
    assert new_events(emulator) == []


async def test_agent_keeps_running_after_a_tool_error(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    start = (utcnow() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    model = ScriptedChatModel(
        steps=[
            tool_call(
                "googlecalendar_create_event",
                {"summary": "Send budget", "start_datetime": "in two hours"},
                "call_bad",
            ),
            tool_call(
                "googlecalendar_create_event",
                {"summary": "Send budget", "start_datetime": start, "event_duration_minutes": 15},
                "call_good",
            ),
            AIMessage(content="Fixed the date and created the event."),
        ]
    )
    async with seed_toolkit(aclient) as toolkit:
        agent = make_agent(model, await toolkit.aget_tools())
        result = await agent.ainvoke({"messages": [("user", "Remind me in two hours")]})
    bad, good = tool_messages(result["messages"])
    assert bad.status == "error" and "start_datetime" in str(bad.content)
    assert good.status == "success"
    # The model saw the error message on its second turn.
    assert any(isinstance(m, ToolMessage) and m.status == "error" for m in model.seen[1])
    assert result["messages"][-1].content == "Fixed the date and created the event."
    [event] = new_events(emulator)
    assert event["summary"] == "Send budget"
    assert good.artifact == {"structured_content": {"event": event}}


# --------------------------------------------------------------------------- filter and prefix


async def test_tool_filter_exposes_only_the_named_tools(aclient: AsyncScalekitClient) -> None:
    async with seed_toolkit(aclient, tools=["gmail_fetch_mails"]) as toolkit:
        tools = await toolkit.aget_tools()
    assert [t.name for t in tools] == ["gmail_fetch_mails"]


async def test_tool_filter_rejects_unknown_names_listing_available_ones(
    aclient: AsyncScalekitClient,
) -> None:
    toolkit = seed_toolkit(aclient, tools=["gmail_fetch_mails", "gmail_delete_everything"])
    try:
        with pytest.raises(ValueError) as info:
            await toolkit.aget_tools()
    finally:
        await toolkit.aclose()
    text = str(info.value)
    assert "gmail_delete_everything" in text
    assert "gmail_fetch_mails" in text and "googlecalendar_create_event" in text


async def test_tool_name_prefix_keeps_the_real_mcp_name(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    model = ScriptedChatModel(
        steps=[
            tool_call("acme_gmail_fetch_mails", {"max_results": 1}, "call_1"),
            AIMessage(content="ok"),
        ]
    )
    async with seed_toolkit(aclient, tool_name_prefix="acme") as tk:
        tools = await tk.aget_tools()
        assert sorted(t.name for t in tools) == [
            "acme_gmail_fetch_mails",
            "acme_googlecalendar_create_event",
        ]
        fetch = by_name(tools)["acme_gmail_fetch_mails"]
        assert fetch.mcp_tool_name == "gmail_fetch_mails"
        assert fetch.metadata is not None and fetch.metadata["mcp_tool"] == "gmail_fetch_mails"
        emulator.reset_counts()
        result = await make_agent(model, tools).ainvoke({"messages": [("user", "latest mail?")]})
    [message] = tool_messages(result["messages"])
    assert message.status == "success", message.content
    assert message.artifact["structured_content"]["messages"][0]["id"] == "msg_0005"
    # The MCP server was asked for the real name (it answers an error for unknown names).
    assert emulator.counts()["mcp.tools/call"] == 1


# --------------------------------------------------------------------------- returning user


async def test_returning_user_costs_no_rest_call(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with seed_toolkit(aclient) as first:
        fetch = by_name(await first.aget_tools())["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1})

    emulator.reset_counts()
    async with seed_toolkit(aclient) as second:
        tools = by_name(await second.aget_tools())
        fetch = tools["gmail_fetch_mails"]
        rest_before_first_call = emulator.count("instances.") + emulator.count("configs.")
        token_fetches = emulator.count("oauth.")
        text = await fetch.ainvoke({"max_results": 1})
    assert rest_before_first_call == 0
    assert token_fetches == 0
    assert emulator.count("instances.") + emulator.count("configs.") == 0
    assert "msg_0005" in text
    # The cached instance carries the config: metadata still names the connection.
    assert fetch.metadata["scalekit_connection"] == "MY_GMAIL"
    assert tools["googlecalendar_create_event"].metadata["scalekit_connection"] == "MY_CALENDAR"


# --------------------------------------------------------------------------- metadata and secrets


class _TraceRecorder(BaseCallbackHandler):
    """Records everything a tracer would see of a tool run."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_tool_start(self, serialized: Any, input_str: str, **kwargs: Any) -> None:
        self.seen.append(repr((serialized, input_str, kwargs)))

    def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        self.seen.append(repr((output, kwargs)))

    def on_tool_error(self, error: BaseException, **kwargs: Any) -> None:
        self.seen.append(repr((error, kwargs)))


async def test_metadata_and_tags_name_the_tool_without_secrets(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    recorder = _TraceRecorder()
    async with mail_toolkit(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        await tools["gmail_fetch_mails"].ainvoke(
            {"max_results": 1}, config={"callbacks": [recorder], "tags": ["run"]}
        )
        texts = [repr(toolkit), str(toolkit)]
        for tool in tools.values():
            texts += [repr(tool), str(tool), repr(tool.metadata), repr(tool.tags), str(tool.args)]
        texts += recorder.seen

        fetch = tools["gmail_fetch_mails"]
        assert fetch.metadata is not None
        assert fetch.metadata["scalekit_config"] == "mail-assistant"
        assert fetch.metadata["scalekit_connection"] == "MY_GMAIL"
        assert fetch.metadata["scalekit_provider"] == "GMAIL"
        assert fetch.metadata["mcp_tool"] == "gmail_fetch_mails"
        assert set(fetch.tags or []) >= {
            "scalekit",
            "scalekit:mail-assistant",
            "scalekit_connection:MY_GMAIL",
        }
        create = tools["googlecalendar_create_event"]
        assert create.metadata["scalekit_connection"] == "MY_CALENDAR"
        assert create.metadata["mcp_tool"] == "googlecalendar_create_event"
        assert "scalekit_connection:MY_CALENDAR" in (create.tags or [])

    # What the secrets are (asked for after the fact, not through the toolkit).
    instance = await aclient.mcp.ensure_instance("mail-assistant", USER)
    assert instance.url
    secret_segment = instance.url.rstrip("/").rsplit("/", 1)[-1]
    assert len(secret_segment) >= 16
    forbidden = [instance.url, secret_segment, emulator.client_secret, "skat_"]
    assert recorder.seen, "the callbacks saw no tool run"
    for text in texts:
        for secret in forbidden:
            assert secret not in text, f"{secret[:6]}... leaked in {text[:200]}"


async def _in_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


async def test_logs_never_show_the_instance_url(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs every request URL at INFO; for an instance URL the path is the credential."""
    import logging

    authorize_all(emulator)
    caplog.set_level(logging.DEBUG)
    async with mail_toolkit(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        await tools["gmail_fetch_mails"].ainvoke({"max_results": 1})
        emulator.drop_mcp_sessions()  # a reconnect logs too
        await tools["gmail_send_message"].ainvoke(
            {"to": "a@b.example", "subject": "s", "body": "b"}
        )
    instance = await aclient.mcp.ensure_instance("mail-assistant", USER)
    assert instance.url
    secret_segment = instance.url.rstrip("/").rsplit("/", 1)[-1]
    assert "/mcp/" in caplog.text, "expected the MCP requests to be logged (redacted)"
    server_side = ("uvicorn", "mcp.server", "sse_starlette", "scalekit_langchain.testing")
    leaking = [
        f"{r.name}: {r.getMessage()[:90]}"
        for r in caplog.records
        if secret_segment in r.getMessage() and not r.name.startswith(server_side)
    ]
    assert not leaking, "the instance URL's secret is logged:\n" + "\n".join(leaking[:5])
