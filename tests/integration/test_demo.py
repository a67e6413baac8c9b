"""The main job (``scalekit-langchain demo``) and the emulator command, end to end.

Bad input and the read-only ``tools`` command are in ``test_cli.py``.
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import pytest

from scalekit_langchain import AsyncScalekitClient, AuthorizationRequired, ScalekitClient
from scalekit_langchain import _demo as demo
from scalekit_langchain.cli import main
from scalekit_langchain.testing import ScalekitEmulator

ENV_VARS = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")
# An instance URL whose last segment is not the redaction marker.
UNREDACTED_INSTANCE_URL = re.compile(r"/mcp/v2/servers/(?!\*\*\*)[^\s/]+")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emulator_env(monkeypatch: pytest.MonkeyPatch, emulator: ScalekitEmulator) -> ScalekitEmulator:
    """Point the SCALEKIT_* variables at the test's emulator (the "real service" path)."""
    monkeypatch.setenv("SCALEKIT_ENV_URL", emulator.env_url)
    monkeypatch.setenv("SCALEKIT_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", emulator.client_secret)
    return emulator


class _RecordingEmulator(ScalekitEmulator):
    started: ClassVar[list[ScalekitEmulator]] = []

    def start(self) -> ScalekitEmulator:
        type(self).started.append(self)
        return super().start()


def test_demo_runs_offline_against_the_embedded_emulator(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _RecordingEmulator.started = []
    monkeypatch.setattr("scalekit_langchain.testing.ScalekitEmulator", _RecordingEmulator)

    assert main(["demo"]) == 0

    out = capsys.readouterr().out
    assert "embedded Scalekit emulator" in out
    assert "[1/7] MCP config 'email-calendar-assistant'" in out
    assert re.search(r"created config cfg_\w+", out)
    assert "MY_GMAIL: gmail_fetch_mails" in out
    assert "MY_CALENDAR: googlecalendar_create_event" in out
    assert "instance for user 'john-doe'" in out
    assert len(re.findall(r"link: http://127\.0\.0\.1:\d+/connect/\S+", out)) == 2
    assert "PENDING_AUTH" in out
    assert re.search(r"MY_GMAIL\s+GMAIL\s+ACTIVE", out)
    assert re.search(r"MY_CALENDAR\s+GOOGLECALENDAR\s+ACTIVE", out)
    assert re.search(r"http://127\.0\.0\.1:\d+/mcp/v2/servers/\*\*\*", out)
    assert not UNREDACTED_INSTANCE_URL.search(out)
    [emu] = _RecordingEmulator.started
    assert emu.client_secret not in out
    assert not emu.running  # stopped when the demo ended
    # The agent part: labelled offline model, each tool call, and the event it created.
    assert "[7/7] Agent (langchain.agents.create_agent)" in out
    assert "scripted offline model" in out
    assert "-> tool call gmail_fetch_mails(max_results=1)" in out
    assert "<- googlecalendar_create_event [success]" in out
    [event] = [e for e in emu.user_data("john-doe").events if e["summary"].startswith("Reminder")]
    assert "send the Q3 budget" in event["summary"]
    start = datetime.fromisoformat(event["start"]["dateTime"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(event["end"]["dateTime"].replace("Z", "+00:00"))
    assert end - start == timedelta(minutes=15)
    assert timedelta(minutes=13) < start - datetime.now(timezone.utc) <= timedelta(minutes=15)
    assert f"id {event['id']}" in out and "Created event:" in out


def test_demo_with_credentials_uses_them_and_reuses_the_config(
    emulator_env: ScalekitEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # Authorized up front, so the "real service" path does not have to wait for a browser.
    with ScalekitClient() as client:
        client.mcp.create_config(
            demo.CONFIG_NAME, connection_tool_mappings=list(demo.MAPPINGS)
        )
    emulator_env.authorize("ann", "MY_GMAIL")
    emulator_env.authorize("ann", "MY_CALENDAR")

    assert main(["demo", "--user", "ann"]) == 0

    out = capsys.readouterr().out
    assert f"Scalekit: {emulator_env.env_url} (credentials from SCALEKIT_* variables)" in out
    assert "embedded" not in out
    assert "reused existing config" in out
    assert "every connection is already ACTIVE" in out
    assert "link:" not in out
    assert emulator_env.client_secret not in out
    assert not UNREDACTED_INSTANCE_URL.search(out)


async def test_setup_waits_for_the_user_to_authorize(emulator: ScalekitEmulator) -> None:
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if "waiting up to" in line:  # the user now authorizes in a browser
            emulator.authorize("bea", "MY_GMAIL")
            emulator.authorize("bea", "MY_CALENDAR")

    async with AsyncScalekitClient(
        emulator.env_url, emulator.client_id, emulator.client_secret
    ) as client:
        instance = await demo.setup(client, user="bea", out=out, poll_interval=0.01)
    text = "\n".join(lines)
    assert "open each link above in a browser" in text
    assert re.search(r"MY_GMAIL\s+GMAIL\s+ACTIVE", text)
    assert instance.user_identifier == "bea"
    assert emulator.count("auth.page") == 0  # nobody opened the pages: the user did it


async def test_setup_times_out_with_authorization_required(emulator: ScalekitEmulator) -> None:
    emulator.authorize("cy", "MY_GMAIL")
    async with AsyncScalekitClient(
        emulator.env_url, emulator.client_id, emulator.client_secret
    ) as client:
        with pytest.raises(AuthorizationRequired) as pending:
            await demo.setup(
                client, user="cy", out=lambda line: None, auth_timeout=0.05, poll_interval=0.01
            )
    assert [c.connection_name for c in pending.value.connections] == ["MY_CALENDAR"]
    assert "Timed out" in str(pending.value)


async def test_ensure_config_reads_back_after_a_concurrent_create(
    emulator: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []
    async with AsyncScalekitClient(
        emulator.env_url, emulator.client_id, emulator.client_secret
    ) as client:
        theirs = await client.mcp.create_config(demo.CONFIG_NAME)
        real_lookup = client.mcp.get_config_by_name
        calls: list[str] = []

        async def racing_lookup(name: str) -> object:
            calls.append(name)
            if len(calls) == 1:
                return None  # the first lookup ran just before their create
            return await real_lookup(name)

        monkeypatch.setattr(client.mcp, "get_config_by_name", racing_lookup)
        config = await demo.ensure_config(client, out=lines.append)
    assert config.id == theirs.id
    assert len(calls) == 2 and emulator.count("configs.create") == 2
    assert any("created concurrently" in line for line in lines)
    assert any("mappings differ" in line for line in lines)


def test_demo_error_is_one_line_and_nonzero(
    emulator_env: ScalekitEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", "sks_not-the-secret")
    assert main(["demo"]) == 2
    captured = capsys.readouterr()
    err_lines = captured.err.strip().splitlines()
    assert len(err_lines) == 1
    assert err_lines[0].startswith("error: AuthenticationError: HTTP 401")
    assert "sks_not-the-secret" not in captured.err + captured.out


# --------------------------------------------------------------------------- other commands


def test_demo_with_a_named_model_goes_through_init_chat_model(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import types

    from langchain import chat_models

    from scalekit_langchain.testing.scripted import ScriptedReminderModel

    # A provider whose package imports; init_chat_model answers with an offline model.
    fake = types.ModuleType("langchain_zzfake")
    fake.__spec__ = importlib.machinery.ModuleSpec("langchain_zzfake", None)
    monkeypatch.setitem(sys.modules, "langchain_zzfake", fake)
    asked: list[str] = []

    def init_chat_model(name: str) -> ScriptedReminderModel:
        asked.append(name)
        return ScriptedReminderModel()

    monkeypatch.setattr(chat_models, "init_chat_model", init_chat_model)
    assert main(["demo", "--model", "zzfake:model-1"]) == 0
    out = capsys.readouterr().out
    assert asked == ["zzfake:model-1"]
    assert "model: zzfake:model-1 (through init_chat_model)" in out
    assert "scripted offline model" not in out
    assert "Created event:" in out


@pytest.fixture
def emulator_process(no_credentials: None) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalekit_langchain.cli", "emulator", "--token-ttl", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_emulator_command_serves_until_interrupted(
    emulator_process: subprocess.Popen[str],
) -> None:
    assert emulator_process.stdout is not None
    lines: list[str] = []
    for line in emulator_process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            break
    exports = dict(
        re.match(r"\s*export (\w+)=(\S+)", line).groups()  # type: ignore[union-attr]
        for line in lines
        if line.strip().startswith("export ")
    )
    assert set(exports) == set(ENV_VARS)
    with ScalekitClient(
        exports["SCALEKIT_ENV_URL"],
        exports["SCALEKIT_CLIENT_ID"],
        exports["SCALEKIT_CLIENT_SECRET"],
    ) as client:
        assert client.mcp.list_configs().items == []

    emulator_process.send_signal(signal.SIGINT)
    out, _ = emulator_process.communicate(timeout=20)
    assert emulator_process.returncode == 0
    assert "Scalekit emulator stopped." in out


# --------------------------------------------------------------------------- scripted models


async def test_scripted_models_drive_create_agent_with_prefixed_tools(
    emulator: ScalekitEmulator,
) -> None:
    """create_agent binds tools before each model call; the scripts find them by suffix."""
    from langchain.agents import create_agent

    from scalekit_langchain import ScalekitMCPToolkit
    from scalekit_langchain.testing.scripted import ScriptedReminderModel, ScriptedToolCallModel

    emulator.authorize("eve", "MY_GMAIL")
    emulator.authorize("eve", "MY_CALENDAR")
    async with AsyncScalekitClient(
        emulator.env_url, emulator.client_id, emulator.client_secret
    ) as client, ScalekitMCPToolkit(
        client=client,
        config_name=demo.CONFIG_NAME,
        user_identifier="eve",
        connection_tool_mappings=list(demo.MAPPINGS),
        tool_name_prefix="acme",
    ) as toolkit:
        tools = await toolkit.aget_tools()
        result = await create_agent(ScriptedReminderModel(), tools).ainvoke(
            {"messages": [("user", "remind me")]}
        )
        calls = [c["name"] for m in result["messages"] for c in getattr(m, "tool_calls", [])]
        assert calls == ["acme_gmail_fetch_mails", "acme_googlecalendar_create_event"]
        assert "Event created: Reminder: send the Q3 budget" in result["messages"][-1].text

        replay = ScriptedToolCallModel(calls=[("gmail_fetch_mails", {"max_results": 2})], final="ok")
        result = await create_agent(replay, tools).ainvoke({"messages": [("user", "list")]})
        assert result["messages"][-1].text == "ok"
        assert result["messages"][-2].name == "acme_gmail_fetch_mails"
        assert result["messages"][-2].text.startswith("2 message(s)")
