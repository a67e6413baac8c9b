"""Which MCP protocol eras the emulator's servers speak, and the 2026-07-28 era's rules (no I/O).

Two eras exist (the project's reference notes, "MCP protocol 2026-07-28"):

* **handshake** (2024-11-05 … 2025-11-25): ``initialize`` opens a session
  (``Mcp-Session-Id``), ``notifications/initialized``, an optional standing GET stream;
* **new** (2026-07-28): no handshake and no session. ``server/discover`` says what the server
  speaks; every request carries its protocol version, client info and capabilities in
  ``params._meta`` (``io.modelcontextprotocol/protocolVersion``, ``…/clientInfo``,
  ``…/clientCapabilities``); a version the server does not speak is JSON-RPC error ``-32022``
  with ``data.supported``; results carry ``resultType`` and ``tools/list`` results carry
  ``ttlMs`` / ``cacheScope``.

:data:`MCP_ERAS` are the emulator's choices (``mcp_era=``, ``--mcp-era``, a doctor profile):

=============  ================================================================================
``handshake``  the default: ``initialize`` only; a sessionless ``server/discover`` is ``-32601``
``both``       ``initialize`` opens handshake sessions, ``server/discover`` and requests with a
               protocol version in ``_meta`` are served without a session
``new``        2026-07-28 only: ``initialize`` (and a request with no version in ``_meta``) is
               ``-32022`` naming 2026-07-28; ``GET`` is 405
=============  ================================================================================

Readings chosen where the revision leaves room: a sessionless request without a version in
``_meta`` to a ``both`` server is treated as a handshake-era request (400, missing session id);
the ``data.supported`` list names every version the server speaks (handshake ones too in
``both``), so a client can fall back.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal, get_args

from scalekit_langchain.testing._jsonrpc import JsonRpcError

McpEra = Literal["handshake", "both", "new"]
#: The emulator's era settings, oldest first.
MCP_ERAS: tuple[McpEra, ...] = get_args(McpEra)

#: The sessionless revision.
NEW_ERA_VERSION = "2026-07-28"
NEW_ERA_VERSIONS: tuple[str, ...] = (NEW_ERA_VERSION,)

#: JSON-RPC error: the request's protocol version is not one the server speaks.
UNSUPPORTED_PROTOCOL_VERSION = -32022

VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_META = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"


def check_mcp_era(era: str) -> McpEra:
    """Return ``era`` if it is one of :data:`MCP_ERAS`.

    Raises:
        ValueError: Unknown era.
    """
    for known in MCP_ERAS:
        if era == known:
            return known
    raise ValueError(f"unknown MCP era {era!r}; expected one of {MCP_ERAS}")


def request_version(params: dict[str, Any]) -> str | None:
    """The protocol version a request names in ``params._meta`` (``None``: none, so a
    handshake-era request)."""
    meta = params.get("_meta")
    version = meta.get(VERSION_META) if isinstance(meta, dict) else None
    return version if isinstance(version, str) and version else None


def supported_versions(era: McpEra, handshake_versions: tuple[str, ...]) -> list[str]:
    """Every version a server of ``era`` speaks, oldest first."""
    if era == "new":
        return list(NEW_ERA_VERSIONS)
    if era == "both":
        return [*handshake_versions, *NEW_ERA_VERSIONS]
    return list(handshake_versions)


def unsupported(version: str | None, supported: list[str]) -> JsonRpcError:
    """The ``-32022`` error for a version the server does not speak."""
    return JsonRpcError(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {version!r}" if version else "Protocol version required",
        data={"supported": supported, "requested": version},
    )


def check_new_era_request(params: dict[str, Any]) -> str:
    """The request's 2026-07-28 version.

    Raises:
        JsonRpcError: ``-32022`` when ``_meta`` names no version or one not spoken here.
    """
    version = request_version(params)
    if version not in NEW_ERA_VERSIONS:
        raise unsupported(version, list(NEW_ERA_VERSIONS))
    return version


def stamp_result(
    message: dict[str, Any] | None, method: str, tools_ttl_ms: int, tools_cache_scope: str
) -> None:
    """Give a 2026-07-28 success answer its ``resultType`` (and a ``tools/list`` answer its
    ``ttlMs`` / ``cacheScope``), in place."""
    result = message.get("result") if message is not None else None
    if not isinstance(result, dict):
        return
    result.setdefault("resultType", "complete")
    if method == "tools/list":
        result.setdefault("ttlMs", tools_ttl_ms)
        result.setdefault("cacheScope", tools_cache_scope)


def input_round(
    params: dict[str, Any], tools: frozenset[str], states: dict[str, str], base_url: str
) -> dict[str, Any] | None:
    """The 2026-07-28 ``input_required`` answer a ``tools/call`` gets first, when its tool is in
    ``tools`` (the emulator's ``url_elicitation_tools`` setting): one URL-mode elicitation
    (key ``"confirm"``) and an opaque ``requestState``. Sent again with that state and an
    ``accept`` answer for the key, the call may run (``None``); the state is then used up.

    Args:
        params: The ``tools/call`` params.
        tools: The tools that need the round.
        states: Live request states (state -> tool name), kept by the caller.
        base_url: Where the (placeholder) elicitation URL points.
    """
    name = params.get("name")
    if name not in tools:
        return None
    state = params.get("requestState")
    answers = params.get("inputResponses")
    answer = answers.get("confirm") if isinstance(answers, dict) else None
    accepted = isinstance(answer, dict) and answer.get("action") == "accept"
    if isinstance(state, str) and states.get(state) == name and accepted:
        del states[state]
        return None
    state = "rs_" + secrets.token_hex(8)
    states[state] = str(name)
    request = {
        "method": "elicitation/create",
        "params": {
            "mode": "url",
            "message": f"Confirm {name} in your browser",
            "url": f"{base_url}/confirm/{state}",
            "elicitationId": state,
        },
    }
    asked = {"confirm": request}
    return {"resultType": "input_required", "inputRequests": asked, "requestState": state}


TASKS_EXTENSION = "io.modelcontextprotocol/tasks"


def wants_tasks(params: dict[str, Any]) -> bool:
    """Whether a 2026-07-28 request's client advertised the tasks extension."""
    meta = params.get("_meta")
    caps = meta.get(CLIENT_CAPABILITIES_META) if isinstance(meta, dict) else None
    extensions = caps.get("extensions") if isinstance(caps, dict) else None
    return isinstance(extensions, dict) and TASKS_EXTENSION in extensions


class TaskBoard:
    """The emulator's tasks (tasks extension, 2026-07-28), behind ``task_tools``.

    Readings: a task tool runs when called (its side effect happens then) and answers with a
    handle ``{"resultType": "task", "task": {taskId, status: "working", ...}}`` (the 2025-11-25
    ``Task`` fields); ``tasks/get`` answers ``working`` once, then ``completed``; ``tasks/result``
    answers the stored ``CallToolResult``. Tasks are bound to the URL and user that started them.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, dict[str, Any]] = {}

    def start(self, result: dict[str, Any], binding: str) -> dict[str, Any]:
        """Keep a finished call's result; return the task handle to answer with."""
        task_id = "task_" + secrets.token_hex(8)
        self._tasks[task_id] = {"result": result, "binding": binding, "polls": 0}
        return {"resultType": "task", "task": self._task(task_id, "working")}

    @staticmethod
    def _task(task_id: str, status: str) -> dict[str, Any]:
        now = "2026-07-28T00:00:00Z"
        return {
            "taskId": task_id,
            "status": status,
            "createdAt": now,
            "lastUpdatedAt": now,
            "ttl": 60_000,
            "pollInterval": 20,
        }

    def _find(self, params: dict[str, Any], binding: str) -> tuple[str, dict[str, Any]]:
        task_id = params.get("taskId")
        found = self._tasks.get(task_id) if isinstance(task_id, str) else None
        if found is None or found["binding"] != binding:
            raise JsonRpcError(-32602, f"Invalid params: unknown task {task_id!r}")
        assert isinstance(task_id, str)
        return task_id, found

    def get(self, params: dict[str, Any], binding: str) -> dict[str, Any]:
        """``tasks/get``: ``working`` on the first poll, ``completed`` after."""
        task_id, found = self._find(params, binding)
        found["polls"] += 1
        status = "working" if found["polls"] == 1 else "completed"
        return {**self._task(task_id, status), "resultType": "complete"}

    def result(self, params: dict[str, Any], binding: str) -> dict[str, Any]:
        """``tasks/result``: the call's result."""
        _, found = self._find(params, binding)
        return {**found["result"], "resultType": "complete"}


def discover_result(
    supported: list[str],
    capabilities: dict[str, Any],
    server_info: dict[str, Any],
    instructions: str,
) -> dict[str, Any]:
    """The ``server/discover`` result (``ttlMs`` 0: the answer is not cached)."""
    return {
        "supportedVersions": supported,
        "capabilities": capabilities,
        "instructions": instructions,
        "resultType": "complete",
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": {SERVER_INFO_META: server_info},
    }


__all__ = [
    "CLIENT_CAPABILITIES_META",
    "CLIENT_INFO_META",
    "MCP_ERAS",
    "NEW_ERA_VERSION",
    "NEW_ERA_VERSIONS",
    "SERVER_INFO_META",
    "TASKS_EXTENSION",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "VERSION_META",
    "McpEra",
    "TaskBoard",
    "check_mcp_era",
    "check_new_era_request",
    "discover_result",
    "input_round",
    "request_version",
    "stamp_result",
    "supported_versions",
    "unsupported",
    "wants_tasks",
]
