"""Every example and the notebook run offline, as a user would run them."""

from __future__ import annotations

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


def test_notebook_executes_headless() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    outputs = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "PENDING_AUTH" in outputs and "ACTIVE" in outputs
    assert "Reminder: send the Q3 budget" in outputs
    assert "scalekit_authorization" in outputs
    assert "[3, 3, 3]" in outputs
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
