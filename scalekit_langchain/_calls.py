"""One tool call, from the model's arguments to the answer: check, send once, classify, keep.

The caller's side (:meth:`CallRunner.arun` / :meth:`CallRunner.run`, in the caller's loop or
thread, where LangGraph's ``interrupt()`` and the checkpointer live):

1. a call the ledger already holds (a resumed or retried node) returns its recorded answer,
   or raises :class:`ToolCallOutcomeUnknown` again — it is never sent twice;
2. otherwise the call is sent (:meth:`CallRunner._send`): an async caller's on a session of
   its own loop's pool (no thread hop; :meth:`CallRunner.pool_here`), a sync caller's on the
   background session loop's;
3. :class:`AuthorizationRequired` pauses the run (interrupt) and, once resumed, the same call
   starts over from step 2; outside a graph it is raised;
4. the answer (or an unknown outcome) is recorded before it is returned.

The sending side (:meth:`CallRunner._send`, on the pool's loop; what asks Scalekit runs on the
session loop, whose REST clients and per-user caches every pool shares):

* before the call: when the tool's connection was last seen not ACTIVE (or never seen), ask
  Scalekit; still not ACTIVE → :class:`AuthorizationRequired`, nothing sent;
* the call on the user's leased session;
* after any refusal-like answer (HTTP 401/403, a JSON-RPC error, ``isError``, an answer that
  asks to connect), ask Scalekit again: not ACTIVE → :class:`AuthorizationRequired` (nothing
  ran, so the call runs after resume); ACTIVE → the answer stands (an error the model can fix,
  or a typed exception for 401/403);
* the instance answered 404 when the session opened (deleted, maybe recreated): ensure it
  again and send once more (nothing ran).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Generator
from typing import Any, cast

from langchain_core.runnables import RunnableConfig

from scalekit_langchain import _session_loop
from scalekit_langchain._access import UserAccess
from scalekit_langchain._call_ledger import CallKey, CallLedger, call_key
from scalekit_langchain._client_state import BoundedCache
from scalekit_langchain._connection_auth import (
    AuthTracker,
    ConnectionMap,
    looks_like_refusal,
)
from scalekit_langchain._mcp_content import to_langchain
from scalekit_langchain._mcp_features import ProgressRelay
from scalekit_langchain._session_pool import SessionPool
from scalekit_langchain.errors import (
    AuthorizationRequired,
    ElicitationRequired,
    NotFoundError,
    ToolCallOutcomeUnknown,
    ToolCallRejected,
    error_class_for_status,
)
from scalekit_langchain.langgraph import elicitation_accepted, pause_for_authorization

__all__ = ["CallRunner"]

logger = logging.getLogger("scalekit_langchain")

Answer = tuple[Any, Any, bool]  # (content, artifact, is_error)


#: MCP 2025-11-25: "the request needs URL-mode elicitations completed first".
URL_ELICITATION_REQUIRED = -32042


def _url_elicitations(error: ToolCallRejected) -> list[dict[str, Any]]:
    """The URL elicitations a -32042 refusal asks for, as interrupt requests."""
    if error.code != URL_ELICITATION_REQUIRED or not isinstance(error.data, dict):
        return []
    out: list[dict[str, Any]] = []
    for item in error.data.get("elicitations") or ():
        if isinstance(item, dict) and item.get("mode", "url") == "url" and item.get("url"):
            out.append(
                {
                    "key": str(item.get("elicitationId") or len(out)),
                    "message": str(item.get("message") or ""),
                    "mode": "url",
                    "url": str(item["url"]),
                }
            )
    return out


def _from_record(record: dict[str, Any], tool: str) -> Answer:
    if record.get("outcome") == "unknown":
        raise ToolCallOutcomeUnknown(tool, str(record.get("detail") or "") or None)
    return record.get("content"), record.get("artifact"), bool(record.get("is_error"))


def _elicitation_record(error: ElicitationRequired) -> dict[str, Any]:
    """A call paused for a URL elicitation (nothing ran): on resume, the answer decides."""
    return {"outcome": "elicitation", "requests": error.requests}


def _record_of(answer: Answer) -> dict[str, Any]:
    content, artifact, is_error = answer
    return {"outcome": "done", "content": content, "artifact": artifact, "is_error": is_error}


class CallRunner:
    """Runs tool calls for one toolkit (see the module docstring for the steps).

    Args:
        access: How users reach the MCP server.
        tracker: Last-seen connection states and auth checks.
        pool: The users' sessions, lent one call at a time.
        ledger: Answers of calls that reached the server.
        interrupt: Pause LangGraph runs for authorization (else always raise).
    """

    def __init__(
        self,
        access: UserAccess,
        tracker: AuthTracker,
        pool: SessionPool,
        *,
        ledger: CallLedger,
        interrupt: bool = True,
    ) -> None:
        self.access = access
        self.tracker = tracker
        self.pool = pool
        self.ledger = ledger
        self._interrupt = interrupt
        self._maps: BoundedCache[str, ConnectionMap] = BoundedCache()
        self._inflight: dict[tuple[str, str], set[asyncio.Future[Answer]]] = {}
        #: The pools of async callers' loops (``pool`` is the session loop's).
        self._pools: dict[asyncio.AbstractEventLoop, SessionPool] = {}
        self._pools_lock = threading.Lock()

    def pool_here(self) -> SessionPool:
        """The pool of the running loop (the session loop's :attr:`pool` outside any loop).

        A loop's pool is made on its first call; pools of loops that have closed (an
        ``asyncio.run`` that ended: its sessions' tasks were cancelled with it) are dropped then.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self.pool
        pool = self._pools.get(loop)
        if pool is not None:
            return pool
        if _session_loop.on_session_loop():
            return self.pool
        with self._pools_lock:
            for gone in [lp for lp in self._pools if lp.is_closed()]:
                del self._pools[gone]
            pool = self._pools.get(loop)
            if pool is None:
                pool = self._pools[loop] = self.pool.sibling(loop)
        return pool

    def pools(self) -> list[SessionPool]:
        """Every pool: the session loop's first, then those of open async callers' loops."""
        with self._pools_lock:
            return [self.pool, *(p for lp, p in self._pools.items() if not lp.is_closed())]

    async def connection_map(self, user: str) -> ConnectionMap:
        """Which connection each tool needs, as the user's config says (kept per user)."""
        found = self._maps.get(user)
        if found is None:
            found = await _session_loop.run(self.access.connection_map(user))
            self._maps.set(user, found)
        return found

    async def pending_all(self, user: str) -> list[Any]:
        """Every connection of ``user`` not ACTIVE (fresh links); no request while all of the
        config's connections were last seen ACTIVE."""
        cmap = await self.connection_map(user)
        if cmap.connections and self.tracker.known_active(user, cmap.connections):
            return []
        return await self.tracker.pending(user)

    async def aclose(self) -> None:
        """Close every session, each on its loop (a loop that is not running now closes its
        pool's sessions when it runs again: a task is left there)."""
        with self._pools_lock:
            pools, self._pools = self._pools, {}
        for loop, pool in pools.items():
            if loop.is_running():
                await _session_loop.run_on(loop, pool.aclose())
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_close_later, pool)
        await _session_loop.run(self.pool.aclose())

    def close_here_later(self) -> None:
        """Before a blocking close from a thread that runs an event loop (a sync call in a
        Jupyter cell): that loop's pool closes once the loop runs again (it cannot now)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        with self._pools_lock:
            pool = self._pools.pop(loop, None)
        if pool is not None:
            loop.call_soon(_close_later, pool)

    def close_soon(self) -> None:
        """Close every session without waiting (from any thread, e.g. a finalizer)."""
        with self._pools_lock:
            pools, self._pools = self._pools, {}
        for loop, pool in [*pools.items(), (None, self.pool)]:
            try:
                if loop is None:
                    _session_loop.submit(pool.aclose())
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(_close_later, pool)
            except RuntimeError:  # the loop closed meanwhile, or the interpreter is exiting
                pass

    # ------------------------------------------------------------------ caller's side

    # The steps of one call are written once (:meth:`_steps`, no I/O); :meth:`arun` and
    # :meth:`run` are the two thin drivers that do the I/O each step asks for.

    def _steps(
        self, tool: str, config: RunnableConfig | None, key: CallKey | None
    ) -> Generator[tuple[str, Any], Any, Answer]:
        """The decisions of one call; yields ``("lookup" | "send" | "settle" | "record", x)``.

        ``lookup`` gets the ledger's record back, ``send`` gets ``("answer" | "auth" |
        "elicit", value)``; pauses (LangGraph interrupts) are raised from here.
        """
        if key is not None:
            record = yield ("lookup", None)
            if record is not None and record.get("outcome") == "elicitation":
                # Resumed after a URL elicitation: the user's answer decides before anything
                # is sent again.
                declined = self._elicit(ElicitationRequired(tool, record["requests"]), config)
                if declined is not None:
                    yield ("record", _record_of(declined))
                    return declined
            elif record is not None:
                return _from_record(record, tool)
        while True:
            kind, value = yield ("send", None)
            if kind == "answer":
                return cast(Answer, value)
            yield ("settle", None)
            if kind == "auth":
                self._pause(value, config)
                continue
            if key is not None:
                yield ("record", _elicitation_record(value))
            declined = self._elicit(value, config)
            if declined is not None:
                if key is not None:
                    yield ("record", _record_of(declined))
                return declined

    async def arun(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> Answer:
        """Run one call from an async caller (see the module docstring)."""
        key = call_key(config, tool_call_id)
        steps = self._steps(tool, config, key)
        reply: Any = None
        while True:
            try:
                op, value = steps.send(reply)
            except StopIteration as done:
                return cast(Answer, done.value)
            reply = None
            if op == "lookup" and key is not None:
                reply = await self.ledger.alookup(config, key)
            elif op == "record" and key is not None:
                await self.ledger.arecord(config, key, value)
            elif op == "settle":
                await self._asettle(key)
            elif op == "send":
                try:
                    reply = (
                        "answer",
                        await self._asend_and_record(user, tool, arguments, config, key),
                    )
                except AuthorizationRequired as exc:
                    reply = ("auth", exc)
                except ElicitationRequired as exc:
                    reply = ("elicit", exc)

    async def _asend_and_record(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        key: CallKey | None,
    ) -> Answer:
        relay = ProgressRelay(tool, config)
        pool = self.pool_here()

        async def send_and_record() -> Answer:
            try:
                answer = await self._send(user, tool, arguments, pool, relay.callback)
            except ToolCallOutcomeUnknown as exc:
                if key is not None:
                    await self.ledger.arecord(
                        config, key, {"outcome": "unknown", "detail": str(exc)}
                    )
                raise
            if key is not None:
                await self.ledger.arecord(config, key, _record_of(answer))
            return answer

        # A call that left for the server must not be cancelled half-way with its caller (it
        # may have run, and its answer would be lost): it runs in its own task, shielded. A
        # ToolNode runs the calls of one AI message together, and LangGraph cancels the others
        # when one pauses for authorization: the pausing sibling waits for it (see _asettle).
        task = asyncio.ensure_future(send_and_record())
        scope = key[:2] if key is not None else None
        if scope is not None:
            self._inflight.setdefault(scope, set()).add(task)
        task.add_done_callback(functools.partial(self._forget_inflight, scope))
        return await asyncio.shield(task)

    def _forget_inflight(self, scope: tuple[str, str] | None, task: asyncio.Future[Any]) -> None:
        tasks = self._inflight.get(scope) if scope is not None else None
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                self._inflight.pop(scope, None)  # type: ignore[arg-type]
        if not task.cancelled():
            task.exception()  # retrieved: the caller may have been cancelled before seeing it

    async def _asettle(self, key: CallKey | None) -> None:
        """Before pausing: let sibling calls of the same node that are on the wire finish
        and be recorded, so the resumed node finds their answers instead of sending again."""
        if key is None:
            return
        others = [t for t in self._inflight.get(key[:2], ()) if not t.done()]
        if others:
            await asyncio.wait(others)

    def run(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> Answer:
        """Sync twin of :meth:`arun` (the same steps; the ledger's sync I/O).

        Sync callers block while their call is on the wire, so a pausing sibling has nothing
        to wait for: ``settle`` is a no-op here.
        """
        key = call_key(config, tool_call_id)
        steps = self._steps(tool, config, key)
        reply: Any = None
        while True:
            try:
                op, value = steps.send(reply)
            except StopIteration as done:
                return cast(Answer, done.value)
            reply = None
            if op == "lookup" and key is not None:
                reply = self.ledger.lookup(config, key)
            elif op == "record" and key is not None:
                self.ledger.record(config, key, value)
            elif op == "send":
                try:
                    reply = ("answer", self._send_and_record(user, tool, arguments, config, key))
                except AuthorizationRequired as exc:
                    reply = ("auth", exc)
                except ElicitationRequired as exc:
                    reply = ("elicit", exc)

    def _send_and_record(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        key: CallKey | None,
    ) -> Answer:
        relay = ProgressRelay(tool, config)
        try:
            answer = _session_loop.run_sync(
                self._send(user, tool, arguments, self.pool, relay.callback)
            )
        except ToolCallOutcomeUnknown as exc:
            if key is not None:
                self.ledger.record(config, key, {"outcome": "unknown", "detail": str(exc)})
            raise
        if key is not None:
            self.ledger.record(config, key, _record_of(answer))
        return answer

    def _pause(self, error: AuthorizationRequired, config: RunnableConfig | None) -> None:
        if not self._interrupt:
            raise error
        pause_for_authorization(error, config)

    def _elicit(self, error: ElicitationRequired, config: RunnableConfig | None) -> Answer | None:
        """Pause for a URL elicitation; ``None`` to send the call again (the user accepted),
        else the answer that tells the model the user declined."""
        if not self._interrupt:
            raise error
        resume = pause_for_authorization(error, config)
        if elicitation_accepted(error, resume):
            return None
        return (f"The user declined what {error.tool_name} needed; it did not run.", None, True)

    # ------------------------------------------------------------------ session loop

    async def _send(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        pool: SessionPool,
        progress: Callable[..., Any] | None = None,
    ) -> Answer:
        connections = (await self.connection_map(user)).connections_for(tool)
        if not self.tracker.known_active(user, connections):
            await self._require(user, connections)
        for attempt in (0, 1):
            try:
                async with pool.lease(user) as session:
                    result = await session.call_tool_on_loop(tool, arguments, progress=progress)
                    # Converted under the lease: the first conversion imports LangChain's
                    # converter, which must not count as the session's idle time.
                    content, artifact = to_langchain(result)
            except ToolCallRejected as exc:
                await self._require(user, connections)
                requests = _url_elicitations(exc)
                if requests:
                    raise ElicitationRequired(tool, requests) from None
                if exc.status_code in (401, 403) or (
                    exc.status_code is not None and exc.code is None
                ):
                    # Credentials refused (or an HTTP error with nothing for the model to fix).
                    raise error_class_for_status(exc.status_code)(
                        f"The MCP server refused {tool!r} with HTTP {exc.status_code} although "
                        f"its connections are ACTIVE: {exc.detail or 'no detail'}",
                        status_code=exc.status_code,
                    ) from None
                # A JSON-RPC error (e.g. invalid params): the model can correct the call.
                return (f"Error: {exc.detail or 'the server rejected the call'}", None, True)
            except NotFoundError:
                if attempt:
                    raise
                # The instance is gone (deleted, maybe recreated): nothing ran. Ensure it again.
                logger.info("The MCP server of %r answered 404; ensuring it again", user)
                await _session_loop.run(self._forget(user))
                await pool.discard(user)
                await self._require(user, connections)
                continue
            if looks_like_refusal(result):
                await self._require(user, connections)
            return content, artifact, result.is_error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _require(self, user: str, connections: Any) -> None:
        # Auth checks ask Scalekit: on the session loop, where the REST clients live.
        await _session_loop.run(self.tracker.require(user, connections))

    async def _forget(self, user: str) -> None:
        self.access.forget(user)
        self.tracker.forget(user)


#: Closing tasks left on loops that were not running (a reference keeps each alive).
_closing: set[asyncio.Task[None]] = set()


def _close_later(pool: SessionPool) -> None:
    """Runs on the pool's own loop once it runs (a callback): close the pool there."""
    task = asyncio.get_running_loop().create_task(pool.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)
