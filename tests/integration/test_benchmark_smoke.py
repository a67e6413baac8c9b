"""The benchmark in quick mode, as a smoke test: request counts (exact), never timings."""

from __future__ import annotations

import asyncio
import os
import types
from typing import Any

import pytest

# The benchmarks compare against langchain-mcp-adapters, which lives on the mcp 1.x stack.
pytest.importorskip("langchain_mcp_adapters")

import benchmarks  # the repository root is on sys.path (tests run from it)
from benchmarks._common import new_client, setup
from benchmarks._emulator import EmulatorProcess
from benchmarks._eras import era_calls
from benchmarks._https import MCP2_PYTHON
from benchmarks._report_eras import eras_section, eras_targets


@pytest.fixture(scope="module")
def results() -> Any:
    """One quick run (few users, few calls, latency 0) shared by the tests of this module."""
    return benchmarks.run(quick=True)


def test_warm_toolkit_call_is_one_tools_call_request(results: Any) -> None:
    ours = results.warm["ours"]
    assert ours["calls"] > 0
    assert ours["counts"] == {"mcp.tools/call": ours["calls"]}


def test_adapters_default_sends_more_than_one_request_per_call(results: Any) -> None:
    default = results.warm["adapters_default"]
    assert default["requests_per_call"] > 1
    assert default["counts"]["mcp.tools/call"] == default["calls"]


def test_adapters_explicit_session_is_one_request_per_call(results: Any) -> None:
    session = results.warm["adapters_session"]
    assert session["counts"] == {"mcp.tools/call": session["calls"]}


def test_returning_user_makes_no_rest_call(results: Any) -> None:
    assert results.startup["returning"]["rest_calls"] == 0
    assert results.startup["returning"]["rest"] == {}


def test_new_user_cold_start_requests(results: Any) -> None:
    cold = results.startup["cold"]
    assert cold["rest"] == {"instances.ensure": 1, "instances.auth_state": 1}
    assert cold["mcp"]["mcp.initialize"] == 1
    assert cold["mcp"]["mcp.tools/list"] == 1


def test_concurrent_users_share_one_token_without_errors(results: Any) -> None:
    run = results.concurrent
    assert run["users"] >= 2
    assert run["multi_user"] is True
    assert run["oauth_tokens"] == 1
    assert run["errors"] == 0, run["error_samples"]
    assert run["tool_calls"] == run["users"] * run["calls_per_user"]


@pytest.mark.parametrize("which", ["scaling", "per_user"])
def test_every_concurrent_run_is_clean(results: Any, which: str) -> None:
    runs = results.scaling if which == "scaling" else [results.per_user]
    for run in runs:
        assert run["oauth_tokens"] == 1
        assert run["errors"] == 0, run["error_samples"]
        assert run["tool_calls"] == run["users"] * run["calls_per_user"]
        assert run["rest"].get("instances.ensure") == run["users"]


def test_report_renders(results: Any) -> None:
    report = results.markdown()
    assert "## Targets" in report
    assert "Quick mode" in report
    assert results.env["versions"]["langchain-mcp-adapters"]


def _https_runs(results: Any) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = results.https["runs"]
    assert {run["answer"] for run in runs} == {"sse", "json"}
    return runs


def test_https_warm_calls_open_no_connection_and_do_no_handshake(results: Any) -> None:
    for run in _https_runs(results):
        ours = run["modes"]["ours"]
        assert ours["calls"] > 0
        assert ours["requests"] == ours["calls"]  # one request per warm call
        assert ours["connections"] == 0, run
        assert ours["handshakes"] == 0, run


def test_https_sdk_sessions_reconnect_per_sse_answer_only(results: Any) -> None:
    # The SDK closes each SSE answer early, so the pool drops the connection: one TCP
    # connection and one TLS handshake per call; JSON answers are read to their end.
    for run in _https_runs(results):
        for name in ("adapters_session", "bare_sdk"):
            mode = run["modes"][name]
            assert mode["requests"] == mode["calls"]
            expected = mode["calls"] if run["answer"] == "sse" else 0
            assert mode["connections"] == expected, (name, run["answer"], run["rtt_ms"])
            assert mode["handshakes"] == expected, (name, run["answer"], run["rtt_ms"])


def test_overhead_and_throughput_ran(results: Any) -> None:
    assert results.overhead["answer"] == "sse"
    assert results.overhead_json["answer"] == "json"
    assert results.overhead_json["counts"]
    users = {(row["answer"], row["users"]) for row in results.throughput}
    assert users == {(a, n) for a in ("sse", "json") for n in results.params.throughput_users}
    report = results.markdown()
    assert "over HTTPS" in report
    assert "Warm throughput next to the bare SDK" in report


def test_five_parallel_calls_share_one_h2_connection(results: Any) -> None:
    h2 = results.h2
    assert h2["ran"], h2
    (run,) = h2["runs"]
    ours_h2, ours_h11 = run["modes"]["h2"], run["modes"]["http/1.1"]
    assert (ours_h2["open_connections"], ours_h2["first_connections"]) == ([1], [0])
    # HTTP/1.1: the GET stream and the handshake's connection, then 4 more for 5 calls at once.
    assert (ours_h11["open_connections"], ours_h11["first_connections"]) == ([2], [4])
    assert ours_h2["next_connections"] == ours_h11["next_connections"] == [0]
    assert h2["edge_versions"] == ["1.1", "2"]


def test_report_has_a_row_for_every_issue_18_target(results: Any) -> None:
    report, p = results.markdown(), results.params
    for what in (
        "warm call, ours / a bare `ClientSession`",
        "warm call, ours / LangChain's own session held open",
        "client CPU per warm call, ours / bare",
        f"warm calls/s at {max(p.throughput_users)} users, ours / bare SDK sessions (JSON "
        "answers, latency 0)",
        f"throughput {p.scaling[0]} -> {p.scaling[-1]} users, 0 ms per request",
    ):
        assert f"| {what}" in report
    assert "calls/s vs linear until the client core is full" in report
    assert "the core fills at about" in report
    # The quick run has no mcp 2 worker: the era rows say so and count as missed.
    assert "## MCP protocol eras on mcp 2" in report
    assert "| 2026-07-28 era on mcp 2" in report and "not measured: not asked for" in report


NEW_ERA_COLD = {"mcp.server/discover": 1, "mcp.tools/list": 1, "mcp.tools/call": 1}


@pytest.fixture(scope="module")
def eras() -> Any:
    """The MCP-era rows, small: one cold start per client, two warm calls (mcp 2 worker)."""
    if not os.path.exists(MCP2_PYTHON):
        pytest.skip("no mcp 2 venv at .venv (make test builds it)")

    async def main() -> Any:
        with EmulatorProcess() as emu:
            client = new_client(emu)
            try:
                await setup(emu, client)
                return await era_calls(
                    emu, client, eras=("new", "both"), answers=("json", "sse"), reps=1,
                    calls=2, rounds=1, latency=0.0,
                )
            finally:
                await client.aclose()

    return asyncio.run(main())


def test_new_era_cold_start_is_discover_list_call_for_every_client(eras: Any) -> None:
    assert eras["ran"], eras["why_not"]
    assert [(run["era"], run["answer"]) for run in eras["runs"]] == [
        ("new", "json"), ("new", "sse"), ("both", "json"), ("both", "sse"),
    ]
    for run in eras["runs"]:
        cold = run["cold"]
        assert cold["ours"]["rest"] == {"instances.ensure": 1, "instances.auth_state": 1}
        for mode in ("ours_known", "langchain_mcp", "bare_sdk"):
            assert cold[mode]["rest"] == {}, (mode, run["era"], run["answer"])
        for mode, c in cold.items():
            assert c["mcp"] == NEW_ERA_COLD, (mode, run["era"], run["answer"])
            assert c["versions"] == ["2026-07-28"], (mode, run["era"], run["answer"])


def test_new_era_warm_call_is_one_request_for_every_client(eras: Any) -> None:
    for run in eras["runs"]:
        assert set(run["warm"]) == {"ours", "langchain_mcp", "bare_sdk"}
        for mode, w in run["warm"].items():
            assert w["calls"] == 2
            assert w["counts"] == {"mcp.tools/call": 2}, (mode, run["era"], run["answer"])


def test_new_era_rows_render_and_are_met(eras: Any) -> None:
    measured = types.SimpleNamespace(eras=eras)
    section = "\n".join(eras_section(measured))  # type: ignore[arg-type]
    assert "### Cold start: until the first tool answer" in section
    assert "### Warm call" in section
    rows = eras_targets(measured)  # type: ignore[arg-type]
    assert len(rows) == 2
    assert all(met for _, _, _, met in rows), rows
