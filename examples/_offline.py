"""Shared by the examples: the real Scalekit when SCALEKIT_* is set, else the local emulator."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from scalekit_langchain.testing import ScalekitEmulator

_VARIABLES = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")


@contextlib.contextmanager
def scalekit_environment() -> Iterator[ScalekitEmulator | None]:
    """Yield None when real credentials are configured, else a running emulator.

    With the emulator, SCALEKIT_ENV_URL / CLIENT_ID / CLIENT_SECRET point at it for the duration,
    so the example code below is the same code you would run against Scalekit.
    """
    if all(os.environ.get(v) for v in _VARIABLES):
        yield None
        return
    with ScalekitEmulator() as emu:
        print(f"(offline: using the local Scalekit emulator at {emu.env_url})")
        saved = {v: os.environ.get(v) for v in _VARIABLES}
        os.environ.update(
            SCALEKIT_ENV_URL=emu.env_url,
            SCALEKIT_CLIENT_ID=emu.client_id,
            SCALEKIT_CLIENT_SECRET=emu.client_secret,
        )
        try:
            yield emu
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def chat_model(name: str) -> Any:
    """``init_chat_model(name)``, or exit with one ``error:`` line (as the CLI does) if it fails.

    A missing provider package (``langchain-openai`` for ``openai:...``) or API key is a setup
    mistake, not a bug: say what to do in one line instead of a traceback.
    """
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(name)
    except Exception as exc:  # ImportError for the package, a ValueError or the SDK's own error
        detail = " ".join(str(exc).split())[:300]
        print(f"error: could not create the model {name}: {detail}", file=sys.stderr)
        raise SystemExit(2) from None
