"""The user-session pool lends sessions per call: eviction never breaks a call in flight; idle
sessions close on a timer; a recreated instance is found again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from scalekit_langchain import AsyncScalekitClient, ScalekitError, ScalekitMCPToolkit
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import MAIL_CONFIG, MAIL_MAPPINGS, mail


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emu: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as c:
        yield c


def _authorize(emu: ScalekitEmulator, users: list[str]) -> None:
    for user in users:
        emu.authorize(user, "MY_GMAIL")
        emu.authorize(user, "MY_CALENDAR")


def _shared(client: AsyncScalekitClient, **kw: object) -> ScalekitMCPToolkit:
    return ScalekitMCPToolkit(
        client=client,
        config_name=MAIL_CONFIG,
        connection_tool_mappings=MAIL_MAPPINGS,
        discovery_user="u0",
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("users", "max_sessions"), [(12, 2), (100, 5)])
async def test_many_users_through_few_sessions_all_succeed(
    emu: ScalekitEmulator, client: AsyncScalekitClient, users: int, max_sessions: int
) -> None:
    names = [f"u{i}" for i in range(users)]
    _authorize(emu, names)
    async with _shared(client, max_sessions=max_sessions) as toolkit:
        send = {t.name: t for t in await toolkit.aget_tools()}["gmail_send_message"]
        results = await asyncio.gather(
            *(
                send.ainvoke(mail(f"hello {u}"), config={"configurable": {"user_id": u}})
                for u in names
            ),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert len(toolkit.session_pool) <= max_sessions
    for user in names:
        assert [m["subject"] for m in emu.user_data(user).sent] == [f"hello {user}"]
    assert emu.count("mcp.tools/call") == users


async def test_idle_sessions_close_on_a_timer_without_another_call(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    _authorize(emu, ["u0"])
    async with _shared(client, session_idle_ttl=0.2) as toolkit:
        fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1}, config={"configurable": {"user_id": "u0"}})
        pool = toolkit.session_pool
        assert len(pool) == 1
        deadline = time.monotonic() + 10
        while len(pool) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(pool) == 0
        assert pool.evictions == 1
        # The session is ended at the server too (the eviction closes it after taking it out).
        while not emu.count("mcp.DELETE") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert emu.count("mcp.DELETE") == 1
        # The next call simply opens a new session.
        text = await fetch.ainvoke({"max_results": 1}, config={"configurable": {"user_id": "u0"}})
        assert "msg_0005" in text


async def test_a_recreated_instance_is_found_again(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    _authorize(emu, ["solo"])
    async with ScalekitMCPToolkit(
        client=client,
        config_name=MAIL_CONFIG,
        connection_tool_mappings=MAIL_MAPPINGS,
        user_identifier="solo",
    ) as toolkit:
        send = {t.name: t for t in await toolkit.aget_tools()}["gmail_send_message"]
        await send.ainvoke(mail("before"))
        old = await client.mcp.ensure_instance(MAIL_CONFIG, "solo")
        await client.mcp.delete_instance(old.id)
        emu.reset_counts()
        await send.ainvoke(mail("after"))
        assert emu.count("instances.ensure") == 1
        new = await client.mcp.ensure_instance(MAIL_CONFIG, "solo")
        assert new.id != old.id
    # Every toolkit on that client now uses the new instance (the shared cache was dropped).
    async with ScalekitMCPToolkit(
        client=client, config_name=MAIL_CONFIG, user_identifier="solo"
    ) as second:
        send = {t.name: t for t in await second.aget_tools()}["gmail_send_message"]
        emu.reset_counts()
        await send.ainvoke(mail("later"))
        assert emu.count("instances.") == 0
    assert [m["subject"] for m in emu.user_data("solo").sent] == ["before", "after", "later"]


async def test_closed_toolkit_says_so(client: AsyncScalekitClient, emu: ScalekitEmulator) -> None:
    _authorize(emu, ["u0"])
    toolkit = _shared(client)
    fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
    await toolkit.aclose()
    with pytest.raises(ScalekitError, match="closed"):
        await fetch.ainvoke({"max_results": 1}, config={"configurable": {"user_id": "u0"}})


async def test_an_unclosed_toolkit_warns_and_closes_its_sessions(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    import gc
    import warnings

    _authorize(emu, ["u0"])
    toolkit = _shared(client)
    fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
    await fetch.ainvoke({"max_results": 1}, config={"configurable": {"user_id": "u0"}})
    del fetch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del toolkit
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    deadline = time.monotonic() + 10
    while emu.count("mcp.DELETE") < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert emu.count("mcp.DELETE") == 1


@pytest.mark.parametrize("prefix", ["has space", "x" * 41, "ünï", ""])
def test_prefixes_that_make_invalid_tool_names_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="tool_name_prefix"):
        ScalekitMCPToolkit(config_name="cfg", user_identifier="u", tool_name_prefix=prefix)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("call_timeout", float("inf")),
        ("call_timeout", float("nan")),
        ("call_timeout", 0),
        ("connect_timeout", -1),
        ("session_idle_ttl", float("inf")),
        ("user_identifier", "ana\nlee"),
    ],
)
def test_bad_timeouts_and_user_ids_name_the_field(field: str, value: object) -> None:
    options: dict[str, object] = {"config_name": "cfg", "user_identifier": "u", field: value}
    with pytest.raises(ValueError, match=field):
        ScalekitMCPToolkit(**options)  # type: ignore[arg-type]
