from __future__ import annotations

import pytest

from celebops.alerts.delivery_policy import Budget, RetryPolicy, Verdict, backoff_seconds, decide, retry_after_seconds

POLICY = RetryPolicy()


def _budget(remaining_ms: int = 30_000) -> Budget:
    return Budget(remaining_ms=lambda: remaining_ms, safety_margin_ms=POLICY.safety_margin_ms)


def _no_jitter() -> float:
    return 0.0


def test_success_status() -> None:
    assert decide(202, None, 1, POLICY, _budget()).verdict is Verdict.SUCCESS


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_client_error_permanent(status: int) -> None:
    assert decide(status, None, 1, POLICY, _budget()).verdict is Verdict.PERMANENT_FAILURE


@pytest.mark.parametrize("status", [None, 429, 500, 503])
def test_transient_status_retried(status: int | None) -> None:
    assert decide(status, None, 1, POLICY, _budget()).verdict is Verdict.RETRY


def test_retry_after_honoured_never_less() -> None:
    decision = decide(429, {"retry-after": "2"}, 1, POLICY, _budget(), jitter=lambda: 0.99)

    assert decision.delay_seconds >= 2.0
    assert decision.delay_seconds < 2.5


def test_retry_after_beyond_budget_not_slept() -> None:
    decision = decide(429, {"Retry-After": "120"}, 1, POLICY, _budget(30_000))

    assert decision.verdict is Verdict.RETRYABLE_FAILURE


def test_attempts_bounded() -> None:
    assert decide(500, None, 3, POLICY, _budget()).verdict is Verdict.RETRYABLE_FAILURE


def test_backoff_exponential() -> None:
    delays = [backoff_seconds(n, POLICY, _no_jitter) for n in (1, 2, 3, 10)]

    assert delays == [0.5, 1.0, 2.0, POLICY.max_delay_seconds]


def test_retry_after_list_header() -> None:
    assert retry_after_seconds({"Retry-After": ["7"]}) == 7.0


def test_retry_after_garbage_ignored() -> None:
    assert retry_after_seconds({"Retry-After": "soon"}) is None


def test_budget_leaves_margin() -> None:
    budget = Budget(remaining_ms=lambda: 10_000, safety_margin_ms=5_000)

    assert budget.allows(1.0, 3.0) is True
    assert budget.allows(1.0, 5.0) is False
