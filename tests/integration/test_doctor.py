"""The doctor against the emulator: every refusal and answer mode is detected exactly, the report
turns back into the same emulator, nothing is left behind (also when cancelled or failing), and no
secret reaches the report."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from scalekit_langchain import AsyncScalekitClient
from scalekit_langchain.doctor import SETTING_KEYS, DoctorReport, arun_probe, run_probe
from scalekit_langchain.doctor._redaction import hash_user
from scalekit_langchain.errors import ScalekitAPIError
from scalekit_langchain.testing import ANSWER_MODES, REFUSAL_MODES, ScalekitEmulator
from scalekit_langchain.testing._mcp_protocol import LATEST_PROTOCOL_VERSION

ROUND_TRIPS = [
    (refusal, answer, "upper" if answer == "sse" else "lower")
    for refusal in REFUSAL_MODES
    for answer in ANSWER_MODES
]
_SECRET_SHAPES = [
    re.compile(r"/mcp/v[12]/servers/(?!\*\*\*)[^/\s\"']+"),
    re.compile(r"/mcp/v3/servers/(?!\*\*\*)[^/\s\"']+"),
    re.compile(r"/connect/(?!\*\*\*)[^/\s\"']+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{6,}"),
    re.compile(r"\b[0-9a-f]{32}\b"),  # MCP session ids of the emulator
    re.compile(r"sk-doctor-user-"),
]


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, dict keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


class Secrets:
    """Collects the emulator's secrets while a probe runs (instances are deleted at the end)."""

    def __init__(self, emu: ScalekitEmulator) -> None:
        self.emu = emu
        self.values: set[str] = {emu.client_secret, emu.control_token}
        self.users: set[str] = set()
        self.lines: list[str] = []

    def out(self, line: str) -> None:
        self.lines.append(line)
        self.collect_after()

    def collect_after(self) -> None:
        self.values.update(self.emu.live_secrets())
        self.users.update(self.emu.known_users())

    def check(self, data: dict[str, Any]) -> int:
        """Assert no secret is in ``data``; return how many strings were checked."""
        self.collect_after()
        assert self.users, "the probe created no user"
        checked = 0
        for text in strings(data):
            checked += 1
            for secret in self.values | self.users:
                assert secret not in text, f"secret leaked in {text[:120]!r}"
            for shape in _SECRET_SHAPES:
                assert not shape.search(text), f"{shape.pattern} in {text[:160]!r}"
        return checked


async def probe(emu: ScalekitEmulator, secrets: Secrets | None = None, **kwargs: Any) -> DoctorReport:
    return await arun_probe(
        kwargs.pop("connections", ["MY_GMAIL"]),
        env_url=emu.env_url,
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        out=secrets.out if secrets else None,
        timeout=20,
        **kwargs,
    )


async def assert_nothing_left(emu: ScalekitEmulator) -> None:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as client:
        assert (await client.mcp.list_configs()).items == []
        assert (await client.mcp.list_instances()).items == []


@pytest.mark.parametrize(("refusal", "answer", "case"), ROUND_TRIPS)
async def test_round_trip_detects_each_mode_exactly(
    refusal: str, answer: str, case: str, tmp_path: Any
) -> None:
    async with ScalekitEmulator(
        refusal_mode=refusal,  # type: ignore[arg-type]
        answer_mode=answer,  # type: ignore[arg-type]
        status_case=case,  # type: ignore[arg-type]
        idle_timeout=2.0,
    ) as emu:
        secrets = Secrets(emu)
        report = await probe(emu, secrets)
        await assert_nothing_left(emu)
        assert secrets.check(report.data) > 100

    expected = {
        "refusal_mode": refusal,
        "answer_mode": answer,
        "status_case": case,
        "lists_unauthorized_tools": refusal != "hidden",
        "protocol_version": LATEST_PROTOCOL_VERSION,
        "mcp_era": "handshake",
        "idle_timeout": 2.0,
    }
    assert report.settings == expected
    assert {k: report.data[k] for k in SETTING_KEYS} == expected
    assert report.toolkit_handles_refusal is True
    assert any(
        line.startswith("  refusal shape:") and f"emulator mode: {refusal};" in line
        and line.endswith("the toolkit handles it: yes")
        for line in report.summary
    )
    obs = report.data["observations"]
    server = obs["instance_mode"]["server"]
    assert server["refusal"]["listed"] is (refusal != "hidden")
    assert server["new_connections_in_warm_calls"] == 0
    # The mcp SDK leaves each SSE answer unread to its end, so its connection is dropped.
    sdk_new = obs["instance_mode"]["sdk"]["new_connections_in_warm_calls"]
    assert sdk_new == (3 if answer == "sse" else 0)
    # Session-token mode sees the same shape on the per-connection server.
    conn_server = obs["session_token_mode"]["connection_server"]
    assert conn_server["mint_http_status"] == 200
    assert conn_server["server"]["refusal"]["listed"] is (refusal != "hidden")
    assert obs["session_token_mode"]["mint_refusal"]["http_status"] == 400
    assert obs["session_token_mode"]["garbled_bearer"]["http_status"] == 401
    assert obs["cleanup"] == {"instance_deleted": True, "config_deleted": True, "errors": []}

    path = report.write(tmp_path / "report.json")
    async with ScalekitEmulator(profile=path) as replay:
        assert (replay.refusal_mode, replay.answer_mode, replay.status_case) == (
            refusal, answer, case,
        )
        assert replay.protocol_version == LATEST_PROTOCOL_VERSION
        again = await probe(replay)
        await assert_nothing_left(replay)
    assert again.settings == expected


async def test_report_is_json_and_a_profile_as_is(emulator: ScalekitEmulator) -> None:
    report = await probe(emulator, connections=["MY_GMAIL", "MY_CALENDAR"])
    data = json.loads(report.to_json())
    assert data == report.data
    assert data["report_format"] == "scalekit-langchain-doctor/1"
    assert data["connections"] == ["MY_GMAIL", "MY_CALENDAR"]
    auth = data["observations"]["instance_mode"]["auth_state"]["connections"]
    assert [c["connection_name"] for c in auth] == ["MY_GMAIL", "MY_CALENDAR"]
    assert [c["connected_account_status"] for c in auth] == ["PENDING_AUTH", "PENDING_AUTH"]
    assert all(c["authentication_link"].endswith("/connect/***") for c in auth)
    assert data["observations"]["instance_mode"]["url"].endswith("/mcp/v2/servers/***")
    assert data["observations"]["config"]["create_http_status"] == 201
    assert data["observations"]["instance_mode"]["server"]["unmapped_tool"]["tool"] == (
        "sk_doctor_no_such_tool"
    )
    with ScalekitEmulator(profile=data) as replay:
        assert replay.refusal_mode == emulator.refusal_mode


async def test_user_ids_are_hashed_not_dropped(emulator: ScalekitEmulator) -> None:
    secrets = Secrets(emulator)
    report = await probe(emulator, secrets)
    secrets.check(report.data)
    (user,) = secrets.users
    mint = report.data["observations"]["session_token_mode"]["mint_refusal"]["body"]
    assert hash_user(user) in mint["message"]


@pytest.mark.parametrize(
    "cancel_at",
    ["Creating an MCP instance", "Reading the instance's auth state", "Probing the instance",
     "Probing session-token mode"],
)
async def test_cancelled_half_way_deletes_what_it_created(
    emulator: ScalekitEmulator, cancel_at: str
) -> None:
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith(cancel_at):
            task.cancel()

    task = asyncio.ensure_future(
        arun_probe(
            ["MY_GMAIL"], env_url=emulator.env_url, client_id=emulator.client_id,
            client_secret=emulator.client_secret, out=out,
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert emulator.count("configs.create") == 1
    cleanup = [line for line in lines if line.startswith("Cleanup")]
    assert len(cleanup) == 1 and "config sk-doctor-" in cleanup[0]
    assert ("MCP instance inst_" in cleanup[0]) is (cancel_at != "Creating an MCP instance")
    await assert_nothing_left(emulator)


async def test_failure_after_the_config_deletes_it_and_raises(
    emulator: ScalekitEmulator,
) -> None:
    emulator.fail_next(400, kind="instances.ensure")
    lines: list[str] = []
    with pytest.raises(ScalekitAPIError) as caught:
        await arun_probe(
            ["MY_GMAIL"], env_url=emulator.env_url, client_id=emulator.client_id,
            client_secret=emulator.client_secret, out=lines.append,
        )
    assert caught.value.status_code == 400
    assert emulator.count("configs.create") == 1
    assert emulator.count("configs.delete") == 1
    cleanup = [line for line in lines if line.startswith("Cleanup")]
    assert len(cleanup) == 1 and cleanup[0].startswith("Cleanup: deleted config sk-doctor-")
    await assert_nothing_left(emulator)


async def test_unknown_connection_fails_cleanly(emulator: ScalekitEmulator) -> None:
    lines: list[str] = []
    with pytest.raises(ScalekitAPIError):
        await arun_probe(
            ["NO_SUCH_CONNECTION"], env_url=emulator.env_url, client_id=emulator.client_id,
            client_secret=emulator.client_secret, out=lines.append,
        )
    assert "Cleanup: nothing was created." in lines
    await assert_nothing_left(emulator)


async def test_inputs_are_checked_before_any_request(emulator: ScalekitEmulator) -> None:
    creds = {"env_url": emulator.env_url, "client_id": emulator.client_id,
             "client_secret": emulator.client_secret}
    with pytest.raises(ValueError, match="at least one connection"):
        await arun_probe([], **creds)
    with pytest.raises(ValueError, match="once"):
        await arun_probe(["MY_GMAIL", "my_gmail"], **creds)
    with pytest.raises(ValueError, match="SCALEKIT_CLIENT_SECRET"):
        await arun_probe(["MY_GMAIL"], **{**creds, "client_secret": ""})
    assert sum(emulator.counts().values()) == 0


def test_run_probe_is_the_blocking_twin(emulator: ScalekitEmulator) -> None:
    report = run_probe(
        ["MY_CALENDAR"], env_url=emulator.env_url, client_id=emulator.client_id,
        client_secret=emulator.client_secret,
    )
    assert report.settings["refusal_mode"] == emulator.refusal_mode
    refusal = report.data["observations"]["instance_mode"]["server"]["refusal"]
    assert (refusal["connection"], refusal["tool"]) == ("MY_CALENDAR", "googlecalendar_list_events")


async def test_run_probe_refuses_inside_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="await arun_probe"):
        run_probe(["MY_GMAIL"], env_url="http://127.0.0.1:9", client_id="x", client_secret="y")


async def test_pinned_protocol_version_is_recorded() -> None:
    async with ScalekitEmulator(profile={"protocol_version": "2025-03-26"}) as emu:
        report = await probe(emu)
    assert report.settings["protocol_version"] == "2025-03-26"
    assert report.data["observations"]["instance_mode"]["server"]["protocol_version"] == (
        "2025-03-26"
    )


async def test_refused_listing_leaves_listed_unknown(emulator: ScalekitEmulator) -> None:
    emulator.fail_next(401, kind="mcp.tools/list")  # the doctor's first listing only
    report = await probe(emulator)
    server = report.data["observations"]["instance_mode"]["server"]
    assert server["tools_list"]["http_status"] == 401
    assert server["refusal"]["listed"] is None
    assert server["refusal"]["tool"] == "gmail_fetch_mails"  # known read tool of the provider
    assert report.settings["lists_unauthorized_tools"] is None
    assert report.settings["refusal_mode"] == "is_error_text"
    with ScalekitEmulator(profile=report.data) as replay:
        assert replay.refusal_mode == "is_error_text"
