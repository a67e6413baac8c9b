"""ScalekitMCPToolkit: one HTTP request per call, sync and async paths, threads, event loops,
and a clean close."""

from __future__ import annotations

import asyncio
import gc
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from scalekit_langchain import AsyncScalekitClient, ScalekitError, _session_loop
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    USER,
    authorize_all,
    by_name,
    mail,
    mail_toolkit,
    seed_toolkit,
    session_loop_tasks,
)


@pytest.fixture
def env_emulator(emulator: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch) -> ScalekitEmulator:
    """The emulator, with its credentials in ``SCALEKIT_*`` (toolkits then own their client)."""
    monkeypatch.setenv("SCALEKIT_ENV_URL", emulator.env_url)
    monkeypatch.setenv("SCALEKIT_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", emulator.client_secret)
    authorize_all(emulator)
    return emulator


# --------------------------------------------------------------------------- 1 request per call


async def test_warm_tool_call_is_exactly_one_http_request(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with seed_toolkit(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1})  # warm
        # Sync calls run on the background loop, which has its own session: warm it too.
        await asyncio.to_thread(fetch.invoke, {"max_results": 1})

        emulator.reset_counts()
        await fetch.ainvoke({"max_results": 1})
        assert emulator.counts() == {"mcp.tools/call": 1}

        emulator.reset_counts()
        await asyncio.to_thread(fetch.invoke, {"max_results": 2})
        assert emulator.counts() == {"mcp.tools/call": 1}

        emulator.reset_counts()
        for _ in range(5):
            await fetch.ainvoke({"max_results": 1})
        assert emulator.counts() == {"mcp.tools/call": 5}


def test_warm_sync_tool_call_is_exactly_one_http_request(env_emulator: ScalekitEmulator) -> None:
    with seed_toolkit(None) as toolkit:
        fetch = by_name(toolkit.get_tools())["gmail_fetch_mails"]
        fetch.invoke({"max_results": 1})
        env_emulator.reset_counts()
        fetch.invoke({"max_results": 1})
        assert env_emulator.counts() == {"mcp.tools/call": 1}


# --------------------------------------------------------------------------- sync and async paths


def test_sync_context_manager_and_get_tools_with_no_loop_running(
    env_emulator: ScalekitEmulator,
) -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    with mail_toolkit(None) as toolkit:
        tools = by_name(toolkit.get_tools())
        assert set(tools) == {
            "gmail_fetch_mails",
            "gmail_send_message",
            "googlecalendar_create_event",
        }
        text = tools["gmail_fetch_mails"].invoke({"max_results": 1})
        assert "msg_0005" in text
        message = tools["gmail_send_message"].invoke(
            {"name": "gmail_send_message", "args": mail("sync"), "id": "c1", "type": "tool_call"}
        )
        assert message.status == "success"
        assert message.artifact["structured_content"]["label_ids"] == ["SENT"]
        # get_tools() again: same tools, nothing re-discovered.
        env_emulator.reset_counts()
        assert [t.name for t in toolkit.get_tools()] == list(tools)
        assert env_emulator.counts() == {}
    assert [m["subject"] for m in env_emulator.user_data(USER).sent] == ["sync"]
    with pytest.raises(ScalekitError):
        tools["gmail_fetch_mails"].invoke({"max_results": 1})


async def test_async_context_manager(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        text = await tools["gmail_fetch_mails"].ainvoke({"max_results": 1})
        assert "msg_0005" in text
        await tools["gmail_send_message"].ainvoke(mail("async"))
    assert [m["subject"] for m in emulator.user_data(USER).sent] == ["async"]
    with pytest.raises(ScalekitError):
        await tools["gmail_fetch_mails"].ainvoke({"max_results": 1})


def test_connect_and_close_explicitly_without_a_context_manager(
    env_emulator: ScalekitEmulator,
) -> None:
    toolkit = seed_toolkit(None)
    try:
        toolkit.connect()
        env_emulator.reset_counts()
        assert len(toolkit.get_tools()) == 2
        assert env_emulator.counts() == {}
    finally:
        toolkit.close()


def test_many_concurrent_sync_calls_from_a_thread_pool(env_emulator: ScalekitEmulator) -> None:
    with mail_toolkit(None) as toolkit:
        tools = by_name(toolkit.get_tools())
        send, fetch = tools["gmail_send_message"], tools["gmail_fetch_mails"]
        env_emulator.reset_counts()

        def work(i: int) -> str:
            if i % 2:
                return str(fetch.invoke({"max_results": 1}))
            return str(send.invoke(mail(f"pool-{i}")))

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(work, range(40)))
        counts = env_emulator.counts()
    assert all("msg_0005" in r for r in results[1::2])
    subjects = sorted(m["subject"] for m in env_emulator.user_data(USER).sent)
    assert subjects == sorted(f"pool-{i}" for i in range(0, 40, 2))
    # One session for all threads: no extra handshakes, one request per call. The session's
    # standing GET stream (handshake era) is opened by the SDK after the handshake and may land
    # after reset_counts() on a loaded machine: at most that one.
    assert counts.pop("mcp.GET", 0) <= 1
    assert counts == {"mcp.tools/call": 40}


async def test_many_concurrent_async_calls_share_one_session(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = by_name(await toolkit.aget_tools())["gmail_send_message"]
        emulator.reset_counts()
        await asyncio.gather(*(send.ainvoke(mail(f"gather-{i}")) for i in range(30)))
        assert emulator.counts() == {"mcp.tools/call": 30}
    assert len(emulator.user_data(USER).sent) == 30


async def test_an_async_callers_session_lives_on_its_own_loop(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """No thread hop per async call: the session is this loop's; sync calls use another."""
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1})
        pool = toolkit.session_pool
        assert pool.loop is asyncio.get_running_loop()
        assert len(pool) == 1
        background = await asyncio.to_thread(lambda: toolkit.session_pool)
        assert background is not pool and background.loop is None
        assert len(background) == 0  # no sync call yet
        await asyncio.to_thread(fetch.invoke, {"max_results": 1})
        assert (len(pool), len(background)) == (1, 1)
    assert emulator.count("mcp.initialize") == 2


async def test_calls_from_a_second_event_loop_while_the_first_is_alive(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    async with mail_toolkit(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        send, fetch = tools["gmail_send_message"], tools["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1})
        emulator.reset_counts()

        async def on_other_loop(tag: str) -> list[str]:
            first = await send.ainvoke(mail(f"{tag}-1"))
            rest = await asyncio.gather(
                fetch.ainvoke({"max_results": 1}), send.ainvoke(mail(f"{tag}-2"))
            )
            return [first, *rest]

        def asyncio_run_in_thread() -> list[str]:
            return asyncio.run(on_other_loop("run"))

        def new_loop_in_thread() -> list[str]:
            loop = asyncio.new_event_loop()
            try:
                return loop.run_until_complete(on_other_loop("loop"))
            finally:
                loop.close()

        # Both other loops and this one, at the same time.
        a, b, _main = await asyncio.gather(
            asyncio.to_thread(asyncio_run_in_thread),
            asyncio.to_thread(new_loop_in_thread),
            send.ainvoke(mail("main")),
        )
        assert "msg_0005" in a[1] and "msg_0005" in b[1]
        # Sessions live on the loop that uses them: each other loop opened its own (and its
        # calls hopped nowhere); this loop's session, opened by aget_tools, served "main".
        assert emulator.count("mcp.tools/call") == 7
        assert emulator.count("mcp.initialize") == 2
        # The other loops are closed now; this one still works on the same session.
        emulator.reset_counts()
        assert "msg_0005" in await fetch.ainvoke({"max_results": 1})
        assert emulator.counts() == {"mcp.tools/call": 1}
    subjects = sorted(m["subject"] for m in emulator.user_data(USER).sent)
    assert subjects == ["loop-1", "loop-2", "main", "run-1", "run-2"]


async def test_toolkit_connected_on_one_loop_works_on_another(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """Tools discovered inside ``asyncio.run`` (a loop that then closes) still work here."""
    authorize_all(emulator)
    toolkit = seed_toolkit(aclient)
    try:
        tools = await asyncio.to_thread(lambda: asyncio.run(toolkit.aget_tools()))
        fetch = by_name(tools)["gmail_fetch_mails"]
        emulator.reset_counts()
        assert "msg_0005" in await fetch.ainvoke({"max_results": 1})
        # The session of the closed loop went with it; this loop opens its own, once.
        assert emulator.count("mcp.tools/call") == 1
        assert emulator.count("mcp.initialize") == 1
        assert len(toolkit.session_pool) == 1
        emulator.reset_counts()
        assert "msg_0005" in await fetch.ainvoke({"max_results": 1})
        assert emulator.counts() == {"mcp.tools/call": 1}
    finally:
        await toolkit.aclose()


# --------------------------------------------------------------------------- closing


async def test_close_leaves_no_tasks_on_the_session_loop_and_no_resource_warning(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    before = await _session_loop.run(session_loop_tasks())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        toolkit = mail_toolkit(aclient)
        tools = by_name(await toolkit.aget_tools())
        await tools["gmail_send_message"].ainvoke(mail("before close"))
        await asyncio.to_thread(tools["gmail_fetch_mails"].invoke, {"max_results": 1})
        during = await _session_loop.run(session_loop_tasks())
        assert during - before, "an open toolkit should hold its session task"
        await toolkit.aclose()
        await toolkit.aclose()  # idempotent
        after = await _session_loop.run(session_loop_tasks())
        gc.collect()
    leaked = after - before
    assert not leaked, sorted(t.get_name() for t in leaked)
    resource = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not resource, [str(w.message) for w in resource]
    # Both sessions were ended server-side too: this loop's (async calls) and the background
    # loop's (the sync call from a worker thread).
    assert emulator.count("mcp.DELETE") == 2
    with pytest.raises(ScalekitError):
        await toolkit.aget_tools()


def test_sync_close_leaves_no_tasks_on_the_session_loop(env_emulator: ScalekitEmulator) -> None:
    before = _session_loop.run_sync(session_loop_tasks())
    toolkit = seed_toolkit(None)
    with toolkit:
        by_name(toolkit.get_tools())["gmail_fetch_mails"].invoke({"max_results": 1})
    after = _session_loop.run_sync(session_loop_tasks())
    leaked = after - before
    assert not leaked, sorted(t.get_name() for t in leaked)
