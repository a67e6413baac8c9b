"""One tool call, from the model's arguments to the answer: check, send once, classify, keep.

The caller's side (:meth:`CallRunner.arun` / :meth:`CallRunner.run`, in the caller's loop or
thread, where LangGraph's ``interrupt()`` and the checkpointer live):

1. a call the ledger already holds (a resumed or retried node) returns its recorded answer,
   or raises :class:`ToolCallOutcomeUnknown` again — it is never sent twice;
2. otherwise the call goes to the session loop (:meth:`CallRunner._send`);
3. :class:`AuthorizationRequired` pauses the run (interrupt) and, once resumed, the same call
   starts over from step 2; outside a graph it is raised;
4. the answer (or an unknown outcome) is recorded before it is returned.

The session loop's side (:meth:`CallRunner._send`):

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
import weakref
from collections.abc import Callable, Generator
from typing import Any, cast

from langchain_core.runnables import RunnableConfig

from scalekit_langchain import _runner
from scalekit_langchain._mcp_compat import ToolSpec, to_langchain
from scalekit_langchain.access import UserAccess
from scalekit_langchain.auth import AuthTracker, ConnectionMap, is_active, looks_like_refusal
from scalekit_langchain.errors import (
    AuthorizationRequired,
    ElicitationRequired,
    NotFoundError,
    ToolCallOutcomeUnknown,
    ToolCallRejected,
    error_class_for_status,
)
from scalekit_langchain.langgraph import elicitation_accepted, pause_for_authorization
from scalekit_langchain.ledger import CallKey, CallLedger, call_key
from scalekit_langchain.mcp_features import ElicitationHandler, ProgressRelay, SessionHooks
from scalekit_langchain.pool import SessionPool
from scalekit_langchain.session import McpSession
from scalekit_langchain.tools import ScalekitMCPTool, ToolBackend

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


def _weak_callback(callback: Callable[[], None] | None) -> Callable[[], None] | None:
    """``callback`` (a bound method) held weakly: calling it after its object died is a no-op."""
    if callback is None or not hasattr(callback, "__self__"):
        return callback
    ref = weakref.WeakMethod(callback)

    def call() -> None:
        method = ref()
        if method is not None:
            method()

    return call


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
        ledger: Answers of calls that reached the server.
        call_timeout: Seconds to wait for a tool's answer.
        connect_timeout: Seconds to open an MCP session.
        refresh_margin: Reconnect this many seconds before expiring credentials expire.
        interrupt: Pause LangGraph runs for authorization (else always raise).
        sampling_model: Answers the servers' sampling requests (none: refused).
        elicitation_handler: Answers the servers' elicitation requests (none: declined).
        on_tools_changed: Called when a server says its tool list changed.
    """

    pool: SessionPool

    def __init__(
        self,
        access: UserAccess,
        tracker: AuthTracker,
        *,
        ledger: CallLedger,
        call_timeout: float,
        connect_timeout: float,
        refresh_margin: float,
        interrupt: bool = True,
        sampling_model: Any | None = None,
        elicitation_handler: ElicitationHandler | None = None,
        on_tools_changed: Callable[[], None] | None = None,
    ) -> None:
        self._sampling_model = sampling_model
        self._elicitation_handler = elicitation_handler
        # Held weakly: live sessions (kept by the session loop) must not keep a toolkit alive.
        self._on_tools_changed = _weak_callback(on_tools_changed)
        self.access = access
        self.tracker = tracker
        self.ledger = ledger
        self._call_timeout = call_timeout
        self._connect_timeout = connect_timeout
        self._refresh_margin = refresh_margin
        self._interrupt = interrupt
        self._maps: dict[str, ConnectionMap] = {}
        self.pending_at_discovery: list[Any] = []
        self._inflight: dict[tuple[str, str], set[asyncio.Future[Answer]]] = {}

    # ------------------------------------------------------------------ sessions and tools

    async def open_session(self, user: str) -> McpSession:
        """A new (lazily connecting) session for ``user``; the pool's factory."""

        async def params() -> Any:
            return await self.access.connect_params(user)

        label = f"{self.access.scope}/{user}"
        hooks = SessionHooks(
            label,
            on_tools_changed=self._on_tools_changed,
            sampling_model=self._sampling_model,
            elicitation_handler=self._elicitation_handler,
        )
        return McpSession(
            params,
            label=label,
            call_timeout=self._call_timeout,
            connect_timeout=self._connect_timeout,
            refresh_margin=self._refresh_margin,
            hooks=hooks,
        )

    async def _map(self, user: str) -> ConnectionMap:
        found = self._maps.get(user)
        if found is None:
            found = self._maps[user] = await self.access.connection_map(user)
        return found

    async def discover(
        self,
        user: str,
        *,
        only: list[str] | None,
        name_prefix: str | None,
        backend: ToolBackend,
        config_name: str,
    ) -> list[Any]:
        """List the tools through ``user``'s session (auth state read alongside) and build them.

        Tools the config names but the server does not list while their connection is not
        ACTIVE (a server may hide them) are built as placeholders that pause for authorization.
        """
        cmap = await self._map(user)

        async def listed() -> list[ToolSpec]:
            async with self.pool.lease(user) as session:
                return await session._list_tools()

        seen = self.tracker.last_seen(user)
        if seen is not None:  # a returning user: no REST request before the first call
            states, specs = seen, await listed()
        else:  # read the auth state while the MCP session initializes
            states, specs = await asyncio.gather(
                self.tracker.fetch(user, include_links=False), listed()
            )
        self.pending_at_discovery = [s for s in states if not s.is_active]
        for pending in self.pending_at_discovery:
            logger.info(
                "Connection %s (%s) is %s for user %r; tools that use it will ask for "
                "authorization",
                pending.connection_name,
                pending.provider,
                pending.status or "not set up",
                user,
            )
        statuses = {s.connection_name: s.status for s in states}
        providers = {s.connection_name: s.provider for s in states}
        listed_names = {s.name for s in specs}
        hidden = [
            name
            for name, conn in cmap.explicit_tools().items()
            if name not in listed_names and not is_active(statuses.get(conn))
        ]
        available = listed_names | set(hidden)
        if only is not None:
            unknown = sorted(set(only) - available)
            if unknown:
                raise ValueError(
                    f"tools: {unknown} not offered by config {config_name!r}; "
                    f"available: {sorted(available)}"
                )
        if name_prefix is not None:
            too_long = [n for n in available if len(name_prefix) + 1 + len(n) > 64]
            if too_long:
                raise ValueError(
                    f"tool_name_prefix {name_prefix!r} makes these tool names longer than the "
                    f"64 characters models accept: {sorted(too_long)}"
                )
        built: list[Any] = []
        entries: list[tuple[str, ToolSpec | None]] = [(s.name, s) for s in specs]
        entries += [(name, None) for name in hidden]
        for name, spec in entries:
            if only is not None and name not in only:
                continue
            connections = cmap.connections_for(name)
            connection = connections[0] if len(connections) == 1 else None
            metadata = {
                "scalekit_config": config_name,
                "scalekit_connection": connection,
                "scalekit_provider": providers.get(connection) if connection else None,
            }
            tags = ["scalekit", f"scalekit:{config_name}"]
            if connection:
                tags.append(f"scalekit_connection:{connection}")
            built.append(
                ScalekitMCPTool.from_spec(
                    spec,
                    backend,
                    mcp_name=name,
                    name_prefix=name_prefix,
                    metadata=metadata,
                    tags=tags,
                )
            )
        return built

    async def pending_all(self, user: str) -> list[Any]:
        """Every connection of ``user`` not ACTIVE (fresh links); no request while all of the
        config's connections were last seen ACTIVE."""
        cmap = await self._map(user)
        if cmap.connections and self.tracker.known_active(user, cmap.connections):
            return []
        return await self.tracker.pending(user)

    async def aclose(self) -> None:
        """Close every session."""
        await _runner.run(self.pool.aclose())

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
        if key is None and not _runner.on_session_loop():
            # Nothing to record and no sibling to wait for (outside a graph): the work on the
            # session loop is simply not cancelled with the caller — the guarantee of the
            # shielded task below, without a task and a shield on the caller's loop.
            return await _runner.run(
                self._send(user, tool, arguments, relay.callback), shielded=True
            )

        async def send_and_record() -> Answer:
            try:
                answer = await _runner.run(self._send(user, tool, arguments, relay.callback))
            except ToolCallOutcomeUnknown as exc:
                if key is not None:
                    await self.ledger.arecord(
                        config, key, {"outcome": "unknown", "detail": str(exc)}
                    )
                raise
            if key is not None:
                await self.ledger.arecord(config, key, _record_of(answer))
            return answer

        # A ToolNode runs the calls of one AI message together, and LangGraph cancels the
        # others when one pauses for authorization. A call that left for the server must not
        # be cancelled half-way (it may have run, and its answer would be lost): it runs in its
        # own task, shielded, and the pausing sibling waits for it (see _asettle).
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
            answer = _runner.run_sync(self._send(user, tool, arguments, relay.callback))
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
        progress: Callable[..., Any] | None = None,
    ) -> Answer:
        connections = (await self._map(user)).connections_for(tool)
        if not self.tracker.known_active(user, connections):
            await self.tracker.require(user, connections)
        for attempt in (0, 1):
            try:
                async with self.pool.lease(user) as session:
                    result = await session._call_tool(tool, arguments, progress=progress)
            except ToolCallRejected as exc:
                await self.tracker.require(user, connections)
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
                self.access.forget(user)
                self.tracker.forget(user)
                await self.pool.discard(user)
                await self.tracker.require(user, connections)
                continue
            if looks_like_refusal(result):
                await self.tracker.require(user, connections)
            content, artifact = to_langchain(result)
            return content, artifact, result.is_error
        raise AssertionError("unreachable")  # pragma: no cover
