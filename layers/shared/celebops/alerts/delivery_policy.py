"""The retry policy of outbound deliveries, as pure functions of status, headers, attempt and time.

429 (honouring `Retry-After`), 5xx and network errors are retried with exponential backoff and
jitter, at most `max_attempts` times per message and destination in one invocation. A wait never
runs past the Lambda's remaining time minus a safety margin. When it would, the failure is
retryable and SQS delivers the message again later. Any other 4xx is permanent and not retried.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    RETRYABLE_FAILURE = "retryable_failure"
    PERMANENT_FAILURE = "permanent_failure"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 8.0
    #: Time kept free at the end of the invocation for the rest of the batch and the response.
    safety_margin_ms: int = 5_000
    #: Slack webhooks and the Events API respond well within these, so a slower call counts as a failure.
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay_seconds: float = 0.0
    reason: str = ""


@dataclass
class Budget:
    """The time an invocation has left: a clock in milliseconds, usually the Lambda context's."""

    remaining_ms: Callable[[], int]
    safety_margin_ms: int

    def allows(self, delay_seconds: float, request_seconds: float) -> bool:
        """Tell whether sleeping `delay_seconds` and one more request still ends before the margin."""
        needed_ms = (delay_seconds + request_seconds) * 1000 + self.safety_margin_ms
        return self.remaining_ms() >= needed_ms


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """Read a header case-insensitively; list values (slack_sdk's retry responses) give the first."""
    if not headers:
        return None
    for key, value in headers.items():
        if str(key).lower() == name.lower():
            if isinstance(value, list | tuple):
                return str(value[0]) if value else None
            return str(value)
    return None


def retry_after_seconds(headers: Mapping[str, Any] | None) -> float | None:
    """`Retry-After` in seconds: a number, or an HTTP date (RFC 9110 section 10.2.3), else None."""
    raw = header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int, policy: RetryPolicy, jitter: Callable[[], float]) -> float:
    """Exponential backoff with jitter after attempt `attempt` (1-based): base·2^(n-1) plus up to one base."""
    delay = policy.base_delay_seconds * 2.0 ** (attempt - 1) + policy.base_delay_seconds * jitter()
    return float(min(delay, policy.max_delay_seconds))


def is_retryable_status(status: int | None) -> bool:
    """Tell whether a status is worth retrying; None stands for a network error or a timeout."""
    return status is None or status == 429 or status >= 500


def decide(
    status: int | None,
    headers: Mapping[str, Any] | None,
    attempt: int,
    policy: RetryPolicy,
    budget: Budget,
    jitter: Callable[[], float] = random.random,
) -> Decision:
    """Decide what follows attempt number `attempt` (1-based) that ended with `status`."""
    if status is not None and 200 <= status < 300:
        return Decision(Verdict.SUCCESS)
    if not is_retryable_status(status):
        return Decision(Verdict.PERMANENT_FAILURE, reason=f"HTTP {status} is not retryable")
    if attempt >= policy.max_attempts:
        return Decision(Verdict.RETRYABLE_FAILURE, reason=f"gave up after {attempt} attempts")
    retry_after = retry_after_seconds(headers) if status == 429 else None
    if retry_after is not None:
        # Never earlier than the server asked: jitter only adds.
        delay = retry_after + policy.base_delay_seconds * jitter()
    else:
        delay = backoff_seconds(attempt, policy, jitter)
    request_seconds = policy.connect_timeout_seconds + policy.read_timeout_seconds
    if not budget.allows(delay, request_seconds):
        return Decision(
            Verdict.RETRYABLE_FAILURE,
            delay_seconds=delay,
            reason=f"a wait of {delay:.1f} s does not fit in the remaining invocation time",
        )
    return Decision(Verdict.RETRY, delay_seconds=delay, reason=f"retrying after {delay:.1f} s")
