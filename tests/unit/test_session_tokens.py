"""``create_session_token`` in the official SDK 2.21 shape, on both clients (no sockets)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from scalekit_langchain import AsyncScalekitClient, ScalekitClient
from scalekit_langchain.tools import approval_policy, tool_hints
from tests.unit.fake_scalekit import ENV, SECRET, FakeScalekit, body

TOKEN = {"token": "eyJ.secret.jwt", "expires_at": "2026-11-24T11:00:00Z"}


def _fake() -> FakeScalekit:
    return FakeScalekit(lambda r: httpx.Response(200, json=TOKEN))


async def test_config_token_sends_access_level_and_omits_defaults() -> None:
    fake = _fake()
    async with AsyncScalekitClient(ENV, "c", SECRET, transport=fake.async_transport()) as client:
        await client.mcp.create_session_token("cfg_1", "alice")
        await client.mcp.create_session_token("cfg_1", "alice", 120, "READ_ONLY")
    paths = [r.url.path for r in fake.api_requests]
    assert paths == ["/api/v1/mcp/configs/cfg_1/tokens"] * 2
    assert body(fake.api_requests[0]) == {"identifier": "alice"}
    assert body(fake.api_requests[1]) == {
        "identifier": "alice",
        "expiry": "120s",
        "access_level": "READ_ONLY",
    }


def test_connection_token_is_the_same_method_sync() -> None:
    fake = _fake()
    with ScalekitClient(ENV, "c", SECRET, transport=fake.sync_transport()) as client:
        token = client.mcp.create_session_token(
            connection_name="gmail_work", identifier="alice", access_level="READ_ONLY"
        )
    assert token.token.get_secret_value() == "eyJ.secret.jwt"
    assert [r.url.path for r in fake.api_requests] == ["/api/v1/mcp/connections/gmail_work/tokens"]
    assert body(fake.api_requests[0]) == {"identifier": "alice", "access_level": "READ_ONLY"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mcp_config_id": "cfg_1", "connection_name": "gmail", "identifier": "a"}, "exactly one"),
        ({"identifier": "a"}, "exactly one"),
        ({"mcp_config_id": "cfg_1"}, "identifier"),
        ({"mcp_config_id": "cfg_1", "identifier": "a", "access_level": "read_only"}, "access_level"),
        ({"connection_name": "g", "identifier": "a", "expiry": timedelta(seconds=5)}, "expiry"),
    ],
)
async def test_bad_token_requests_fail_before_the_network(kwargs: dict[str, Any], field: str) -> None:
    fake = _fake()
    async with AsyncScalekitClient(ENV, "c", SECRET, transport=fake.async_transport()) as client:
        with pytest.raises(ValueError, match=field):
            await client.mcp.create_session_token(**kwargs)
    assert fake.api_requests == []


async def test_old_connection_token_name_warns_and_still_works() -> None:
    fake = _fake()
    async with AsyncScalekitClient(ENV, "c", SECRET, transport=fake.async_transport()) as client:
        with pytest.warns(DeprecationWarning, match="create_session_token"):
            await client.mcp.create_connection_session_token("gmail", "alice", expiry=60)
    assert [r.url.path for r in fake.api_requests] == ["/api/v1/mcp/connections/gmail/tokens"]
    assert body(fake.api_requests[0]) == {"identifier": "alice", "expiry": "60s"}


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"readOnlyHint": True}, (True, False)),
        ({"readOnlyHint": False, "destructiveHint": False}, (False, False)),
        ({"readOnlyHint": False}, (False, True)),
        ({}, (False, True)),
        (None, (False, True)),
    ],
)
def test_tool_hints_follow_the_mcp_defaults(
    annotations: dict[str, Any] | None, expected: tuple[bool, bool]
) -> None:
    assert tool_hints(annotations) == expected


def test_approval_policy_reads_tool_metadata() -> None:
    from langchain_core.tools import StructuredTool

    def tool(name: str, **meta: Any) -> StructuredTool:
        return StructuredTool.from_function(lambda: "", name=name, description=name, metadata=meta)

    tools = [
        tool("read", read_only=True, destructive=False),
        tool("add", read_only=False, destructive=False),
        tool("delete", read_only=False, destructive=True),
        tool("unknown"),
    ]
    assert approval_policy(tools) == {"read": False, "add": True, "delete": True, "unknown": True}
    assert approval_policy(tools, only_destructive=True) == {
        "read": False,
        "add": False,
        "delete": True,
        "unknown": True,
    }
