"""A local Scalekit emulator for tests, demos and offline development.

Start one with ``with ScalekitEmulator() as emu:`` and point the client at ``emu.env_url``
with ``emu.client_id`` / ``emu.client_secret``.
"""

from __future__ import annotations

from scalekit_langchain.testing.emulator import ScalekitEmulator

__all__ = ["ScalekitEmulator"]
