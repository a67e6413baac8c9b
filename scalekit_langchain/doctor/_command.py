"""The ``scalekit-langchain doctor`` command: check inputs, ask, probe, print, write the report.

Exit codes: 0 report written; 1 the run failed, the report could not be written or the user
declined; 2 missing credentials or connection names, or no confirmation possible (stdin is not
a terminal and no ``--yes``); 130 interrupted (the throwaway config and instance are deleted
first).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from scalekit_langchain.doctor._probe import arun_probe, plan
from scalekit_langchain.doctor._report import DoctorReport
from scalekit_langchain.errors import ScalekitError

__all__ = ["DEFAULT_OUTPUT", "run_command"]

DEFAULT_OUTPUT = "scalekit-doctor-report.json"
_ENV_VARS = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")


def _say(line: str = "") -> None:
    print(line, flush=True)


def _fail(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)


async def _probe(connections: Sequence[str], timeout: float, out: Callable[[str], None]) -> (
    DoctorReport
):
    """Run the probe; Ctrl-C cancels it (so that its cleanup runs) on every Python version."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    installed = False
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, task.cancel)
            installed = True
    try:
        return await arun_probe(connections, out=out, timeout=timeout)
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


def run_command(
    connections: Sequence[str],
    *,
    yes: bool = False,
    output: str | os.PathLike[str] = DEFAULT_OUTPUT,
    timeout: float = 30.0,
    stdin: TextIO | None = None,
) -> int:
    """Run ``scalekit-langchain doctor``; return the exit code (see the module docstring).

    Args:
        connections: Connection names (``--connection``, repeatable).
        yes: Skip the confirmation.
        output: Where to write the JSON report.
        timeout: Seconds per request or MCP step.
        stdin: Where the confirmation is read from (default ``sys.stdin``).
    """
    missing = [name for name in _ENV_VARS if not os.environ.get(name)]
    if missing or not connections:
        needs = []
        if missing:
            needs.append(f"the environment variable(s) {', '.join(missing)}")
        if not connections:
            needs.append("at least one --connection NAME (a connection of your environment)")
        _fail(f"the doctor needs {' and '.join(needs)}")
        return 2
    if timeout <= 0:
        _fail(f"--timeout must be positive, got {timeout:g}")
        return 2
    env_url = os.environ["SCALEKIT_ENV_URL"].rstrip("/")
    for line in plan(connections, env_url):
        _say(line)
    if not yes:
        source = stdin or sys.stdin
        if not source.isatty():
            _fail("stdin is not a terminal, so the doctor cannot ask; pass --yes to go ahead")
            return 2
        _say("Continue? [y/N] ")
        if source.readline().strip().lower() not in ("y", "yes"):
            _say("Nothing was created.")
            return 1
    try:
        report = asyncio.run(_probe(list(connections), timeout, _say))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("interrupted", file=sys.stderr, flush=True)
        return 130
    except (ScalekitError, ValueError) as exc:
        text = " ".join(str(exc).split())
        _fail(f"the doctor failed: {type(exc).__name__}: {text}")
        return 1
    _say("")
    for line in report.summary:
        _say(line)
    _say("")
    try:
        path = report.write(Path(output))
    except OSError as exc:
        _fail(f"cannot write the report to {str(output)!r}: {exc.strerror or exc}")
        return 1
    _say(f"Report written to {path} (tokens and secret URL parts masked, user ids hashed).")
    _say(f"Play it locally: scalekit-langchain emulator --profile {path}")
    return 0
