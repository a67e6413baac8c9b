"""JSON-RPC 2.0 message checks and builders for the emulator's MCP endpoint (no I/O).

Only what a streamable-HTTP MCP server needs: classify one incoming message, and build
result and error responses. Nothing here imports the ``mcp`` SDK, so the emulator serves the
same bytes whichever SDK generation (1.x or 2.x) is installed beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: Implementation-defined server error (JSON-RPC reserves -32000..-32099 for these).
SERVER_ERROR = -32001

RequestId = str | int

MessageKind = Literal["request", "notification", "response"]


class JsonRpcError(Exception):
    """A message that must be answered with a JSON-RPC error.

    Attributes:
        code: The JSON-RPC error code.
        message: The human-readable message.
        request_id: The id to answer to (None when it could not be read).
        data: The error's ``data`` member, if any.
    """

    def __init__(
        self, code: int, message: str, request_id: RequestId | None = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.data = data

    def response(self) -> dict[str, Any]:
        """Return the JSON-RPC error response for this error."""
        return error_response(self.request_id, self.code, self.message, self.data)


@dataclass(frozen=True)
class Incoming:
    """One well-formed JSON-RPC message received from a client.

    Attributes:
        kind: ``request`` (has an id and a method), ``notification`` (a method, no id) or
            ``response`` (an answer to a server request; the emulator never sends any).
        method: The method name; ``""`` for responses.
        params: The params object (``{}`` when absent).
        request_id: The id of a request; None otherwise.
    """

    kind: MessageKind
    method: str
    params: dict[str, Any]
    request_id: RequestId | None


@dataclass(frozen=True)
class Reply:
    """How to answer one POST.

    Attributes:
        status: HTTP status. A 200 with a ``message`` is sent in the endpoint's answer mode
            (SSE or JSON); 202 has no body; any other status sends ``message`` as JSON.
        message: The JSON-RPC message to send, if any.
        headers: Extra response headers (lowercase names).
    """

    status: int = 200
    message: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()


ACCEPTED = Reply(202)


def _valid_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def parse_message(body: bytes) -> Incoming:
    """Parse and check the body of one POST.

    Args:
        body: The raw request body.

    Returns:
        The message.

    Raises:
        JsonRpcError: ``-32700`` when the body is not JSON; ``-32600`` when it is not one
            JSON-RPC 2.0 message (batches included: no protocol revision the emulator speaks
            needs them); ``-32602`` when ``params`` is not an object.
    """
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise JsonRpcError(PARSE_ERROR, "Parse error: the body is not valid JSON") from None
    if isinstance(raw, list):
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: batches are not supported")
    if not isinstance(raw, dict) or raw.get("jsonrpc") != "2.0":
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
    has_id = "id" in raw
    request_id = raw.get("id")
    if has_id and not _valid_id(request_id):
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
    method = raw.get("method")
    if method is None:
        if has_id and ("result" in raw or "error" in raw):
            return Incoming("response", "", {}, request_id)
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: no method", request_id)
    if not isinstance(method, str) or not method:
        raise JsonRpcError(INVALID_REQUEST, "Invalid Request: method must be a string", request_id)
    params = raw.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise JsonRpcError(INVALID_PARAMS, "Invalid params: params must be an object", request_id)
    if has_id:
        return Incoming("request", method, params, request_id)
    return Incoming("notification", method, params, None)


def result_response(request_id: RequestId | None, result: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON-RPC success response."""
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(
    request_id: RequestId | None, code: int, message: str, data: Any = None
) -> dict[str, Any]:
    """Return a JSON-RPC error response (``data`` only when given)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def encode(message: dict[str, Any]) -> bytes:
    """Serialise a message as compact UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
