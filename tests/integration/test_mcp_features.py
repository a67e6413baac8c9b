"""What a server sends besides answers (logs, progress, sampling, elicitation, list_changed),
through the toolkit, against the installed SDK's own server (FastMCP on mcp 1.x, MCPServer on
2.x), over loopback HTTP. These are the handshake era's server-to-client messages: the toolkits
here ask for that era (``mcp_era="handshake"``), since mcp 2.3's server also offers 2026-07-28,
where in-call requests become ``input_required`` results (tested in ``test_input_rounds.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import BaseModel

from scalekit_langchain import ScalekitMCPToolkit
from scalekit_langchain._mcp_stack import MCP_MAJOR
from tests.integration._net_support import Served

# The tools' `ctx: Context` annotations are read from this module's globals.
if MCP_MAJOR >= 2:
    from mcp.server.mcpserver import Context  # type: ignore[import-not-found, unused-ignore]
else:
    from mcp.server.fastmcp import Context  # type: ignore[import-not-found, unused-ignore, no-redef]


# The SDK's own server warns that logging and sampling are deprecated in the 2026-07-28 protocol;
# servers on the 2025 revisions (ours, Scalekit's) still use them.
pytestmark = pytest.mark.filterwarnings("ignore:The .* capability is deprecated")


class Confirm(BaseModel):
    ok: bool


def _app() -> Any:
    if MCP_MAJOR >= 2:
        from mcp.server.mcpserver import MCPServer  # type: ignore[import-not-found, unused-ignore]

        server: Any = MCPServer("features")
    else:
        from mcp.server.fastmcp import FastMCP  # type: ignore[import-not-found, unused-ignore]

        server = FastMCP("features")
    from mcp import types

    async def slow(steps: int, ctx: Context) -> str:  # type: ignore[type-arg]
        """Report progress, then answer."""
        await ctx.info("starting the slow job")
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
        return "done"

    async def ask_model(question: str, ctx: Context) -> str:  # type: ignore[type-arg]
        """Ask the client's model."""
        message = types.SamplingMessage(
            role="user", content=types.TextContent(type="text", text=question)
        )
        result = await ctx.session.create_message([message], max_tokens=20)
        wire = result.model_dump(by_alias=True, mode="json")
        return str(wire["content"]["text"])

    async def confirm(ctx: Context) -> str:  # type: ignore[type-arg]
        """Ask the user to confirm."""
        answer = await ctx.elicit("Proceed?", Confirm)
        return f"{answer.action}:{getattr(answer, 'data', None)}"

    def extra() -> str:
        """A tool that appears later."""
        return "extra"

    async def grow(ctx: Context) -> str:  # type: ignore[type-arg]
        """Add a tool and tell the client."""
        server.add_tool(extra)
        await ctx.session.send_tool_list_changed()
        return "grown"

    for tool in (slow, ask_model, confirm, grow):
        server.tool()(tool)
    return server.streamable_http_app()


@pytest.fixture
def url() -> Iterator[str]:
    with Served(_app(), lifespan="on") as served:
        yield f"http://127.0.0.1:{served.port}/mcp"


class _Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


async def test_logs_and_progress(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scalekit_langchain.server")
    events = _Events()
    async with ScalekitMCPToolkit(url=url, user_identifier="u", mcp_era="handshake") as toolkit:
        slow = {t.name: t for t in await toolkit.aget_tools()}["slow"]
        assert await slow.ainvoke({"steps": 3}, config={"callbacks": [events]}) == "done"
    assert any("starting the slow job" in r.getMessage() for r in caplog.records)
    progress = [d for name, d in events.events if name == "mcp_progress"]
    assert [(p["progress"], p["total"], p["message"]) for p in progress] == [
        (1, 3, "step 1"),
        (2, 3, "step 2"),
        (3, 3, "step 3"),
    ]
    assert {p["tool"] for p in progress} == {"slow"}


async def test_sampling_through_a_chat_model(url: str) -> None:
    model = FakeListChatModel(responses=["forty-two"])
    async with ScalekitMCPToolkit(
        url=url, user_identifier="u", sampling_model=model, mcp_era="handshake"
    ) as toolkit:
        ask = {t.name: t for t in await toolkit.aget_tools()}["ask_model"]
        assert await ask.ainvoke({"question": "meaning of life?"}) == "forty-two"


async def test_sampling_without_a_model_is_refused(url: str) -> None:
    async with ScalekitMCPToolkit(url=url, user_identifier="u", mcp_era="handshake") as toolkit:
        ask = {t.name: t for t in await toolkit.aget_tools()}["ask_model"]
        message = await ask.ainvoke(
            {"name": "ask_model", "args": {"question": "?"}, "id": "c1", "type": "tool_call"}
        )
    assert message.status == "error"


@pytest.mark.parametrize("handler", [None, "accept"])
async def test_elicitation(url: str, handler: str | None) -> None:
    seen: list[dict[str, Any]] = []

    async def accept(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return {"action": "accept", "content": {"ok": True}}

    async with ScalekitMCPToolkit(
        url=url,
        user_identifier="u",
        elicitation_handler=accept if handler else None,
        mcp_era="handshake",
    ) as toolkit:
        confirm = {t.name: t for t in await toolkit.aget_tools()}["confirm"]
        text = await confirm.ainvoke({})
    if handler:
        assert text.startswith("accept") and "ok=True" in text
        assert seen and seen[0]["message"] == "Proceed?"
    else:
        assert text.startswith("decline")


async def test_list_changed_refreshes_the_tools(url: str) -> None:
    async with ScalekitMCPToolkit(url=url, user_identifier="u", mcp_era="handshake") as toolkit:
        tools = {t.name: t for t in await toolkit.aget_tools()}
        assert "extra" not in tools
        assert await tools["grow"].ainvoke({}) == "grown"
        refreshed = {t.name: t for t in await toolkit.aget_tools()}
        assert "extra" in refreshed
        assert refreshed["slow"] is tools["slow"]  # tools already handed out keep their identity
        assert await refreshed["extra"].ainvoke({}) == "extra"


# --------------------------------------------------------------------------- URL elicitation


@pytest.fixture
def mini() -> Iterator[tuple[Any, str]]:
    from tests.integration._mini_mcp import MiniMcp

    server = MiniMcp()
    with Served(server) as served:
        yield server, f"http://127.0.0.1:{served.port}{server.path}"


def _elicitation_fault(server: Any) -> None:
    server.fail_next(
        "tools/call",
        mode="rpc_error",
        rpc_error=(-32042, "The user must approve this first"),
        rpc_data={
            "elicitations": [
                {
                    "mode": "url",
                    "elicitationId": "el-1",
                    "url": "https://approve.example/el-1",
                    "message": "Approve sending",
                }
            ]
        },
    )


@pytest.mark.parametrize("decision", ["accept", "decline"])
async def test_url_elicitation_pauses_the_run_and_resumes_once(
    mini: tuple[Any, str], decision: str
) -> None:
    from langchain_core.messages import AIMessage, ToolMessage
    from langgraph.checkpoint.memory import InMemorySaver

    from scalekit_langchain import ElicitationRequired, resume_elicitation
    from tests.integration._toolkit_support import ScriptedChatModel
    from tests.integration.test_never_twice import _custom_graph

    server, url = mini
    call = {"name": "send", "args": {"subject": "hi"}, "id": "c1", "type": "tool_call"}
    model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=[call]), AIMessage(content="ok")])
    async with ScalekitMCPToolkit(url=url, user_identifier="u", mcp_era="handshake") as toolkit:
        tools = await toolkit.aget_tools()
        _elicitation_fault(server)
        with pytest.raises(ElicitationRequired) as info:  # outside a graph
            await {t.name: t for t in tools}["send"].ainvoke({"subject": "x"})
        assert info.value.to_payload()["requests"][0]["url"] == "https://approve.example/el-1"
        graph = _custom_graph(model, tools, InMemorySaver())
        run = {"configurable": {"thread_id": "el"}}
        _elicitation_fault(server)
        result = await graph.ainvoke({"messages": [("user", "send it")]}, run)
        (pause,) = result["__interrupt__"]
        assert pause.value == {
            "type": "mcp_elicitation",
            "tool_name": "send",
            "requests": [
                {
                    "key": "el-1",
                    "message": "Approve sending",
                    "mode": "url",
                    "url": "https://approve.example/el-1",
                }
            ],
        }
        assert server.ran == []
        result = await graph.ainvoke(resume_elicitation(result, decision), run)
        assert "__interrupt__" not in result
    (message,) = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    if decision == "accept":
        assert server.ran == ["hi"] and message.status == "success"  # ran once, after accept
    else:
        assert server.ran == [] and message.status == "error"
        assert "declined" in str(message.content)
    assert "approve.example" not in str([m.content for m in result["messages"]])


async def test_refusals_when_nothing_is_pending(mini: tuple[Any, str]) -> None:
    """With every connection fine, a JSON-RPC error is for the model; a 403 is for the operator."""
    from scalekit_langchain import PermissionDeniedError

    server, url = mini
    async with ScalekitMCPToolkit(url=url, user_identifier="u", mcp_era="handshake") as toolkit:
        send = {t.name: t for t in await toolkit.aget_tools()}["send"]
        server.fail_next("tools/call", 400, rpc_error=(-32602, "subject must be a string"))
        message = await send.ainvoke({"name": "send", "args": {"subject": "x"}, "id": "c1", "type": "tool_call"})
        assert message.status == "error" and "subject must be a string" in str(message.content)
        server.fail_next("tools/call", 403, rpc_error=(-32001, "forbidden"))
        with pytest.raises(PermissionDeniedError):
            await send.ainvoke({"subject": "y"})
        await send.ainvoke({"subject": "z"})  # and the session still serves calls
    assert server.ran == ["z"]  # neither refused call ran
