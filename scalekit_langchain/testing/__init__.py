"""A local Scalekit emulator for tests, demos and offline development.

Start one with ``with ScalekitEmulator() as emu:`` and point the client at ``emu.env_url``
with ``emu.client_id`` / ``emu.client_secret``. ``REFUSAL_MODES`` lists the ways its MCP
servers can refuse a tool whose connection is not ACTIVE (``refusal_mode=``), ``ANSWER_MODES``
the ways they answer a POST (``answer_mode=``).
"""

from __future__ import annotations

from scalekit_langchain.testing.emulator import (
    ANSWER_MODES,
    REFUSAL_MODES,
    AnswerMode,
    RefusalMode,
    ScalekitEmulator,
)

__all__ = ["ANSWER_MODES", "REFUSAL_MODES", "AnswerMode", "RefusalMode", "ScalekitEmulator"]
