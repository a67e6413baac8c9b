"""``scalekit-langchain doctor``: learn how a live Scalekit environment answers, in one run.

Several behaviours of Scalekit's MCP servers that decide whether the toolkit works are not
documented: how a tool of a connection that is not ACTIVE is refused, whether such tools are
listed, SSE or JSON answers, the protocol revision, the case of status strings, the shape of a
refused session-token mint and of a 401. :func:`arun_probe` (or its blocking twin
:func:`run_probe`) creates a throwaway config and user, observes all of that with raw HTTP and
with the ``mcp`` SDK, deletes what it created, and returns a :class:`DoctorReport`: a short
summary plus a JSON object with no secrets whose setting keys are an emulator profile
(``ScalekitEmulator(profile=report.data)``, ``scalekit-langchain emulator --profile FILE``).
"""

from __future__ import annotations

from scalekit_langchain.doctor._command import run_command
from scalekit_langchain.doctor._probe import arun_probe, plan, run_probe
from scalekit_langchain.doctor._report import REPORT_FORMAT, SETTING_KEYS, DoctorReport

__all__ = [
    "REPORT_FORMAT",
    "SETTING_KEYS",
    "DoctorReport",
    "arun_probe",
    "plan",
    "run_command",
    "run_probe",
]
