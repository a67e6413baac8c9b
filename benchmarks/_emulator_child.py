"""The child side of ``_emulator.py``: serve the Scalekit emulator, take calls over the pipe.

Run as a script (``python benchmarks/_emulator_child.py``); it imports nothing from the
benchmark package.
"""

from __future__ import annotations

import json
import logging
import sys

from _child import answer_calls  # run as a script: this file's directory is on sys.path

# Only these emulator methods may be called through the pipe.
_ALLOWED = frozenset(
    {"authorize", "set_latency", "set_answer_mode", "set_mcp_era", "counts", "count",
     "reset_counts", "clear_faults"}
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

    # allow_remote only lifts the Host check (still bound to 127.0.0.1): the HTTPS benchmark
    # reaches the emulator through a proxy, whose port is in the Host header.
    # idle_timeout: benchmarks._results.IDLE_TIMEOUT (this file runs as a script).
    with ScalekitEmulator(host="127.0.0.1", allow_remote=True, idle_timeout=60.0) as emu:
        out = sys.stdout
        out.write(
            json.dumps(
                {"env_url": emu.env_url, "client_id": emu.client_id,
                 "client_secret": emu.client_secret}
            )
            + "\n"
        )
        out.flush()
        answer_calls({name: getattr(emu, name) for name in _ALLOWED})
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_serve())
