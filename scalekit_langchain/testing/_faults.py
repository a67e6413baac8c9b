"""Request counting, injected latency and queued faults of the emulator (thread-safe)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Literal

FaultMode = Literal[
    "status", "hang", "garbage", "malformed_json", "wrong_content_type", "drop_after"
]
FAULT_MODES: tuple[str, ...] = (
    "status",
    "hang",
    "garbage",
    "malformed_json",
    "wrong_content_type",
    "drop_after",
)


@dataclass
class Fault:
    """A queued fault: applies to the next ``remaining`` requests whose kind matches.

    Attributes:
        status: HTTP status answered in ``status`` mode.
        remaining: How many more requests it applies to.
        kind: Kind prefix the request must start with; None matches every request.
        retry_after: Seconds sent in ``Retry-After`` (``status`` mode), if any.
        mode: What to do to the request.
    """

    status: int
    remaining: int
    kind: str | None
    retry_after: float | None
    mode: FaultMode


class FaultBoard:
    """Counts requests by kind and hands out latency and faults, safely across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._latency: dict[str, float] = {}
        self._faults: list[Fault] = []

    # counting -----------------------------------------------------------------

    def record(self, kind: str) -> None:
        """Count one request of ``kind``."""
        with self._lock:
            self._counts[kind] += 1

    def counts(self) -> dict[str, int]:
        """Return a copy of the counts by kind."""
        with self._lock:
            return dict(self._counts)

    def count(self, prefix: str) -> int:
        """Return the number of requests whose kind starts with ``prefix``."""
        with self._lock:
            return sum(n for kind, n in self._counts.items() if kind.startswith(prefix))

    def reset_counts(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()

    # latency ------------------------------------------------------------------

    def set_latency(self, seconds: float, kind: str | None = None) -> None:
        """Delay requests by ``seconds``.

        Args:
            seconds: The delay; 0 removes it (every delay when ``kind`` is None).
            kind: Only requests whose kind starts with this prefix; None = all requests.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._lock:
            key = kind or ""
            if seconds == 0:
                if kind is None:
                    self._latency.clear()
                else:
                    self._latency.pop(key, None)
            else:
                self._latency[key] = float(seconds)

    def latency_for(self, kind: str) -> float:
        """Return the delay for a request kind (the most specific matching prefix wins)."""
        with self._lock:
            best = ""
            found = False
            for prefix in self._latency:
                if kind.startswith(prefix) and (not found or len(prefix) > len(best)):
                    best, found = prefix, True
            return self._latency[best] if found else 0.0

    # faults -------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault.

        Raises:
            ValueError: Unknown mode, count below 1 or a status outside 100..599.
        """
        if fault.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {fault.mode!r}; expected one of {FAULT_MODES}")
        if fault.remaining < 1:
            raise ValueError("count must be >= 1")
        if not 100 <= fault.status <= 599:
            raise ValueError("status must be an HTTP status code")
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, kind: str) -> Fault | None:
        """Consume one use of the first queued fault matching ``kind`` and return it."""
        with self._lock:
            for fault in self._faults:
                if fault.kind is None or kind.startswith(fault.kind):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Fault(fault.status, 1, fault.kind, fault.retry_after, fault.mode)
            return None

    def clear_faults(self) -> None:
        """Drop every queued fault and every latency setting."""
        with self._lock:
            self._faults.clear()
            self._latency.clear()
