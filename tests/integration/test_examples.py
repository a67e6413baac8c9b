"""Every example and the notebook run offline, as a user would run them."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")}
    env["PYTHONWARNINGS"] = "error::ResourceWarning"
    return env


EXPECTED = {
    "quickstart.py": [
        r"MY_GMAIL\s+PENDING_AUTH",
        r"tools: \['gmail_fetch_mails', 'googlecalendar_create_event'\]",
        r"Event created: Reminder: send the Q3 budget",
    ],
    "middleware_agent.py": [
        # One pause before the model listing both connections, then one with what is left.
        r"Pause 1: ana-lee must authorize:\n  MY_GMAIL \(PENDING_AUTH\): \S+\n  MY_CALENDAR \(PENDING_AUTH\)",
        r"Pause 2: ana-lee must authorize:\n  MY_CALENDAR \(PENDING_AUTH\): \S+\nResumed after 2 pause\(s\)",
        r"Event created: Reminder: send the Q3 budget",
    ],
    "custom_graph.py": [
        r"Paused before the model: raj-patel must authorize MY_GMAIL, MY_CALENDAR\n",
        r"tool calls: \['gmail_fetch_mails', 'googlecalendar_create_event'\]",
        r"Event created: Reminder: send the Q3 budget",
    ],
    "sync_usage.py": [
        r"Message msg_0005 \(thread thr_0005\)\nMessage msg_0004",
        r"sam-ng must authorize MY_GMAIL: \S+\nsam-ng must authorize MY_CALENDAR",
        r"Event created: Reminder: send the Q3 budget",
    ],
}


def test_every_example_has_expectations() -> None:
    assert sorted(EXPECTED) == [p.name for p in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_offline(example: Path) -> None:
    proc = subprocess.run(
        [sys.executable, example.name],
        cwd=example.parent, env=_offline_env(), capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "(offline: using the local Scalekit emulator" in proc.stdout
    assert "ResourceWarning" not in proc.stderr
    assert "Deprecat" not in proc.stderr, proc.stderr[-2000:]
    for pattern in EXPECTED[example.name]:
        assert re.search(pattern, proc.stdout), (pattern, proc.stdout[-3000:])


def test_quickstart_with_a_model_it_cannot_create_is_one_error_line() -> None:
    """No langchain-openai (or no OPENAI_API_KEY): one line, exit 2, before anything runs."""
    env = {k: v for k, v in _offline_env().items() if k != "OPENAI_API_KEY"}
    proc = subprocess.run(
        [sys.executable, "quickstart.py", "openai:gpt-4.1-mini"],
        cwd=ROOT / "examples", env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout == ""  # refused before the emulator or Scalekit was touched
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("error: could not create the model openai:gpt-4.1-mini: ")


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_use_create_agent_except_the_one_custom_graph(example: Path) -> None:
    source = example.read_text()
    assert "create_react_agent" not in source
    assert "filterwarnings" not in source  # nothing deprecated to hide
    if example.name == "custom_graph.py":
        for name in ("StateGraph(", "ToolNode(", "tools_condition", "authorization_gate("):
            assert name in source
    elif "agent" in source:
        assert "from langchain.agents import create_agent" in source
        assert "StateGraph" not in source


def _notebook_tools():  # notebooks/execute.py: the run-and-save script and its leak check
    spec = importlib.util.spec_from_file_location("nb_execute", ROOT / "notebooks" / "execute.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"
# What the notebook shows: one pause listing both connections, a second one with what is left
# after a partial authorization, the event, the sync/async tools, many users, session tokens.
NOTEBOOK_SHOWS = [
    "MY_GMAIL     PENDING_AUTH",
    "scalekit_authorization for john-doe\n  MY_GMAIL     PENDING_AUTH  link http://127.0.0.1:",
    "  MY_CALENDAR  PENDING_AUTH  link http://127.0.0.1:",
    "paused again for [('MY_CALENDAR', 'PENDING_AUTH')]",
    "Event created: Reminder: send the Q3 budget",
    "u1: paused=False, reminders in u1's own calendar: 1",
    "u3: paused=False, reminders in u3's own calendar: 1",
    "1 message(s), newest first:",
]


def _check_outputs(notebook, tools) -> None:
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    outputs = tools.output_text(notebook)
    for expected in NOTEBOOK_SHOWS:
        assert expected in outputs, expected
    leaks = tools.find_leaks(outputs)
    assert not leaks, f"{len(leaks)} credential-like output(s)"  # not printed: they may be real


def test_notebook_executes_headless() -> None:
    pytest.importorskip("nbclient")
    tools = _notebook_tools()
    _check_outputs(tools.execute(NOTEBOOK), tools)


def test_notebook_is_committed_with_its_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")
    tools = _notebook_tools()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)  # executed, in order
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert all(c.outputs for c in code[:-1])  # every cell but the clean-up shows something
    _check_outputs(notebook, tools)
    source = "\n".join(c.source for c in code)
    assert "create_react_agent" not in source and "filterwarnings" not in source
    for used in ("create_agent(", "AuthorizationMiddleware(toolkit)", "resume_authorization(result)"):
        assert used in source


def test_leak_check_catches_what_it_should() -> None:
    tools = _notebook_tools()
    assert tools.find_leaks("link http://127.0.0.1:4567/… ok") == []
    for leaked in (
        "http://127.0.0.1:4567/connect/AbC-123_x",
        "http://127.0.0.1:4567/mcp/v2/servers/s3cr3t-segment",
        "secret sks_abc-DEF_123",
        "token skat_abcdef",
        "Bearer eyJhbGciOiJSUzI1NiJ9.x.y",
        "https://acme.scalekit.com/api",
    ):
        assert tools.find_leaks(leaked), leaked
