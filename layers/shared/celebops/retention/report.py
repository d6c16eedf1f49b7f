"""Per-log-group results of a retention run, the run report and its metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

# A Lambda response is limited to 6 MB, so the response lists at most this many results that
# need attention. The counts always cover every log group.
MAX_RESULTS_IN_RESPONSE = 1000


class Outcome(StrEnum):
    CHANGED = "changed"
    WOULD_CHANGE = "would_change"
    COMPLIANT = "already_compliant"
    KEPT_EXISTING = "kept_existing"
    EXCLUDED = "excluded"
    NO_POLICY = "no_policy"
    SKIPPED = "skipped"
    FAILED = "failed"
    NOT_PROCESSED = "not_processed"


#: Outcomes that make the run's status an error.
ERROR_OUTCOMES = frozenset({Outcome.FAILED, Outcome.NOT_PROCESSED})

# Outcomes listed first in the response, so a truncated list still shows what needs attention.
_RESULT_ORDER = (
    Outcome.FAILED,
    Outcome.NOT_PROCESSED,
    Outcome.SKIPPED,
    Outcome.CHANGED,
    Outcome.WOULD_CHANGE,
    Outcome.KEPT_EXISTING,
    Outcome.EXCLUDED,
    Outcome.NO_POLICY,
)


class SkipReason(StrEnum):
    #: The log group was deleted between listing and update (ResourceNotFoundException).
    DELETED = "deleted"


@dataclass(frozen=True)
class GroupResult:
    log_group: str
    outcome: Outcome
    old_days: int | None
    new_days: int | None
    #: The SkipReason of skipped, the AWS error code of failed, the cause of not_processed, else None.
    reason: str | None = None
    #: PutRetentionPolicy calls made for this group, our retries included (botocore's are not).
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_group": self.log_group,
            "outcome": self.outcome.value,
            "old_retention_days": self.old_days,
            "new_retention_days": self.new_days,
            "reason": self.reason,
            "attempts": self.attempts,
        }


class RunStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True)
class RunReport:
    mode: str
    dry_run: bool
    results: tuple[GroupResult, ...]
    #: False when the listing stopped early (deadline, repeated token or an error).
    listing_complete: bool
    #: The error code that stopped the listing, if one did.
    listing_error: str | None
    stored_bytes: int
    storage_limit_bytes: int
    without_retention_before: int
    without_retention_after: int

    @property
    def counts(self) -> dict[str, int]:
        tally = Counter(result.outcome for result in self.results)
        return {outcome.value: tally.get(outcome, 0) for outcome in Outcome}

    @property
    def status(self) -> RunStatus:
        if not self.listing_complete:
            return RunStatus.ERROR
        if any(result.outcome in ERROR_OUTCOMES for result in self.results):
            return RunStatus.ERROR
        return RunStatus.OK

    @property
    def storage_above_limit(self) -> bool:
        return self.stored_bytes > self.storage_limit_bytes

    def summary(self) -> dict[str, Any]:
        """Return the report without per-group results, small enough for one log event (256 KB at most)."""
        return {
            "status": self.status.value,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "log_groups": len(self.results),
            "listing_complete": self.listing_complete,
            "listing_error": self.listing_error,
            "counts": self.counts,
            "stored_bytes": self.stored_bytes,
            "storage_limit_bytes": self.storage_limit_bytes,
            "storage_above_limit": self.storage_above_limit,
            "without_retention_before": self.without_retention_before,
            "without_retention_after": self.without_retention_after,
        }

    def to_dict(self, max_results: int = MAX_RESULTS_IN_RESPONSE) -> dict[str, Any]:
        """Return the summary plus the results that need attention (not already compliant), failures first."""
        rank = {outcome: index for index, outcome in enumerate(_RESULT_ORDER)}
        notable = sorted(
            (result for result in self.results if result.outcome in rank),
            key=lambda result: rank[result.outcome],
        )
        return {
            **self.summary(),
            "results": [result.to_dict() for result in notable[:max_results]],
            "results_omitted": max(0, len(notable) - max_results),
        }

    def failure_message(self) -> str:
        counts = self.counts
        message = (
            f"log retention run failed: {counts[Outcome.FAILED]} log groups failed, "
            f"{counts[Outcome.NOT_PROCESSED]} not processed"
        )
        if not self.listing_complete:
            message += f", listing incomplete ({self.listing_error})"
        return message


def add_report_metrics(metrics: Metrics, report: RunReport) -> None:
    """Add the run's metrics to the EMF buffer, which the caller flushes."""
    counts = report.counts
    metrics.add_metric(name="LogGroupsWithoutRetention", unit=MetricUnit.Count, value=report.without_retention_after)
    metrics.add_metric(name="LogStoredBytes", unit=MetricUnit.Bytes, value=report.stored_bytes)
    metrics.add_metric(name="RetentionChanges", unit=MetricUnit.Count, value=counts[Outcome.CHANGED])
    # Groups left unprocessed count as failures, so one alarm on this metric covers both.
    failures = counts[Outcome.FAILED] + counts[Outcome.NOT_PROCESSED]
    metrics.add_metric(name="RetentionFailures", unit=MetricUnit.Count, value=failures)
