"""HTTP/2 to MCP servers (the optional ``h2`` extra), and what an HTTP/2 failure proves.

**When.** A session's connection pool is built with HTTP/2 enabled when the ``h2`` package is
importable (``pip install "scalekit-langchain[h2]"``), the MCP URL is ``https://`` and the
toolkit's ``http2`` option is not ``False``. TLS's ALPN then picks ``h2`` where the server offers
it and HTTP/1.1 where it does not; plain ``http://`` stays HTTP/1.1 (no h2c). On ``h2`` the
parallel tool calls of one model turn share one connection as concurrent streams (HTTP/1.1
opens a connection per call in flight).

**Never twice.** A tool call is re-sent only when the server provably did not process it. On
HTTP/2 exactly two signals prove that (RFC 9113 §8.7):

* ``GOAWAY`` whose ``last_stream_id`` is below the call's stream id: the server says it did
  not and will not process that stream. httpcore re-sends such a request on a new connection by
  itself when ``last_stream_id`` is non-zero; a ``GOAWAY`` with ``last_stream_id`` 0, or one
  seen while the request was being written, reaches us as a ``RemoteProtocolError`` carrying
  the ``ConnectionTerminated`` event, judged here against the stream id :class:`StreamIds`
  recorded from httpcore's trace;
* ``RST_STREAM`` with ``REFUSED_STREAM`` before any response: the stream was refused unprocessed.

Everything else (a reset with another code, a ``GOAWAY`` covering the stream, a dropped
connection) leaves a write's outcome unknown. The proof is read from the httpcore exception the
HTTP library chains its own from (``__cause__``) and from the ``h2`` event in it; when either is
missing (another transport, another version), nothing is proven: the outcome stays unknown.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from scalekit_langchain.errors import ScalekitConfigurationError

__all__ = [
    "Http2Option",
    "StreamIds",
    "check_http2",
    "h2_installed",
    "never_processed",
    "use_http2",
]

#: RST_STREAM / GOAWAY error code REFUSED_STREAM (RFC 9113 §7).
_REFUSED_STREAM = 0x7
_NOT_INSTALLED = (
    'http2=True needs the h2 package: pip install "scalekit-langchain[h2]" '
    "(or pass http2=None to use HTTP/2 only where it is installed)"
)


def h2_installed() -> bool:
    """Whether the ``h2`` package (what httpx/httpx2 speak HTTP/2 with) can be imported."""
    try:
        importlib.import_module("h2")
    except ImportError:
        return False
    return True


def check_http2(value: bool | None) -> bool | None:
    """Validate the toolkit's ``http2`` option: ``True`` requires the ``h2`` extra.

    Raises:
        ScalekitConfigurationError: ``True`` without ``h2`` installed.
    """
    if value is True and not h2_installed():
        raise ScalekitConfigurationError(_NOT_INSTALLED)
    return value


#: The toolkit's ``http2`` option: None (use HTTP/2 where ``h2`` is installed), False (never),
#: True (require it: a configuration error without ``h2``).
Http2Option = Annotated[bool | None, AfterValidator(check_http2)]


def use_http2(option: bool | None, url: str) -> bool:
    """Whether a session to ``url`` offers HTTP/2: https only, never when ``option`` is False,
    when ``h2`` is installed (required when ``option`` is True)."""
    if option is False or urlsplit(url).scheme != "https":
        return False
    if option is True:
        check_http2(True)
        return True
    return h2_installed()


class StreamIds:
    """Records the HTTP/2 stream id a request is sent on, through httpcore's ``trace``
    extension (chaining a trace the caller set). ``stream_id`` stays None on HTTP/1.1."""

    def __init__(self, extensions: dict[str, Any]) -> None:
        self.stream_id: int | None = None
        self._outer: Callable[[str, dict[str, Any]], Awaitable[None]] | None = extensions.get(
            "trace"
        )
        extensions["trace"] = self._trace

    async def _trace(self, name: str, info: dict[str, Any]) -> None:
        if name == "http2.send_request_headers.started":
            stream_id = info.get("stream_id")
            if isinstance(stream_id, int):
                self.stream_id = stream_id
        if self._outer is not None:
            await self._outer(name, info)


def _h2_event(exc: BaseException) -> Any:
    """The ``h2`` event an httpcore ``RemoteProtocolError`` was raised with, if any."""
    cause = exc.__cause__
    if cause is None or type(cause).__name__ != "RemoteProtocolError":
        return None
    if not type(cause).__module__.startswith("httpcore"):
        return None
    event = cause.args[0] if cause.args else None
    module = type(event).__module__
    return event if module.startswith("h2.") else None


def never_processed(exc: BaseException, stream_id: int | None) -> bool:
    """Whether ``exc`` (raised while sending a request on ``stream_id``, before any response)
    proves the server did not process the request. See the module docstring."""
    event = _h2_event(exc)
    if event is None:
        return False
    kind = type(event).__name__
    if kind == "StreamReset":
        return (
            stream_id is not None
            and getattr(event, "stream_id", None) == stream_id
            and getattr(event, "error_code", None) == _REFUSED_STREAM
        )
    if kind == "ConnectionTerminated":
        last = getattr(event, "last_stream_id", None)
        if not isinstance(last, int):
            return False
        # Client stream ids start at 1: a GOAWAY naming stream 0 processed none of them.
        return last == 0 or (stream_id is not None and stream_id > last)
    return False
