"""Both Scalekit clients against the emulator over loopback HTTP.

Most tests run twice, once per client, through :class:`Api`, which gives the async and the sync
client one ``await`` syntax (sync calls simply block the test's loop while the emulator serves
from its own thread). What crossed the wire is read from the emulator's request counts.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import jwt
import pytest

import scalekit_langchain._access_token as tokens_module
import scalekit_langchain._rest_io as http_module
from scalekit_langchain import (
    AsyncScalekitClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    McpConfigConnectionToolMapping,
    NotFoundError,
    RateLimitError,
    ScalekitClient,
    ScalekitConfigurationError,
    ScalekitTimeoutError,
    ServerError,
)
from scalekit_langchain.testing import ScalekitEmulator

GMAIL = {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]}
CALENDAR = {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]}


class Api:
    """Call ``client.mcp.<method>`` on either client with one ``await`` syntax."""

    def __init__(self, client: AsyncScalekitClient | ScalekitClient) -> None:
        self.client = client
        self.is_async = isinstance(client, AsyncScalekitClient)

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client.mcp, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def collect(self, method: str, **kwargs: Any) -> list[Any]:
        """Drain ``iter_configs`` / ``iter_instances`` into a list."""
        iterator = getattr(self.client.mcp, method)(**kwargs)
        if hasattr(iterator, "__aiter__"):
            return [item async for item in iterator]
        return list(iterator)

    @property
    def max_retries(self) -> int:
        return self.client.max_retries


@pytest.fixture(params=["async", "sync"])
async def api(
    request: pytest.FixtureRequest, aclient: AsyncScalekitClient, client: ScalekitClient
) -> Api:
    return Api(aclient if request.param == "async" else client)


class _Clock:
    """Stands in for the ``time`` module inside ``scalekit_langchain._access_token``: ``monotonic`` runs
    ``monotonic_offset`` seconds ahead; everything else is the real module."""

    def __init__(self, offset: float) -> None:
        self.monotonic_offset = offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def monotonic(self) -> float:
        return time.monotonic() + self.monotonic_offset


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Delays the clients' retry loops asked to sleep (they do not actually sleep)."""
    delays: list[float] = []

    async def asleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(http_module, "asleep", asleep)
    monkeypatch.setattr(http_module, "sleep", delays.append)
    return delays


def _active_count(emulator: ScalekitEmulator) -> dict[str, int]:
    return {k: v for k, v in emulator.counts().items() if v}


# --------------------------------------------------------------------------- every method


async def test_every_mcp_method(api: Api, emulator: ScalekitEmulator) -> None:
    env = emulator.env_url

    # configs
    config = await api(
        "create_config",
        "inbox-helper",
        description="reads mail",
        connection_tool_mappings=[McpConfigConnectionToolMapping(**GMAIL), CALENDAR],
    )
    assert config.id and config.name == "inbox-helper"
    assert config.description == "reads mail"
    assert [m.connection_name for m in config.connection_tool_mappings] == [
        "MY_GMAIL",
        "MY_CALENDAR",
    ]
    assert config.connection_tool_mappings[0].tools == ["gmail_fetch_mails"]
    assert config.connection_tool_mappings[0].provider == "GMAIL"
    assert config.mcp_server_url and config.mcp_server_url.startswith(env + "/mcp/")

    assert (await api("get_config", config.id)).name == "inbox-helper"
    by_name = await api("get_config_by_name", "inbox-helper")
    assert by_name is not None and by_name.id == config.id
    assert await api("get_config_by_name", "no-such-config") is None

    page = await api("list_configs")
    assert [c.id for c in page.items] == [config.id]
    assert page.next_page_token is None and page.total_size == 1
    assert [c.id for c in await api.collect("iter_configs")] == [config.id]
    assert (await api("list_configs", filter_name="other")).items == []

    updated = await api(
        "update_config", config.id, description="reads mail only", connection_tool_mappings=[GMAIL]
    )
    assert updated.id == config.id and updated.description == "reads mail only"
    assert [m.connection_name for m in updated.connection_tool_mappings] == ["MY_GMAIL"]

    # instances
    instance = await api("ensure_instance", config.name, "alice")
    assert instance.user_identifier == "alice"
    assert instance.url and instance.url.startswith(env + "/mcp/v2/servers/")
    assert instance.redacted_url == env + "/mcp/v2/servers/***"
    assert (await api("ensure_instance", config.name, "alice")).id == instance.id  # idempotent
    other = await api("ensure_instance", config.name, "alice", name="second")
    assert other.id != instance.id and other.name == "second"

    got = await api("get_instance", instance.id)
    assert got.id == instance.id and got.config and got.config.name == config.name
    listed = await api("list_instances", filter_user_identifier="alice", filter_name=instance.name)
    assert [i.id for i in listed.items] == [instance.id]
    assert {i.id for i in await api.collect("iter_instances")} == {instance.id, other.id}
    renamed = await api("update_instance", instance.id, name="main")
    assert renamed.id == instance.id and renamed.name == "main"

    # authorization
    states = await api("get_instance_auth_state", instance.id)
    assert [(s.connection_name, s.status) for s in states] == [("MY_GMAIL", "PENDING_AUTH")]
    assert states[0].authentication_link is None
    states = await api("get_instance_auth_state", instance.id, include_auth_links=True)
    assert states[0].authentication_link.startswith(env + "/connect/")

    accounts = await api("list_mcp_connected_accounts", config.id, "bob", include_auth_link=True)
    assert [(a.connection_name, a.status) for a in accounts] == [("MY_GMAIL", "PENDING_AUTH")]
    assert accounts[0].authentication_link.startswith(env + "/connect/")
    plain = await api("list_mcp_connected_accounts", config.id, "bob")
    assert plain[0].authentication_link is None

    # session tokens need every connection ACTIVE
    with pytest.raises(BadRequestError) as not_active:
        await api("create_session_token", config.id, "alice")
    assert not_active.value.error_code == "FAILED_PRECONDITION"
    emulator.authorize("alice", "MY_GMAIL")
    states = await api("get_instance_auth_state", instance.id)
    assert all(s.is_active for s in states)
    before = datetime.now(timezone.utc)
    token = await api("create_session_token", config.id, "alice", expiry=timedelta(minutes=5))
    claims = jwt.decode(token.token.get_secret_value(), options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["aud"] == config.mcp_server_url
    assert token.expires_at is not None
    assert timedelta(minutes=4) < token.expires_at - before < timedelta(minutes=6)

    # deletion
    await api("delete_instance", other.id)
    with pytest.raises(NotFoundError):
        await api("get_instance", other.id)
    await api("delete_config", config.id)
    with pytest.raises(NotFoundError):
        await api("get_config", config.id)
    with pytest.raises(NotFoundError):  # deleting the config deleted its instances
        await api("get_instance", instance.id)

    assert emulator.count("oauth.token") == 1
    kinds = set(_active_count(emulator))
    assert {
        "configs.create", "configs.get", "configs.list", "configs.update", "configs.delete",
        "configs.connected_accounts", "configs.tokens", "instances.ensure", "instances.get",
        "instances.list", "instances.update", "instances.delete", "instances.auth_state",
    } <= kinds


# --------------------------------------------------------------------------- pagination


async def test_configs_paginate_past_one_page(api: Api, emulator: ScalekitEmulator) -> None:
    names = [f"cfg-{i:02d}" for i in range(35)]
    for name in names:
        await api("create_config", name)

    first = await api("list_configs", page_size=10)
    assert len(first.items) == 10 and first.total_size == 35 and first.next_page_token
    second = await api("list_configs", page_size=10, page_token=first.next_page_token)
    assert len(second.items) == 10
    assert not {c.id for c in first.items} & {c.id for c in second.items}

    emulator.reset_counts()
    seen = [c.name for c in await api.collect("iter_configs", page_size=10)]
    assert sorted(seen) == names  # every config once
    assert emulator.count("configs.list") == 4  # 10 + 10 + 10 + 5

    emulator.reset_counts()
    assert len(await api.collect("iter_configs", page_size=30)) == 35
    assert emulator.count("configs.list") == 2

    emulator.reset_counts()
    assert len(await api.collect("iter_configs")) == 35  # server default page size
    assert emulator.count("configs.list") >= 2


async def test_instances_paginate_past_one_page(api: Api, emulator: ScalekitEmulator) -> None:
    await api("create_config", "paged", connection_tool_mappings=[GMAIL])
    users = [f"user-{i:02d}" for i in range(12)]
    for user in users:
        await api("ensure_instance", "paged", user)
    emulator.reset_counts()
    seen = [i.user_identifier for i in await api.collect("iter_instances", page_size=5)]
    assert sorted(seen) == users
    assert emulator.count("instances.list") == 3


# --------------------------------------------------------------------------- errors


async def test_not_found_is_typed_with_code_and_request_id(api: Api) -> None:
    with pytest.raises(NotFoundError) as missing_config:
        await api("get_config", "cfg_missing")
    err = missing_config.value
    assert err.status_code == 404 and err.error_code == "NOT_FOUND" and err.grpc_code == 5
    assert err.request_id and err.request_id.startswith("req_")
    assert err.method == "GET" and err.path == "/api/v1/mcp/configs/cfg_missing"
    assert err.request_id in str(err) and "404" in str(err)

    for call in (
        api("get_instance", "inst_missing"),
        api("ensure_instance", "no-such-config", "alice"),
        api("delete_config", "cfg_missing"),
        api("update_instance", "inst_missing", name="x"),
        api("get_instance_auth_state", "inst_missing"),
        api("create_session_token", "cfg_missing", "alice"),
    ):
        with pytest.raises(NotFoundError) as exc_info:
            await call
        assert exc_info.value.error_code == "NOT_FOUND"
        assert exc_info.value.request_id


async def test_conflict_is_typed(api: Api, emulator: ScalekitEmulator) -> None:
    await api("create_config", "taken", connection_tool_mappings=[GMAIL])
    emulator.reset_counts()
    with pytest.raises(ConflictError) as conflict:
        await api("create_config", "taken", connection_tool_mappings=[GMAIL])
    err = conflict.value
    assert err.status_code == 409 and err.error_code == "ALREADY_EXISTS"
    assert err.request_id and err.request_id.startswith("req_")
    assert "taken" in err.message
    assert emulator.count("configs.create") == 1  # a 409 is not retried


async def test_server_side_validation_is_bad_request(api: Api) -> None:
    with pytest.raises(BadRequestError) as bad:
        await api(
            "create_config", "bad-mapping", connection_tool_mappings=[{"connection_name": "NOPE"}]
        )
    assert bad.value.error_code == "INVALID_ARGUMENT" and bad.value.request_id
    # The server's cause (a field violation), not just "Validation error", reaches the user.
    assert "connection_tool_mappings[0].connection_name" in str(bad.value)
    assert "'NOPE'" in str(bad.value)


async def test_wrong_secret_is_authentication_error(emulator: ScalekitEmulator) -> None:
    async with AsyncScalekitClient(
        env_url=emulator.env_url, client_id=emulator.client_id, client_secret="sks_wrong-secret"
    ) as aclient:
        with pytest.raises(AuthenticationError) as denied:
            await aclient.mcp.list_configs()
    assert denied.value.status_code == 401
    assert "sks_wrong-secret" not in str(denied.value)
    assert emulator.count("oauth.token") == 1 and emulator.count("configs.") == 0


# --------------------------------------------------------------------------- access token


async def test_expired_token_refreshed_with_exactly_one_token_request(
    api: Api, emulator: ScalekitEmulator
) -> None:
    await api("list_configs")
    emulator.expire_access_tokens()
    emulator.reset_counts()
    page = await api("list_configs")
    assert page.items == []
    assert emulator.count("oauth.token") == 1
    assert emulator.count("configs.list") == 2  # the 401, then the retry with the new token
    assert api.client.token_fetches == 2
    emulator.reset_counts()
    await api("list_configs")
    assert emulator.counts().get("oauth.token", 0) == 0


async def test_token_refreshed_before_expiry_without_a_401(
    api: Api, emulator: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api("list_configs")
    monkeypatch.setattr(tokens_module, "time", _Clock(3600.0))  # the emulator's tokens live 3600 s
    emulator.reset_counts()
    await api("list_configs")
    assert emulator.count("oauth.token") == 1
    assert emulator.count("configs.list") == 1  # refreshed up front, no 401 round trip


async def test_one_token_request_for_50_concurrent_async_calls(
    aclient: AsyncScalekitClient, emulator: ScalekitEmulator
) -> None:
    emulator.set_latency(0.05, kind="oauth.token")  # keep the race window open
    pages = await asyncio.gather(*(aclient.mcp.list_configs() for _ in range(50)))
    assert len(pages) == 50
    assert emulator.count("oauth.token") == 1
    assert emulator.count("configs.list") == 50
    assert aclient.token_fetches == 1


def test_one_token_request_for_50_calls_on_a_thread_pool(
    client: ScalekitClient, emulator: ScalekitEmulator
) -> None:
    emulator.set_latency(0.05, kind="oauth.token")
    with ThreadPoolExecutor(max_workers=16) as pool:
        pages = list(pool.map(lambda _: client.mcp.list_configs(), range(50)))
    assert len(pages) == 50
    assert emulator.count("oauth.token") == 1
    assert emulator.count("configs.list") == 50
    assert client.token_fetches == 1


# --------------------------------------------------------------------------- retries


async def test_429_retry_after_is_honoured(
    api: Api, emulator: ScalekitEmulator, sleeps: list[float]
) -> None:
    await api("list_configs")
    emulator.reset_counts()
    emulator.fail_next(429, retry_after=1, kind="configs.list")
    page = await api("list_configs")
    assert page.items == []
    assert emulator.count("configs.list") == 2
    assert sleeps == [1.0]  # the server's Retry-After, not the backoff schedule


async def test_429_on_create_is_retried_once_created(
    api: Api, emulator: ScalekitEmulator, sleeps: list[float]
) -> None:
    emulator.fail_next(429, retry_after=2, kind="configs.create")
    config = await api("create_config", "after-429", connection_tool_mappings=[GMAIL])
    assert config.name == "after-429"
    assert emulator.count("configs.create") == 2
    assert sleeps == [2.0]
    assert [c.name for c in (await api("list_configs")).items] == ["after-429"]


async def test_429_persisting_surfaces_as_rate_limit_error(
    api: Api, emulator: ScalekitEmulator, sleeps: list[float]
) -> None:
    await api("list_configs")
    emulator.reset_counts()
    emulator.fail_next(429, count=50, retry_after=3, kind="configs.list")
    with pytest.raises(RateLimitError) as limited:
        await api("list_configs")
    assert limited.value.retry_after == 3.0 and limited.value.error_code == "RATE_LIMITED"
    assert emulator.count("configs.list") == api.max_retries + 1
    assert sleeps == [3.0] * api.max_retries


async def test_503_retried_then_succeeds(
    api: Api, emulator: ScalekitEmulator, sleeps: list[float]
) -> None:
    await api("list_configs")
    emulator.reset_counts()
    emulator.fail_next(503, kind="configs.list")
    assert (await api("list_configs")).items == []
    assert emulator.count("configs.list") == 2
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1.0


async def test_503_persisting_surfaces_as_server_error(
    api: Api, emulator: ScalekitEmulator, sleeps: list[float]
) -> None:
    await api("list_configs")
    emulator.reset_counts()
    emulator.fail_next(503, count=50, kind="configs.list")
    with pytest.raises(ServerError) as failed:
        await api("list_configs")
    assert failed.value.status_code == 503 and failed.value.error_code == "UNAVAILABLE"
    assert failed.value.request_id
    assert api.max_retries == 3
    assert emulator.count("configs.list") == api.max_retries + 1
    assert len(sleeps) == api.max_retries
    assert sleeps == sorted(sleeps)  # exponential backoff grows


@pytest.mark.parametrize("max_retries", [0, 1])
async def test_503_request_count_follows_max_retries(
    emulator: ScalekitEmulator, sleeps: list[float], max_retries: int
) -> None:
    async with AsyncScalekitClient(
        env_url=emulator.env_url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        max_retries=max_retries,
    ) as aclient:
        emulator.fail_next(503, count=50, kind="instances.ensure")
        with pytest.raises(ServerError):
            await aclient.mcp.ensure_instance("any-config", "alice")
    assert emulator.count("instances.ensure") == max_retries + 1


async def test_503_on_create_is_not_retried(
    api: Api, emulator: ScalekitEmulator, sleeps: list[float]
) -> None:
    emulator.fail_next(503, kind="configs.create")
    with pytest.raises(ServerError):
        await api("create_config", "maybe-created", connection_tool_mappings=[GMAIL])
    assert emulator.count("configs.create") == 1
    assert sleeps == []


# --------------------------------------------------------------------------- validation


BAD_INPUTS: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = [
    ("name", "create_config", ("Bad Name",), {}),
    ("name", "create_config", ("x" * 101,), {}),
    ("name", "get_config_by_name", ("UPPER",), {}),
    (
        "connection_tool_mappings",
        "create_config",
        ("too-many",),
        {"connection_tool_mappings": [GMAIL] * 26},
    ),
    (
        "connection_tool_mappings[0].connection_name",
        "create_config",
        ("empty-conn",),
        {"connection_tool_mappings": [{"connection_name": " ", "tools": []}]},
    ),
    ("connection_tool_mappings", "update_config", ("cfg_1",), {"connection_tool_mappings": "x"}),
    ("page_size", "list_configs", (), {"page_size": 31}),
    ("page_size", "list_configs", (), {"page_size": 0}),
    ("page_size", "list_instances", (), {"page_size": 100}),
    ("config_id", "get_config", ("",), {}),
    ("config_id", "delete_config", ("..",), {}),
    ("instance_id", "get_instance", ("  ",), {}),
    ("instance_id", "get_instance_auth_state", ("",), {}),
    ("user_identifier", "ensure_instance", ("cfg", ""), {}),
    ("config_name", "ensure_instance", ("", "alice"), {}),
    ("config_name", "update_instance", ("inst_1",), {"config_name": "Not Valid"}),
    ("identifier", "list_mcp_connected_accounts", ("cfg_1", ""), {}),
    ("identifier", "create_session_token", ("cfg_1", "x" * 256), {}),
    ("expiry", "create_session_token", ("cfg_1", "alice"), {"expiry": 59}),
    ("expiry", "create_session_token", ("cfg_1", "alice"), {"expiry": timedelta(hours=25)}),
]


@pytest.mark.parametrize(
    ("field", "method", "args", "kwargs"),
    BAD_INPUTS,
    ids=[f"{m}-{f}-{i}" for i, (f, m, _, _) in enumerate(BAD_INPUTS)],
)
async def test_bad_input_raises_value_error_and_sends_nothing(
    api: Api,
    emulator: ScalekitEmulator,
    field: str,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(ValueError) as bad:
        await api(method, *args, **kwargs)
    assert field in str(bad.value)
    assert _active_count(emulator) == {}  # not even a token request


def test_bad_client_arguments_raise_before_any_request(emulator: ScalekitEmulator) -> None:
    creds = dict(client_id=emulator.client_id, client_secret=emulator.client_secret)
    with pytest.raises(ScalekitConfigurationError):
        ScalekitClient(env_url="ftp://example.com", **creds)
    with pytest.raises(ValueError, match="max_retries"):
        ScalekitClient(env_url=emulator.env_url, max_retries=-1, **creds)
    assert _active_count(emulator) == {}


# --------------------------------------------------------------------------- secrets


class _TokenCapture:
    """httpx event hooks that remember every bearer token sent to the REST API."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()

    def sync_hook(self, request: httpx.Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            self.tokens.add(token)

    async def async_hook(self, request: httpx.Request) -> None:
        self.sync_hook(request)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture DEBUG records of every logger (uvicorn, httpx, httpcore, ours...)."""
    caplog.set_level(logging.DEBUG)
    for name in [*logging.root.manager.loggerDict, "scalekit_langchain", "httpx", "httpcore"]:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def _exception_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


async def test_no_secret_in_logs_reprs_or_errors(
    emulator: ScalekitEmulator, debug_logs: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    capture = _TokenCapture()
    texts: list[str] = []
    errors: list[BaseException] = []

    async def expect_error(call: Callable[[], Any]) -> None:
        try:
            result = call()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # every error's text is inspected below
            errors.append(exc)
        else:
            raise AssertionError("expected an error")

    creds = dict(
        env_url=emulator.env_url, client_id=emulator.client_id,
        client_secret=emulator.client_secret,
    )
    async with httpx.AsyncClient(event_hooks={"request": [capture.async_hook]}) as ahttp:
        aclient = AsyncScalekitClient(**creds, http_client=ahttp)
        texts += [repr(aclient), str(aclient)]
        config = await aclient.mcp.create_config(
            "secret-check", connection_tool_mappings=[GMAIL, CALENDAR]
        )
        instance = await aclient.mcp.ensure_instance(config.name, "alice")
        states = await aclient.mcp.get_instance_auth_state(instance.id, include_auth_links=True)
        await expect_error(lambda: aclient.mcp.create_session_token(config.id, "alice"))
        emulator.authorize("alice", "MY_GMAIL")
        emulator.authorize("alice", "MY_CALENDAR")
        session = await aclient.mcp.create_session_token(config.id, "alice", expiry=120)
        emulator.expire_access_tokens()  # a second access token, fetched after a 401
        page = await aclient.mcp.list_instances()
        await expect_error(lambda: aclient.mcp.get_instance("inst_missing"))
        await expect_error(lambda: aclient.mcp.create_config("secret-check"))
        emulator.fail_next(503, count=10, kind="configs.get")
        await expect_error(lambda: aclient.mcp.get_config(config.id))
        await expect_error(lambda: aclient.mcp.create_session_token(config.id, "alice", expiry=1))
        texts += [repr(x) for x in (config, instance, states, session, page, session.token)]
        texts += [str(x) for x in (config, instance, session, page)]
        texts += [repr(instance.config), instance.redacted_url or ""]
        await aclient.aclose()

    with httpx.Client(event_hooks={"request": [capture.sync_hook]}) as http:
        with ScalekitClient(**creds, http_client=http) as sclient:
            texts += [repr(sclient)]
            sync_instance = sclient.mcp.ensure_instance(config.name, "alice")
            texts += [repr(sync_instance), str(sync_instance)]
            await expect_error(lambda: sclient.mcp.get_config("cfg_missing"))
        with ScalekitClient(
            env_url=emulator.env_url, client_id=emulator.client_id,
            client_secret=emulator.client_secret + "-wrong", http_client=http,
        ) as wrong:
            await expect_error(lambda: wrong.mcp.list_configs())

    assert instance.url is not None
    secrets = {
        "client secret": emulator.client_secret,
        "session token": session.token.get_secret_value(),
        "instance URL secret segment": instance.url.rstrip("/").rsplit("/", 1)[1],
        **{f"access token {i}": t for i, t in enumerate(sorted(capture.tokens))},
    }
    assert len(capture.tokens) >= 2  # the first token and the one fetched after expiry
    assert len(errors) == 7
    assert sleeps  # the 503 retries were logged
    logs = debug_logs.text + "\n".join(r.getMessage() for r in debug_logs.records)
    assert "/api/v1/mcp/configs" in logs  # the client's DEBUG lines were captured
    blob = "\n".join([logs, *texts, *(_exception_text(e) for e in errors)])
    for what, secret in secrets.items():
        assert secret and secret not in blob, f"{what} leaked"


# --------------------------------------------------------------------------- total deadline


class _DripServer:
    """A loopback HTTP server that answers the token call at once and every other request
    one byte per 0.2 s (for 15 s, then it hangs up): in the body (``mode="body"``) or in the
    headers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.dripping = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]

    def __enter__(self) -> _DripServer:
        self.threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()
        for thread in self.threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while not self.stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                if b" /oauth/token " in head.split(b"\r\n")[0]:
                    body = b'{"access_token": "at_drip", "expires_in": 3600}'
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                    )
                    continue
                self.dripping += 1
                if self.mode == "body":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                        b"content-length: 1000000\r\n\r\n"
                    )
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nx-slow: ")
                # Drip for at most 15 s, then hang up: a client without a total deadline fails
                # the test instead of hanging it.
                try:
                    for _ in range(75):
                        if self.stop.wait(0.2):
                            break
                        conn.sendall(b" ")
                except OSError:
                    pass  # the client gave up and closed the connection
                return


@pytest.mark.parametrize(
    ("kind", "mode"), [("async", "body"), ("async", "headers"), ("sync", "body")]
)
async def test_timeout_is_a_total_deadline_against_a_drip(kind: str, mode: str) -> None:
    """One byte every 0.2 s never trips a per-read timeout; ``timeout=1`` still ends the call.

    (The sync client checks its deadline after each read of the answer; a server dripping
    the *headers* is bounded by the per-read limit only: a blocking read cannot be cut.)
    """
    with _DripServer(mode) as server:
        cls = AsyncScalekitClient if kind == "async" else ScalekitClient
        client = cls(server.url, "cid", "sks_drip_secret", timeout=1, max_retries=0)
        started = time.monotonic()
        try:
            with pytest.raises(ScalekitTimeoutError, match="DeadlineExceeded"):
                await Api(client)("list_configs")
        finally:
            elapsed = time.monotonic() - started
            await _close(client)
        assert server.dripping == 1
        assert elapsed < 10


async def _close(client: AsyncScalekitClient | ScalekitClient) -> None:
    if isinstance(client, AsyncScalekitClient):
        await client.aclose()
    else:
        client.close()
