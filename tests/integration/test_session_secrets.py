"""No credential in what a failing MCP session raises, on both MCP stacks.

For each fault (opening: 401, 403, 404, 5xx, connection refused, TLS failure, timeout; a call:
401, 5xx, JSON-RPC error, cut answer, timeout, closed under the call) the raised error is a
ScalekitError and neither the pre-authenticated URL's secret nor the bearer token appears in its
message, ``args``, attributes, any exception of its chain (``__cause__``, ``__context__``,
exception groups), attached request/response objects, the formatted traceback, or the locals
of any frame of any of those tracebacks.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from scalekit_langchain._mcp_session import ConnectParams, McpSession
from scalekit_langchain._mcp_stack import http
from scalekit_langchain.errors import ScalekitError
from tests.integration._mini_mcp import MiniMcp
from tests.integration._net_support import CountingProxy, Served, free_port, self_signed

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

TOKEN = "sk-session-" + secrets.token_hex(16)
HTTP_OBJECTS = (httpx.Request, httpx.Response, http.Request, http.Response)

Action = Callable[[McpSession], Awaitable[object]]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def assert_no_secret(exc: BaseException, secret_values: list[str]) -> None:
    assert isinstance(exc, ScalekitError), repr(exc)
    for link in _chain(exc):
        texts = [str(link), repr(link), repr(link.args)]
        for name, value in vars(link).items():
            assert not isinstance(value, HTTP_OBJECTS), f"{type(link).__name__}.{name}"
            texts.append(repr(value))
        texts.append(
            "".join(
                traceback.TracebackException(
                    type(link), link, link.__traceback__, capture_locals=True
                ).format()
            )
        )
        texts.append("".join(traceback.format_exception(type(link), link, link.__traceback__)))
        for text in texts:
            for secret in secret_values:
                assert secret not in text, f"secret found in {type(link).__name__}: {text[:2000]}"


async def _failure(session: McpSession, action: Action) -> BaseException:
    """Run ``action``; return what it raised. (No secret among this frame's locals.)"""
    try:
        await asyncio.wait_for(action(session), 15)
    except BaseException as exc:  # inspected by the caller
        return exc
    raise AssertionError("the fault did not fail the request")


def _session(url: str, *, verify: ssl.SSLContext | None = None, call_timeout: float = 5.0,
             connect_timeout: float = 5.0) -> McpSession:
    async def params() -> ConnectParams:
        return ConnectParams(url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                             label="secrets", verify=verify)

    return McpSession(params, call_timeout=call_timeout, connect_timeout=connect_timeout)


async def _connect(session: McpSession) -> object:
    await session.connect()
    return None


async def _call(session: McpSession) -> object:
    return await session.call_tool("send", {"subject": "s"})


@pytest.fixture
def server() -> Iterator[tuple[MiniMcp, str, int]]:
    mini = MiniMcp(answer="sse")
    with Served(mini) as served:
        yield mini, f"http://127.0.0.1:{served.port}{mini.path}", served.port


def _secrets_of(mini: MiniMcp) -> list[str]:
    return [mini.path.rsplit("/", 1)[-1], TOKEN]


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
async def test_open_refused(server: tuple[MiniMcp, str, int], status: int) -> None:
    mini, url, _ = server
    mini.fail_next("initialize", status, body=f"refused {url} {TOKEN}")
    session = _session(url)
    try:
        assert_no_secret(await _failure(session, _connect), _secrets_of(mini))
    finally:
        await session.aclose()


async def test_open_connection_refused() -> None:
    path_secret = secrets.token_urlsafe(24)
    session = _session(f"http://127.0.0.1:{free_port()}/mcp/{path_secret}")
    try:
        assert_no_secret(await _failure(session, _connect), [path_secret, TOKEN])
    finally:
        await session.aclose()


async def test_open_tls_failure(server: tuple[MiniMcp, str, int]) -> None:
    mini, _, port = server
    server_tls, _ = self_signed()
    with CountingProxy(port, tls=server_tls) as proxy:
        # The system CAs do not trust the throwaway certificate: the handshake fails.
        session = _session(f"https://127.0.0.1:{proxy.port}{mini.path}")
        try:
            assert_no_secret(await _failure(session, _connect), _secrets_of(mini))
        finally:
            await session.aclose()


async def test_open_timeout(server: tuple[MiniMcp, str, int]) -> None:
    mini, url, _ = server
    mini.fail_next("initialize", mode="hang")
    session = _session(url, connect_timeout=0.5)
    try:
        assert_no_secret(await _failure(session, _connect), _secrets_of(mini))
    finally:
        await session.aclose()


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 401},
        {"status": 403},
        {"status": 500},
        {"status": 400, "rpc_error": (-32602, "bad")},
        {"mode": "rpc_error", "rpc_error": (-32602, "bad arguments")},
        {"mode": "cut"},
        {"mode": "hang"},
    ],
    ids=["401", "403", "500", "400-rpc", "rpc-error", "cut", "timeout"],
)
async def test_call_fails(server: tuple[MiniMcp, str, int], fault: dict[str, object]) -> None:
    mini, url, _ = server
    session = _session(url, call_timeout=0.5)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.fail_next("tools/call", **fault)  # type: ignore[arg-type]
        assert_no_secret(await _failure(session, _call), _secrets_of(mini))
    finally:
        await session.aclose()


async def test_session_closed_under_a_call(server: tuple[MiniMcp, str, int]) -> None:
    mini, url, _ = server
    session = _session(url, call_timeout=10.0)
    await session.call_tool("echo", {"text": "warm"})
    mini.fail_next("tools/call", mode="hang")
    call = asyncio.ensure_future(_failure(session, _call))
    await asyncio.sleep(0.3)
    await session.aclose()
    assert_no_secret(await call, _secrets_of(mini))


async def test_the_check_finds_a_leak() -> None:
    """The walker is not vacuous: a chained httpx error with the URL is caught."""
    secret = secrets.token_urlsafe(24)
    request = httpx.Request("POST", f"http://127.0.0.1/mcp/{secret}")
    try:
        try:
            raise httpx.ConnectError("boom", request=request)
        except httpx.ConnectError as inner:
            raise ScalekitError("wrapped") from inner
    except ScalekitError as exc:
        with pytest.raises(AssertionError):
            assert_no_secret(exc, [secret])
