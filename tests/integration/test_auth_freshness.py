"""Auth state that stays true: ``auth_state_ttl``, ``forget_auth_state`` and Scalekit's signed
webhooks, end to end against the emulator (whose status changes send the webhooks).

The scenario of issue 21: an account is revoked between two runs on the same toolkit. The run
must pause before the model (no refused tool call first), with exact request counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from starlette.applications import Starlette

from scalekit_langchain import (
    AsyncScalekitClient,
    ScalekitMCPToolkit,
    authorization_gate,
    resume_authorization,
)
from scalekit_langchain.testing import ScalekitEmulator
from scalekit_langchain.testing.emulator import REFUSAL_MODES
from scalekit_langchain.webhooks import STATUS_UPDATED, WebhookReceiver, verify_webhook
from tests.integration._net_support import Served
from tests.integration._toolkit_support import (
    MAIL_CONFIG,
    MAIL_MAPPINGS,
    ScriptedChatModel,
    mail,
)

agents = pytest.importorskip("langchain.agents")
from scalekit_langchain import AuthorizationMiddleware  # noqa: E402


def _send(i: int) -> AIMessage:
    call = {"name": "gmail_send_message", "args": mail(f"Note {i}"), "id": f"send-{i}",
            "type": "tool_call"}
    return AIMessage(content="", tool_calls=[call])


def _script(runs: int) -> ScriptedChatModel:
    steps: list[Any] = []
    for i in range(runs):
        steps += [_send(i), AIMessage(content=f"Sent {i}.")]
    return ScriptedChatModel(steps=steps)


def _ask(i: int) -> dict[str, Any]:
    return {"messages": [("user", f"Send note {i}.")]}


def _agent(toolkit: ScalekitMCPToolkit, model: ScriptedChatModel, tools: list[Any]) -> Any:
    return agents.create_agent(
        model, tools, middleware=[AuthorizationMiddleware(toolkit)], checkpointer=InMemorySaver()
    )


def _authorize_all(emu: ScalekitEmulator, user: str) -> None:
    for mapping in MAIL_MAPPINGS:
        emu.authorize(user, mapping.connection_name)


@pytest.fixture
async def client(emulator: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(
        emulator.env_url, emulator.client_id, emulator.client_secret
    ) as c:
        yield c


async def _first_run(emu: ScalekitEmulator, agent: Any, model: ScriptedChatModel, user: str) -> None:
    result = await agent.ainvoke(_ask(0), {"configurable": {"thread_id": f"{user}-0"}})
    assert "__interrupt__" not in result
    assert model.turns == 2
    assert len(emu.user_data(user).sent) == 1


async def _revoked_run_pauses_before_the_model(
    emu: ScalekitEmulator, agent: Any, model: ScriptedChatModel, user: str
) -> None:
    emu.reset_counts()
    run = {"configurable": {"thread_id": f"{user}-1"}}
    result = await agent.ainvoke(_ask(1), run)
    (pause,) = result["__interrupt__"]
    assert [c["connection_name"] for c in pause.value["connections"]] == ["MY_GMAIL"]
    assert pause.value["connections"][0]["status"] == "DISCONNECTED"
    assert model.turns == 2  # the model did not run
    assert emu.count("mcp.tools/call") == 0  # no refused call first
    assert emu.count("instances.auth_state") == 1  # one check, with the links
    emu.authorize(user, "MY_GMAIL")
    emu.reset_counts()
    result = await agent.ainvoke(resume_authorization(result), run)
    assert "__interrupt__" not in result
    assert model.turns == 4
    assert emu.count("mcp.tools/call") == 1
    assert [m["subject"] for m in emu.user_data(user).sent] == ["Note 0", "Note 1"]


@pytest.mark.parametrize("mode", REFUSAL_MODES)
async def test_revoked_between_runs_pauses_before_the_model_with_ttl_0(
    emulator: ScalekitEmulator, client: AsyncScalekitClient, mode: str
) -> None:
    emulator.set_refusal_mode(mode)
    user = f"ttl0-{mode}"
    _authorize_all(emulator, user)
    model = _script(2)
    async with ScalekitMCPToolkit(
        client=client, config_name=MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS,
        user_identifier=user, auth_state_ttl=0,
    ) as toolkit:
        agent = _agent(toolkit, model, await toolkit.aget_tools())
        await _first_run(emulator, agent, model, user)
        emulator.disconnect(user, "MY_GMAIL")
        await _revoked_run_pauses_before_the_model(emulator, agent, model, user)


async def test_within_the_ttl_a_run_asks_nothing_and_forget_makes_it_ask(
    emulator: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    user = "ttl-default"
    _authorize_all(emulator, user)
    model = _script(3)
    async with ScalekitMCPToolkit(
        client=client, config_name=MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS,
        user_identifier=user,
    ) as toolkit:
        assert toolkit.auth_state_ttl == 60.0
        agent = _agent(toolkit, model, await toolkit.aget_tools())
        await _first_run(emulator, agent, model, user)
        emulator.reset_counts()
        result = await agent.ainvoke(_ask(1), {"configurable": {"thread_id": "ttl-1"}})
        assert "__interrupt__" not in result
        assert emulator.count("instances.") == 0  # seen ACTIVE within the TTL: no request
        assert emulator.count("mcp.tools/call") == 1
        # Forgotten (what a webhook does): the next run asks once, before the model.
        emulator.disconnect(user, "MY_GMAIL")
        toolkit.forget_auth_state(user)
        await _revoked_run_pauses_before_the_model_third(emulator, agent, model, user)


async def _revoked_run_pauses_before_the_model_third(
    emu: ScalekitEmulator, agent: Any, model: ScriptedChatModel, user: str
) -> None:
    emu.reset_counts()
    result = await agent.ainvoke(_ask(2), {"configurable": {"thread_id": f"{user}-2"}})
    (pause,) = result["__interrupt__"]
    assert [c["connection_name"] for c in pause.value["connections"]] == ["MY_GMAIL"]
    assert model.turns == 4
    assert emu.count("mcp.tools/call") == 0
    assert emu.count("instances.auth_state") == 1


async def test_the_gate_honours_the_ttl(
    emulator: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    from langgraph.graph import START, MessagesState, StateGraph

    user = "gate-ttl"
    _authorize_all(emulator, user)
    for ttl, checks in ((0.0, 3), (60.0, 0)):
        async with ScalekitMCPToolkit(
            client=client, config_name=MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS,
            user_identifier=user, auth_state_ttl=ttl,
        ) as toolkit:
            await toolkit.aauth_state(False)  # seen ACTIVE just now
            builder = StateGraph(MessagesState)
            builder.add_node("authorize", authorization_gate(toolkit))
            builder.add_edge(START, "authorize")
            graph = builder.compile(checkpointer=InMemorySaver())
            emulator.reset_counts()
            for i in range(3):
                await graph.ainvoke(_ask(i), {"configurable": {"thread_id": f"gate-{ttl}-{i}"}})
            assert emulator.count("instances.auth_state") == checks, ttl


# ---------------------------------------------------------------------------- webhooks


@pytest.fixture
def hooked() -> Iterator[tuple[ScalekitEmulator, list[WebhookReceiver]]]:
    """An emulator whose status changes reach a receiver served on loopback (the receiver's
    targets are filled in by the test)."""
    receivers: list[WebhookReceiver] = []
    app = Starlette()
    with ScalekitEmulator() as emu:
        receiver = WebhookReceiver(emu.webhooks.secret)
        receivers.append(receiver)
        app.router.routes.append(receiver.route("/hooks/scalekit"))
        with Served(app) as served:
            emu.webhooks.url = f"http://127.0.0.1:{served.port}/hooks/scalekit"
            yield emu, receivers


@pytest.mark.parametrize("mode", ["is_error_text", "http_401", "hidden"])
async def test_a_webhook_makes_the_next_run_ask_before_the_model(
    hooked: tuple[ScalekitEmulator, list[WebhookReceiver]], mode: str
) -> None:
    emu, (receiver,) = hooked
    emu.set_refusal_mode(mode)
    user = f"hooked-{mode}"
    _authorize_all(emu, user)
    assert [d.http_status for d in emu.webhooks.deliveries] == [204, 204]
    model = _script(2)
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as client:
        receiver.targets.append(client)  # forgets for every toolkit of the client
        async with ScalekitMCPToolkit(
            client=client, config_name=MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS,
            user_identifier=user,  # the default TTL: only the webhook can tell in time
        ) as toolkit:
            agent = _agent(toolkit, model, await toolkit.aget_tools())
            await _first_run(emu, agent, model, user)
            emu.disconnect(user, "MY_GMAIL")  # returns once the webhook was delivered
            assert emu.webhooks.deliveries[-1].http_status == 204
            assert (receiver.accepted, receiver.refused) == (3, 0)
            await _revoked_run_pauses_before_the_model(emu, agent, model, user)
    assert [(d.connection_name, d.status) for d in emu.webhooks.deliveries] == [
        ("MY_GMAIL", "ACTIVE"), ("MY_CALENDAR", "ACTIVE"), ("MY_GMAIL", "DISCONNECTED"),
        ("MY_GMAIL", "ACTIVE"),
    ]


def test_the_emulators_deliveries_verify_and_forged_ones_are_refused(
    hooked: tuple[ScalekitEmulator, list[WebhookReceiver]],
) -> None:
    emu, (receiver,) = hooked
    seen: list[tuple[dict[str, str], bytes]] = []
    app = Starlette()

    async def capture(request: Any) -> Any:
        from starlette.responses import Response

        seen.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    app.add_route("/capture", capture, methods=["POST"])
    with Served(app) as capture_server:
        emu.webhooks.url = f"http://127.0.0.1:{capture_server.port}/capture"
        emu.expire_connection("ana", "MY_CALENDAR")
        emu.expire_connection("ana", "MY_CALENDAR")  # no change: no delivery
    (headers, body), = seen
    event = verify_webhook(emu.webhooks.secret, headers, body)
    assert (event.type, event.user_identifier, event.connection_name) == (
        STATUS_UPDATED, "ana", "MY_CALENDAR")
    assert (event.status, event.old_status) == ("EXPIRED", None)  # no account before
    # The same delivery with a body changed by one byte is refused by the served route.
    emu.webhooks.url = None
    with Served(Starlette(routes=[receiver.route("/hooks/scalekit")])) as served:
        target = f"http://127.0.0.1:{served.port}/hooks/scalekit"
        forged = httpx.post(target, content=body.replace(b"ana", b"bob"), headers=headers)
        assert (forged.status_code, forged.json()) == (400, {"error": "no valid signature"})
        genuine = httpx.post(target, content=body, headers=headers)
        assert genuine.status_code == 204
    assert (receiver.accepted, receiver.refused) == (1, 1)


def test_the_webhook_control_route_sets_the_url_and_lists_deliveries(
    emulator: ScalekitEmulator,
) -> None:
    seen: list[bytes] = []

    async def capture(request: Any) -> Any:
        from starlette.responses import Response

        seen.append(await request.body())
        return Response(status_code=204)

    app = Starlette()
    app.add_route("/in", capture, methods=["POST"])
    control = f"{emulator.env_url}/_emulator/webhook"
    with Served(app) as served:
        url = f"http://127.0.0.1:{served.port}/in"
        assert httpx.post(control, json={"url": url}).status_code == 401  # no control token
        answer = httpx.post(control, json={"url": url}, headers=emulator.control_headers)
        assert answer.json() == {"url": url, "deliveries": []}
        httpx.post(f"{emulator.env_url}/_emulator/disconnect", headers=emulator.control_headers,
                   json={"user_identifier": "ana", "connection_name": "MY_SLACK"})
        assert emulator.webhooks.flush()
        answer = httpx.post(control, json={"url": None}, headers=emulator.control_headers)
    (delivery,) = answer.json()["deliveries"]
    assert answer.json()["url"] is None
    assert {k: delivery[k] for k in ("user_identifier", "connection_name", "status",
                                     "http_status")} == {
        "user_identifier": "ana", "connection_name": "MY_SLACK", "status": "DISCONNECTED",
        "http_status": 204}
    assert len(seen) == 1 and b'"status":"DISCONNECTED"' in seen[0]
