"""Execute a notebook headless and save it with its outputs, refusing to save a credential.

    .venv/bin/python notebooks/execute.py notebooks/quickstart.ipynb

The notebooks are committed with their outputs so they read well on GitHub. Their outputs come
from the local emulator, whose credentials are random per run, but links and URLs still must
not be printed in full: :func:`find_leaks` lists anything that looks like a client secret, an
access or session token, an authorization link or an instance URL. The test suite runs the
same check on the committed notebook and on a fresh execution.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_SECRETS = [
    re.compile(r"sks_[\w-]+"),  # client secret
    re.compile(r"skat_[\w-]+"),  # access token
    re.compile(r"eyJ[\w-]{10,}"),  # a JWT (session token)
    re.compile(r"/connect/[\w-]+"),  # an authorization link's token
    re.compile(r"/mcp/v2/servers/(?!\*\*\*)[^\s/'\"]+"),  # an instance URL's secret segment
]
_URL = re.compile(r"https?://[^\s'\"\\]+")
_SHORTENED = re.compile(r"https?://[^/\s]+/…$")


def output_text(notebook: Any) -> str:
    """Every output of every code cell, as text."""
    parts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
            parts.append(" ".join(out.get("traceback", [])))
    return "\n".join(parts)


def find_leaks(text: str) -> list[str]:
    """What in ``text`` looks like a credential or a URL printed in full."""
    leaks = [m.group(0) for pattern in _SECRETS for m in pattern.finditer(text)]
    leaks += [url for url in _URL.findall(text) if not _SHORTENED.match(url)]
    return leaks


def execute(path: Path, *, timeout: int = 120) -> Any:
    """Run every cell of the notebook at ``path`` (from the repository root); return it."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()
    return notebook


def main(argv: list[str]) -> int:
    import nbformat

    if len(argv) != 1:
        print("usage: python notebooks/execute.py NOTEBOOK.ipynb", file=sys.stderr)
        return 2
    path = Path(argv[0])
    notebook = execute(path)
    leaks = find_leaks(output_text(notebook))
    if leaks:
        print(f"not saved: {len(leaks)} output(s) look like credentials", file=sys.stderr)
        return 1
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timings: noise in a diff
    nbformat.write(notebook, path)
    print(f"saved {path} with its outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
