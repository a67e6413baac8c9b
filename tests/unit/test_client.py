"""Client request building, parsing, errors, retries, validation and redaction (no sockets)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest

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
    ScalekitConnectionError,
    ScalekitProtocolError,
    ScalekitTimeoutError,
    ServerError,
    _rest_requests,
)
from tests.unit.fake_scalekit import ACCESS, ENV, SECRET, FakeScalekit, body, error_body

CONFIG = {
    "id": "cfg_1",
    "name": "email-calendar-assistant",
    "description": "",
    "connection_tool_mappings": [
        {"connection_name": "MY_GMAIL", "provider": "GMAIL", "tools": ["gmail_fetch_mails"], "new_field": 1}
    ],
    "mcp_server_url": "",
    "brand_new_server_field": {"x": 1},
}
INSTANCE_URL = "https://acme.scalekit.test/mcp/v2/servers/inst-secret-XYZ987"
INSTANCE = {
    "id": "inst_1",
    "name": "",
    "user_identifier": "john-doe",
    "config": CONFIG,
    "last_used_at": "0001-01-01T00:00:00Z",
    "updated_at": "2026-11-24T10:00:00Z",
    "url": INSTANCE_URL,
}


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_rest_requests, "BACKOFF_BASE", 0.001)


def make_async(fake: FakeScalekit, **kw: Any) -> AsyncScalekitClient:
    return AsyncScalekitClient(ENV, "client-1", SECRET, transport=fake.async_transport(), **kw)


def make_sync(fake: FakeScalekit, **kw: Any) -> ScalekitClient:
    return ScalekitClient(ENV, "client-1", SECRET, transport=fake.sync_transport(), **kw)


# ----------------------------------------------------------------- credentials


def test_missing_credentials_names_every_missing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ScalekitConfigurationError) as err:
        AsyncScalekitClient(client_id="x")
    text = str(err.value)
    assert "env_url" in text and "SCALEKIT_ENV_URL" in text and "client_secret" in text
    assert "client_id (" not in text
    assert isinstance(err.value, ValueError)


def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALEKIT_ENV_URL", ENV + "/")
    monkeypatch.setenv("SCALEKIT_CLIENT_ID", "cid")
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", SECRET)
    client = ScalekitClient(transport=FakeScalekit().sync_transport())
    assert client.env_url == ENV and client.client_id == "cid"
    assert SECRET not in repr(client)
    client.close()


def test_malformed_env_url() -> None:
    with pytest.raises(ScalekitConfigurationError, match="env_url"):
        ScalekitClient("acme.scalekit.com", "id", "secret")


# ----------------------------------------------------------------- requests and parsing


async def test_create_config_request_and_tolerant_parsing() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(201, json={"config": CONFIG}))
    async with make_async(fake) as client:
        assert fake.requests == []  # the token is fetched lazily
        config = await client.mcp.create_config(
            "email-calendar-assistant",
            description="Reads mail",
            connection_tool_mappings=[
                McpConfigConnectionToolMapping(connection_name="MY_GMAIL", tools=["gmail_fetch_mails"]),
                {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
            ],
        )
    (req,) = fake.api_requests
    assert req.method == "POST" and req.url.path == "/api/v1/mcp/configs"
    assert req.headers["authorization"] == f"Bearer {ACCESS}_1"
    assert body(req) == {
        "name": "email-calendar-assistant",
        "description": "Reads mail",
        "connection_tool_mappings": [
            {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
            {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
        ],
    }
    token_req = fake.requests[0]
    assert token_req.url.path == "/oauth/token"
    assert b"grant_type=client_credentials" in token_req.content
    assert config.id == "cfg_1"
    assert config.description is None and config.mcp_server_url is None  # "" reads as None
    assert config.connection_tool_mappings[0].provider == "GMAIL"


async def test_list_configs_query_uses_dotted_filters() -> None:
    fake = FakeScalekit(
        lambda r: httpx.Response(
            200, json={"configs": [CONFIG], "next_page_token": "", "prev_page_token": "", "total_size": 1}
        )
    )
    async with make_async(fake) as client:
        page = await client.mcp.list_configs(page_size=30, filter_name="abc", filter_provider="GMAIL", search="q")
    params = dict(fake.api_requests[0].url.params)
    assert params == {"page_size": "30", "filter.name": "abc", "filter.provider": "GMAIL", "search": "q"}
    assert page.total_size == 1 and page.next_page_token is None and page.items[0].name == CONFIG["name"]


async def test_iter_configs_follows_page_tokens() -> None:
    pages = {
        None: {"configs": [dict(CONFIG, id="a")], "next_page_token": "p2"},
        "p2": {"configs": [dict(CONFIG, id="b")], "next_page_token": "p3"},
        "p3": {"configs": [dict(CONFIG, id="c")], "next_page_token": ""},
    }
    fake = FakeScalekit(lambda r: httpx.Response(200, json=pages[r.url.params.get("page_token")]))
    async with make_async(fake) as client:
        ids = [c.id async for c in client.mcp.iter_configs(page_size=1)]
    assert ids == ["a", "b", "c"]
    with make_sync(fake) as sync_client:
        assert [c.id for c in sync_client.mcp.iter_configs()] == ["a", "b", "c"]


async def test_auth_state_flag_goes_in_query_and_status_is_case_insensitive() -> None:
    states = {
        "connections": [
            {"connection_name": "MY_GMAIL", "provider": "GMAIL", "connected_account_status": "active",
             "authentication_link": ""},
            {"connection_name": "MY_CALENDAR", "provider": "GOOGLECALENDAR",
             "connected_account_status": "PENDING_AUTH", "authentication_link": "https://x/connect/1"},
            {"connection_name": "MY_SLACK"},
        ]
    }
    fake = FakeScalekit(lambda r: httpx.Response(200, json=states))
    async with make_async(fake) as client:
        result = await client.mcp.get_instance_auth_state("inst_1", include_auth_links=True)
    req = fake.api_requests[0]
    assert req.url.path == "/api/v1/mcp/instances/inst_1:get_auth_state"
    assert req.url.params["include_auth_links"] == "true"
    assert [s.is_active for s in result] == [True, False, False]
    assert result[0].status == "ACTIVE" and result[0].authentication_link is None
    assert result[2].status is None


async def test_ids_are_percent_encoded_in_paths() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(200, json={"instance": INSTANCE}))
    async with make_async(fake) as client:
        await client.mcp.get_instance("../x/é?y")
    assert fake.api_requests[0].url.raw_path == b"/api/v1/mcp/instances/..%2Fx%2F%C3%A9%3Fy"


async def test_session_token_body_and_secret_repr() -> None:
    fake = FakeScalekit(
        lambda r: httpx.Response(200, json={"token": "eyJ.secret.jwt", "expires_at": "2026-11-24T11:00:00Z"})
    )
    async with make_async(fake) as client:
        token = await client.mcp.create_session_token("cfg_1", "alice", expiry=timedelta(minutes=5))
    assert body(fake.api_requests[0]) == {"identifier": "alice", "expiry": "300s"}
    assert token.token.get_secret_value() == "eyJ.secret.jwt"
    assert "eyJ.secret.jwt" not in repr(token) and "eyJ.secret.jwt" not in str(token)


def test_instance_repr_hides_url_secret() -> None:
    from scalekit_langchain import McpInstance

    inst = McpInstance.model_validate(INSTANCE)
    assert inst.url == INSTANCE_URL
    assert "inst-secret-XYZ987" not in repr(inst) and "inst-secret-XYZ987" not in str(inst)
    assert inst.redacted_url == "https://acme.scalekit.test/mcp/v2/servers/***"


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "grpc", "code", "cls"),
    [
        (400, 3, "INVALID_ARGUMENT", BadRequestError),
        (404, 5, "NOT_FOUND", NotFoundError),
        (409, 6, "ALREADY_EXISTS", ConflictError),
        (500, 13, "INTERNAL", ServerError),
    ],
)
async def test_error_table(status: int, grpc: int, code: str, cls: type[Exception]) -> None:
    fake = FakeScalekit(lambda r: httpx.Response(status, json=error_body(grpc, "boom", code, "rq-9")))
    async with make_async(fake, max_retries=0) as client:
        with pytest.raises(cls) as err:
            await client.mcp.get_config("cfg_1")
    e = err.value
    assert e.status_code == status and e.grpc_code == grpc and e.error_code == code  # type: ignore[attr-defined]
    assert e.request_id == "rq-9" and "boom" in str(e)  # type: ignore[attr-defined]


async def test_malformed_success_body_is_a_protocol_error() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(200, text="<html>oops</html>", headers={"content-type": "text/html"}))
    async with make_async(fake) as client:
        with pytest.raises(ScalekitProtocolError, match="content-type"):
            await client.mcp.get_config("cfg_1")
    fake = FakeScalekit(lambda r: httpx.Response(200, json={"unexpected": 1}))
    async with make_async(fake) as client:
        with pytest.raises(ScalekitProtocolError, match="'config'"):
            await client.mcp.get_config("cfg_1")


async def test_wrong_secret_is_authentication_error_without_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json=error_body(16, "invalid client", "UNAUTHENTICATED"))

    client = AsyncScalekitClient(ENV, "id", SECRET, transport=httpx.MockTransport(handler))
    with pytest.raises(AuthenticationError) as err:
        await client.mcp.get_config("cfg_1")
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    await client.aclose()


# ----------------------------------------------------------------- retries


async def test_read_retried_on_503_then_succeeds() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(200, json={"config": CONFIG}))
    fake.queue = [httpx.Response(503, json=error_body(14, "unavailable", "UNAVAILABLE"))] * 2
    async with make_async(fake) as client:
        assert (await client.mcp.get_config("cfg_1")).id == "cfg_1"
    assert len(fake.api_requests) == 3


async def test_read_503_surfaces_after_max_retries() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(503, json=error_body(14, "unavailable", "UNAVAILABLE")))
    async with make_async(fake, max_retries=2) as client:
        with pytest.raises(ServerError):
            await client.mcp.get_config("cfg_1")
    assert len(fake.api_requests) == 3


async def test_create_not_retried_on_503_or_read_timeout() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(503, json=error_body(14, "unavailable", "UNAVAILABLE")))
    async with make_async(fake) as client:
        with pytest.raises(ServerError):
            await client.mcp.create_config("abc")
    assert len(fake.api_requests) == 1
    fake = FakeScalekit()
    fake.queue = [httpx.ReadTimeout("timed out")]
    async with make_async(fake) as client:
        with pytest.raises(ScalekitTimeoutError):
            await client.mcp.create_config("abc")
    assert len(fake.api_requests) == 1


async def test_create_retried_when_connection_never_opened() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(201, json={"config": CONFIG}))
    fake.queue = [httpx.ConnectError("refused")]
    async with make_async(fake) as client:
        await client.mcp.create_config("abc")
    assert len(fake.api_requests) == 2


async def test_429_honours_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", record)
    fake = FakeScalekit(lambda r: httpx.Response(200, json={"config": CONFIG}))
    fake.queue = [
        httpx.Response(429, json=error_body(8, "slow down", "RATE_LIMITED"), headers={"retry-after": "2"})
    ]
    async with make_async(fake) as client:
        await client.mcp.get_config("cfg_1")
    assert waits == [2.0]


async def test_429_surfaces_with_retry_after() -> None:
    fake = FakeScalekit(
        lambda r: httpx.Response(429, json=error_body(8, "slow", "RATE_LIMITED"), headers={"retry-after": "0"})
    )
    async with make_async(fake, max_retries=1) as client:
        with pytest.raises(RateLimitError) as err:
            await client.mcp.get_config("c")
    assert err.value.retry_after == 0.0 and err.value.error_code == "RATE_LIMITED"


def test_sync_client_retries_and_maps_transport_errors() -> None:
    fake = FakeScalekit()
    fake.queue = [httpx.ConnectError("refused")] * 5
    with make_sync(fake, max_retries=2) as client, pytest.raises(ScalekitConnectionError, match="ConnectError"):
        client.mcp.get_config("cfg_1")
    assert len(fake.api_requests) == 3


# ----------------------------------------------------------------- token


async def test_one_token_for_concurrent_calls_and_refresh_on_401() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(200, json={"config": CONFIG}))
    async with make_async(fake) as client:
        await asyncio.gather(*(client.mcp.get_config(f"c{i}") for i in range(25)))
        assert fake.token_requests == 1
        fake.queue = [httpx.Response(401, json=error_body(16, "Token expired", "UNAUTHENTICATED"))]
        await client.mcp.get_config("c")
        assert fake.token_requests == 2
        assert fake.api_requests[-1].headers["authorization"] == f"Bearer {ACCESS}_2"


async def test_token_refreshed_before_expiry() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(200, json={"config": CONFIG}))
    fake.expires_in = 0  # already inside the refresh margin
    async with make_async(fake) as client:
        await client.mcp.get_config("a")
        await client.mcp.get_config("b")
    assert fake.token_requests == 2


def test_sync_single_flight_token_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    fake = FakeScalekit(lambda r: httpx.Response(200, json={"config": CONFIG}))
    with make_sync(fake) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: client.mcp.get_config(f"c{i}"), range(32)))
    assert fake.token_requests == 1


async def test_persistent_401_raises_after_one_refresh() -> None:
    fake = FakeScalekit(lambda r: httpx.Response(401, json=error_body(16, "nope", "UNAUTHENTICATED")))
    async with make_async(fake) as client:
        with pytest.raises(AuthenticationError):
            await client.mcp.get_config("c")
    assert fake.token_requests == 2 and len(fake.api_requests) == 2


# ----------------------------------------------------------------- validation before the network


BAD_CALLS = [
    ("name", lambda m: m.create_config("Bad Name")),
    ("name", lambda m: m.create_config("x" * 101)),
    ("name", lambda m: m.create_config("")),
    ("connection_tool_mappings", lambda m: m.create_config("ok", connection_tool_mappings=[{"connection_name": f"c{i}"} for i in range(26)])),
    ("connection_name", lambda m: m.create_config("ok", connection_tool_mappings=[{"connection_name": " "}])),
    ("config_id", lambda m: m.get_config("")),
    ("config_id", lambda m: m.delete_config("..")),
    ("instance_id", lambda m: m.get_instance_auth_state("  ")),
    ("user_identifier", lambda m: m.ensure_instance("cfg", "")),
    ("config_name", lambda m: m.ensure_instance("", "u")),
    ("page_size", lambda m: m.list_configs(page_size=31)),
    ("page_size", lambda m: m.list_instances(page_size=0)),
    ("identifier", lambda m: m.list_mcp_connected_accounts("cfg_1", "")),
    ("identifier", lambda m: m.create_session_token("cfg_1", "x" * 256)),
    ("expiry", lambda m: m.create_session_token("cfg_1", "u", expiry=timedelta(seconds=59))),
    ("expiry", lambda m: m.create_session_token("cfg_1", "u", expiry=timedelta(hours=24, seconds=1))),
]


@pytest.mark.parametrize(("field", "call"), BAD_CALLS)
async def test_bad_input_raises_value_error_and_sends_nothing(field: str, call: Any) -> None:
    fake = FakeScalekit()
    async with make_async(fake) as client:
        with pytest.raises(ValueError, match=field):
            await call(client.mcp)
    with make_sync(fake) as sync_client, pytest.raises(ValueError, match=field):
        call(sync_client.mcp)
    assert fake.requests == []


# ----------------------------------------------------------------- redaction


async def test_debug_logs_and_errors_hold_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    instance_fake = FakeScalekit(lambda r: httpx.Response(200, json={"instance": INSTANCE}))
    async with make_async(instance_fake) as client:
        inst = await client.mcp.ensure_instance("email-calendar-assistant", "john-doe")
        logging.getLogger("scalekit_langchain").debug("instance %r", inst)
    failing = FakeScalekit(lambda r: httpx.Response(500, json=error_body(13, "internal", "INTERNAL")))
    async with make_async(failing, max_retries=0) as client:
        with pytest.raises(ServerError) as err:
            await client.mcp.get_config("cfg_1")
    text = caplog.text + str(err.value) + repr(err.value) + repr(client)
    assert "/api/v1/mcp/instances" in caplog.text  # the logs do say what happened
    for secret in (SECRET, ACCESS, "inst-secret-XYZ987"):
        assert secret not in text
