"""Units of the authorization decision and the session pool (no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scalekit_langchain._call_ledger import call_key
from scalekit_langchain._client_state import ClientState
from scalekit_langchain._connection_auth import (
    AuthTracker,
    ConnectionMap,
    is_active,
    looks_like_refusal,
)
from scalekit_langchain._mcp_content import ToolResult
from scalekit_langchain._session_pool import SessionPool
from scalekit_langchain.errors import AuthorizationRequired
from scalekit_langchain.models import ConnectionAuthState, McpConfigConnectionToolMapping

M = McpConfigConnectionToolMapping


@pytest.mark.parametrize(
    ("status", "active"),
    [
        ("ACTIVE", True),
        ("active", True),
        (" Active ", True),
        ("EXPIRED", False),
        ("PENDING_AUTH", False),
        ("PENDING_VERIFICATION", False),
        ("DISCONNECTED", False),
        ("SOMETHING_NEW", False),
        ("", False),
        (None, False),
    ],
)
def test_only_active_is_active(status: str | None, active: bool) -> None:
    assert is_active(status) is active


def test_connection_map_explicit_slug_and_unknown() -> None:
    cmap = ConnectionMap(
        [
            M(connection_name="MY_GMAIL", tools=["gmail_fetch_mails"]),
            M(connection_name="MY_CALENDAR", provider="GOOGLECALENDAR"),
            M(connection_name="TEAM_SLACK"),
        ],
        providers={"TEAM_SLACK": "Slack"},
    )
    assert cmap.connections_for("gmail_fetch_mails") == ("MY_GMAIL",)
    assert cmap.connections_for("googlecalendar_create_event") == ("MY_CALENDAR",)
    assert cmap.connections_for("slack_send_message") == ("TEAM_SLACK",)
    # Nothing covers it: every connection of the config must be ACTIVE.
    assert cmap.connections_for("notion_search") == ("MY_GMAIL", "MY_CALENDAR", "TEAM_SLACK")
    assert cmap.explicit_tools() == {"gmail_fetch_mails": "MY_GMAIL"}


def _result(text: str = "", *, is_error: bool = False, meta: Any = None, structured: Any = None) -> ToolResult:
    return ToolResult(is_error=is_error, meta=meta or {}, structured_content=structured, text=text, raw=None)


@pytest.mark.parametrize(
    "result",
    [
        _result("anything", is_error=True),
        _result("ok", meta={"scalekit/authorization_required": {}}),
        _result("Connect your Gmail account to continue: https://x.example/c/1"),
        _result("Please authorize access first."),
        _result("", structured={"accountRequired": True, "connect_url": "https://x.example"}),
    ],
)
def test_refusal_like_answers_are_checked(result: ToolResult) -> None:
    assert looks_like_refusal(result)


@pytest.mark.parametrize(
    "result",
    [
        _result("Email sent (id msg_1)."),
        _result("Please log in to the portal: https://x.example", structured={"messages": []}),
        _result("x" * 900 + " connect your account https://x.example"),
    ],
)
def test_ordinary_answers_cost_nothing(result: ToolResult) -> None:
    assert not looks_like_refusal(result)


async def test_tracker_checks_only_what_was_not_seen_active() -> None:
    answers = [
        [
            ConnectionAuthState(connection_name="A", connected_account_status="active"),
            ConnectionAuthState(connection_name="B", connected_account_status="EXPIRED"),
        ]
    ]
    calls: list[tuple[str, bool]] = []

    async def fetch(user: str, links: bool) -> list[ConnectionAuthState]:
        calls.append((user, links))
        return answers[-1]

    tracker = AuthTracker(fetch, scope="cfg")
    assert not tracker.known_active("u", ["A"])
    with pytest.raises(AuthorizationRequired) as info:
        await tracker.require("u", ["A", "B"])
    assert [c.connection_name for c in info.value.connections] == ["B"]
    assert tracker.known_active("u", ["A"]) and not tracker.known_active("u", ["B"])
    await tracker.require("u", ["A"])
    assert calls == [("u", True), ("u", True)]
    # A connection Scalekit does not report is not set up: pending.
    assert [c.connection_name for c in await tracker.pending("u", ["C"])] == ["C"]


def test_trackers_of_one_client_share_states_by_scope() -> None:
    states = ClientState().connection_states

    async def fetch(user: str, links: bool) -> list[ConnectionAuthState]:
        return []

    first = AuthTracker(fetch, scope="cfg", states=states)
    first.record("u", [ConnectionAuthState(connection_name="A", connected_account_status="ACTIVE")])
    assert AuthTracker(fetch, scope="cfg", states=states).known_active("u", ["A"])
    assert not AuthTracker(fetch, scope="other", states=states).known_active("u", ["A"])
    assert not AuthTracker(fetch, scope="cfg").known_active("u", ["A"])  # a cache of its own


def test_call_key_needs_a_graph_and_a_call_id() -> None:
    graph = {"configurable": {"thread_id": "t", "checkpoint_ns": "tools:1"}}
    assert call_key(graph, "c1") == ("t", "tools:1", "c1")  # type: ignore[arg-type]
    assert call_key(graph, None) is None  # type: ignore[arg-type]
    assert call_key({"configurable": {}}, "c1") is None
    assert call_key(None, "c1") is None


class _FakeSession:
    def __init__(self, user: str, closed: list[str]) -> None:
        self.user = user
        self._closed = closed

    async def aclose(self) -> None:
        self._closed.append(self.user)


async def test_pool_never_closes_a_leased_session_and_waits_for_a_free_slot() -> None:
    closed: list[str] = []

    async def factory(user: str) -> Any:
        return _FakeSession(user, closed)

    pool = SessionPool(factory, max_sessions=1, idle_ttl=60)
    order: list[str] = []
    release = asyncio.Event()

    async def hold_a() -> None:
        async with pool.lease("a"):
            order.append("a in")
            await release.wait()
            order.append("a out")

    async def then_b() -> None:
        await asyncio.sleep(0)
        async with pool.lease("b") as session:
            order.append(f"b in ({session.user})")

    task_a = asyncio.ensure_future(hold_a())
    task_b = asyncio.ensure_future(then_b())
    await asyncio.sleep(0.05)
    assert order == ["a in"] and closed == []  # b waits; a is not closed under its call
    release.set()
    await asyncio.gather(task_a, task_b)
    assert order == ["a in", "a out", "b in (b)"]
    assert closed == ["a"] and pool.evictions == 1
    await pool.aclose()
    assert closed == ["a", "b"]


async def test_pool_reaps_idle_sessions_on_its_timer() -> None:
    closed: list[str] = []

    async def factory(user: str) -> Any:
        return _FakeSession(user, closed)

    pool = SessionPool(factory, max_sessions=5, idle_ttl=0.1)
    async with pool.lease("a"):
        pass
    for _ in range(100):
        if closed:
            break
        await asyncio.sleep(0.02)
    assert closed == ["a"] and len(pool) == 0
    await pool.aclose()
