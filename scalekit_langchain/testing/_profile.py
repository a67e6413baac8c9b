"""Emulator profiles: a ``scalekit-langchain doctor`` report turned into emulator settings.

A profile is a JSON object (a file or a dict). These top-level keys are read, each one maps onto
one emulator setting; every other key (``observations``, ``summary``, ...) is ignored, so a doctor
report is a profile as it is. A key that is missing or ``null`` keeps the emulator's default.

==============================  ===========================================================
key                             emulator setting
==============================  ===========================================================
``refusal_mode``                ``refusal_mode`` (one of ``REFUSAL_MODES``)
``answer_mode``                 ``answer_mode`` (``sse`` or ``json``)
``status_case``                 ``status_case``: ``upper`` (``ACTIVE``) or ``lower``
                                (``active``) in the auth-state APIs; ``mixed`` cannot be
                                played and is refused
``lists_unauthorized_tools``    whether ``tools/list`` shows tools of connections that are not
                                ACTIVE; ``false`` is the ``hidden`` refusal mode, so it must
                                agree with ``refusal_mode``
``protocol_version``            the newest MCP revision served: ``initialize`` answers it to
                                clients asking for a newer one, older known ones as asked
``idle_timeout``                ``idle_timeout``: seconds the server keeps an idle connection
                                open (the doctor measures it; a lower bound when it says so)
==============================  ===========================================================

The package ships ``profiles/default.json`` (:func:`default_profile_path`): the emulator's own
defaults, which are our reading of Scalekit's documentation, not a recording.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from scalekit_langchain.testing._mcp_protocol import (
    PROTOCOL_VERSIONS,
    AnswerMode,
    check_answer_mode,
)
from scalekit_langchain.testing._refusals import RefusalMode, check_refusal_mode

__all__ = [
    "PROFILE_KEYS",
    "STATUS_CASES",
    "EmulatorProfile",
    "ProfileSource",
    "StatusCase",
    "check_status_case",
    "default_profile_path",
    "load_profile",
]

StatusCase = Literal["upper", "lower"]
#: Status cases the emulator can play.
STATUS_CASES: tuple[StatusCase, ...] = get_args(StatusCase)
#: The top-level keys of a profile that map onto emulator settings.
PROFILE_KEYS = (
    "refusal_mode",
    "answer_mode",
    "status_case",
    "lists_unauthorized_tools",
    "protocol_version",
    "idle_timeout",
)

ProfileSource = str | os.PathLike[str] | Mapping[str, Any]


def check_status_case(case: str) -> StatusCase:
    """Return ``case`` if the emulator can play it.

    Raises:
        ValueError: ``mixed`` or an unknown value.
    """
    for known in STATUS_CASES:
        if case == known:
            return known
    if case == "mixed":
        raise ValueError(
            "status_case 'mixed' cannot be played by the emulator (it sends one case);"
            " set it to 'upper' or 'lower' in the profile"
        )
    raise ValueError(f"unknown status_case {case!r}; expected one of {STATUS_CASES}")


@dataclass(frozen=True)
class EmulatorProfile:
    """Emulator settings read from a profile; ``None`` keeps the emulator's default.

    Attributes:
        refusal_mode: How a tool of a non-ACTIVE connection is refused.
        answer_mode: ``sse`` or ``json`` answers to MCP POSTs.
        status_case: Case of ``connected_account_status`` in the REST answers.
        lists_unauthorized_tools: Whether such tools appear in ``tools/list``.
        protocol_version: The newest MCP revision served.
        idle_timeout: Seconds an idle connection is kept open by the server.
    """

    refusal_mode: RefusalMode | None = None
    answer_mode: AnswerMode | None = None
    status_case: StatusCase | None = None
    lists_unauthorized_tools: bool | None = None
    protocol_version: str | None = None
    idle_timeout: float | None = None


def default_profile_path() -> Path:
    """Return the path of the profile shipped with the package (the emulator's defaults)."""
    return Path(__file__).with_name("profiles") / "default.json"


def _read(source: ProfileSource) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the profile {str(path)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the profile {str(path)!r} is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the profile {str(path)!r} is not a JSON object")
    return data


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"profile key {key!r} must be a string or null, got {value!r}")
    return value


def load_profile(source: ProfileSource) -> EmulatorProfile:
    """Read a profile (a doctor report, a JSON file path, or a dict).

    Args:
        source: Path of a JSON file, or the already parsed object.

    Returns:
        The settings it names.

    Raises:
        ValueError: Unreadable file, not JSON, a value of the wrong type or unknown, a
            ``status_case`` of ``mixed``, a protocol revision the emulator does not serve, or
            ``lists_unauthorized_tools`` disagreeing with ``refusal_mode``.
    """
    data = _read(source)
    refusal = _text(data, "refusal_mode")
    answer = _text(data, "answer_mode")
    case = _text(data, "status_case")
    version = _text(data, "protocol_version")
    listed = data.get("lists_unauthorized_tools")
    idle = data.get("idle_timeout")
    if idle is not None and (
        isinstance(idle, bool) or not isinstance(idle, (int, float)) or not idle > 0
    ):
        raise ValueError(f"profile key 'idle_timeout' must be seconds > 0 or null, got {idle!r}")
    if listed is not None and not isinstance(listed, bool):
        raise ValueError(
            f"profile key 'lists_unauthorized_tools' must be a boolean or null, got {listed!r}"
        )
    if version is not None and version not in PROTOCOL_VERSIONS:
        raise ValueError(
            f"the emulator cannot serve MCP protocol version {version!r}; it serves"
            f" {', '.join(PROTOCOL_VERSIONS)}"
        )
    profile = EmulatorProfile(
        refusal_mode=check_refusal_mode(refusal) if refusal is not None else None,
        answer_mode=check_answer_mode(answer) if answer is not None else None,
        status_case=check_status_case(case) if case is not None else None,
        lists_unauthorized_tools=listed,
        protocol_version=version,
        idle_timeout=float(idle) if idle is not None else None,
    )
    if listed is not None and profile.refusal_mode is not None:
        hidden = profile.refusal_mode == "hidden"
        if listed == hidden:
            raise ValueError(
                "profile keys disagree: lists_unauthorized_tools is"
                f" {str(listed).lower()} but refusal_mode is {profile.refusal_mode!r}"
                " (the emulator hides those tools exactly in the 'hidden' mode)"
            )
    elif listed is False:
        raise ValueError("lists_unauthorized_tools false needs refusal_mode 'hidden'")
    return profile
