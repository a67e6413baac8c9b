"""The ``scalekit-langchain`` command on bad input: one ``error:`` line, exit 2, no traceback.

Each case runs ``main([...])`` in-process (so the test can watch what was started or sent) and a
few run the installed module in a subprocess, where a traceback would really reach the terminal.
``tools`` is read-only: it finds the user's instance and never creates one or a config.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import types
from typing import ClassVar

import pytest

from scalekit_langchain import ScalekitClient, _redact
from scalekit_langchain import _demo as demo
from scalekit_langchain.cli import main
from scalekit_langchain.testing import ScalekitEmulator

ENV_VARS = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")


class _CountingEmulator(ScalekitEmulator):
    started: ClassVar[int] = 0

    def start(self) -> ScalekitEmulator:
        type(self).started += 1
        return super().start()


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[_CountingEmulator]:
    """Count emulators the demo starts: bad input must be refused before any work."""
    _CountingEmulator.started = 0
    monkeypatch.setattr("scalekit_langchain.testing.ScalekitEmulator", _CountingEmulator)
    return _CountingEmulator


@pytest.fixture
def emulator_env(monkeypatch: pytest.MonkeyPatch, emulator: ScalekitEmulator) -> ScalekitEmulator:
    for name, value in zip(
        ENV_VARS, (emulator.env_url, emulator.client_id, emulator.client_secret), strict=True
    ):
        monkeypatch.setenv(name, value)
    return emulator


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


BAD_INPUT = [
    (["demo", "--bogus"], "unrecognized arguments: --bogus (see scalekit-langchain --help)"),
    ([], "the following arguments are required: COMMAND"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["tools", "--config", "x"], "required: --user (see scalekit-langchain tools --help)"),
    (["tools", "--config", "Bad Name", "--user", "u"], "--config must match ^[a-z0-9_-]{1,100}$"),
    (["tools", "--config", "ok", "--user", ""], "--user must be a non-empty string"),
    (["tools", "--config", "ok", "--user", "u" * 256], "--user must be at most 255 characters"),
    (["demo", "--user", "   "], "--user must be a non-empty string"),
    (["demo", "--model", "gpt-4o"], "--model must look like provider:name"),
    (["demo", "--model", "zz_no_such_provider:m1"], "needs the langchain-zz-no-such-provider package: pip install langchain-zz-no-such-provider"),
    (["emulator", "--port", "70000"], "--port must be from 0 to 65535, got 70000"),
    (["emulator", "--port", "http"], "argument --port: invalid int value: 'http'"),
    (["emulator", "--token-ttl", "0"], "--token-ttl must be positive"),
    (["tools", "--config", "ok", "--user", "u"], "no Scalekit credentials: set SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[" ".join(a)[:40] or "(none)" for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str],
    message: str,
    no_credentials: None,
    counted: type[_CountingEmulator],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert message in line
    assert counted.started == 0  # refused before anything was started


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        (["SCALEKIT_ENV_URL"], "SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET not set"),
        (["SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"], "SCALEKIT_ENV_URL not set"),
        (["SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID"], "SCALEKIT_CLIENT_SECRET not set"),
    ],
)
@pytest.mark.parametrize("command", [["demo"], ["tools", "--config", "ok", "--user", "u"]])
def test_partial_credentials_name_the_missing_ones(
    present: list[str],
    missing: str,
    command: list[str],
    no_credentials: None,
    counted: type[_CountingEmulator],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = {"SCALEKIT_ENV_URL": "https://acme.example.com", "SCALEKIT_CLIENT_ID": "skc_1", "SCALEKIT_CLIENT_SECRET": "sks_partial-secret"}
    for name in present:
        monkeypatch.setenv(name, values[name])
    assert main(command) == 2
    line = _one_error_line(capsys)
    assert missing in line and "none to run offline" in line
    assert "sks_partial-secret" not in line
    assert counted.started == 0  # not a silent offline run


def test_missing_langchain_is_reported_before_any_work(
    no_credentials: None,
    counted: type[_CountingEmulator],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "langchain" else real_find_spec(name, *a),
    )
    assert main(["demo"]) == 2
    assert "needs LangChain 1.5 or later (create_agent): pip install 'scalekit-langchain[agents]'" in _one_error_line(capsys)
    assert counted.started == 0


def test_a_model_that_cannot_be_created_is_one_line(
    no_credentials: None,
    counted: type[_CountingEmulator],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The provider's package imports, but init_chat_model does not know the provider.
    fake = types.ModuleType("langchain_zzfake")
    fake.__spec__ = importlib.machinery.ModuleSpec("langchain_zzfake", None)
    monkeypatch.setitem(sys.modules, "langchain_zzfake", fake)
    assert main(["demo", "--model", "zzfake:model-1"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: could not create the model zzfake:model-1: ValueError")
    assert counted.started == 0


def test_scalekit_error_is_one_line_exit_2(
    emulator_env: ScalekitEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", "sks_not-the-secret")
    assert main(["tools", "--config", "ok", "--user", "u"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: AuthenticationError: HTTP 401")
    assert "sks_not-the-secret" not in line


def test_server_error_is_one_line_exit_2(
    emulator_env: ScalekitEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator_env.fail_next(500, kind="configs.list")
    assert main(["tools", "--config", "ok", "--user", "u"]) == 2
    assert _one_error_line(capsys).startswith("error: ServerError: HTTP 500")


def test_unexpected_failure_is_one_redacted_line_exit_1(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _redact.register_secret("sks_registered-secret-value")

    def broken(**kwargs: object) -> int:
        raise RuntimeError("boom near sks_registered-secret-value")

    monkeypatch.setattr(demo, "run_demo", broken)
    assert main(["demo"]) == 1
    line = _one_error_line(capsys)
    assert line.startswith("error: unexpected RuntimeError: boom near ***")


def test_interrupted_is_130(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(**kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run_demo", interrupted)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


# --------------------------------------------------------------------------- tools is read-only


def test_tools_with_an_unknown_config_creates_nothing(
    emulator_env: ScalekitEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tools", "--config", "absent", "--user", "dee"]) == 2
    line = _one_error_line(capsys)
    assert f"no MCP config named 'absent' at {emulator_env.env_url}" in line
    assert emulator_env.count("configs.create") == 0
    assert emulator_env.count("instances.ensure") == 0


def test_tools_without_an_instance_says_so_and_creates_none(
    emulator_env: ScalekitEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScalekitClient() as client:
        client.mcp.create_config(demo.CONFIG_NAME, connection_tool_mappings=list(demo.MAPPINGS))
        assert main(["tools", "--config", demo.CONFIG_NAME, "--user", "dee"]) == 2
        captured = capsys.readouterr()
        assert "MY_GMAIL (GMAIL): gmail_fetch_mails" in captured.out  # the config is shown
        assert captured.err.strip() == (
            f"error: user 'dee' has no instance of '{demo.CONFIG_NAME}' yet (this command creates "
            "none; ScalekitMCPToolkit or `scalekit-langchain demo --user` does)"
        )
        assert client.mcp.list_instances().items == []
    assert emulator_env.count("instances.ensure") == 0


def test_tools_reads_an_existing_instance_without_ensuring_it(
    emulator_env: ScalekitEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScalekitClient() as client:
        client.mcp.create_config(demo.CONFIG_NAME, connection_tool_mappings=list(demo.MAPPINGS))
        instance = client.mcp.ensure_instance(demo.CONFIG_NAME, "dee")
        client.mcp.ensure_instance(demo.CONFIG_NAME, "someone-else")
    emulator_env.authorize("dee", "MY_GMAIL")
    emulator_env.reset_counts()

    assert main(["tools", "--config", demo.CONFIG_NAME, "--user", "dee"]) == 0

    out = capsys.readouterr().out
    assert f"Instance {instance.id}" in out and out.count("Instance ") == 1
    assert "MY_GMAIL (GMAIL): ACTIVE" in out
    assert "MY_CALENDAR (GOOGLECALENDAR): PENDING_AUTH" in out
    assert len(re.findall(r"link: \S+/connect/\S+", out)) == 1  # only the pending one
    assert "/mcp/v2/servers/***" in out
    assert not re.search(r"/mcp/v2/servers/(?!\*\*\*)[^\s/]+", out)
    assert re.search(r"Tools \(2\)\n  gmail_fetch_mails \[MY_GMAIL\]: \S+", out)
    assert "googlecalendar_create_event [MY_CALENDAR]" in out
    assert emulator_env.count("instances.ensure") == 0
    assert emulator_env.count("configs.create") == 0
    assert emulator_env.count("instances.list") == 1
    assert emulator_env.count("mcp.tools/list") == 1


# --------------------------------------------------------------------------- a real process


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["demo", "--bogus"], {}, "unrecognized arguments: --bogus"),
        (["tools", "--config", "Bad Name", "--user", "u"], {}, "--config must match"),
        (["demo"], {"SCALEKIT_ENV_URL": "https://acme.example.com"}, "SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET not set"),
        (["demo", "--model", "zz_no_such_provider:m1"], {}, "pip install langchain-zz-no-such-provider"),
    ],
)
def test_console_errors_in_a_real_process(argv: list[str], env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "scalekit_langchain.cli", *argv],
        env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""  # nothing was started
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
