"""``scalekit-langchain doctor`` and ``emulator --profile``: as a user runs them (subprocesses
against a standalone emulator) and their refusals to start (exit 2) in-process."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scalekit_langchain import ScalekitClient
from scalekit_langchain.cli import main
from scalekit_langchain.testing import ScalekitEmulator

ENV_VARS = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")
CLI = [sys.executable, "-m", "scalekit_langchain.cli"]


class Standalone:
    """A ``scalekit-langchain emulator`` subprocess and what it printed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        self.exports = dict(
            re.match(r"\s*export (\w+)=(\S+)", line).groups()  # type: ignore[union-attr]
            for line in self.lines
            if line.strip().startswith("export ")
        )
        self.control_token = next(
            line.split()[-1] for line in self.lines if line.strip().startswith("control_token")
        )

    def setting(self, name: str) -> str:
        return next(line.split()[-1] for line in self.lines if line.strip().startswith(name))

    def client(self) -> ScalekitClient:
        return ScalekitClient(*(self.exports[name] for name in ENV_VARS))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=20)


@pytest.fixture
def standalone() -> Iterator[Standalone]:
    emu = Standalone("--refusal-mode", "jsonrpc_error", "--answer-mode", "json")
    try:
        yield emu
    finally:
        emu.stop()


def doctor(emu: Standalone, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **emu.exports, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*CLI, "doctor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True, env=env,
    )


def test_doctor_against_the_standalone_emulator(standalone: Standalone, tmp_path: Path) -> None:
    assert len(standalone.exports) == 3
    report_path = tmp_path / "report.json"
    proc = doctor(standalone, "--yes", "--connection", "MY_GMAIL", "--output", str(report_path))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == ""
    assert "an MCP config named sk-doctor-<random> mapping MY_GMAIL (all tools)" in out
    refusals = [line for line in out.splitlines() if line.startswith("  refusal shape:")]
    assert len(refusals) == 2  # instance URL and per-connection server
    assert all(
        "emulator mode: jsonrpc_error;" in line and line.endswith("handles it: yes")
        for line in refusals
    )
    assert re.search(r"^Cleanup: deleted MCP instance inst_\d+ and config sk-doctor-[0-9a-f]{8}\.$",
                     out, re.MULTILINE)
    assert f"Report written to {report_path}" in out
    assert standalone.exports["SCALEKIT_CLIENT_SECRET"] not in out
    report = json.loads(report_path.read_text())
    assert (report["refusal_mode"], report["answer_mode"], report["status_case"]) == (
        "jsonrpc_error", "json", "upper",
    )
    assert standalone.exports["SCALEKIT_CLIENT_SECRET"] not in report_path.read_text()
    with standalone.client() as client:
        assert client.mcp.list_configs().items == []
        assert client.mcp.list_instances().items == []

    replay = Standalone("--profile", str(report_path))
    try:
        assert (replay.setting("refusal_mode"), replay.setting("answer_mode")) == (
            "jsonrpc_error", "json",
        )
        assert replay.setting("status_case") == "upper"
    finally:
        replay.stop()


def test_ctrl_c_deletes_what_was_created(standalone: Standalone, tmp_path: Path) -> None:
    # Slow MCP requests down so that the interrupt lands in the middle of the probe.
    httpx.post(
        f"{standalone.exports['SCALEKIT_ENV_URL']}/_emulator/latency",
        json={"seconds": 0.5, "kind": "mcp"},
        headers={"X-Emulator-Token": standalone.control_token},
    ).raise_for_status()
    report_path = tmp_path / "report.json"
    proc = doctor(standalone, "--yes", "--connection", "MY_GMAIL", "--output", str(report_path))
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("Probing the instance's MCP server"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert re.search(r"^Cleanup: deleted MCP instance inst_\d+ and config sk-doctor-", out, re.M)
    assert not report_path.exists()
    with standalone.client() as client:
        assert client.mcp.list_configs().items == []
        assert client.mcp.list_instances().items == []


@pytest.fixture
def emulator_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emu:
        monkeypatch.setenv("SCALEKIT_ENV_URL", emu.env_url)
        monkeypatch.setenv("SCALEKIT_CLIENT_ID", emu.client_id)
        monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", emu.client_secret)
        yield emu


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("missing", ENV_VARS)
def test_missing_credential_exits_2_with_one_line(
    emulator_env: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], missing: str,
) -> None:
    monkeypatch.delenv(missing)
    assert main(["doctor", "--yes", "--connection", "MY_GMAIL"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"error: the doctor needs the environment variable(s) {missing}"
    ]
    assert sum(emulator_env.counts().values()) == 0


def test_missing_connection_exits_2(
    emulator_env: ScalekitEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: the doctor needs at least one --connection NAME (a connection of your"
        " environment)"
    ]
    assert sum(emulator_env.counts().values()) == 0


def test_no_terminal_and_no_yes_exits_2(
    emulator_env: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert main(["doctor", "--connection", "MY_GMAIL"]) == 2
    captured = capsys.readouterr()
    assert "The doctor will create" in captured.out
    assert "pass --yes" in captured.err
    assert sum(emulator_env.counts().values()) == 0


@pytest.mark.parametrize(("answer", "code"), [("n\n", 1), ("\n", 1), ("yes\n", 0)])
def test_confirmation(
    emulator_env: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path, answer: str, code: int,
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTerminal(answer))
    output = tmp_path / "r.json"
    assert main(["doctor", "--connection", "MY_GMAIL", "--output", str(output)]) == code
    out = capsys.readouterr().out
    assert "Continue? [y/N]" in out
    if code:
        assert "Nothing was created." in out
        assert sum(emulator_env.counts().values()) == 0
        assert not output.exists()
    else:
        assert emulator_env.count("configs.create") == 1
        assert emulator_env.count("configs.delete") == 1
        assert json.loads(output.read_text())["refusal_mode"] == emulator_env.refusal_mode


def test_emulator_rejects_a_bad_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"refusal_mode": "hidden", "lists_unauthorized_tools": True}))
    assert main(["emulator", "--profile", str(bad)]) == 2
    assert "disagree" in capsys.readouterr().err
    assert main(["emulator", "--profile", str(tmp_path / "absent.json")]) == 2
    assert "cannot read the profile" in capsys.readouterr().err


def test_unwritable_report_exits_1_after_the_summary(
    emulator_env: ScalekitEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "r.json"
    assert main(["doctor", "--yes", "--connection", "MY_GMAIL", "--output", str(target)]) == 1
    captured = capsys.readouterr()
    assert "emulator profile: refusal_mode=is_error_text" in captured.out
    assert captured.err.splitlines() == [
        f"error: cannot write the report to {str(target)!r}: No such file or directory"
    ]
    assert emulator_env.count("configs.delete") == 1
