"""No credential is reachable from any error the REST clients raise.

Credentials: the client secret, access tokens, session tokens minted by
``create_session_token`` and instance URLs (capability URLs). Reachable means: an error's
message, ``args``, attributes, every ``__cause__``/``__context__`` (exception groups included),
any ``httpx.Request``/``httpx.Response`` found on the way (headers, URL, body), the formatted
traceback, and the locals of every frame of every traceback in the chain as a frame-locals
capturing tool (``traceback.TracebackException(capture_locals=True)``) shows them, plus the
headers and bodies of any httpx object among those locals.

Faults come from ``httpx.MockTransport`` (every call kind x every fault, both clients) and from
the emulator over loopback HTTP (token fetch failures, refused connections, hangs, garbage).
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import socket
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from scalekit_langchain import (
    AsyncScalekitClient,
    ScalekitClient,
    ScalekitConfigurationError,
    ScalekitError,
    _rest_requests,
)
from scalekit_langchain.testing import ScalekitEmulator

ENV = "https://acme.scalekit.test"
SECRET = "sks_client_secret_never_shown_7f3a"
ACCESS = "at_access_token_never_shown_91c2"
SESSION = "eyJhbGciOiJSUzI1NiJ9.session_token_never_shown.sig77"
INSTANCE_URL = "https://acme.scalekit.test/mcp/v2/servers/capability-never-shown-5d1e"
SECRETS = (SECRET, ACCESS, SESSION, INSTANCE_URL, INSTANCE_URL.rsplit("/", 1)[1])

CONFIG = {"id": "cfg_1", "name": "abc", "connection_tool_mappings": []}
INSTANCE = {"id": "inst_1", "user_identifier": "alice", "url": INSTANCE_URL}


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_rest_requests, "BACKOFF_BASE", 0.001)


# --------------------------------------------------------------------------- the walker


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception reachable through causes, contexts and exception groups."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += list(getattr(current, "exceptions", ()) or ())


def _http_text(value: Any) -> str:
    """Headers, URL and body of an httpx object (and the request of a response)."""
    parts: list[str] = []
    if isinstance(value, httpx.Response):
        parts += [str(value.headers.multi_items())]
        try:
            parts.append(value.content.decode("utf-8", "replace"))
        except httpx.ResponseNotRead:
            pass
        value = value._request  # what .request would give, without raising when unset
    if isinstance(value, httpx.Request):
        parts += [str(value.url), str(value.headers.multi_items())]
        try:
            parts.append(value.content.decode("utf-8", "replace"))
        except httpx.RequestNotRead:
            pass
    return "\n".join(parts)


def reachable_text(exc: BaseException) -> str:
    """Everything a person or a tool could read from ``exc``."""
    parts: list[str] = []
    for err in _chain(exc):
        parts += [str(err), repr(err), repr(err.args)]
        for value in vars(err).values():
            parts += [repr(value), _http_text(value)]
        for extra in ("request", "response"):
            try:
                parts.append(_http_text(getattr(err, extra, None)))
            except RuntimeError:  # httpx raises when .request was never set
                pass
        tb = err.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                parts.append(_http_text(value))
            tb = tb.tb_next
    parts.append("".join(traceback.format_exception(exc)))
    captured = traceback.TracebackException(type(exc), exc, exc.__traceback__, capture_locals=True)
    parts.append("".join(captured.format()))
    return "\n".join(parts)


def assert_no_secret(exc: BaseException, *, also: tuple[str, ...] = ()) -> str:
    text = reachable_text(exc)
    for secret in (*SECRETS, *also):
        assert secret not in text, f"{secret[:12]}... reachable from {type(exc).__name__}"
    return text


def test_the_walker_finds_a_secret_held_by_an_httpx_error() -> None:
    """The checks below can fail: an httpx error carrying its request is caught."""
    request = httpx.Request("POST", ENV + "/oauth/token", data={"client_secret": SECRET})
    with pytest.raises(AssertionError, match="reachable"):
        assert_no_secret(httpx.ConnectError("refused", request=request))

    def holder() -> None:
        bearer = "Bearer " + ACCESS
        raise ValueError("boom " + str(len(bearer)))

    try:
        holder()
    except ValueError as exc:
        error: BaseException = exc
    with pytest.raises(AssertionError, match="reachable"):
        assert_no_secret(error)  # found through the frame's locals (capture_locals)
    group_type = getattr(builtins, "BaseExceptionGroup", None)  # Python 3.11+
    if group_type is not None:
        group = group_type("g", [ScalekitError("x" + SESSION)])
        with pytest.raises(AssertionError, match="reachable"):
            assert_no_secret(_wrapped(group))  # found in a group member of the hidden context


def _wrapped(inner: BaseException) -> BaseException:
    try:
        raise inner
    except BaseException:
        try:
            raise RuntimeError("outer") from None  # context is still set
        except RuntimeError as outer:
            return outer


# --------------------------------------------------------------------------- MockTransport


class Fake:
    """A scripted Scalekit: healthy until ``fault`` is set, then every API call faults."""

    def __init__(self) -> None:
        self.fault: str | None = None
        self.token_fault: str | None = None
        self.api_calls = 0

    def _fault(self, fault: str, request: httpx.Request) -> httpx.Response:
        echo = (
            f"you sent {request.headers.get('authorization')} {request.content.decode()} "
            f"{SESSION} {INSTANCE_URL}"
        )
        if fault == "refused":
            raise httpx.ConnectError(f"refused {request.headers}", request=request)
        if fault == "read_timeout":
            raise httpx.ReadTimeout(f"timed out {request.content!r}", request=request)
        if fault == "garbage":
            return httpx.Response(
                200, text=f"<html>{echo}</html>", headers={"content-type": "text/html"}
            )
        if fault == "malformed":
            return httpx.Response(
                200,
                json={
                    "config": {"name": 5, "x": echo},
                    "instance": {"id": 7, "url": INSTANCE_URL},
                    "token": SESSION,
                    "expires_at": "not a date",
                    "configs": 3,
                    "instances": 4,
                    "connections": {"a": 1},
                    "connected_accounts": "x",
                    "access_token": 9,
                },
            )
        if fault == "not_json":
            return httpx.Response(400, text=echo)
        status = int(fault)
        body = {
            "code": 3,
            "message": echo,
            "details": [
                {
                    "error_code": "X",
                    "validation_error_info": {
                        "field_violations": [{"field": "f", "description": echo}]
                    },
                    "debug_info": {"detail": echo},
                    "localized_message_info": {"message": echo},
                }
            ],
        }
        return httpx.Response(status, json=body, headers={"retry-after": "0"})

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/oauth/token":
            if self.token_fault:
                return self._fault(self.token_fault, request)
            return httpx.Response(200, json={"access_token": ACCESS, "expires_in": 3600})
        if self.fault:
            self.api_calls += 1
            return self._fault(self.fault, request)
        if path.endswith("/tokens"):
            return httpx.Response(
                200, json={"token": SESSION, "expires_at": "2030-01-01T00:00:00Z"}
            )
        if path.startswith("/api/v1/mcp/instances"):
            return httpx.Response(200, json={"instance": INSTANCE})
        return httpx.Response(200, json={"config": CONFIG})


CALLS: dict[str, Callable[[Any], Any]] = {
    "create_config": lambda m: m.create_config(
        "abc", connection_tool_mappings=[{"connection_name": "G"}]
    ),
    "get_config": lambda m: m.get_config("cfg_1"),
    "get_config_by_name": lambda m: m.get_config_by_name("abc"),
    "list_configs": lambda m: m.list_configs(),
    "update_config": lambda m: m.update_config("cfg_1", description="d"),
    "delete_config": lambda m: m.delete_config("cfg_1"),
    "ensure_instance": lambda m: m.ensure_instance("abc", "alice"),
    "get_instance": lambda m: m.get_instance("inst_1"),
    "list_instances": lambda m: m.list_instances(),
    "update_instance": lambda m: m.update_instance("inst_1", name="n"),
    "delete_instance": lambda m: m.delete_instance("inst_1"),
    "get_instance_auth_state": lambda m: m.get_instance_auth_state(
        "inst_1", include_auth_links=True
    ),
    "list_mcp_connected_accounts": lambda m: m.list_mcp_connected_accounts("cfg_1", "alice"),
    "create_session_token": lambda m: m.create_session_token("cfg_1", "alice"),
}
FAULTS = [
    "401",
    "403",
    "404",
    "409",
    "429",
    "500",
    "503",
    "refused",
    "read_timeout",
    "garbage",
    "malformed",
    "not_json",
]


async def _raised(call: Callable[[], Any]) -> BaseException:
    """The exception ``call`` raises (awaiting it when it is a coroutine)."""
    try:
        result = call()
        if inspect.isawaitable(result):
            await result
    except BaseException as exc:
        return exc
    raise AssertionError("expected an error")


def _client(kind: str, fake: Fake, **kw: Any) -> AsyncScalekitClient | ScalekitClient:
    if kind == "async":
        return AsyncScalekitClient(
            ENV, "cid", SECRET, transport=httpx.MockTransport(fake.handler), max_retries=1, **kw
        )
    return ScalekitClient(
        ENV, "cid", SECRET, transport=httpx.MockTransport(fake.handler), max_retries=1, **kw
    )


async def _call(client: Any, name: str) -> Any:
    result = CALLS[name](client.mcp)
    return await result if inspect.isawaitable(result) else result


async def _close(client: Any) -> None:
    if isinstance(client, AsyncScalekitClient):
        await client.aclose()
    else:
        client.close()


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("fault", FAULTS)
async def test_every_call_kind_and_fault_leaks_nothing(kind: str, fault: str) -> None:
    fake = Fake()
    client = _client(kind, fake)
    try:
        # The client has seen every kind of credential before things go wrong.
        assert (await _call(client, "ensure_instance")).url == INSTANCE_URL
        assert (await _call(client, "create_session_token")).token.get_secret_value() == SESSION
        fake.fault = fault
        for name in CALLS:
            if fault == "malformed" and name.startswith("delete_"):
                continue  # a delete reads nothing from a successful answer
            exc = await _raised(lambda name=name: _call(client, name))
            assert isinstance(exc, ScalekitError), (name, exc)
            text = assert_no_secret(exc)
            assert "/api/v1/mcp/" in text  # the walk did read the error's traceback
        assert fake.api_calls >= len(CALLS) - 2
    finally:
        await _close(client)


async def test_server_causes_are_kept_but_redacted() -> None:
    fake = Fake()
    async with AsyncScalekitClient(
        ENV, "cid", SECRET, transport=httpx.MockTransport(fake.handler)
    ) as client:
        await client.mcp.ensure_instance("abc", "alice")
        fake.fault = "400"
        exc = await _raised(lambda: client.mcp.get_config("cfg_1"))
    assert "you sent Bearer ***" in str(exc) and "f: you sent" in str(exc)
    assert_no_secret(exc)


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("fault", ["401", "500", "refused", "read_timeout", "garbage", "malformed"])
async def test_token_fetch_faults_leak_nothing(kind: str, fault: str) -> None:
    fake = Fake()
    fake.token_fault = fault
    client = _client(kind, fake)
    try:
        exc = await _raised(lambda: _call(client, "list_configs"))
        assert isinstance(exc, ScalekitError)
        assert "_fetch_token" in assert_no_secret(exc)  # the walk read the traceback
    finally:
        await _close(client)


async def test_deadline_on_a_slow_answer_leaks_nothing() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": ACCESS, "expires_in": 60})
        await asyncio.sleep(30)
        return httpx.Response(200, json={"config": CONFIG})

    async with AsyncScalekitClient(
        ENV, "cid", SECRET, transport=httpx.MockTransport(slow), timeout=0.2, max_retries=0
    ) as client:
        exc = await _raised(lambda: client.mcp.get_config("cfg_1"))
    assert type(exc).__name__ == "ScalekitTimeoutError"
    assert_no_secret(exc)


# --------------------------------------------------------------------------- configuration


def test_configuration_errors_hold_no_secret_in_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    for make in (
        lambda: AsyncScalekitClient(client_id="cid", client_secret=SECRET),
        lambda: ScalekitClient(ENV, client_secret=SECRET),
        lambda: ScalekitClient("ftp://x", "cid", SECRET),
        lambda: ScalekitClient(f"https://me:{SECRET}@acme.scalekit.test", "cid", SECRET),
        lambda: AsyncScalekitClient(ENV, "cid", SECRET, timeout=float("nan")),
    ):
        exc = asyncio.run(_raised(make))
        assert isinstance(exc, ValueError)
        assert_no_secret(exc)
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", SECRET)
    exc = asyncio.run(_raised(lambda: ScalekitClient()))
    assert isinstance(exc, ScalekitConfigurationError)
    assert_no_secret(exc)


# --------------------------------------------------------------------------- emulator


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def _emu_client(
    kind: str, emu: ScalekitEmulator, **kw: Any
) -> AsyncScalekitClient | ScalekitClient:
    cls = AsyncScalekitClient if kind == "async" else ScalekitClient
    kw.setdefault("env_url", emu.env_url)
    return cls(client_id=emu.client_id, client_secret=kw.pop("secret", emu.client_secret), **kw)


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_emulator_token_and_rest_faults_leak_nothing(kind: str) -> None:
    with ScalekitEmulator() as emu:
        issued: set[str] = set()

        def secrets() -> tuple[str, ...]:
            return (emu.client_secret, "sks_wrong_secret_for_the_test", *issued)

        async def check(client: Any, call: str, expected: str) -> None:
            try:
                exc = await _raised(lambda: _call(client, call))
                assert type(exc).__name__ == expected, repr(exc)
                assert_no_secret(exc, also=secrets())
            finally:
                await _close(client)

        # Token fetch: bad secret, 5xx, refused, hang past the deadline.
        await check(
            _emu_client(kind, emu, secret="sks_wrong_secret_for_the_test"),
            "list_configs",
            "AuthenticationError",
        )
        emu.fail_next(500, count=5, kind="oauth.token")
        await check(_emu_client(kind, emu, max_retries=1), "list_configs", "ServerError")
        emu.clear_faults()
        await check(
            _emu_client(kind, emu, env_url=_refused_url(), max_retries=1),
            "list_configs",
            "ScalekitConnectionError",
        )
        emu.fail_next(200, count=5, kind="oauth.token", mode="hang")
        await check(
            _emu_client(kind, emu, timeout=0.5, max_retries=0),
            "list_configs",
            "ScalekitTimeoutError",
        )
        emu.clear_faults()

        # REST calls with a live token: a session token and an instance URL were issued first.
        client = _emu_client(kind, emu, timeout=0.5, max_retries=1)
        try:
            config = await _maybe(
                client.mcp.create_config(
                    "leaks", connection_tool_mappings=[{"connection_name": "MY_GMAIL"}]
                )
            )
            instance = await _maybe(client.mcp.ensure_instance("leaks", "alice"))
            emu.authorize("alice", "MY_GMAIL")
            session = await _maybe(client.mcp.create_session_token(config.id, "alice"))
            issued |= {
                instance.url,
                instance.url.rsplit("/", 1)[1],
                session.token.get_secret_value(),
            }
            emu.expire_access_tokens()
            for mode, status, expected in (
                ("status", 401, "AuthenticationError"),
                ("status", 403, "PermissionDeniedError"),
                ("status", 404, "NotFoundError"),
                ("status", 429, "RateLimitError"),
                ("status", 503, "ServerError"),
                ("hang", 200, "ScalekitTimeoutError"),
                ("garbage", 200, "ScalekitProtocolError"),
                ("malformed_json", 200, "ScalekitProtocolError"),
                ("wrong_content_type", 200, "ScalekitProtocolError"),
            ):
                for call in ("get_instance_auth_state", "create_session_token", "ensure_instance"):
                    emu.fail_next(status, count=3, kind="", mode=mode, retry_after=0)  # type: ignore[arg-type]
                    args = {
                        "get_instance_auth_state": (instance.id,),
                        "create_session_token": (config.id, "alice"),
                        "ensure_instance": ("leaks", "alice"),
                    }[call]
                    exc = await _raised(
                        lambda call=call, args=args: _maybe(getattr(client.mcp, call)(*args))
                    )
                    assert type(exc).__name__ == expected, (mode, call, repr(exc))
                    assert_no_secret(exc, also=secrets())
                    emu.clear_faults()
        finally:
            await _close(client)


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


# --------------------------------------------------------------------------- a caller's client


def _raise_for_status(response: httpx.Response) -> None:
    response.read()
    response.raise_for_status()  # an HTTPStatusError holding the request and the response


async def _araise_for_status(response: httpx.Response) -> None:
    await response.aread()
    response.raise_for_status()


async def test_errors_from_a_callers_async_client_hooks_leak_nothing() -> None:
    fake = Fake()
    fake.fault = "500"
    hooks = {"response": [_araise_for_status]}
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(fake.handler), event_hooks=hooks) as ahttp,
        AsyncScalekitClient(ENV, "cid", SECRET, http_client=ahttp, max_retries=0) as aclient,
    ):
        exc = await _raised(lambda: aclient.mcp.get_config("cfg_1"))
    assert type(exc).__name__ == "ScalekitConnectionError" and "HTTPStatusError" in str(exc)
    assert_no_secret(exc)


def _raised_sync(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError("expected an error")


def test_errors_from_a_callers_sync_client_leak_nothing() -> None:
    fake = Fake()
    fake.fault = "500"
    transport = httpx.MockTransport(fake.handler)
    hooks = {"response": [_raise_for_status]}
    with (
        httpx.Client(transport=transport, event_hooks=hooks) as http,
        ScalekitClient(ENV, "cid", SECRET, http_client=http, max_retries=0) as client,
    ):
        exc = _raised_sync(lambda: client.mcp.get_config("cfg_1"))
    assert type(exc).__name__ == "ScalekitConnectionError" and "HTTPStatusError" in str(exc)
    assert_no_secret(exc)

    closed = httpx.Client(transport=transport)
    closed.close()
    with ScalekitClient(ENV, "cid", SECRET, http_client=closed) as client:
        exc = _raised_sync(lambda: client.mcp.get_config("cfg_1"))
    assert "closed" in str(exc)
    assert_no_secret(exc)
