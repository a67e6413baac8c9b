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

Every call pays the check, so a schema of the usual shape (an object of typed properties, some
required) is first checked by a few ``isinstance`` calls; ``jsonschema`` (about ten times the
cost) decides only when that quick look is not sure, and writes the message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]

__all__ = ["SchemaCheck", "encoding_problem"]

#: A problem's text is for the model; an argument's value quoted in it is cut to this length.
_MAX_PROBLEM = 300

#: JSON types -> the Python types that surely are of that type (bool is no integer or number;
#: a float may still be an integer: jsonschema decides).
_SURE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}
#: Annotations: they constrain nothing (``format`` is not asserted by our validators either).
_NOTES = {"description", "title", "default", "examples", "$comment", "deprecated", "format"}
_TOP_KEYS = {"type", "properties", "required", "additionalProperties", "$schema"} | _NOTES
_PROPERTY_KEYS = {"type", "items"} | _NOTES
_ITEM_KEYS = {"type"} | _NOTES

_Quick = tuple[tuple[str, ...], dict[str, tuple[str, str | None]], bool]


def _sure_of_type(value: Any, json_type: str) -> bool:
    if isinstance(value, bool) and json_type != "boolean":
        return False
    return isinstance(value, _SURE_TYPES[json_type])


def _quick_plan(schema: dict[str, Any]) -> _Quick | None:
    """``(required, {name: (type, item type)}, extra allowed)`` for a schema of the usual
    shape, else ``None`` (then jsonschema checks every call)."""
    if not set(schema) <= _TOP_KEYS or schema.get("type") != "object":
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list) or extra not in (
        True,
        False,
    ):
        return None
    plan: dict[str, tuple[str, str | None]] = {}
    for name, spec in properties.items():
        if not isinstance(spec, dict) or not set(spec) <= _PROPERTY_KEYS:
            return None
        json_type, items = spec.get("type"), spec.get("items")
        if not isinstance(json_type, str) or json_type not in _SURE_TYPES:
            return None
        item_type = None
        if items is not None:
            if json_type != "array" or not isinstance(items, dict) or not set(items) <= _ITEM_KEYS:
                return None
            item_type = items.get("type")
            if not isinstance(item_type, str) or item_type not in _SURE_TYPES:
                return None
        plan[name] = (json_type, item_type)
    if not all(isinstance(name, str) for name in required):
        return None
    return tuple(required), plan, bool(extra)


def _surely_valid(plan: _Quick, arguments: Mapping[str, Any]) -> bool:
    required, properties, extra = plan
    if any(name not in arguments for name in required):
        return False
    for name, value in arguments.items():
        spec = properties.get(name)
        if spec is None:
            if not extra:
                return False
            continue
        json_type, item_type = spec
        if not _sure_of_type(value, json_type):
            return False
        if item_type is not None and not all(_sure_of_type(v, item_type) for v in value):
            return False
    return True


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
        self._quick: _Quick | None = None
        if isinstance(schema, dict) and schema:
            try:
                cls = jsonschema.validators.validator_for(schema)
                cls.check_schema(schema)
                self._validator = cls(schema)
            except Exception:  # the schema itself is broken: the server decides
                self._validator = None
            else:
                self._quick = _quick_plan(schema)

    def problem(self, arguments: Mapping[str, Any]) -> str | None:
        """Why the schema refuses ``arguments`` (the most relevant reason), or ``None``."""
        if self._validator is None:
            return None
        if self._quick is not None and _surely_valid(self._quick, arguments):
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
