"""Faults, through the client and the toolkit against the emulator.

Every test injects one fault and asserts how it ends: transparent recovery or a typed error,
and, for tools with a side effect, that the emulator's store holds the mail exactly as often as
the caller was told (never lost after a success, never sent twice).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import scalekit_langchain._rest_requests as base_module
from scalekit_langchain import (
    AsyncScalekitClient,
    RateLimitError,
    ScalekitError,
    ScalekitMCPToolkit,
    ScalekitProtocolError,
    ScalekitTimeoutError,
    ServerError,
    ToolCallOutcomeUnknown,
)
from scalekit_langchain.errors import ScalekitConnectionError
from scalekit_langchain.testing import ScalekitEmulator

USER = "fault-user"
CONFIG = "fault-assistant"
MAPPINGS = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails", "gmail_send_message"]},
    {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
]


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        emulator.authorize(USER, "MY_GMAIL")
        emulator.authorize(USER, "MY_CALENDAR")
        yield emulator


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The retry policy is the library's; only its time scale shrinks so the suite stays fast.
    monkeypatch.setattr(base_module, "BACKOFF_BASE", 0.01)


@pytest.fixture
async def client(emu: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret, timeout=5.0) as c:
        yield c


def _toolkit(client: AsyncScalekitClient, **kw: Any) -> ScalekitMCPToolkit:
    kw.setdefault("call_timeout", 2.0)
    kw.setdefault("connect_timeout", 3.0)
    return ScalekitMCPToolkit(
        client=client,
        config_name=CONFIG,
        user_identifier=USER,
        connection_tool_mappings=MAPPINGS,
        **kw,
    )


def _mail(subject: str) -> dict[str, str]:
    return {"to": "ops@acme.example", "subject": subject, "body": f"Body of {subject}"}


def _sent(emu: ScalekitEmulator, user: str = USER) -> list[str]:
    return [m["subject"] for m in emu.user_data(user).sent]


async def _warm(toolkit: ScalekitMCPToolkit) -> dict[str, Any]:
    tools = {t.name: t for t in await toolkit.aget_tools()}
    await tools["gmail_fetch_mails"].ainvoke({"max_results": 1})
    return tools


# --------------------------------------------------------------------------- latency


async def test_latency_spike_on_rest_read_is_waited_out(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.set_latency(0.3, kind="configs.list")
    started = time.monotonic()
    page = await client.mcp.list_configs()
    assert time.monotonic() - started >= 0.3
    assert page.items == []
    assert emu.count("configs.list") == 1  # waited, not retried


async def test_latency_spike_on_tool_call_is_waited_out_and_sends_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client, call_timeout=2.0) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        emu.reset_counts()
        emu.set_latency(0.4, kind="mcp.tools/call")
        started = time.monotonic()
        result = await send.ainvoke(_mail("slow"))
        assert time.monotonic() - started >= 0.4
        assert "slow" in str(result) or "msg_" in str(result)
        assert emu.counts() == {"mcp.tools/call": 1}
    assert _sent(emu) == ["slow"]


# --------------------------------------------------------------------------- 429


async def test_rest_429_retry_after_is_honoured_then_succeeds(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    await client.mcp.list_configs()  # token fetched
    emu.reset_counts()
    emu.fail_next(429, kind="configs.list", retry_after=0.3)
    started = time.monotonic()
    await client.mcp.list_configs()
    assert time.monotonic() - started >= 0.3
    assert emu.counts() == {"configs.list": 2}


async def test_rest_429_that_persists_is_a_typed_rate_limit_error(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.fail_next(429, count=10, kind="configs.list", retry_after=0.01)
    with pytest.raises(RateLimitError) as info:
        await client.mcp.list_configs()
    assert info.value.status_code == 429
    assert info.value.retry_after == pytest.approx(0.01)
    assert emu.count("configs.list") == 1 + base_module.DEFAULT_MAX_RETRIES
    emu.clear_faults()


async def test_mcp_429_on_tool_call_is_resent_once_and_sends_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        emu.reset_counts()
        emu.fail_next(429, kind="mcp.tools/call", retry_after=0.05)
        await send.ainvoke(_mail("after 429"))
        assert emu.count("mcp.tools/call") == 2  # refused, then re-sent: it never ran
    assert _sent(emu) == ["after 429"]


async def test_mcp_429_twice_on_tool_call_is_typed_and_sends_nothing(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        emu.reset_counts()
        emu.fail_next(429, count=2, kind="mcp.tools/call", retry_after=0.05)
        started = time.monotonic()
        with pytest.raises(ScalekitError):
            await send.ainvoke(_mail("rate limited"))
        assert time.monotonic() - started < 2.0
        assert emu.count("mcp.tools/call") == 2  # re-sent once, never more
        assert _sent(emu) == []
        await send.ainvoke(_mail("later"))
    assert _sent(emu) == ["later"]


async def test_mcp_429_on_initialize_is_typed_then_next_call_works(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.fail_next(429, kind="mcp.initialize", retry_after=0.05)
    toolkit = _toolkit(client)
    try:
        with pytest.raises(RateLimitError):
            await toolkit.aconnect()
        tools = {t.name: t for t in await toolkit.aget_tools()}
        await tools["gmail_send_message"].ainvoke(_mail("after init 429"))
    finally:
        await toolkit.aclose()
    assert _sent(emu) == ["after init 429"]


# --------------------------------------------------------------------------- 5xx runs


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_rest_read_5xx_run_shorter_than_retries_recovers(
    emu: ScalekitEmulator, client: AsyncScalekitClient, status: int
) -> None:
    await client.mcp.list_configs()
    emu.reset_counts()
    emu.fail_next(status, count=base_module.DEFAULT_MAX_RETRIES, kind="configs.list")
    await client.mcp.list_configs()
    assert emu.counts() == {"configs.list": 1 + base_module.DEFAULT_MAX_RETRIES}


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_rest_read_5xx_run_longer_than_retries_is_server_error(
    emu: ScalekitEmulator, client: AsyncScalekitClient, status: int
) -> None:
    emu.fail_next(status, count=10, kind="configs.list")
    with pytest.raises(ServerError) as info:
        await client.mcp.list_configs()
    assert info.value.status_code == status
    assert info.value.request_id
    assert emu.count("configs.list") == 1 + base_module.DEFAULT_MAX_RETRIES
    emu.clear_faults()
    await client.mcp.list_configs()  # the client still works


async def test_rest_read_500_is_server_error_without_retry(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    """500 is not in the retry set (design: 429, 502, 503, 504): typed at once."""
    emu.fail_next(500, count=3, kind="configs.list")
    with pytest.raises(ServerError) as info:
        await client.mcp.list_configs()
    assert info.value.status_code == 500
    assert emu.count("configs.list") == 1
    emu.clear_faults()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_ensure_instance_under_5xx_run_creates_exactly_one_instance(
    emu: ScalekitEmulator, client: AsyncScalekitClient, status: int
) -> None:
    await client.mcp.create_config(CONFIG, connection_tool_mappings=MAPPINGS)
    emu.reset_counts()
    emu.fail_next(status, count=10, kind="instances.ensure")
    with pytest.raises(ServerError) as info:
        await client.mcp.ensure_instance(CONFIG, USER)
    assert info.value.status_code == status
    expected = 1 if status == 500 else 1 + base_module.DEFAULT_MAX_RETRIES
    assert emu.count("instances.ensure") == expected
    emu.clear_faults()
    if status != 500:
        emu.fail_next(status, count=2, kind="instances.ensure")
    instance = await client.mcp.ensure_instance(CONFIG, USER)
    again = await client.mcp.ensure_instance(CONFIG, USER)
    assert again.id == instance.id
    page = await client.mcp.list_instances(filter_user_identifier=USER)
    assert [i.id for i in page.items] == [instance.id]


async def test_toolkit_connect_rides_out_a_5xx_run_on_ensure(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.fail_next(503, count=2, kind="instances.ensure")
    async with _toolkit(client) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        await send.ainvoke(_mail("after ensure 503s"))
    page = await client.mcp.list_instances(filter_user_identifier=USER)
    assert len(page.items) == 1
    assert _sent(emu) == ["after ensure 503s"]


# --------------------------------------------------------------------------- tokens


async def test_access_token_expiring_mid_run_costs_exactly_one_new_token(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        await toolkit.aauth_state()
        assert emu.count("oauth.token") == 1
        emu.expire_access_tokens()
        emu.reset_counts()
        # Many REST reads at once after expiry: one 401 each at most, one new token in all.
        results = await asyncio.gather(*(toolkit.aauth_state(False) for _ in range(8)))
        assert all(all(s.is_active for s in states) for states in results)
        assert emu.count("oauth.token") == 1
        await send.ainvoke(_mail("after expiry"))  # the MCP session needs no access token
    assert _sent(emu) == ["after expiry"]


# --------------------------------------------------------------------------- MCP sessions


async def test_mcp_session_dropped_between_calls_recovers_and_sends_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        await asyncio.to_thread(emu.drop_mcp_sessions)
        emu.reset_counts()
        await send.ainvoke(_mail("after drop"))
        assert emu.count("mcp.initialize") == 1
    assert _sent(emu) == ["after drop"]


async def _fault_during_call(
    emu: ScalekitEmulator, client: AsyncScalekitClient, fault: Any
) -> tuple[object, list[str]]:
    """Start a slow send, inject ``fault`` while it is in flight; return (outcome, sent)."""
    async with _toolkit(client, call_timeout=3.0) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        emu.set_latency(0.6, kind="mcp.tools/call")
        task = asyncio.ensure_future(send.ainvoke(_mail("in flight")))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(fault)
        started = time.monotonic()
        outcome: object
        try:
            outcome = await asyncio.wait_for(task, 5.0)
        except ScalekitError as exc:
            outcome = exc
        assert time.monotonic() - started < 4.0
        emu.set_latency(0)
        sent_mid = _sent(emu)
        await send.ainvoke(_mail("next"))  # the session works again
    return outcome, sent_mid


async def test_mcp_session_dropped_during_a_call_is_resent_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    """Dropped while the request waits at the server's door: the server answers 404 to the
    old session id, so the call provably did not run and is re-sent once, on a new session."""
    outcome, sent_mid = await _fault_during_call(emu, client, emu.drop_mcp_sessions)
    assert isinstance(outcome, str) and "msg_" in outcome, outcome
    assert sent_mid == ["in flight"]
    assert _sent(emu) == ["in flight", "next"]


async def test_emulator_restart_during_a_call_is_typed_and_never_duplicated(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    """The server went away with the call in flight: the outcome is unknown to the client,
    so it is reported (typed) and not re-sent; the next call works on a new session."""
    outcome, sent_mid = await _fault_during_call(emu, client, emu.restart)
    assert isinstance(outcome, ToolCallOutcomeUnknown), outcome
    assert outcome.tool_name == "gmail_send_message"
    assert sent_mid in ([], ["in flight"])  # whatever the server did, it did it at most once
    assert _sent(emu) == [*sent_mid, "next"]


async def test_emulator_restart_between_calls_recovers_rest_and_mcp(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        await asyncio.to_thread(emu.restart)
        assert all(s.is_active for s in await toolkit.aauth_state(False))
        await send.ainvoke(_mail("after restart"))
    assert _sent(emu) == ["after restart"]


# --------------------------------------------------------------------------- hangs


async def test_hung_tool_call_is_outcome_unknown_within_the_timeout(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client, call_timeout=1.0) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        emu.reset_counts()
        emu.fail_next(200, kind="mcp.tools/call", mode="hang")
        started = time.monotonic()
        with pytest.raises(ToolCallOutcomeUnknown) as info:
            await asyncio.wait_for(send.ainvoke(_mail("hung")), 5.0)
        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 2.5
        assert info.value.tool_name == "gmail_send_message"
        assert emu.count("mcp.tools/call") == 1  # never re-sent
        assert _sent(emu) == []  # the hung request never reached the tool
        await send.ainvoke(_mail("after hang"))
    assert _sent(emu) == ["after hang"]


async def test_hung_rest_read_is_retried_then_typed_timeout(emu: ScalekitEmulator) -> None:
    async with AsyncScalekitClient(
        emu.env_url, emu.client_id, emu.client_secret, timeout=0.3, max_retries=1
    ) as client:
        await client.mcp.list_configs()
        emu.reset_counts()
        emu.fail_next(200, count=1, kind="configs.list", mode="hang")
        await client.mcp.list_configs()  # one hang: the read is retried and succeeds
        assert emu.count("configs.list") == 2
        emu.fail_next(200, count=2, kind="configs.list", mode="hang")
        started = time.monotonic()
        with pytest.raises(ScalekitTimeoutError):
            await client.mcp.list_configs()
        assert time.monotonic() - started < 2.0
        assert emu.count("configs.list") == 4


async def test_hung_rest_write_is_a_typed_timeout_and_not_retried(
    emu: ScalekitEmulator,
) -> None:
    async with AsyncScalekitClient(
        emu.env_url, emu.client_id, emu.client_secret, timeout=0.3
    ) as client:
        await client.mcp.list_configs()
        emu.fail_next(200, kind="configs.create", mode="hang")
        with pytest.raises(ScalekitTimeoutError):
            await client.mcp.create_config(CONFIG, connection_tool_mappings=MAPPINGS)
        assert emu.count("configs.create") == 1
        assert await client.mcp.get_config_by_name(CONFIG) is None


# --------------------------------------------------------------------------- bad bodies

BAD_BODIES = ["garbage", "malformed_json", "wrong_content_type"]


@pytest.mark.parametrize("mode", BAD_BODIES)
async def test_rest_200_with_unreadable_body_is_protocol_error(
    emu: ScalekitEmulator, client: AsyncScalekitClient, mode: str
) -> None:
    await client.mcp.list_configs()
    emu.fail_next(200, kind="configs.list", mode=mode)  # type: ignore[arg-type]
    with pytest.raises(ScalekitProtocolError):
        await client.mcp.list_configs()
    await client.mcp.list_configs()  # and the next call works


@pytest.mark.parametrize("mode", BAD_BODIES)
async def test_rest_unreadable_token_response_is_protocol_error(
    emu: ScalekitEmulator, mode: str
) -> None:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as client:
        emu.fail_next(200, kind="oauth.token", mode=mode)  # type: ignore[arg-type]
        with pytest.raises(ScalekitProtocolError):
            await client.mcp.list_configs()
        await client.mcp.list_configs()


@pytest.mark.parametrize("mode", BAD_BODIES)
async def test_mcp_tool_call_with_unreadable_body_is_typed_and_sends_nothing(
    emu: ScalekitEmulator, client: AsyncScalekitClient, mode: str
) -> None:
    """A 200 whose body is not a JSON-RPC message: typed within the call timeout, never
    re-sent (a 200 may mean it ran), and the session works for the next call."""
    async with _toolkit(client, call_timeout=1.0) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        emu.reset_counts()
        emu.fail_next(200, kind="mcp.tools/call", mode=mode)  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(ToolCallOutcomeUnknown):
            await asyncio.wait_for(send.ainvoke(_mail("unreadable")), 5.0)
        assert time.monotonic() - started < 2.5
        assert emu.count("mcp.tools/call") == 1  # not re-sent: it might have run
        assert _sent(emu) == []  # (the emulator answered without running it)
        await send.ainvoke(_mail("after " + mode))
    assert _sent(emu) == ["after " + mode]


@pytest.mark.parametrize("mode", BAD_BODIES)
async def test_mcp_tool_call_with_unreadable_body_is_reported_promptly(
    emu: ScalekitEmulator, client: AsyncScalekitClient, mode: str
) -> None:
    async with _toolkit(client, call_timeout=2.0) as toolkit:
        send = (await _warm(toolkit))["gmail_send_message"]
        emu.fail_next(200, kind="mcp.tools/call", mode=mode)  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(ScalekitError):
            await send.ainvoke(_mail("unreadable"))
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert _sent(emu) == []


async def test_rest_write_cut_after_the_server_ran_it_is_not_repeated(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    await client.mcp.list_configs()
    emu.fail_next(200, kind="configs.create", mode="drop_after")
    with pytest.raises(ScalekitConnectionError):
        await client.mcp.create_config(CONFIG, connection_tool_mappings=MAPPINGS)
    assert emu.count("configs.create") == 1  # not re-sent
    assert (await client.mcp.get_config_by_name(CONFIG)) is not None  # it did run, once


async def test_rest_read_cut_mid_body_is_retried(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    await client.mcp.list_configs()
    emu.reset_counts()
    emu.fail_next(200, kind="configs.list", mode="drop_after")
    await client.mcp.list_configs()
    assert emu.counts() == {"configs.list": 2}


def test_sync_tool_invoke_under_faults_from_a_thread(emu: ScalekitEmulator) -> None:
    """Sync ``invoke`` from a worker thread: a 503 on ensure, a dropped session, a 404."""
    from scalekit_langchain import ScalekitMCPToolkit as Toolkit

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
            toolkit = Toolkit(
                client=client,
                config_name=CONFIG,
                user_identifier=USER,
                connection_tool_mappings=MAPPINGS,
                call_timeout=2.0,
            )
            emu.fail_next(503, kind="instances.ensure")
            with toolkit:
                send = {t.name: t for t in toolkit.get_tools()}["gmail_send_message"]
                send.invoke(_mail("sync 1"))
                emu.drop_mcp_sessions()
                send.invoke(_mail("sync 2"))
                emu.fail_next(404, kind="mcp.tools/call")
                send.invoke(_mail("sync 3"))
            from scalekit_langchain import _session_loop

            _session_loop.run_sync(client.aclose())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert not errors, errors
    assert _sent(emu) == ["sync 1", "sync 2", "sync 3"]


# --------------------------------------------------------------------------- isolation


async def test_two_users_concurrently_each_see_only_their_own_mail(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    users = ("iso-ana", "iso-ben")
    for user in users:
        emu.authorize(user, "MY_GMAIL")
        emu.authorize(user, "MY_CALENDAR")
    toolkit = ScalekitMCPToolkit(
        client=client,
        config_name=CONFIG,
        connection_tool_mappings=MAPPINGS,
        discovery_user=users[0],
        call_timeout=5.0,
    )
    try:
        tools = {t.name: t for t in await toolkit.aget_tools()}
        send, fetch = tools["gmail_send_message"], tools["gmail_fetch_mails"]
        emu.set_latency(0.01, kind="mcp.tools/call")  # interleave the two users' calls

        async def run(user: str, n: int) -> list[Any]:
            cfg = {"configurable": {"user_id": user}}
            return [await send.ainvoke(_mail(f"{user} #{i}"), cfg) for i in range(n)]

        await asyncio.gather(run(users[0], 6), run(users[1], 6), run(users[0], 2))
        for user in users:
            call = {
                "name": fetch.name,
                "args": {"query": "in:sent"},
                "id": "f",
                "type": "tool_call",
            }
            message = await fetch.ainvoke(call, {"configurable": {"user_id": user}})
            other = users[1] if user == users[0] else users[0]
            assert other not in str(message.content) + str(message.artifact)
    finally:
        await toolkit.aclose()
    ana, ben = (sorted(_sent(emu, u)) for u in users)
    assert ana == sorted([f"iso-ana #{i}" for i in range(6)] + [f"iso-ana #{i}" for i in range(2)])
    assert ben == sorted(f"iso-ben #{i}" for i in range(6))


async def _session_loop_tasks() -> set[asyncio.Task[Any]]:
    async def collect() -> set[asyncio.Task[Any]]:
        current = asyncio.current_task()
        return {t for t in asyncio.all_tasks() if t is not current and not t.done()}

    from scalekit_langchain import _session_loop

    future = asyncio.run_coroutine_threadsafe(collect(), _session_loop.session_loop())
    return await asyncio.wrap_future(future)


async def test_cancelling_a_call_mid_flight_leaves_no_task_and_the_session_works(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with _toolkit(client, call_timeout=5.0) as toolkit:
            send = (await _warm(toolkit))["gmail_send_message"]
            before = await _session_loop_tasks()
            emu.set_latency(1.0, kind="mcp.tools/call")
            task = asyncio.ensure_future(send.ainvoke(_mail("cancelled")))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # A call that left for the server is not abandoned half-way (it may have run and
            # its answer must be recorded): it finishes on its own, then nothing is left.
            await asyncio.sleep(1.1)  # the server answers the request that left
            assert [t for t in await _session_loop_tasks() if t not in before] == []
            emu.set_latency(0)
            await send.ainvoke(_mail("next"))
            assert emu.count("mcp.initialize") == 1  # same session, still usable
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    # The request had left: the server ran it once; it was not re-sent.
    assert _sent(emu) == ["cancelled", "next"]


async def test_caller_http_client_shared_by_the_toolkit_and_the_app(emu: ScalekitEmulator) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        client = AsyncScalekitClient(
            emu.env_url, emu.client_id, emu.client_secret, http_client=http
        )
        async with _toolkit(client) as toolkit:
            await toolkit.aget_tools()  # REST on the session loop
            for _ in range(5):
                await client.mcp.list_configs()  # REST on the app's loop, same http client
                await toolkit.aauth_state(False)  # and on the session loop again
