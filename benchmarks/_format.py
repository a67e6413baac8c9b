"""Markdown formatting shared by the report modules: numbers, counts, sizes and tables."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt", "kb", "kinds", "table"]


def fmt(value: Any, digits: int = 1) -> str:
    """``value`` with thousands separators and ``digits`` decimals; ``n/a`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def kinds(counts: dict[str, float]) -> str:
    """Request counts by kind on one line (``none`` when empty)."""
    if not counts:
        return "none"
    return ", ".join(
        f"{k} {v:g}" if float(v).is_integer() else f"{k} {v:.2f}" for k, v in counts.items()
    )


def kb(value: float) -> str:
    """Bytes as kilobytes with one decimal."""
    return fmt(value / 1024.0, 1)


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: the header, the separator and one line per row."""
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out
