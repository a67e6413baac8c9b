"""Bounded for a server's lifetime: many distinct users, one after the other, through a small
pool, leave neither secrets in the redaction set nor memory behind.

Two tests:

* ``test_20000_users_through_a_small_pool_retain_nothing`` drives the per-user layers directly
  (20,000 full HTTP users would take many minutes): Scalekit's REST answers (a distinct
  capability URL per user) go through the real response parsers, which register the URL's
  secrets, but no HTTP (``client.mcp`` is a stand-in); the real
  :class:`~scalekit_langchain._access.InstanceAccess`, :class:`AuthTracker` (in the client's
  shared states), :class:`CallRunner`, :class:`SessionPool` (``max_sessions=5``) and
  :class:`CallLedger`; only the MCP session is a stand-in that holds its connect parameters'
  secrets the way :class:`~scalekit_langchain._mcp_session.McpSession` does (owned by the open
  session). The calls run on the session loop (no thread hop per call). It measures the
  memory retained by the last 2,000 of the 20,000 users with ``tracemalloc`` (an upper bound of
  what a departed user leaves: new entries of the full, bounded caches count as retained too)
  and the size of the redaction set after 2,000 and after 20,000 users (the cost of redacting a
  record is one substring test per secret, so an equal size is an equal cost).
* ``test_real_sessions_release_their_secrets`` serves 40 users over real HTTP (emulator, real
  MCP sessions, ``max_sessions=3``) and asserts the redaction set is the same size after the
  last 20 users as after the first 20.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from types import SimpleNamespace
from typing import Any

import httpx

from scalekit_langchain import AsyncScalekitClient, ScalekitMCPToolkit, _redact, _session_loop
from scalekit_langchain._access import InstanceAccess
from scalekit_langchain._call_ledger import CallLedger
from scalekit_langchain._calls import CallRunner
from scalekit_langchain._client_base import state_of
from scalekit_langchain._connection_auth import AuthTracker
from scalekit_langchain._mcp_content import ToolResult
from scalekit_langchain._mcp_session import ConnectParams
from scalekit_langchain._rest_responses import parse_auth_state, parse_instance
from scalekit_langchain._session_pool import SessionPool
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import SEED_CONFIG, SEED_MAPPINGS

USERS = 20_000
TRACED = 2_000  # the last users, served with tracemalloc on (it slows everything down)
CACHED = 50  # per-user entries the client keeps (instances, auth states), for the test
LEDGER = 50
POOL = 5
CONFIG = {
    "id": "cfg_1",
    "name": "bounded",
    "connection_tool_mappings": [{"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]}],
}


class StandInMcpApi:
    """Scalekit's answers for every user, parsed by the real parsers, without HTTP."""

    async def ensure_instance(self, config_name: str, user: str, *, name: Any = None) -> Any:
        return parse_instance({"instance": {
            "id": f"inst_{user}", "user_identifier": user, "config": CONFIG,
            "url": f"https://env.scalekit.test/mcp/v2/servers/capability-of-{user}-0123456789",
        }})

    async def get_instance_auth_state(self, instance_id: str, *, include_auth_links: bool) -> Any:
        return parse_auth_state({"connections": [
            {"connection_name": "MY_GMAIL", "provider": "GMAIL",
             "connected_account_status": "ACTIVE"}]})


class StandInSession:
    """Holds its connect parameters' secrets while open, as ``McpSession`` does."""

    def __init__(self, params_for: Any, user: str) -> None:
        self._params_for = params_for
        self._user = user
        self._releases: list[Any] = []

    async def call_tool_on_loop(self, tool: str, arguments: Any, progress: Any = None) -> Any:
        if not self._releases:
            params: ConnectParams = await self._params_for(self._user)
            tail = params.url.rsplit("/", 1)[1]
            self._releases = [_redact.register_secret(v, owner=self) for v in (params.url, tail)]
        return ToolResult(False, {}, None, "ok", SimpleNamespace(content=[]))

    async def aclose(self) -> None:
        for release in self._releases:
            release()


async def _serve(users: range, runner: CallRunner) -> None:
    for i in users:
        user = f"user-{i:05d}"
        config = {"configurable": {"thread_id": user, "checkpoint_ns": "tools:1"}}
        content, _, is_error = await runner.arun(user, "gmail_fetch_mails", {}, config, "call-1")
        assert (content, is_error) == ("", False)


async def test_20000_users_through_a_small_pool_retain_nothing() -> None:
    async with AsyncScalekitClient(
        "https://env.scalekit.test", "skc_1", "sks_" + "s" * 32,
        transport=httpx.MockTransport(lambda request: httpx.Response(500)),
    ) as client:
        client.mcp = StandInMcpApi()  # type: ignore[assignment]
        state = state_of(client)
        state.instances.max_entries = CACHED
        state.connection_states.max_entries = CACHED
        access = InstanceAccess(client, "bounded")
        tracker = AuthTracker(access.auth_state, scope="instance:bounded",
                              states=state.connection_states)

        async def factory(user: str) -> Any:
            return StandInSession(access.connect_params, user)

        pool = SessionPool(factory, max_sessions=POOL, idle_ttl=900)
        ledger = CallLedger(max_entries=LEDGER)
        runner = CallRunner(access, tracker, pool, ledger=ledger)
        await _session_loop.run(_serve(range(TRACED), runner))
        gc.collect()
        secrets_at_start = _redact.secret_count()
        held_at_start = _redact.held_secret_count()
        await _session_loop.run(_serve(range(TRACED, USERS - TRACED), runner))
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await _session_loop.run(_serve(range(USERS - TRACED, USERS), runner))
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        secrets_at_end = _redact.secret_count()
        held_at_end = _redact.held_secret_count()
        per_user = retained / TRACED
        print(f"\nlast {TRACED} of {USERS} users: {retained} B retained, {per_user:.1f} B/user; "
              f"redaction set {secrets_at_start} -> {secrets_at_end} secrets "
              f"({held_at_start} -> {held_at_end} held); "
              f"auth checks {tracker.checks}")
        assert per_user < 1024, per_user
        # The same number of secrets at the start and the end: redacting a record costs the
        # same. Live: the cached instances' URL and capability segment (2 x CACHED), plus the
        # released ones kept for a grace (RECENTLY_RELEASED), plus the process's permanent
        # ones (client secrets, access tokens), which these users did not add to.
        assert secrets_at_end == secrets_at_start
        assert held_at_end == held_at_start
        assert len(state.instances) == CACHED and len(state.connection_states) == CACHED
        assert len(pool) == POOL and pool.evictions == USERS - POOL
        assert tracker.checks == USERS  # one auth check per new user, none per warm call
        await _session_loop.run(pool.aclose())


def test_real_sessions_release_their_secrets(emulator: ScalekitEmulator) -> None:
    client = AsyncScalekitClient(emulator.env_url, emulator.client_id, emulator.client_secret)
    state_of(client).instances.max_entries = 5

    def serve(users: range) -> None:
        for i in users:
            user = f"real-{i:03d}"
            for mapping in SEED_MAPPINGS:
                emulator.authorize(user, mapping.connection_name)
            (fetch,) = [t for t in toolkit.get_tools() if t.name == "gmail_fetch_mails"]
            assert "Q3 budget" in fetch.invoke({"max_results": 1}, {"configurable": {"user_id": user}})

    with ScalekitMCPToolkit(client=client, config_name=SEED_CONFIG,
                            connection_tool_mappings=SEED_MAPPINGS, discovery_user="real-000",
                            max_sessions=3) as toolkit:
        emulator.authorize("real-000", "MY_GMAIL")
        emulator.authorize("real-000", "MY_CALENDAR")
        serve(range(20))
        gc.collect()
        after_20 = _redact.held_secret_count()
        serve(range(20, 40))
        gc.collect()
        # The same secrets held (sessions open and instances cached); the released ones are
        # in the grace ring, which the 20k-user test shows is bounded.
        assert _redact.held_secret_count() == after_20
        assert len(toolkit.session_pool) == 3
    asyncio.run(client.aclose())
