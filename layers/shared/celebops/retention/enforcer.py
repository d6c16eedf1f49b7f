"""CloudWatch Logs adapter of the retention job: list every log group and apply the plan.

DescribeLogGroups and PutRetentionPolicy have low TPS quotas, so large accounts see
ThrottlingException even after botocore's own retries. OperationAbortedException means a
concurrent change to the same log group. Both are retried here with exponential backoff and
jitter, on top of the client's retries, and the run stops cleanly before the Lambda deadline.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from celebops.retention.planner import Action, Decision, LogGroup, plan_log_group
from celebops.retention.policy import RetentionConfig
from celebops.retention.report import GroupResult, Outcome, RunReport, SkipReason

logger = Logger(child=True)

#: The maximum `limit` of DescribeLogGroups (botocore 1.43 service model, shape DescribeLimit).
PAGE_SIZE = 50

#: Seconds kept free before the Lambda timeout to log the report and flush metrics.
# NOTE: one call still inside botocore's retries (10 attempts, 20 s read timeout) can outlast this margin.
DEFAULT_DEADLINE_MARGIN_SECONDS = 30.0

RETRYABLE_ERROR_CODES = frozenset({"ThrottlingException", "OperationAbortedException"})
DELETED_ERROR_CODE = "ResourceNotFoundException"

# Reasons of not_processed results and of an incomplete listing.
REASON_DEADLINE = "deadline"
REASON_REPEATED_TOKEN = "RepeatedNextToken"  # noqa: S105 - a reason, not a secret


class ErrorKind(StrEnum):
    RETRYABLE = "retryable"
    DELETED = "deleted"
    OTHER = "other"


def classify_client_error(error: ClientError) -> tuple[str, ErrorKind]:
    """Return the error code and how the job treats it. All ClientError parsing happens here."""
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    if code in RETRYABLE_ERROR_CODES:
        return code, ErrorKind.RETRYABLE
    if code == DELETED_ERROR_CODE:
        return code, ErrorKind.DELETED
    return code, ErrorKind.OTHER


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for the job's own retries."""

    max_attempts: int = 5
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 20.0

    def delay_seconds(self, retry_index: int, rng: random.Random) -> float:
        """Return the sleep before retry `retry_index` (0 for the first retry).

        The jitter adds up to one more step, base * 2**n + U(0, base * 2**n), so the next delay
        starts at base * 2**(n+1), at least this one's maximum, so the sleeps never decrease.
        """
        step = self.base_delay_seconds * float(2**retry_index)
        return min(self.max_delay_seconds, step + rng.uniform(0.0, step))


@dataclass(frozen=True)
class Deadline:
    """The moment, on `clock`, after which the run starts no more AWS calls."""

    expires_at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_remaining_ms(
        cls,
        remaining_ms: int,
        margin_seconds: float = DEFAULT_DEADLINE_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """Build from the Lambda context's `get_remaining_time_in_millis()` minus a margin."""
        return cls(expires_at=clock() + remaining_ms / 1000 - margin_seconds, clock=clock)

    def remaining_seconds(self) -> float:
        return self.expires_at - self.clock()

    def expired(self) -> bool:
        return self.remaining_seconds() <= 0


@dataclass(frozen=True)
class _CallOutcome:
    response: dict[str, Any] | None = None
    error_code: str | None = None
    error_kind: ErrorKind | None = None
    error: Exception | None = None
    attempts: int = 0
    #: True when the deadline stopped the call (before the first attempt or before a retry).
    out_of_time: bool = False


@dataclass(frozen=True)
class RetryContext:
    """The injected dependencies every call of one run shares."""

    retry: RetryPolicy
    deadline: Deadline
    sleep: Callable[[float], None]
    rng: random.Random


def _call_with_retry(
    call: Callable[[], dict[str, Any]], retry_context: RetryContext, log_extra: dict[str, Any]
) -> _CallOutcome:
    """Run `call`, retrying retryable errors while attempts and time remain."""
    for attempt in range(1, retry_context.retry.max_attempts + 1):
        if retry_context.deadline.expired():
            return _CallOutcome(attempts=attempt - 1, out_of_time=True)
        try:
            return _CallOutcome(response=call(), attempts=attempt)
        except ClientError as exc:
            code, kind = classify_client_error(exc)
            error: Exception = exc
        except BotoCoreError as exc:
            # Connection errors and timeouts arrive here after botocore's own retries ran out.
            return _CallOutcome(error_code=type(exc).__name__, error_kind=ErrorKind.OTHER, error=exc, attempts=attempt)

        if kind is not ErrorKind.RETRYABLE or attempt == retry_context.retry.max_attempts:
            return _CallOutcome(error_code=code, error_kind=kind, error=error, attempts=attempt)

        delay = retry_context.retry.delay_seconds(attempt - 1, retry_context.rng)
        if delay >= retry_context.deadline.remaining_seconds():
            return _CallOutcome(error_code=code, error_kind=kind, error=error, attempts=attempt, out_of_time=True)
        logger.warning(
            "retrying after error",
            extra={**log_extra, "error_code": code, "attempt": attempt, "delay_seconds": round(delay, 3)},
        )
        retry_context.sleep(delay)

    raise AssertionError("unreachable: the last attempt always returns")


@dataclass(frozen=True)
class Listing:
    groups: tuple[LogGroup, ...]
    complete: bool
    #: Why the listing stopped early: an AWS error code, "deadline" or "RepeatedNextToken".
    error: str | None


def list_log_groups(logs: Any, retry_context: RetryContext) -> Listing:
    """Page through every log group. A throttled page is retried with the same token."""
    groups: list[LogGroup] = []
    seen_tokens: set[str] = set()
    token: str | None = None

    while True:
        request: dict[str, Any] = {"limit": PAGE_SIZE}
        if token is not None:
            request["nextToken"] = token
        outcome = _call_with_retry(
            functools.partial(logs.describe_log_groups, **request),
            retry_context,
            {"operation": "DescribeLogGroups", "listed": len(groups)},
        )

        if outcome.response is None:
            reason = REASON_DEADLINE if outcome.out_of_time else (outcome.error_code or "Unknown")
            logger.error(
                "log group listing stopped early",
                extra={"reason": reason, "listed": len(groups), "attempts": outcome.attempts},
                exc_info=outcome.error,
            )
            return Listing(groups=tuple(groups), complete=False, error=reason)

        groups.extend(LogGroup.from_api(item) for item in outcome.response.get("logGroups", []))
        token = outcome.response.get("nextToken") or None
        if token is None:
            return Listing(groups=tuple(groups), complete=True, error=None)

        # A token the API already returned would page through the same groups forever.
        if token in seen_tokens:
            logger.error("log group listing returned a repeated token", extra={"listed": len(groups)})
            return Listing(groups=tuple(groups), complete=False, error=REASON_REPEATED_TOKEN)
        seen_tokens.add(token)


_OUTCOME_OF_ACTION = {
    Action.COMPLIANT: Outcome.COMPLIANT,
    Action.KEEP_EXISTING: Outcome.KEPT_EXISTING,
    Action.EXCLUDED: Outcome.EXCLUDED,
    Action.NO_POLICY: Outcome.NO_POLICY,
}


def apply_decision(logs: Any, decision: Decision, dry_run: bool, retry_context: RetryContext) -> GroupResult:
    """Carry out one decision. Only Action.SET calls AWS, and never in a dry run."""
    old, new = decision.current_days, decision.target_days
    if decision.action is not Action.SET:
        return GroupResult(decision.log_group, _OUTCOME_OF_ACTION[decision.action], old, new)

    # Powertools drops None values from log lines, so "never expire" gets an explicit field.
    log_extra = {
        "log_group": decision.log_group,
        "old_retention_days": old,
        "old_never_expire": old is None,
        "new_retention_days": new,
    }
    if dry_run:
        logger.info("retention would change", extra=log_extra)
        return GroupResult(decision.log_group, Outcome.WOULD_CHANGE, old, new)

    outcome = _call_with_retry(
        lambda: logs.put_retention_policy(logGroupName=decision.log_group, retentionInDays=new),
        retry_context,
        {"operation": "PutRetentionPolicy", "log_group": decision.log_group},
    )
    if outcome.response is not None:
        logger.info("retention changed", extra=log_extra)
        return GroupResult(decision.log_group, Outcome.CHANGED, old, new, attempts=outcome.attempts)
    if outcome.out_of_time:
        return GroupResult(
            decision.log_group, Outcome.NOT_PROCESSED, old, new, reason=REASON_DEADLINE, attempts=outcome.attempts
        )
    if outcome.error_kind is ErrorKind.DELETED:
        logger.info("log group deleted before update", extra=log_extra)
        return GroupResult(
            decision.log_group, Outcome.SKIPPED, old, new, reason=SkipReason.DELETED.value, attempts=outcome.attempts
        )

    logger.error(
        "retention update failed",
        extra={**log_extra, "error_code": outcome.error_code, "attempts": outcome.attempts},
        exc_info=outcome.error,
    )
    return GroupResult(
        decision.log_group, Outcome.FAILED, old, new, reason=outcome.error_code, attempts=outcome.attempts
    )


def enforce_retention(
    logs: Any,
    config: RetentionConfig,
    deadline: Deadline,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> RunReport:
    """List every log group, apply the retention policy and report per log group.

    Groups that still need a change when the deadline passes are reported as not_processed.
    """
    jitter_rng = rng or random.Random()  # noqa: S311 - backoff jitter, not security
    retry_context = RetryContext(retry=retry or RetryPolicy(), deadline=deadline, sleep=sleep, rng=jitter_rng)
    listing = list_log_groups(logs, retry_context)

    results: list[GroupResult] = []
    for group in listing.groups:
        decision = plan_log_group(group, config)
        results.append(apply_decision(logs, decision, config.dry_run, retry_context))

    without_before = sum(1 for group in listing.groups if group.retention_days is None)
    filled = sum(1 for result in results if result.outcome is Outcome.CHANGED and result.old_days is None)
    return RunReport(
        mode=config.mode.value,
        dry_run=config.dry_run,
        results=tuple(results),
        listing_complete=listing.complete,
        listing_error=listing.error,
        stored_bytes=sum(group.stored_bytes for group in listing.groups),
        storage_limit_bytes=config.log_storage_limit_bytes,
        without_retention_before=without_before,
        without_retention_after=without_before - filled,
    )
