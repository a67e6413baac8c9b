"""Error bodies in the shape Scalekit's gRPC gateway answers with.

Every failing REST call of the emulator answers::

    {"code": <gRPC status number>, "message": "...",
     "details": [{"@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo",
                  "error_code": "NOT_FOUND", "request_info": {"request_id": "req_..."},
                  "validation_error_info": {"field_violations": [...]}}]}

``validation_error_info`` is only present for validation failures.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ERROR_INFO_TYPE = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"

#: HTTP status -> (gRPC status number, ErrorInfo.error_code).
_STATUS_TABLE: dict[int, tuple[int, str]] = {
    400: (3, "INVALID_ARGUMENT"),
    401: (16, "UNAUTHENTICATED"),
    403: (7, "PERMISSION_DENIED"),
    404: (5, "NOT_FOUND"),
    409: (6, "ALREADY_EXISTS"),
    410: (5, "NOT_FOUND"),
    429: (8, "RATE_LIMITED"),
    499: (1, "CANCELLED"),
    500: (13, "INTERNAL"),
    501: (12, "UNIMPLEMENTED"),
    502: (14, "UNAVAILABLE"),
    503: (14, "UNAVAILABLE"),
    504: (4, "DEADLINE_EXCEEDED"),
}


def grpc_for_status(status: int) -> tuple[int, str]:
    """Return the gRPC code and ErrorInfo ``error_code`` that go with an HTTP status.

    Args:
        status: An HTTP status code.

    Returns:
        ``(grpc_code, error_code)``; unknown 4xx map to INVALID_ARGUMENT, unknown 5xx to INTERNAL.
    """
    if status in _STATUS_TABLE:
        return _STATUS_TABLE[status]
    if 400 <= status < 500:
        return 3, "INVALID_ARGUMENT"
    return 13, "INTERNAL"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request.

    Attributes:
        field: The field path, e.g. ``page_size``.
        description: Why the value was refused.
    """

    field: str
    description: str


@dataclass
class ApiError(Exception):
    """An error the REST layer turns into a gRPC-gateway error response.

    Attributes:
        status: The HTTP status to answer with.
        message: The human-readable ``message``.
        error_code: Overrides the ErrorInfo ``error_code`` derived from ``status``.
        field_violations: Validation problems, reported in ``validation_error_info``.
    """

    status: int
    message: str
    error_code: str | None = None
    field_violations: Sequence[FieldViolation] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def invalid(field_name: str, description: str, message: str = "Validation error") -> ApiError:
    """Build a 400 validation error for one field.

    Args:
        field_name: The offending field.
        description: What is wrong with it.
        message: The top-level message.

    Returns:
        The error, ready to raise.
    """
    return ApiError(400, message, field_violations=(FieldViolation(field_name, description),))


def new_request_id() -> str:
    """Return a fresh request id, as sent in ``x-request-id`` and the error body."""
    return "req_" + secrets.token_hex(8)


def error_body(
    status: int,
    message: str,
    *,
    request_id: str,
    error_code: str | None = None,
    field_violations: Sequence[FieldViolation] = (),
) -> dict[str, Any]:
    """Build the JSON error body for a status.

    Args:
        status: HTTP status of the response.
        message: The ``message`` field.
        request_id: Goes into ``request_info.request_id``.
        error_code: Overrides the default ``error_code`` for the status.
        field_violations: Added as ``validation_error_info`` when not empty.

    Returns:
        The body as a JSON-ready dict.
    """
    code, default_error_code = grpc_for_status(status)
    detail: dict[str, Any] = {
        "@type": ERROR_INFO_TYPE,
        "error_code": error_code or default_error_code,
        "request_info": {"request_id": request_id},
    }
    if field_violations:
        detail["validation_error_info"] = {
            "field_violations": [
                {"field": v.field, "description": v.description} for v in field_violations
            ]
        }
    return {"code": code, "message": message, "details": [detail]}


def error_body_bytes(
    status: int,
    message: str,
    *,
    request_id: str,
    error_code: str | None = None,
    field_violations: Sequence[FieldViolation] = (),
) -> bytes:
    """Like :func:`error_body`, encoded as UTF-8 JSON."""
    return json.dumps(
        error_body(
            status,
            message,
            request_id=request_id,
            error_code=error_code,
            field_violations=field_violations,
        )
    ).encode()
