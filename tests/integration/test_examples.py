"""Every example and the notebook run offline, as a user would run them."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_offline(example: Path) -> None:
    proc = subprocess.run(
        [sys.executable, example.name],
        cwd=example.parent, env=_offline_env(), capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "emulator" in proc.stdout
    assert "ResourceWarning" not in proc.stderr
    if example.name in ("quickstart.py", "langgraph_agent.py"):
        assert "Event created: Reminder: send the Q3 budget" in proc.stdout


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
