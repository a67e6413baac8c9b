"""examples/langgraph_server under a real LangGraph server (`langgraph dev`, in memory, offline),
driven through its API with langgraph-sdk as two users.

Each user's run pauses before the model; the authorization interrupt is visible in the thread's
state through the API, the link in it is opened and authorized on the emulator's page, and the run
is resumed with ``resume_authorization``'s command sent through the API. The reminder is created
once per user, in their own calendar; one user cannot read the other's thread, and no link or
tool of one reaches the other.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from scalekit_langchain import AUTHORIZATION_INTERRUPT_TYPE, resume_authorization
from scalekit_langchain.testing import ScalekitEmulator

from ._net_support import free_port

pytest.importorskip("langgraph_api", reason="the LangGraph server is not installed ('.[server]')")
sdk = pytest.importorskip("langgraph_sdk", reason="langgraph-sdk is not installed ('.[server]')")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "langgraph_server"
SEED_EVENTS = 2
START_TIMEOUT = 120.0


@dataclass
class Server:
    url: str
    emu: ScalekitEmulator
    log: Path


def _langgraph_cli() -> str:
    found = Path(sys.executable).with_name("langgraph")
    return str(found) if found.exists() else (shutil.which("langgraph") or "langgraph")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # A copy of the example: `langgraph dev` keeps its in-memory state on disk beside it.
    app = tmp_path / "langgraph_server"
    shutil.copytree(EXAMPLE, app)
    log = tmp_path / "server.log"
    with ScalekitEmulator() as emu:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEKIT_", "LANG"))}
        env.update(
            SCALEKIT_ENV_URL=emu.env_url,
            SCALEKIT_CLIENT_ID=emu.client_id,
            SCALEKIT_CLIENT_SECRET=emu.client_secret,
            PYTHONPATH=str(ROOT),  # this checkout's package, whatever the venv points at
            LANGSMITH_TRACING="false",
            LANGGRAPH_CLI_NO_ANALYTICS="1",
        )
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [_langgraph_cli(), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
                 "--port", str(port)],
                cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"langgraph dev exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.25)
            yield Server(url, emu, log)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the server and anything it started
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


async def _status(call: Any) -> int:
    """The HTTP status a refused SDK call got (the SDK raises its own or httpx's error)."""
    try:
        await call
    except Exception as exc:
        response = getattr(exc, "response", None)
        assert response is not None, repr(exc)
        return int(response.status_code)
    return 200


def _client(server: Server, user: str) -> object:
    # The example's custom auth (auth.py) names the user from this header.
    return sdk.get_client(url=server.url, headers={"x-user-id": user})


async def _authorize(link: str, emu_url: str) -> None:
    async with httpx.AsyncClient() as browser:
        page = await browser.get(link)
        assert page.status_code == 200
        done = await browser.post(link, data={"decision": "authorize"}, headers={"origin": emu_url})
        assert done.status_code == 200 and "Authorized" in done.text


async def test_two_users_pause_authorize_and_resume_through_the_server_api(server: Server) -> None:
    clients = {user: _client(server, user) for user in ("ana", "bob")}
    try:
        await _two_users(server, clients)
    finally:
        for client in clients.values():
            await client.aclose()  # type: ignore[attr-defined]


async def _two_users(server: Server, clients: dict[str, object]) -> None:
    ask = {"messages": [{"role": "user", "content": "Remind me about my latest email."}]}
    threads = {u: (await c.threads.create())["thread_id"] for u, c in clients.items()}  # type: ignore[attr-defined]
    first = await asyncio.gather(
        *(c.runs.wait(threads[u], "assistant", input=ask) for u, c in clients.items())  # type: ignore[attr-defined]
    )
    for (user, client), result in zip(clients.items(), first, strict=True):
        assert "__interrupt__" in result  # paused before the model
        state = await client.threads.get_state(threads[user])  # type: ignore[attr-defined]
        (pause,) = state["interrupts"]
        payload = pause["value"]
        assert payload["type"] == AUTHORIZATION_INTERRUPT_TYPE
        assert payload["user_identifier"] == user
        assert {c["connection_name"] for c in payload["connections"]} == {"MY_GMAIL", "MY_CALENDAR"}
        assert all(c["user_identifier"] == user for c in payload["connections"])
        assert not any(server.emu.env_url + "/connect" in str(m) for m in state["values"]["messages"])
        assert len(server.emu.user_data(user).events) == SEED_EVENTS

    # Users are isolated: bob cannot read ana's thread, nor resume it.
    bob = clients["bob"]
    assert await _status(bob.threads.get_state(threads["ana"])) == 404  # type: ignore[attr-defined]
    resume_anas = bob.runs.wait(threads["ana"], "assistant", command={"resume": True})  # type: ignore[attr-defined]
    assert await _status(resume_anas) == 404

    for user, client in clients.items():
        state = await client.threads.get_state(threads[user])  # type: ignore[attr-defined]
        for conn in state["interrupts"][0]["value"]["connections"]:
            await _authorize(conn["authentication_link"], server.emu.env_url)  # as the person
        command = resume_authorization(state)  # the documented command, sent through the API
        done = await client.runs.wait(  # type: ignore[attr-defined]
            threads[user], "assistant", command={"resume": command.resume}
        )
        assert "__interrupt__" not in done
        assert done["messages"][-1]["content"].startswith("Done. I read your latest email")
        after = await client.threads.get_state(threads[user])  # type: ignore[attr-defined]
        assert after["interrupts"] == []

    for user in clients:
        data = server.emu.user_data(user)
        assert len(data.events) == SEED_EVENTS + 1, user  # once, in their own calendar
        assert data.events[-1]["summary"].startswith("Reminder: send the Q3 budget")
        assert len(data.sent) == 0


def test_resume_authorization_reads_what_the_sdk_returns() -> None:
    pause = {"id": "abc", "value": {"type": AUTHORIZATION_INTERRUPT_TYPE, "connections": []}}
    other = {"id": "def", "value": {"type": "mcp_elicitation"}}
    assert resume_authorization({"interrupts": [pause, other]}).resume == {"abc": True}
    assert resume_authorization({"__interrupt__": [pause]}).resume == {"abc": True}
    with pytest.raises(ValueError):
        resume_authorization({"interrupts": [other]})
