"""One tool call, from the model's arguments to the answer: check, send once, classify, keep.

The caller's side (:meth:`CallRunner.arun` / :meth:`CallRunner.run`, in the caller's loop or
thread, where LangGraph's ``interrupt()`` and the checkpointer live):

1. a call the ledger already holds (a resumed or retried node) returns its recorded answer,
   or raises :class:`ToolCallOutcomeUnknown` again — it is never sent twice;
2. otherwise the call is sent (:meth:`CallRunner._send`): an async caller's on a session of
   its own loop's pool (no thread hop; :mod:`._loop_pools`), a sync caller's on the
   background session loop's;
3. :class:`AuthorizationRequired` pauses the run (interrupt) and, once resumed, the same call
   starts over from step 2; outside a graph it is raised;
4. the answer (or an unknown outcome) is recorded before it is returned.

The sending side (:meth:`CallRunner._send`, on the pool's loop; what asks Scalekit runs on the
session loop, whose REST clients and per-user caches every pool shares):

* before the call: when the tool's connection was last seen not ACTIVE (or never seen), ask
  Scalekit; still not ACTIVE → :class:`AuthorizationRequired`, nothing sent. It lists every
  not-ACTIVE connection of the call's whole model turn (:mod:`._turns`), so one pause covers
  the turn;
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
    pending_among,
)
from scalekit_langchain._loop_pools import LoopPools
from scalekit_langchain._mcp_content import to_langchain
from scalekit_langchain._mcp_features import ProgressRelay
from scalekit_langchain._mcp_tasks import TaskStarted, poll_task, task_id_of
from scalekit_langchain._session_pool import SessionPool
from scalekit_langchain._tool_listings import ToolListings
from scalekit_langchain._turns import turn_tool_names
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
#: The MCP names of the tools a call's model turn calls; ``None``: a turn the state does not show.
Turn = Callable[[], list[str] | None]


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


def _input_requests(asked: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The elicitations a 2026-07-28 ``input_required`` answer asks for, as interrupt requests
    (``None`` when it asks for anything else: sampling or roots are not answered this way)."""
    out: list[dict[str, Any]] = []
    for key, request in (asked.get("inputRequests") or {}).items():
        if not isinstance(request, dict) or request.get("method") != "elicitation/create":
            return None
        raw = request.get("params")
        params: dict[str, Any] = raw if isinstance(raw, dict) else {}
        item: dict[str, Any] = {"key": str(key), "message": str(params.get("message") or "")}
        if params.get("mode") == "url":
            item.update(mode="url", url=str(params.get("url") or ""))
        else:
            item.update(mode="form", requestedSchema=params.get("requestedSchema") or {})
        out.append(item)
    return out


def _answers(error: ElicitationRequired, resume: Any) -> dict[str, Any] | None:
    """What the resumed call sends back for an ``input_required`` pause: the user's answers by
    key and the server's opaque state (``None`` for a -32042 pause: the call is simply re-sent)."""
    if error.request_state is None:
        return None
    responses = resume.get("responses") if isinstance(resume, dict) else None
    answers = {
        r["key"]: dict(responses[r["key"]])
        for r in error.requests
        if isinstance(responses, dict) and isinstance(responses.get(r["key"]), dict)
    }
    return {"input_responses": answers, "request_state": error.request_state or None}


def _from_record(record: dict[str, Any], tool: str) -> Answer:
    if record.get("outcome") == "unknown":
        raise ToolCallOutcomeUnknown(tool, str(record.get("detail") or "") or None)
    return record.get("content"), record.get("artifact"), bool(record.get("is_error"))


def _elicitation_record(error: ElicitationRequired) -> dict[str, Any]:
    """A call paused for a URL elicitation (nothing ran): on resume, the answer decides (and,
    in the 2026-07-28 era, is sent with the server's ``request_state``)."""
    record = {"outcome": "elicitation", "requests": error.requests}
    if error.request_state is not None:
        record["request_state"] = error.request_state
    return record


def _record_of(answer: Answer) -> dict[str, Any]:
    content, artifact, is_error = answer
    return {"outcome": "done", "content": content, "artifact": artifact, "is_error": is_error}


class CallRunner:
    """Runs tool calls for one toolkit (see the module docstring for the steps).

    Args:
        access: How users reach the MCP server.
        tracker: Last-seen connection states and auth checks.
        pool: The users' sessions on the background session loop, lent one call at a time
            (async callers' loops get siblings: :attr:`pools`).
        ledger: Answers of calls that reached the server.
        interrupt: Pause LangGraph runs for authorization (else always raise).
        on_new_tools: Called when a user's listing offers tools the toolkit lacks (see
            :mod:`._tool_listings`: per-user listings in the 2026-07-28 era).
    """

    def __init__(
        self,
        access: UserAccess,
        tracker: AuthTracker,
        pool: SessionPool,
        *,
        ledger: CallLedger,
        interrupt: bool = True,
        on_new_tools: Callable[[], None] | None = None,
    ) -> None:
        self.access = access
        self.tracker = tracker
        self.pool = pool
        #: Every event loop's pool (:meth:`LoopPools.here`: the running loop's).
        self.pools = LoopPools(pool)
        self.ledger = ledger
        self._interrupt = interrupt
        # Derived from the config (re-derived without a request once the access knows it), so
        # a small table: the maps of most users are one shared object anyway.
        self._maps: BoundedCache[str, ConnectionMap] = BoundedCache(1024)
        self._inflight: dict[tuple[str, str], set[asyncio.Future[Answer]]] = {}
        #: LangChain tool name -> MCP tool name, for the toolkit's tools (set by the toolkit):
        #: which of a turn's calls are this toolkit's.
        self.tool_names: dict[str, str] = {}
        #: The users' tools/list answers while their ttlMs lasts (2026-07-28 era).
        self.listings = ToolListings(on_new_tools=on_new_tools)

    async def connection_map(self, user: str) -> ConnectionMap:
        """Which connection each tool needs, as the user's config says (kept per user)."""
        found = self._maps.get(user)
        if found is None:
            found = await _session_loop.run(self.access.connection_map(user))
            self._maps.set(user, found)
        return found

    async def pending_all(self, user: str, *, max_age: float | None = None) -> list[Any]:
        """Every connection of ``user`` not ACTIVE (fresh links); no request while all of the
        config's connections were seen ACTIVE within ``max_age`` seconds (``None``: ever)."""
        cmap = await self.connection_map(user)
        if cmap.connections and self.tracker.known_active(
            user, cmap.connections, max_age=max_age
        ):
            return []
        return await self.tracker.pending(user)

    async def aclose(self) -> None:
        """Close every session, each on its loop."""
        await self.pools.aclose()

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
        answers: dict[str, Any] | None = None
        if key is not None:
            record = yield ("lookup", None)
            if record is not None and record.get("outcome") == "elicitation":
                # Resumed after a URL elicitation: the user's answer decides before anything
                # is sent again.
                paused = ElicitationRequired(
                    tool, record["requests"], request_state=record.get("request_state")
                )
                declined, answers = self._elicit(paused, config)
                if declined is not None:
                    yield ("record", _record_of(declined))
                    return declined
            elif record is not None and record.get("outcome") == "task":
                # The tool was started as a task: poll it, never call the tool again.
                answer = yield ("poll", record["task_id"])
                yield ("record", _record_of(answer))
                return cast(Answer, answer)
            elif record is not None:
                return _from_record(record, tool)
        while True:
            kind, value = yield ("send", answers)
            if kind == "answer":
                return cast(Answer, value)
            if kind == "task":  # recorded first, so a resumed or retried node polls it too
                if key is not None:
                    yield ("record", {"outcome": "task", "task_id": value})
                answer = yield ("poll", value)
                if key is not None:
                    yield ("record", _record_of(answer))
                return cast(Answer, answer)
            yield ("settle", None)
            if kind == "auth":
                self._pause(value, config)
                continue
            if key is not None:
                yield ("record", _elicitation_record(value))
            declined, answers = self._elicit(value, config)
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
        turn = functools.partial(self._turn, config, key)
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
            elif op == "poll":
                reply = await self._poll(user, value, self.pools.here())
            elif op == "send":
                try:
                    reply = (
                        "answer",
                        await self._asend_and_record(
                            user, tool, arguments, config, key, turn=turn, answers=value
                        ),
                    )
                except AuthorizationRequired as exc:
                    reply = ("auth", exc)
                except ElicitationRequired as exc:
                    reply = ("elicit", exc)
                except TaskStarted as exc:
                    reply = ("task", exc.task_id)

    def _turn(self, config: RunnableConfig | None, key: CallKey | None) -> list[str] | None:
        """The MCP names of the tools called in the model turn of a call, from the AI message
        in the graph state; ``[]`` for a call of no turn (outside a graph, or no tool call id);
        ``None`` for a turn the state does not show (see :mod:`._turns`)."""
        if key is None:
            return []
        names = turn_tool_names(config, key[2])
        if names is None:
            return None
        return [self.tool_names[name] for name in names if name in self.tool_names]

    async def _asend_and_record(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        key: CallKey | None,
        turn: Turn | None = None,
        answers: dict[str, Any] | None = None,
    ) -> Answer:
        relay = ProgressRelay(tool, config)
        pool = self.pools.here()

        async def send_and_record() -> Answer:
            try:
                answer = await self._send(
                    user, tool, arguments, pool, relay.callback, turn=turn, answers=answers
                )
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
        turn = functools.partial(self._turn, config, key)
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
            elif op == "poll":
                reply = _session_loop.run_sync(self._poll(user, value, self.pool))
            elif op == "send":
                try:
                    reply = (
                        "answer",
                        self._send_and_record(
                            user, tool, arguments, config, key, turn=turn, answers=value
                        ),
                    )
                except AuthorizationRequired as exc:
                    reply = ("auth", exc)
                except ElicitationRequired as exc:
                    reply = ("elicit", exc)
                except TaskStarted as exc:
                    reply = ("task", exc.task_id)

    def _send_and_record(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        key: CallKey | None,
        turn: Turn | None = None,
        answers: dict[str, Any] | None = None,
    ) -> Answer:
        relay = ProgressRelay(tool, config)
        try:
            answer = _session_loop.run_sync(
                self._send(
                    user, tool, arguments, self.pool, relay.callback, turn=turn, answers=answers
                )
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

    def _elicit(
        self, error: ElicitationRequired, config: RunnableConfig | None
    ) -> tuple[Answer | None, dict[str, Any] | None]:
        """Pause for an elicitation; ``(None, answers)`` to send the call again (the user
        accepted; ``answers`` go with it in the 2026-07-28 era), else the answer that tells
        the model the user declined."""
        if not self._interrupt:
            raise error
        resume = pause_for_authorization(error, config)
        if elicitation_accepted(error, resume):
            return None, _answers(error, resume)
        declined = f"The user declined what {error.tool_name} needed; it did not run."
        return (declined, None, True), None

    # ------------------------------------------------------------------ the pool's loop

    async def _poll(self, user: str, task_id: str, pool: SessionPool) -> Answer:
        """Poll a started task to its end (see :mod:`scalekit_langchain._mcp_tasks`)."""
        async with pool.lease(user) as session:
            result = await poll_task(session, task_id)
        if result.raw is None:  # failed or cancelled
            return result.text, None, True
        content, artifact = to_langchain(result)
        return content, artifact, result.is_error

    async def _send(
        self,
        user: str,
        tool: str,
        arguments: dict[str, Any],
        pool: SessionPool,
        progress: Callable[..., Any] | None = None,
        turn: Turn | None = None,
        answers: dict[str, Any] | None = None,
    ) -> Answer:
        connections = (await self.connection_map(user)).connections_for(tool)
        if not self.tracker.known_active(user, connections):
            await self._require(user, connections, turn)
        refused = await self.listings.admit(user, tool, arguments, pool)  # offered to the user?
        if refused is not None:
            await self._require(user, connections, turn)  # hidden until authorized: pause
            return refused, None, True
        for attempt in (0, 1):
            try:
                async with pool.lease(user) as session:
                    result = await session.call_tool_on_loop(
                        tool, arguments, progress=progress, **(answers or {})
                    )
            except ToolCallRejected as exc:
                await self._require(user, connections, turn)
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
                await self._require(user, connections, turn)
                continue
            if result.task is not None:  # 2026-07-28 tasks: the tool runs on; poll it
                raise TaskStarted(task_id_of(result.task))
            if result.input_required is not None:  # 2026-07-28: the server needs input first
                asked = _input_requests(result.input_required)
                if asked is None:
                    text = f"Error: the server asked for input {tool!r} cannot be given here"
                    return text, None, True
                state = result.input_required.get("requestState") or ""
                raise ElicitationRequired(tool, asked, request_state=state)
            if looks_like_refusal(result):
                await self._require(user, connections, turn)
            content, artifact = to_langchain(result)
            return content, artifact, result.is_error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _require(
        self, user: str, connections: tuple[str, ...], turn: Turn | None
    ) -> None:
        """Ask Scalekit; unless every one of ``connections`` is ACTIVE now, raise
        :class:`AuthorizationRequired` listing every connection the call's whole model turn
        needs that is not ACTIVE (fresh links, in the config's order), so that one pause covers
        the turn: the user authorizes them all and one resume finishes it. A turn the graph
        state does not show lists every connection of the config (see :mod:`._turns`)."""
        # Scalekit is asked on the session loop, where the REST clients live.
        states = await _session_loop.run(self.tracker.fetch(user, include_links=True))
        if not pending_among(states, connections):
            return
        listed = list(connections)
        if turn is not None:
            cmap = await self.connection_map(user)
            names = turn()
            if names is None:
                listed.extend(cmap.connections)
            for name in names or ():
                listed.extend(cmap.connections_for(name))
            order = {name: i for i, name in enumerate(cmap.connections)}
            listed = sorted(dict.fromkeys(listed), key=lambda c: order.get(c, len(order)))
        raise AuthorizationRequired(pending_among(states, listed), user_identifier=user)

    async def _forget(self, user: str) -> None:
        self.access.forget(user)
        self.tracker.forget(user)
