"""The Scalekit emulator in a child process, driven over a pipe.

The benchmark runs the emulator out of process on purpose: the server then neither shares the
GIL with the client under test (timings are the client's, as against a remote Scalekit) nor
shows up in the client's ``tracemalloc`` figures. The child serves on 127.0.0.1 only.

The child (``_emulator_child.py``) prints one JSON line (``env_url``, ``client_id``,
``client_secret``), then serves the calls of :class:`~benchmarks._child.PipeChild`.
"""

from __future__ import annotations

from benchmarks._child import PipeChild

__all__ = ["EmulatorProcess"]


class EmulatorProcess(PipeChild):
    """A :class:`~scalekit_langchain.testing.ScalekitEmulator` running in a child process.

    Offers the emulator methods the benchmark needs (``authorize``, ``set_latency``,
    ``set_answer_mode``, ``set_mcp_era``, ``counts``, ``count``, ``reset_counts``,
    ``clear_faults``) and its credentials. Use as a context manager; :meth:`close` stops the
    child and waits for it.
    """

    def __init__(self) -> None:
        super().__init__("_emulator_child.py")
        self.env_url: str = self.hello["env_url"]
        self.client_id: str = self.hello["client_id"]
        self.client_secret: str = self.hello["client_secret"]
        if not self.env_url.startswith("http://127.0.0.1:"):  # pragma: no cover - defensive
            self.close()
            raise RuntimeError(f"the emulator is not on loopback: {self.env_url}")
        self.port = int(self.env_url.rsplit(":", 1)[1])

    def authorize(self, user_identifier: str, connection_name: str) -> None:
        """Make the user's account on ``connection_name`` ACTIVE."""
        self.call("authorize", user_identifier, connection_name)

    def set_latency(self, seconds: float, kind: str | None = None) -> None:
        """Delay every request (of kinds starting with ``kind``) by ``seconds``."""
        self.call("set_latency", seconds, kind=kind)

    def set_answer_mode(self, mode: str) -> None:
        """Answer MCP POSTs with ``"sse"`` or ``"json"``."""
        self.call("set_answer_mode", mode)

    def set_mcp_era(self, era: str) -> None:
        """Speak the MCP eras ``era`` names: ``"handshake"``, ``"both"`` or ``"new"``."""
        self.call("set_mcp_era", era)

    def counts(self) -> dict[str, int]:
        """Request counts by kind since the last :meth:`reset_counts`."""
        counts: dict[str, int] = self.call("counts")
        return counts

    def count(self, prefix: str) -> int:
        """Requests whose kind starts with ``prefix``."""
        return int(self.call("count", prefix))

    def reset_counts(self) -> None:
        """Forget every count."""
        self.call("reset_counts")

    def clear_faults(self) -> None:
        """Drop every latency setting."""
        self.call("clear_faults")

    def __enter__(self) -> EmulatorProcess:
        return self
