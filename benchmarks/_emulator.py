"""The Scalekit emulator in a child process, driven over a pipe.

The benchmark runs the emulator out of process on purpose: the server then neither shares the
GIL with the client under test (timings are the client's, as against a remote Scalekit) nor
shows up in the client's ``tracemalloc`` figures. The child serves on 127.0.0.1 only.

Protocol: the child prints one JSON line (``env_url``, ``client_id``, ``client_secret``), then
answers each JSON line ``[method, args, kwargs]`` read from stdin with one JSON line
``{"ok": result}`` or ``{"error": "..."}``. End of stdin stops it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

__all__ = ["EmulatorProcess"]

# Only these emulator methods may be called through the pipe.
_ALLOWED = frozenset(
    {"authorize", "set_latency", "counts", "count", "reset_counts", "clear_faults"}
)


class _DropSseWriterNoise(logging.Filter):
    """The mcp server logs a ClosedResourceError traceback whenever a client ends a session
    (DELETE) while its GET stream is open; every adapters-default call does that. Not an error
    of the client under test, so it is not printed (see results.md, "Notes")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "standalone SSE writer" not in record.getMessage()


def _serve() -> int:  # pragma: no cover - runs in the child process
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mcp.server.streamable_http").addFilter(_DropSseWriterNoise())
    from scalekit_langchain.testing import ScalekitEmulator

    with ScalekitEmulator(host="127.0.0.1") as emu:
        out = sys.stdout
        out.write(
            json.dumps(
                {"env_url": emu.env_url, "client_id": emu.client_id,
                 "client_secret": emu.client_secret}
            )
            + "\n"
        )
        out.flush()
        for line in sys.stdin:
            if not line.strip():
                continue
            method, args, kwargs = json.loads(line)
            try:
                if method not in _ALLOWED:
                    raise ValueError(f"method {method!r} is not allowed")
                result = getattr(emu, method)(*args, **kwargs)
                reply: dict[str, Any] = {"ok": result}
            except Exception as exc:  # reported to the parent
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(reply) + "\n")
            out.flush()
    return 0


class EmulatorProcess:
    """A :class:`~scalekit_langchain.testing.ScalekitEmulator` running in a child process.

    Offers the emulator methods the benchmark needs (``authorize``, ``set_latency``,
    ``counts``, ``count``, ``reset_counts``, ``clear_faults``) and its credentials.
    Use as a context manager; :meth:`close` stops the child and waits for it.
    """

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            # Run as a script, not ``-m benchmarks._emulator``: the child needs none of the
            # benchmark package (nor its imports).
            [sys.executable, os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        try:
            hello = self._readline()
        except BaseException:
            self.close()
            raise
        self.env_url: str = hello["env_url"]
        self.client_id: str = hello["client_id"]
        self.client_secret: str = hello["client_secret"]
        if not self.env_url.startswith("http://127.0.0.1:"):  # pragma: no cover - defensive
            self.close()
            raise RuntimeError(f"the emulator is not on loopback: {self.env_url}")

    @property
    def pid(self) -> int:
        """The child's process id (to read its CPU time)."""
        return self._proc.pid

    def _readline(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator process ended (exit code {self._proc.poll()})")
        value: dict[str, Any] = json.loads(line)
        return value

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps([method, args, kwargs]) + "\n")
        self._proc.stdin.flush()
        reply = self._readline()
        if "error" in reply:
            raise RuntimeError(f"emulator.{method}: {reply['error']}")
        return reply["ok"]

    def authorize(self, user_identifier: str, connection_name: str) -> None:
        """Make the user's account on ``connection_name`` ACTIVE."""
        self._call("authorize", user_identifier, connection_name)

    def set_latency(self, seconds: float, kind: str | None = None) -> None:
        """Delay every request (of kinds starting with ``kind``) by ``seconds``."""
        self._call("set_latency", seconds, kind=kind)

    def counts(self) -> dict[str, int]:
        """Request counts by kind since the last :meth:`reset_counts`."""
        counts: dict[str, int] = self._call("counts")
        return counts

    def count(self, prefix: str) -> int:
        """Requests whose kind starts with ``prefix``."""
        return int(self._call("count", prefix))

    def reset_counts(self) -> None:
        """Forget every count."""
        self._call("reset_counts")

    def clear_faults(self) -> None:
        """Drop every latency setting."""
        self._call("clear_faults")

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

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_serve())
