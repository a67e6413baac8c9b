"""_verdicts: how a failed request ends, from what the wire did (pure rules, both stacks)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scalekit_langchain import _mcp_stack
from scalekit_langchain._failure_policy import (
    SessionDied,
    Verdict,
    judge_call,
    judge_list,
    open_error,
)
from scalekit_langchain._mcp_transport import Exchange
from scalekit_langchain.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ScalekitConnectionError,
    ScalekitProtocolError,
    ScalekitTimeoutError,
    ServerError,
    ToolCallOutcomeUnknown,
    ToolCallRejected,
)


def _mcp_error(code: int, message: str) -> Exception:
    if _mcp_stack.MCP_MAJOR >= 2:
        return _mcp_stack.McpErrorType(code, message)
    from mcp.types import ErrorData

    return _mcp_stack.McpErrorType(ErrorData(code=code, message=message))


def _judge(exc: Exception, **exchange: Any) -> Verdict:
    return judge_call(
        "send", exc, label="user-1", exchange=Exchange(**exchange), call_timeout=7.0, failure=None
    )


def test_refused_credentials_may_be_renewed_but_are_never_resent() -> None:
    verdict = _judge(_mcp_error(-32603, "Server returned an error response"), sent=True, status=403)
    assert isinstance(verdict.error, ToolCallRejected)
    assert (verdict.error.status_code, verdict.renew, verdict.resend) == (403, True, False)


def test_a_gone_session_is_resent() -> None:
    verdict = _judge(SessionDied(), sent=True, status=404)
    assert (verdict.resend, verdict.drop) == (True, True)
    assert isinstance(verdict.error, ScalekitConnectionError)


def test_rate_limit_waits_at_most_five_seconds_then_resends() -> None:
    verdict = _judge(SessionDied(), sent=True, status=429, retry_after=60.0)
    assert (verdict.resend, verdict.wait) == (True, 5.0)
    assert isinstance(verdict.error, RateLimitError) and verdict.error.retry_after == 60.0


def test_other_4xx_is_rejected_with_the_bodys_jsonrpc_error() -> None:
    verdict = _judge(SessionDied(), sent=True, status=422, rpc_error=(-32602, "bad"))
    assert isinstance(verdict.error, ToolCallRejected)
    assert (verdict.error.status_code, verdict.error.code, verdict.error.detail) == (
        422, -32602, "bad")
    assert not verdict.resend


def test_5xx_may_have_run() -> None:
    verdict = _judge(SessionDied(), sent=True, status=502)
    assert isinstance(verdict.error, ToolCallOutcomeUnknown) and not verdict.resend


@pytest.mark.parametrize("code", sorted(_mcp_stack.REQUEST_TIMEOUT_CODES))
def test_sdk_timeout_is_outcome_unknown(code: int) -> None:
    verdict = _judge(_mcp_error(code, "Timed out"), sent=True)
    assert isinstance(verdict.error, ToolCallOutcomeUnknown)
    assert "no result within 7s" in str(verdict.error)


def test_connection_closed_after_sending_is_unknown_and_before_is_resent() -> None:
    closed = _mcp_error(_mcp_stack.CONNECTION_CLOSED, "Connection closed")
    assert isinstance(_judge(closed, sent=True).error, ToolCallOutcomeUnknown)
    assert _judge(closed, sent=False).resend is True


def test_a_jsonrpc_error_answer_is_a_refusal() -> None:
    verdict = _judge(_mcp_error(-32602, "Unknown tool: send"), sent=True, status=200)
    assert isinstance(verdict.error, ToolCallRejected)
    assert (verdict.error.code, verdict.error.detail, verdict.resend) == (
        -32602, "Unknown tool: send", False)


async def test_a_broken_answer_wins_over_what_the_sdk_reported() -> None:
    exchange = Exchange(sent=True, status=200, broken=asyncio.get_running_loop().create_future())
    exchange.mark_broken("the answer was cut")
    verdict = judge_call("send", _mcp_error(-32700, "Failed to parse"), label="u",
                         exchange=exchange, call_timeout=1, failure=None)
    assert isinstance(verdict.error, ToolCallOutcomeUnknown)  # not a refusal: it may have run
    assert "the answer was cut" in str(verdict.error)


def test_a_result_the_sdk_could_not_accept_may_have_run() -> None:
    verdict = _judge(RuntimeError("output schema"), sent=True, status=200)
    assert isinstance(verdict.error, ToolCallOutcomeUnknown) and not verdict.resend


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthenticationError), (404, NotFoundError), (429, RateLimitError), (500, ServerError)],
)
def test_open_error_by_status(status: int, cls: type[Exception]) -> None:
    error = open_error("u", Exchange(sent=True, status=status, retry_after=3.0), None)
    assert type(error) is cls
    assert getattr(error, "status_code", None) == status


def test_open_error_without_a_status() -> None:
    assert type(open_error("u", None, ConnectionRefusedError("refused"))) is ScalekitConnectionError
    assert type(open_error("u", None, TimeoutError())) is ScalekitTimeoutError


def test_list_refusals_retry_only_when_a_fresh_session_may_cure_them() -> None:
    died = ScalekitConnectionError("gone")

    def judge(status: int, renewable: bool = False) -> tuple[Exception, bool]:
        return judge_list(SessionDied(), label="u", exchange=Exchange(sent=True, status=status),
                          renewable=renewable, ended=died)

    assert judge(404)[1] is True
    assert judge(401)[1] is False and judge(401, renewable=True)[1] is True
    assert judge(500)[1] is False
    error, retry = judge_list(_mcp_error(-32601, "nope"), label="u", exchange=None,
                              renewable=False, ended=died)
    assert isinstance(error, ScalekitProtocolError) and retry is False


def test_a_server_json_rpc_error_with_the_sdk_timeout_code_is_a_refusal() -> None:
    """-32001 is both what the SDK reports for its own timeout and a code servers may send."""
    from scalekit_langchain import _failure_policy
    from scalekit_langchain._mcp_transport import Exchange
    from scalekit_langchain.errors import ToolCallOutcomeUnknown, ToolCallRejected

    sdk_error = _mcp_error

    answered = Exchange(sent=True, status=200, rpc_error=(-32001, "Authorization required"))
    verdict = _failure_policy.judge_call(
        "t", sdk_error(-32001, "Authorization required"), label="l", exchange=answered,
        call_timeout=1.0, failure=None,
    )
    assert isinstance(verdict.error, ToolCallRejected) and verdict.error.code == -32001
    silent = Exchange(sent=True, status=200)
    verdict = _failure_policy.judge_call(
        "t", sdk_error(-32001, "Timed out"), label="l", exchange=silent,
        call_timeout=1.0, failure=None,
    )
    assert isinstance(verdict.error, ToolCallOutcomeUnknown)
