"""Freshness per source from the newest update times: age in hours, status, run report and metrics.

`DataFreshness` is the age in hours of a source's newest valid update time. The overall value is
the maximum over the configured sources, so one stale source makes the overall value stale. A
source without any valid update time has no age: its own value and the overall value are left
out, so the stale-data alarm, which treats missing data as breaching, still fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from celebops.freshness.config import FreshnessConfig
from celebops.freshness.emf import DATA_FRESHNESS, FRESHNESS_CHECK_FAILED, Writer, emit_metric, emit_per_source
from celebops.freshness.table import TableReading

SECONDS_PER_HOUR = 3600.0


class FreshnessStatus(StrEnum):
    FRESH = "fresh"
    WARN = "warn"
    ERROR = "error"
    NO_DATA = "no_data"


class RunOutcome(StrEnum):
    OK = "ok"
    CHECK_FAILED = "check_failed"


def age_hours(newest: datetime, now: datetime) -> float:
    """Return the age of `newest` at `now` in hours; a timestamp slightly in the future is age zero."""
    return max(0.0, (now - newest).total_seconds() / SECONDS_PER_HOUR)


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    newest: datetime | None
    age_hours: float | None
    status: FreshnessStatus
    warn_after_hours: float
    error_after_hours: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "newest_update": self.newest.isoformat() if self.newest else None,
            "age_hours": None if self.age_hours is None else round(self.age_hours, 2),
            "status": self.status.value,
            "warn_after_hours": self.warn_after_hours,
            "error_after_hours": self.error_after_hours,
        }


def assess_sources(newest: Mapping[str, datetime], config: FreshnessConfig, now: datetime) -> list[SourceFreshness]:
    """Give every configured source its age and status against its own thresholds."""
    assessed = []
    for source in config.sources:
        limits = config.thresholds[source]
        moment = newest.get(source)
        if moment is None:
            assessed.append(
                SourceFreshness(
                    source, None, None, FreshnessStatus.NO_DATA, limits.warn_after_hours, limits.error_after_hours
                )
            )
            continue
        age = age_hours(moment, now)
        status = FreshnessStatus.FRESH
        if age > limits.error_after_hours:
            status = FreshnessStatus.ERROR
        elif age > limits.warn_after_hours:
            status = FreshnessStatus.WARN
        assessed.append(SourceFreshness(source, moment, age, status, limits.warn_after_hours, limits.error_after_hours))
    return assessed


@dataclass(frozen=True)
class FreshnessReport:
    outcome: RunOutcome
    sources: tuple[SourceFreshness, ...] = ()
    reading: TableReading | None = None
    #: AWS error code of a failed check.
    error_code: str | None = None
    error: str | None = None

    @property
    def overall_age_hours(self) -> float | None:
        """Return the oldest source's age, or None when the check failed or a source has no data."""
        if self.outcome is not RunOutcome.OK or not self.sources:
            return None
        ages = [source.age_hours for source in self.sources]
        if any(age is None for age in ages):
            return None
        return max(age for age in ages if age is not None)

    def flagged(self, status: FreshnessStatus) -> list[str]:
        return [source.source for source in self.sources if source.status is status]

    def summary(self) -> str:
        if self.outcome is RunOutcome.CHECK_FAILED:
            return f"freshness check failed: {self.error_code}; no DataFreshness emitted"
        parts = []
        for source in self.sources:
            if source.age_hours is None:
                parts.append(f"{source.source} no data (STALE)")
                continue
            mark = {FreshnessStatus.ERROR: " (STALE)", FreshnessStatus.WARN: " (late)"}.get(source.status, "")
            parts.append(f"{source.source} {source.age_hours:.1f} h{mark}")
        return "DataFreshness: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "summary": self.summary(),
            "outcome": self.outcome.value,
            "overall_age_hours": None if self.overall_age_hours is None else round(self.overall_age_hours, 2),
            "sources": [source.to_dict() for source in self.sources],
            "stale_sources": self.flagged(FreshnessStatus.ERROR) + self.flagged(FreshnessStatus.NO_DATA),
            "late_sources": self.flagged(FreshnessStatus.WARN),
        }
        if self.reading is not None:
            body.update(
                {
                    "read_mode": self.reading.mode.value,
                    "items_read": self.reading.items_read,
                    "read_requests": self.reading.requests,
                    "read_capacity_units": self.reading.read_capacity_units,
                    "items_without_valid_timestamp": self.reading.invalid_timestamps,
                    "items_skipped": {reason.value: count for reason, count in sorted(self.reading.skipped.items())},
                    "queries_given_up": list(self.reading.gave_up),
                }
            )
        if self.outcome is RunOutcome.CHECK_FAILED:
            body.update({"error_code": self.error_code, "error": self.error})
        return body


def emit_freshness_metrics(report: FreshnessReport, write: Writer = print) -> None:
    """Write DataFreshness per source and overall, and FreshnessCheckFailed (1 or 0), as EMF.

    A failed check writes no DataFreshness at all: a made-up age would hide a broken monitor.
    """
    emit_metric(
        FRESHNESS_CHECK_FAILED,
        MetricUnit.Count,
        1 if report.outcome is RunOutcome.CHECK_FAILED else 0,
        {},
        write,
    )
    if report.outcome is RunOutcome.CHECK_FAILED:
        return
    per_source = [(source.source, source.age_hours) for source in report.sources if source.age_hours is not None]
    emit_per_source(DATA_FRESHNESS, MetricUnit.NoUnit, per_source, write)
    overall = report.overall_age_hours
    if overall is not None:
        emit_metric(DATA_FRESHNESS, MetricUnit.NoUnit, overall, {}, write)
