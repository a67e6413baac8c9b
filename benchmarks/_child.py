"""A helper process driven over a pipe: one JSON line per call, one JSON line per answer.

The child prints one JSON line (its hello) when ready, then answers each line
``[method, args, kwargs]`` read from stdin with ``{"ok": result}`` or ``{"error": "..."}``.
End of stdin stops it (:func:`answer_calls` is that loop, for the children, which import this
file by its name). Used for the emulator (``_emulator.py``), the network (``_network.py``)
and the mcp 2 worker (``_mcp2_worker.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from importlib import metadata
from typing import Any

__all__ = ["PipeChild", "answer_calls", "answer_calls_async", "package_versions"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PipeChild:
    """A child process running ``script`` (a file of this package, run as a script).

    Args:
        script: File name inside ``benchmarks/``.
        args: Extra command-line arguments.
        python: The interpreter (default: this one).
    """

    def __init__(self, script: str, *args: str, python: str | None = None) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            # Run as a script, not ``-m benchmarks...``: a child needs none of the benchmark
            # package (nor its imports, which need langchain-mcp-adapters).
            [python or sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            self.hello: dict[str, Any] = self._readline()
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        """The child's process id (to read its CPU time)."""
        return self._proc.pid

    def _readline(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the child process ended (exit code {self._proc.poll()})")
        value: dict[str, Any] = json.loads(line)
        return value

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` in the child and return its result (errors raise RuntimeError)."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps([method, args, kwargs]) + "\n")
        self._proc.stdin.flush()
        reply = self._readline()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["ok"]

    def close(self) -> None:
        """Stop the child process and wait for it."""
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - defensive
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> PipeChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def answer_calls(methods: Mapping[str, Callable[..., Any]]) -> None:
    """The child's side: answer each ``[method, args, kwargs]`` line of stdin with one JSON
    line on stdout (``{"ok": ...}`` or ``{"error": ...}``) until stdin ends. Only ``methods``
    can be called."""
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        method, args, kwargs = json.loads(line)
        try:
            if method not in methods:
                raise ValueError(f"method {method!r} is not allowed")
            reply: dict[str, Any] = {"ok": methods[method](*args, **kwargs)}
        except Exception as exc:  # reported to the parent
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


async def answer_calls_async(methods: Mapping[str, Callable[..., Awaitable[Any]]]) -> None:
    """:func:`answer_calls` for a child whose calls are coroutines (stdin is read off the
    event loop, one line at a time, so the loop keeps running between calls)."""
    loop = asyncio.get_running_loop()
    out = sys.stdout
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        if not line.strip():
            continue
        method, args, kwargs = json.loads(line)
        try:
            if method not in methods:
                raise ValueError(f"unknown method {method!r}")
            reply: dict[str, Any] = {"ok": await methods[method](*args, **kwargs)}
        except Exception as exc:  # reported to the parent
            reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` for the missing)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
