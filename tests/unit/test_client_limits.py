"""Client limits and configuration: timeouts, identifiers, env URLs, partial environments,
server causes in messages, the token clock, unclosed clients, and sharing a token between the
twins (no sockets: httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import gc
import math
import time
import warnings
from typing import Any

import httpx
import pytest

from scalekit_langchain import (
    AsyncScalekitClient,
    BadRequestError,
    ScalekitClient,
    ScalekitConfigurationError,
    ScalekitTimeoutError,
    _rest_requests,
)
from scalekit_langchain._client_base import state_of
from tests.unit.fake_scalekit import ACCESS, ENV, SECRET, FakeScalekit

CONFIG = {"id": "cfg_1", "name": "abc", "connection_tool_mappings": []}
ENV_VARS = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_rest_requests, "BACKOFF_BASE", 0.001)


def config_fake() -> FakeScalekit:
    return FakeScalekit(lambda r: httpx.Response(200, json={"config": CONFIG}))


# ----------------------------------------------------------------- timeouts


@pytest.mark.parametrize("timeout", [0, -1, 0.0, math.nan, math.inf, -math.inf, "5", True])
@pytest.mark.parametrize("cls", [AsyncScalekitClient, ScalekitClient])
def test_bad_timeout_is_a_value_error_naming_it(cls: type[Any], timeout: Any) -> None:
    fake = FakeScalekit()
    with pytest.raises(ValueError, match="timeout"):
        cls(ENV, "cid", SECRET, transport=fake.sync_transport(), timeout=timeout)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("timeout", "phase"),
    [
        (httpx.Timeout(5.0, connect=math.nan), "timeout.connect"),
        (httpx.Timeout(5.0, read=0.0), "timeout.read"),
        (httpx.Timeout(5.0, pool=-1.0), "timeout.pool"),
    ],
)
def test_bad_httpx_timeout_phase_is_named(timeout: httpx.Timeout, phase: str) -> None:
    with pytest.raises(ValueError, match=phase):
        ScalekitClient(ENV, "cid", SECRET, timeout=timeout)


def test_timeout_is_a_total_deadline_per_request() -> None:
    assert _rest_requests.resolve_timeouts(5).total == 5.0
    assert _rest_requests.resolve_timeouts(5).phases.connect == 5.0
    assert _rest_requests.resolve_timeouts(60).phases.connect == 10.0  # connecting gets at most 10 s
    assert _rest_requests.resolve_timeouts(None).total == 30.0
    assert _rest_requests.resolve_timeouts(httpx.Timeout(2.0, read=7.0)).total == 7.0
    assert _rest_requests.resolve_timeouts(httpx.Timeout(None)).total is None


async def test_async_deadline_covers_the_whole_answer() -> None:
    calls = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": ACCESS, "expires_in": 60})
        calls += 1
        await asyncio.sleep(60)
        return httpx.Response(200, json={"config": CONFIG})

    async with AsyncScalekitClient(
        ENV, "cid", SECRET, transport=httpx.MockTransport(slow), timeout=0.2, max_retries=1
    ) as client:
        started = time.monotonic()
        with pytest.raises(ScalekitTimeoutError, match="DeadlineExceeded"):
            await client.mcp.get_config("cfg_1")
    assert calls == 2  # a read: retried once, each attempt with a fresh deadline
    assert time.monotonic() - started < 10


# ----------------------------------------------------------------- identifiers

BAD_IDS = ["alice\n", "al\nice", "a\tb", "a\rb", "nul\x00", "del\x7f", "c1\x85", "ls\u2028"]
ID_CALLS = [
    ("user_identifier", lambda m, v: m.ensure_instance("cfg", v)),
    ("identifier", lambda m, v: m.list_mcp_connected_accounts("cfg_1", v)),
    ("identifier", lambda m, v: m.create_session_token("cfg_1", v)),
    ("name", lambda m, v: m.ensure_instance("cfg", "alice", name=v)),
]


@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
@pytest.mark.parametrize(
    ("field", "call"), ID_CALLS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(ID_CALLS)]
)
async def test_control_characters_in_identifiers_are_refused(
    field: str, call: Any, value: str
) -> None:
    fake = FakeScalekit()
    async with AsyncScalekitClient(ENV, "cid", SECRET, transport=fake.async_transport()) as client:
        with pytest.raises(ValueError, match=f"{field} must not contain control characters"):
            await call(client.mcp, value)
    with (
        ScalekitClient(ENV, "cid", SECRET, transport=fake.sync_transport()) as sync_client,
        pytest.raises(ValueError, match=field),
    ):
        call(sync_client.mcp, value)
    assert fake.requests == []


async def test_ordinary_identifiers_still_pass() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(200, json={"connected_accounts": []}))
    async with AsyncScalekitClient(ENV, "cid", SECRET, transport=fake.async_transport()) as client:
        for value in ("alice@example.com", "Zoë Ünïcode", "user 42", "x" * 255):
            assert await client.mcp.list_mcp_connected_accounts("cfg_1", value) == []
    assert len(fake.api_requests) == 4


def test_config_name_with_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="name"):
        _rest_requests.check_config_name("abc\n")


# ----------------------------------------------------------------- env URL and repr


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pa55word@acme.scalekit.test",
        "https://pa55word@acme.scalekit.test",
        "https://user:pa55word@acme.scalekit.test/path",
    ],
)
def test_env_url_with_user_info_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ScalekitConfigurationError, match="user name or password") as err:
        AsyncScalekitClient(url, "cid", SECRET)
    assert "pa55word" not in str(err.value) and "acme.scalekit.test" in str(err.value)


@pytest.mark.parametrize("url", ["https://acme.scalekit.test?x=1", "https://acme.scalekit.test#f"])
def test_env_url_with_query_or_fragment_is_refused(url: str) -> None:
    with pytest.raises(ScalekitConfigurationError, match="query or fragment"):
        ScalekitClient(url, "cid", SECRET)


def test_repr_shows_neither_secret_nor_credentials() -> None:
    with ScalekitClient(ENV + "/", "cid", SECRET) as client:
        text = repr(client) + str(client)
    assert text.count("ScalekitClient(env_url='https://acme.scalekit.test', client_id='cid')") == 2
    assert SECRET not in text


# ----------------------------------------------------------------- environment


@pytest.mark.parametrize(
    "present",
    [
        ("SCALEKIT_ENV_URL",),
        ("SCALEKIT_CLIENT_ID",),
        ("SCALEKIT_CLIENT_SECRET",),
        ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID"),
        ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_SECRET"),
        ("SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"),
    ],
)
def test_partial_environment_names_the_missing_variables(
    monkeypatch: pytest.MonkeyPatch, present: tuple[str, ...]
) -> None:
    values = {
        "SCALEKIT_ENV_URL": ENV,
        "SCALEKIT_CLIENT_ID": "cid",
        "SCALEKIT_CLIENT_SECRET": SECRET,
    }
    for var in present:
        monkeypatch.setenv(var, values[var])
    missing = [v for v in ENV_VARS if v not in present]
    for make in (AsyncScalekitClient, ScalekitClient, _rest_requests.credentials_from_env_available):
        with pytest.raises(ScalekitConfigurationError) as err:
            make()
        text = str(err.value)
        assert "Incomplete" in text
        for var in missing:
            assert f"${var}" in text
        for var in present:
            assert f"${var})" not in text  # listed as set, not as missing
        assert SECRET not in text


def test_no_environment_and_no_arguments_names_all_three() -> None:
    assert _rest_requests.credentials_from_env_available() is False
    with pytest.raises(ScalekitConfigurationError, match="Missing") as err:
        ScalekitClient()
    for var in ENV_VARS:
        assert f"${var}" in str(err.value)


def test_full_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALEKIT_ENV_URL", ENV)
    monkeypatch.setenv("SCALEKIT_CLIENT_ID", "cid")
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", SECRET)
    assert _rest_requests.credentials_from_env_available() is True
    with ScalekitClient() as client:
        assert client.env_url == ENV and client.client_id == "cid"


# ----------------------------------------------------------------- server causes


def _bad_request(detail: dict[str, Any], message: str = "Validation error") -> FakeScalekit:
    body = {
        "code": 3,
        "message": message,
        "details": [{"error_code": "INVALID_ARGUMENT", **detail}],
    }
    return FakeScalekit(lambda r: httpx.Response(400, json=body))


@pytest.mark.parametrize(
    "detail",
    [
        {
            "validation_error_info": {
                "field_violations": [
                    {
                        "field": "connection_tool_mappings[0].connection_name",
                        "description": "connection 'MY_GMAILL' does not exist",
                    }
                ]
            }
        },
        {
            "localized_message_info": {
                "locale": "en",
                "message": "connection 'MY_GMAILL' does not exist",
            }
        },
        {"debug_info": {"detail": "connection 'MY_GMAILL' does not exist"}},
    ],
)
async def test_server_cause_survives_into_the_message(detail: dict[str, Any]) -> None:
    fake = _bad_request(detail)
    async with AsyncScalekitClient(ENV, "cid", SECRET, transport=fake.async_transport()) as client:
        with pytest.raises(BadRequestError) as err:
            await client.mcp.create_config(
                "abc", connection_tool_mappings=[{"connection_name": "MY_GMAILL"}]
            )
    assert "connection 'MY_GMAILL' does not exist" in str(err.value)
    assert "Validation error" in str(err.value) and err.value.error_code == "INVALID_ARGUMENT"


async def test_cause_in_message_is_not_repeated_and_odd_details_are_ignored() -> None:
    body = {
        "message": "connection 'X' does not exist",
        "details": [
            "not a dict",
            {"debug_info": {"detail": "connection 'X' does not exist"}},
            {"validation_error_info": {"field_violations": ["odd", {"description": 5}]}},
            {"localized_message_info": "odd"},
        ],
    }
    fake = FakeScalekit(lambda r: httpx.Response(400, json=body))
    async with AsyncScalekitClient(ENV, "cid", SECRET, transport=fake.async_transport()) as client:
        with pytest.raises(BadRequestError) as err:
            await client.mcp.get_config("c")
    assert str(err.value).count("does not exist") == 1


# ----------------------------------------------------------------- token clock


@pytest.mark.parametrize("skew", [10 * 3600.0, -10 * 3600.0, 400 * 86400.0])
async def test_wall_clock_skew_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, skew: float
) -> None:
    fake = config_fake()
    real_time = time.time
    async with AsyncScalekitClient(ENV, "cid", SECRET, transport=fake.async_transport()) as client:
        await client.mcp.get_config("a")
        monkeypatch.setattr(time, "time", lambda: real_time() + skew)
        await client.mcp.get_config("b")
        await client.mcp.get_config("c")
    assert fake.token_requests == 1


@pytest.mark.parametrize(
    ("expires_in", "fetches"),
    [("nan", 1), ("abc", 1), (True, 1), (None, 1), (1e308, 1), (-5, 3), (0, 3), ("inf", 1)],
)
async def test_odd_expires_in_is_read_safely(expires_in: Any, fetches: int) -> None:
    fake = config_fake()
    fake.expires_in = expires_in  # type: ignore[assignment]
    async with AsyncScalekitClient(ENV, "cid", SECRET, transport=fake.async_transport()) as client:
        for name in ("a", "b", "c"):
            await client.mcp.get_config(name)
    assert fake.token_requests == fetches


# ----------------------------------------------------------------- unclosed clients


async def test_unclosed_async_client_warns_and_closes_its_pool() -> None:
    client = AsyncScalekitClient(ENV, "cid", SECRET, transport=config_fake().async_transport())
    await client.mcp.get_config("a")
    (http,) = client._http._owned.values()
    with pytest.warns(ResourceWarning, match="unclosed AsyncScalekitClient"):
        del client
        gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)  # the close runs on this (still running) loop
    assert http.is_closed


def test_unclosed_sync_client_warns_and_closes_its_pool() -> None:
    client = ScalekitClient(ENV, "cid", SECRET, transport=config_fake().sync_transport())
    client.mcp.get_config("a")
    (http,) = client._http._owned.values()
    with pytest.warns(ResourceWarning, match="unclosed ScalekitClient"):
        del client
        gc.collect()
    assert http.is_closed


async def test_no_warning_when_closed_unused_or_the_callers_client() -> None:
    fake = config_fake()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        unused = ScalekitClient(ENV, "cid", SECRET)
        del unused
        closed = ScalekitClient(ENV, "cid", SECRET, transport=fake.sync_transport())
        closed.mcp.get_config("a")
        closed.close()
        del closed
        async with httpx.AsyncClient(transport=fake.async_transport()) as mine:
            theirs = AsyncScalekitClient(ENV, "cid", SECRET, http_client=mine)
            await theirs.mcp.get_config("a")
            del theirs
            gc.collect()
            assert not mine.is_closed  # never ours to close


# ----------------------------------------------------------------- twins sharing a token


async def test_to_async_shares_credentials_and_the_token() -> None:
    fake = config_fake()
    with ScalekitClient(
        ENV, "cid", SECRET, transport=fake.sync_transport(), timeout=7
    ) as sync_client:
        sync_client.mcp.get_config("a")
        aclient = sync_client.to_async(transport=fake.async_transport())
        async with aclient:
            assert isinstance(aclient, AsyncScalekitClient)
            assert (aclient.env_url, aclient.client_id) == (
                sync_client.env_url,
                sync_client.client_id,
            )
            assert aclient.timeout == sync_client.timeout
            await aclient.mcp.get_config("b")
            assert fake.token_requests == 1  # the sync client's token was reused
            fake.queue = [httpx.Response(401, json={"message": "expired"})]
            await aclient.mcp.get_config("c")  # refreshed once, for both
            sync_client.mcp.get_config("d")
    assert fake.token_requests == 2
    assert fake.api_requests[-1].headers["authorization"] == f"Bearer {ACCESS}_2"
    assert sync_client.token_fetches == aclient.token_fetches == 2


def test_from_client_builds_either_twin() -> None:
    fake = config_fake()
    source = AsyncScalekitClient(ENV, "cid", SECRET, max_retries=1)
    with ScalekitClient.from_client(source, transport=fake.sync_transport()) as twin:
        assert type(twin) is ScalekitClient and twin.max_retries == 1
        twin.mcp.get_config("a")
    assert source.token_fetches == 1  # shared store: the async client now holds a token too
    assert state_of(source).tokens.valid() is not None


async def test_server_text_is_kept_on_one_line() -> None:
    body = {"message": "bad\r\nFAKE LOG LINE", "details": [{"debug_info": {"detail": "a\n\tb"}}]}
    fake = FakeScalekit(lambda r: httpx.Response(400, json=body))
    async with AsyncScalekitClient(ENV, "cid", SECRET, transport=fake.async_transport()) as client:
        with pytest.raises(BadRequestError) as err:
            await client.mcp.get_config("c")
    assert "\n" not in str(err.value) and "\r" not in str(err.value)
    assert "bad FAKE LOG LINE: a b" in str(err.value)
