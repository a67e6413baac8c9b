"""The sync client is generated from the async one: the generated file must be current."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sync_client_is_current() -> None:
    unasync = _unasync()
    expected = unasync.render(unasync.SOURCE.read_text(encoding="utf-8"))
    assert unasync.TARGET.read_text(encoding="utf-8") == expected, (
        "scalekit_langchain/_rest_sync.py is stale: run python scripts/unasync.py"
    )


def test_render_rewrites_async_constructs() -> None:
    unasync = _unasync()
    swaps = "\n".join(unasync.TEXT_SWAPS)
    source = swaps + (
        "\nclass AsyncScalekitClient:\n"
        "    async def aclose(self) -> None:\n"
        "        async with self._http.lock():\n"
        "            await _http.asleep(1)\n"
        "    async def __aenter__(self) -> AsyncIterator[int]:\n"
        "        for item in page.items:\n"
        "            yield item\n"
    )
    out = unasync.render(source)
    tail = out.split("class ", 1)[1]
    assert tail == (
        "ScalekitClient:\n"
        "    def close(self) -> None:\n"
        "        with self._http.lock():\n"
        "            _http.sleep(1)\n"
        "    def __enter__(self) -> Iterator[int]:\n"
        "        yield from page.items\n"
    )


def test_render_fails_when_a_text_swap_no_longer_applies() -> None:
    unasync = _unasync()
    with pytest.raises(ValueError, match="text swap"):
        unasync.render("async def f() -> None: ...\n")


def test_the_generated_file_differs_from_the_source_only_by_the_rewrites() -> None:
    # A hand edit of the generated file (the way twins drift apart) is caught by the first
    # test; this one pins that the sync twin really is sync.
    text = (ROOT / "scalekit_langchain" / "_rest_sync.py").read_text(encoding="utf-8")
    assert "async " not in text.replace("async or the sync", "") and "await " not in text
    assert "GENERATED" in text
