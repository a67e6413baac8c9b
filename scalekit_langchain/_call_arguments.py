"""A tool call's arguments, checked before the call reaches a session.

MCP carries arguments as JSON in UTF-8. What JSON cannot carry fails (or is quietly changed)
inside the SDK, on the user's shared session, after the call has left the caller: a lone
surrogate (``"\\ud83d"``, which a model's JSON may well contain) broke the whole session, so a
sibling's mail that had gone out came back as ``ToolCallOutcomeUnknown``; ``NaN`` went out as
``null``, ``bytes`` as text. So every call is checked first, and a call that fails is that call's
error only, one the model can fix (``ToolMessage(status="error")``), with nothing sent:

* :func:`encoding_problem`: a value JSON has no form for (``NaN``/``Infinity``, ``bytes``, sets,
  objects), a string UTF-8 cannot encode (lone surrogates), an object key that is not a string;
* :class:`SchemaCheck`: what the tool's input schema (from ``tools/list``) refuses. The server
  stays the judge where we cannot be one: an input schema that is itself invalid, or whose
  ``$ref`` we cannot resolve, checks nothing here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]

__all__ = ["SchemaCheck", "encoding_problem"]

#: A problem's text is for the model; an argument's value quoted in it is cut to this length.
_MAX_PROBLEM = 300


def _where(path: str) -> str:
    return f"argument {path!r}" if path else "the arguments"


def _walk(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, (bool, int)):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"{_where(path)} holds a lone surrogate ({value[exc.start]!r} at position "
                f"{exc.start}), which UTF-8, and so JSON-RPC, cannot carry"
            )
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return f"{_where(path)} is {value!r}, which is not a JSON number"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{_where(path)} has the key {key!r}; JSON object keys are strings"
            inner = f"{path}.{key}" if path else key
            problem = _walk(key, path) or _walk(item, inner)
            if problem is not None:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = _walk(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    return f"{_where(path)} is a {type(value).__name__}, which JSON cannot carry"


def encoding_problem(arguments: Mapping[str, Any]) -> str | None:
    """What keeps ``arguments`` from being sent as JSON in UTF-8, or ``None`` when nothing does.

    The text names the argument (``"attendees[0].email"``) and the reason, for the model.
    """
    try:
        return _walk(arguments, "")
    except RecursionError:
        return "the arguments are nested too deeply (or contain themselves)"


class SchemaCheck:
    """A tool's input schema, compiled once, as a check of a call's arguments.

    Args:
        schema: The tool's ``inputSchema``; ``None``, an invalid schema or a non-dict checks
            nothing.
    """

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self._validator: Any = None
        if isinstance(schema, dict) and schema:
            try:
                cls = jsonschema.validators.validator_for(schema)
                cls.check_schema(schema)
                self._validator = cls(schema)
            except Exception:  # the schema itself is broken: the server decides
                self._validator = None

    def problem(self, arguments: Mapping[str, Any]) -> str | None:
        """Why the schema refuses ``arguments`` (the most relevant reason), or ``None``."""
        if self._validator is None:
            return None
        try:
            error = jsonschema.exceptions.best_match(self._validator.iter_errors(arguments))
        except Exception:  # e.g. a $ref we cannot resolve: the server decides
            return None
        if error is None:
            return None
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        ).lstrip(".")
        message = str(error.message)
        if len(message) > _MAX_PROBLEM:
            message = message[:_MAX_PROBLEM] + "..."
        return f"{_where(path)}: {message}"
