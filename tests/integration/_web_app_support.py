"""Shared by the web app tests: examples/web_app/app.py served on loopback beside an emulator."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn

from scalekit_langchain import AsyncScalekitClient
from scalekit_langchain.testing import ScalekitEmulator

from ._net_support import free_port

APP_PATH = Path(__file__).resolve().parents[2] / "examples" / "web_app" / "app.py"
SEED_EVENTS = 2  # the calendar events every user's seeded account starts with


def load_app_module() -> ModuleType:
    """Import examples/web_app/app.py as a module (it is a script, not a package)."""
    name = "scalekit_web_app_example"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class WebApp:
    url: str
    emu: ScalekitEmulator


@contextlib.contextmanager
def served_web_app(*, auth_link_ttl: float) -> Iterator[WebApp]:
    """The example app (scripted model) on a free loopback port, on a fresh emulator."""
    with ScalekitEmulator(auth_link_ttl=auth_link_ttl) as emu:
        client = AsyncScalekitClient(
            env_url=emu.env_url, client_id=emu.client_id, client_secret=emu.client_secret
        )
        app = load_app_module().create_app(client=client)
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                lifespan="on", loop="asyncio", http="h11", ws="none",
                                timeout_graceful_shutdown=3)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True, name="web-app")
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the web app did not start"
            time.sleep(0.01)
        try:
            yield WebApp(f"http://127.0.0.1:{port}", emu)
        finally:
            server.should_exit = True
            thread.join(20)
            _close(client)


def _close(client: Any) -> None:
    import asyncio

    asyncio.run(client.aclose())
