"""Paging of listings: ``page_size`` (default 10, at most 30) and opaque page tokens."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from scalekit_langchain.testing._errors import invalid

MAX_PAGE_SIZE = 30
DEFAULT_PAGE_SIZE = 10


@dataclass
class Page:
    """One page of a listing."""

    items: list[Any]
    next_page_token: str
    prev_page_token: str
    total_size: int


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_offset(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("page_token", "invalid page token") from None
    prefix, _, number = raw.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise invalid("page_token", "invalid page token")
    return int(number)


def paginate(items: list[Any], query: dict[str, str]) -> Page:
    """Cut one page out of ``items`` following ``page_size``/``page_token`` in ``query``.

    Raises:
        ApiError: 400 for a page size that is not an integer in 0..30 or a bad page token.
    """
    raw_size = query.get("page_size", "")
    if raw_size == "":
        size = DEFAULT_PAGE_SIZE
    else:
        try:
            size = int(raw_size)
        except ValueError:
            raise invalid("page_size", "must be an unsigned integer") from None
        if size < 0:
            raise invalid("page_size", "must be an unsigned integer")
        if size > MAX_PAGE_SIZE:
            raise invalid("page_size", f"value must be less than or equal to {MAX_PAGE_SIZE}")
        if size == 0:
            size = DEFAULT_PAGE_SIZE
    token = query.get("page_token", "")
    offset = _decode_offset(token) if token else 0
    if offset > len(items):
        raise invalid("page_token", "page token is out of range")
    page = items[offset : offset + size]
    end = offset + len(page)
    return Page(
        items=page,
        next_page_token=_encode_offset(end) if end < len(items) else "",
        prev_page_token=_encode_offset(max(0, offset - size)) if offset > 0 else "",
        total_size=len(items),
    )
