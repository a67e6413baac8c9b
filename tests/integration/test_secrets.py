"""No credential leaks anywhere: logs, reprs, exception texts, tool metadata, callbacks.

One module-scoped run does everything once: the demo (``scalekit-langchain demo`` with no
``SCALEKIT_*`` environment), a multi-user toolkit run through a LangGraph agent, a
session-token-mode run, and several faults (expired access tokens, dropped MCP sessions, a hung
call, a 5xx run, a 404 on an MCP session, an unauthorized connection, bad credentials). Every log
record (root logger at DEBUG, so httpx, mcp and ours), every repr, every exception text and every
LangChain callback payload is kept, and each test below checks one of those surfaces for every
credential the emulators issued: client secrets, access tokens, session tokens, and the secret
path segment of every instance URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler

from scalekit_langchain import (
    AsyncScalekitClient,
    ScalekitClient,
    ScalekitError,
    ScalekitMCPToolkit,
    _session_loop,
)
from scalekit_langchain.testing import ScalekitEmulator
from scalekit_langchain.testing._session_jwts import SigningKey
from scalekit_langchain.testing._state import EmulatorState

MAPPINGS = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails", "gmail_send_message"]},
    {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
]


@dataclass
class Artifacts:
    """What the run issued (secrets) and everything it showed (texts, by surface)."""

    client_secrets: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    session_tokens: set[str] = field(default_factory=set)
    instance_urls: set[str] = field(default_factory=set)
    logs: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    reprs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)

    def secrets(self) -> dict[str, str]:
        named: dict[str, str] = {}
        for i, s in enumerate(sorted(self.client_secrets)):
            named[f"client secret #{i}"] = s
        for i, s in enumerate(sorted(self.access_tokens)):
            named[f"access token #{i}"] = s
        for i, s in enumerate(sorted(self.session_tokens)):
            named[f"session token #{i}"] = s
        for i, url in enumerate(sorted(self.instance_urls)):
            named[f"instance URL secret segment #{i}"] = url.rstrip("/").rsplit("/", 1)[-1]
        return named


class _Capture(logging.Handler):
    """Keeps every record as its handlers would print it, tracebacks included."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.append(self.format(record))
            self.sink.append(repr(record.args))
        except Exception as exc:  # pragma: no cover - a broken record is still a finding
            self.sink.append(f"unformattable record {record.msg!r}: {exc}")


class Recorder(BaseCallbackHandler):
    """Records every tool and chain callback with all its arguments (metadata, tags...)."""

    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def _keep(self, event: str, *args: Any, **kwargs: Any) -> None:
        self.sink.append(f"{event} {args!r} {kwargs!r}")

    def on_tool_start(self, serialized: Any, input_str: str, **kwargs: Any) -> None:
        self._keep("tool_start", serialized, input_str, **kwargs)

    def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        self._keep("tool_end", output, **kwargs)

    def on_tool_error(self, error: BaseException, **kwargs: Any) -> None:
        self._keep("tool_error", error, "".join(traceback.format_exception(error)), **kwargs)

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self._keep("chain_start", serialized, inputs, **kwargs)

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self._keep("chain_end", outputs, **kwargs)

    def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        self._keep("chain_error", error, "".join(traceback.format_exception(error)), **kwargs)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._keep("custom", name, data, run_id=run_id, **kwargs)


def _error_text(exc: BaseException) -> str:
    return "\n".join(
        [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(vars(exc))]
    )


@contextlib.contextmanager
def _recording_issuers(art: Artifacts) -> Iterator[None]:
    """Record every credential any emulator issues while the block runs."""
    mp = pytest.MonkeyPatch()
    post_init = EmulatorState.__post_init__
    issue = EmulatorState.issue_access_token
    sign = SigningKey.sign
    instance_url = EmulatorState.instance_url

    def rec_post_init(self: EmulatorState) -> None:
        post_init(self)
        art.client_secrets.add(self.client_secret)

    def rec_issue(self: EmulatorState, *a: Any, **k: Any) -> str:
        token = issue(self, *a, **k)
        art.access_tokens.add(token)
        return token

    def rec_sign(self: SigningKey, claims: dict[str, Any]) -> str:
        token = sign(self, claims)
        art.session_tokens.add(token)
        return token

    def rec_url(self: EmulatorState, inst: Any) -> str:
        url = instance_url(self, inst)
        art.instance_urls.add(url)
        return url

    mp.setattr(EmulatorState, "__post_init__", rec_post_init)
    mp.setattr(EmulatorState, "issue_access_token", rec_issue)
    mp.setattr(SigningKey, "sign", rec_sign)
    mp.setattr(EmulatorState, "instance_url", rec_url)
    try:
        yield
    finally:
        mp.undo()


def _agent(tools: list[Any]) -> Any:
    """A ``create_agent`` agent whose scripted model fetches mail, then sends one."""
    from langchain.agents import create_agent

    from scalekit_langchain.testing.scripted import ScriptedToolCallModel

    model = ScriptedToolCallModel(
        calls=[
            ("gmail_fetch_mails", {"max_results": 1}),
            ("gmail_send_message", {"to": "ops@acme.example", "subject": "s", "body": "b"}),
        ]
    )
    return create_agent(model, tools)


async def _flow(emu: ScalekitEmulator, art: Artifacts) -> None:
    recorder = Recorder(art.callbacks)
    cfg: dict[str, Any] = {"callbacks": [recorder], "metadata": {"app": "secrets-test"}}

    async def expect_error(awaitable: Any) -> None:
        try:
            await awaitable
        except (ScalekitError, ValueError) as exc:
            art.errors.append(_error_text(exc))
        else:
            raise AssertionError("expected an error")

    seen_auth: list[str] = []

    def hook(request: httpx.Request) -> None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            seen_auth.append(auth[7:])

    # The toolkit's client owns its HTTP clients (a caller's AsyncClient cannot be shared with
    # the session loop: see test_faults.py); access tokens are recorded where they are issued,
    # and by the hook of the sync client below.
    if True:
        client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
        art.reprs += [repr(client), str(client)]

        # Multi-user, instance mode, through a LangGraph agent.
        for user in ("alice", "bob"):
            emu.authorize(user, "MY_GMAIL")
            emu.authorize(user, "MY_CALENDAR")
        multi = ScalekitMCPToolkit(
            client=client,
            config_name="secret-assistant",
            connection_tool_mappings=MAPPINGS,
            discovery_user="alice",
            call_timeout=1.0,
        )
        try:
            tools = await multi.aget_tools()
            for user in ("alice", "bob"):
                agent = _agent(tools)
                await agent.ainvoke(
                    {"messages": [("user", "mail ops")]},
                    {**cfg, "configurable": {"user_id": user}},
                )
            art.reprs += [repr(multi), str(multi)]
            for tool in tools:
                art.reprs += [repr(tool), str(tool), repr(tool.args_schema)]
                art.metadata += [repr(tool.metadata), repr(tool.tags), tool.description]
            send = {t.name: t for t in tools}["gmail_send_message"]
            alice = {**cfg, "configurable": {"user_id": "alice"}}
            args = {"to": "ops@acme.example", "subject": "f", "body": "b"}

            # Faults.
            emu.expire_access_tokens()
            art.reprs.append(repr(await multi.aauth_state(user_identifier="alice")))
            await asyncio.to_thread(emu.drop_mcp_sessions)
            await send.ainvoke(args, alice)
            emu.fail_next(404, kind="mcp.tools/call")
            await send.ainvoke(args, alice)
            emu.fail_next(200, kind="mcp.tools/call", mode="hang")
            await expect_error(send.ainvoke(args, alice))
            emu.fail_next(503, kind="mcp.tools/call")
            await expect_error(send.ainvoke(args, alice))
            emu.fail_next(401, count=2, kind="mcp.tools/call")
            await expect_error(send.ainvoke(args, alice))
            emu.fail_next(200, kind="mcp.tools/call", mode="garbage")
            await expect_error(send.ainvoke(args, alice))
            emu.fail_next(503, count=10, kind="instances.ensure")
            await expect_error(send.ainvoke(args, {**cfg, "configurable": {"user_id": "carol"}}))
            emu.clear_faults()
            # Carol never authorized: AuthorizationRequired (outside a graph).
            await expect_error(send.ainvoke(args, {**cfg, "configurable": {"user_id": "carol"}}))
            await expect_error(send.ainvoke(args, {**cfg, "configurable": {}}))
            await asyncio.to_thread(emu.restart)
            await send.ainvoke(args, alice)
        finally:
            await multi.aclose()

        # Session-token mode.
        emu.authorize("dave", "MY_GMAIL")
        emu.authorize("dave", "MY_CALENDAR")
        async with ScalekitMCPToolkit(
            client=client,
            config_name="secret-assistant",
            user_identifier="dave",
            mode="session_token",
            token_refresh_margin=0,
        ) as virtual:
            vtools = {t.name: t for t in await virtual.aget_tools()}
            await vtools["gmail_fetch_mails"].ainvoke({"max_results": 1}, cfg)
            await asyncio.to_thread(emu.drop_mcp_sessions)
            await vtools["gmail_send_message"].ainvoke(
                {"to": "ops@acme.example", "subject": "v", "body": "b"}, cfg
            )
            emu.fail_next(401, count=2, kind="mcp.tools/call")
            await expect_error(
                vtools["gmail_send_message"].ainvoke(
                    {"to": "ops@acme.example", "subject": "v2", "body": "b"}, cfg
                )
            )
            art.reprs += [repr(virtual)] + [repr(t) for t in vtools.values()]
            art.metadata += [repr(t.metadata) for t in vtools.values()]
        async with ScalekitMCPToolkit(  # a second token for the same user
            client=client,
            config_name="secret-assistant",
            user_identifier="dave",
            mode="session_token",
        ) as again:
            await (await again.aget_tools())[0].ainvoke({"max_results": 1}, cfg)
        emu.authorize("erin", "MY_GMAIL")  # not calendar: minting is refused
        refused = ScalekitMCPToolkit(
            client=client,
            config_name="secret-assistant",
            user_identifier="erin",
            mode="session_token",
        )
        try:
            await expect_error(refused.aget_tools())
        finally:
            await refused.aclose()

        # Every instance, and every representation of one (sync client, caller's httpx.Client
        # with a hook that sees each access token on the wire).
        with (
            httpx.Client(event_hooks={"request": [hook]}) as http,
            ScalekitClient(
                emu.env_url, emu.client_id, emu.client_secret, http_client=http
            ) as sync_client,
        ):
            art.reprs += [repr(sync_client)]
            emu.expire_access_tokens()
            for instance in sync_client.mcp.iter_instances():
                assert instance.url
                art.instance_urls.add(instance.url)
                art.reprs += [repr(instance), str(instance), repr(instance.config)]
                art.reprs += [instance.redacted_url or ""]
            try:
                sync_client.mcp.get_instance("inst_missing")
            except ScalekitError as exc:
                art.errors.append(_error_text(exc))
        assert seen_auth

        # Bad credentials.
        wrong = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret + "-wrong")
        art.client_secrets.add(emu.client_secret + "-wrong")
        art.reprs.append(repr(wrong))
        await expect_error(wrong.mcp.list_configs())
        bad = ScalekitMCPToolkit(
            client=wrong, config_name="secret-assistant", user_identifier="alice"
        )
        try:
            await expect_error(bad.aget_tools())
        finally:
            await bad.aclose()
        await wrong.aclose()
        await client.aclose()
    art.access_tokens |= {t for t in seen_auth if t.startswith("skat_")}


@pytest.fixture(scope="module")
def artifacts() -> Iterator[Artifacts]:
    from scalekit_langchain import cli

    art = Artifacts()
    root = logging.getLogger()
    handler = _Capture(art.logs)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    mp = pytest.MonkeyPatch()
    for var in ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"):
        mp.delenv(var, raising=False)
    import scalekit_langchain.cli as cli_module

    mp.setattr(cli_module, "_print", lambda line="": art.output.append(line))
    try:
        with _recording_issuers(art):
            assert cli.main(["demo"]) == 0
            with ScalekitEmulator() as emu:
                asyncio.run(_flow(emu, art))
        yield art
    finally:
        mp.undo()
        root.removeHandler(handler)
        root.setLevel(old_level)


def _leaks(art: Artifacts, texts: list[str]) -> list[str]:
    found = []
    blob = "\n".join(texts)
    for name, secret in art.secrets().items():
        if secret in blob:
            line = next(t for t in texts if secret in t)
            found.append(f"{name} in: {line[:300]}")
    return found


def test_the_run_issued_every_kind_of_secret(artifacts: Artifacts) -> None:
    assert len(artifacts.client_secrets) >= 3  # demo, flow, and the wrong one
    assert len(artifacts.access_tokens) >= 3  # demo, flow, and one after expiry
    assert len(artifacts.session_tokens) >= 1  # (RS256 is deterministic: same claims, same JWT)
    assert len(artifacts.instance_urls) >= 3  # demo user, alice, bob
    assert artifacts.logs and artifacts.callbacks and artifacts.errors
    assert any("tool_start" in c for c in artifacts.callbacks)
    assert any("tool_error" in c for c in artifacts.callbacks)
    assert any("chain_start" in c for c in artifacts.callbacks)
    assert any(line.startswith("Done") for line in artifacts.output)


def test_no_secret_in_logs(artifacts: Artifacts) -> None:
    assert _leaks(artifacts, artifacts.logs) == []


def test_no_secret_in_demo_output(artifacts: Artifacts) -> None:
    assert _leaks(artifacts, artifacts.output) == []


def test_no_secret_in_reprs(artifacts: Artifacts) -> None:
    assert _leaks(artifacts, artifacts.reprs) == []


def test_no_secret_in_exception_texts(artifacts: Artifacts) -> None:
    assert len(artifacts.errors) >= 9
    assert _leaks(artifacts, artifacts.errors) == []


def test_no_secret_in_tool_metadata_or_tags(artifacts: Artifacts) -> None:
    assert _leaks(artifacts, artifacts.metadata) == []


def test_no_secret_in_callback_payloads(artifacts: Artifacts) -> None:
    assert _leaks(artifacts, artifacts.callbacks) == []


def test_session_loop_is_idle_after_the_run(artifacts: Artifacts) -> None:
    async def pending() -> list[str]:
        current = asyncio.current_task()
        return [t.get_name() for t in asyncio.all_tasks() if t is not current and not t.done()]

    assert _session_loop.run_sync(pending()) == []
