"""The I/O shells of the Scalekit clients: sending one request, sleeping, locking.

:class:`AsyncHttp` and :class:`Http` are the only places where the async and the sync client
differ in how bytes move; the clients themselves (``_rest_async`` and the generated
``_rest_sync``) are one source. Each shell:

* uses the caller's ``httpx`` client, or lazily creates its own (closed by ``aclose``/``close``,
  and, if the caller forgets, by a finalizer that also emits a ``ResourceWarning``);
* enforces the total deadline of a request (:attr:`Timeouts.total`), including a server that
  drips its answer one byte at a time;
* returns a :class:`~scalekit_langchain._rest_requests.TransportFailure` instead of raising httpx's
  error (or whatever a caller's client or its event hooks raise), so no raised error ever
  references a request (its headers hold the bearer token, the token call's body the client
  secret).
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
import weakref
from typing import Any

import anyio
import httpx

from scalekit_langchain import _rest_requests, _session_loop
from scalekit_langchain._access_token import AccessToken
from scalekit_langchain._rest_requests import Credentials, Operation, Timeouts, TransportFailure

Outcome = httpx.Response | TransportFailure

#: Close tasks scheduled by finalizers, kept referenced until they finish.
_closing: set[asyncio.Future[Any]] = set()


def _build(
    http: httpx.Client | httpx.AsyncClient,
    creds: Credentials,
    op: Operation[Any],
    token: AccessToken | None,
    timeouts: Timeouts,
) -> httpx.Request | TransportFailure:
    try:
        return _rest_requests.build_request(http, creds, op, token, timeouts)
    except Exception as exc:  # a malformed request never leaves with its secrets attached
        name = type(exc).__name__
    return TransportFailure("InvalidRequest", f"could not build the request ({name})")


# --------------------------------------------------------------------------- async


async def _send_async(
    http: httpx.AsyncClient,
    creds: Credentials,
    op: Operation[Any],
    token: AccessToken | None,
    timeouts: Timeouts,
) -> Outcome:
    request = _build(http, creds, op, token, timeouts)
    if isinstance(request, TransportFailure):
        return request
    try:
        # The whole exchange, body included, runs under one deadline.
        with anyio.fail_after(timeouts.total):
            return await http.send(request)
    except TimeoutError:
        return TransportFailure.deadline(timeouts.total)
    except Exception as exc:  # transport errors, and anything a caller's client raises
        return TransportFailure.from_exception(exc)


def _close_on_loop(loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient) -> None:
    task = loop.create_task(http.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def _release_async(clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient], name: str) -> None:
    """Finalizer: close what an unclosed async client left open, and say so."""
    if not clients:
        return
    warnings.warn(
        f"unclosed {name}: use 'async with' or call aclose()", ResourceWarning, stacklevel=2
    )
    for loop, http in list(clients.items()):
        del clients[loop]
        # The pool belongs to its loop; when that loop still runs, close it there. A stopped
        # or closed loop's sockets are released when its transports are collected.
        if loop.is_running() and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(_close_on_loop, loop, http)
            except RuntimeError:  # the loop closed meanwhile
                pass


class AsyncHttp:
    """Sends the requests of an ``AsyncScalekitClient``.

    With a caller's ``httpx.AsyncClient``, requests run on scalekit-langchain's session loop
    (where toolkits use the client; an AsyncClient's pool is bound to one loop). Otherwise
    one AsyncClient is created per event loop that uses us, for the same reason.
    """

    def __init__(
        self,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        *,
        owner: str,
    ) -> None:
        self._caller = http_client
        self._transport = transport
        self._owned: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._owned_lock = threading.Lock()  # loops in different threads share this map
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        # Not at interpreter exit: a client still referenced then is not a leak.
        weakref.finalize(self, _release_async, self._owned, owner).atexit = False

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._owned_lock:
            http = self._owned.get(loop)
            if http is None:
                for stale in [lp for lp in self._owned if lp.is_closed()]:
                    del self._owned[stale]
                http = httpx.AsyncClient(transport=self._transport)
                self._owned[loop] = http
            return http

    async def send(
        self,
        creds: Credentials,
        op: Operation[Any],
        token: AccessToken | None,
        timeouts: Timeouts,
    ) -> Outcome:
        """Send ``op`` once: the answer, or what went wrong sending it. Raises no ``Exception``."""
        if self._caller is not None:
            if _session_loop.on_session_loop():
                return await _send_async(self._caller, creds, op, token, timeouts)
            return await _session_loop.run(_send_async(self._caller, creds, op, token, timeouts))
        return await _send_async(self._client(), creds, op, token, timeouts)

    def lock(self) -> asyncio.Lock:
        """The token-refresh lock of the running loop (single flight per loop)."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks.setdefault(loop, asyncio.Lock())
        return lock

    async def aclose(self) -> None:
        """Close the AsyncClients we created (never the caller's)."""
        with self._owned_lock:
            clients = dict(self._owned)
            self._owned.clear()
        current = asyncio.get_running_loop()
        for loop, http in clients.items():
            if loop is current:
                await http.aclose()
            elif loop.is_running():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(http.aclose(), loop))


async def asleep(seconds: float) -> None:
    """Wait before a retry (async)."""
    await asyncio.sleep(seconds)


# --------------------------------------------------------------------------- sync


def _without_framing(headers: httpx.Headers) -> list[tuple[str, str]]:
    # The body we keep is already decoded and complete: drop what described its transfer.
    dropped = ("content-encoding", "content-length", "transfer-encoding")
    return [(k, v) for k, v in headers.multi_items() if k.lower() not in dropped]


def _send_sync(
    http: httpx.Client,
    creds: Credentials,
    op: Operation[Any],
    token: AccessToken | None,
    timeouts: Timeouts,
) -> Outcome:
    request = _build(http, creds, op, token, timeouts)
    if isinstance(request, TransportFailure):
        return request
    total = timeouts.total
    deadline = None if total is None else time.monotonic() + total
    # A blocking read cannot be interrupted, so the deadline is checked after every read of
    # the answer (each read is itself capped at `total` by the per-phase limits).
    try:
        response = http.send(request, stream=True)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if deadline is not None and time.monotonic() > deadline:
                    return TransportFailure.deadline(total)
        finally:
            response.close()
    except Exception as exc:  # transport errors, and anything a caller's client raises
        return TransportFailure.from_exception(exc)
    if deadline is not None and time.monotonic() > deadline:
        return TransportFailure.deadline(total)
    return httpx.Response(
        response.status_code,
        headers=_without_framing(response.headers),
        content=bytes(body),
        request=request,
    )


def _release_sync(clients: dict[str, httpx.Client], name: str) -> None:
    """Finalizer: close what an unclosed sync client left open, and say so."""
    if not clients:
        return
    warnings.warn(f"unclosed {name}: use 'with' or call close()", ResourceWarning, stacklevel=2)
    for key, http in list(clients.items()):
        del clients[key]
        http.close()


class Http:
    """Sends the requests of a ``ScalekitClient``: the caller's ``httpx.Client`` or our own."""

    def __init__(
        self,
        http_client: httpx.Client | None,
        transport: httpx.BaseTransport | None,
        *,
        owner: str,
    ) -> None:
        self._caller = http_client
        self._transport = transport
        self._owned: dict[str, httpx.Client] = {}
        self._create_lock = threading.Lock()
        self._token_lock = threading.Lock()
        weakref.finalize(self, _release_sync, self._owned, owner).atexit = False

    def _client(self) -> httpx.Client:
        if self._caller is not None:
            return self._caller
        with self._create_lock:
            http = self._owned.get("http")
            if http is None:
                http = self._owned["http"] = httpx.Client(transport=self._transport)
            return http

    def send(
        self,
        creds: Credentials,
        op: Operation[Any],
        token: AccessToken | None,
        timeouts: Timeouts,
    ) -> Outcome:
        """Send ``op`` once: the answer, or what went wrong sending it. Raises no ``Exception``."""
        return _send_sync(self._client(), creds, op, token, timeouts)

    def lock(self) -> threading.Lock:
        """The token-refresh lock (single flight across threads)."""
        return self._token_lock

    def close(self) -> None:
        """Close the ``httpx.Client`` we created (never the caller's)."""
        with self._create_lock:
            clients = list(self._owned.values())
            self._owned.clear()
        for http in clients:
            http.close()


def sleep(seconds: float) -> None:
    """Wait before a retry (sync)."""
    time.sleep(seconds)
