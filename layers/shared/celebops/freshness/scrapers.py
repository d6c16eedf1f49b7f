"""Scraper outcomes of one scheduled run: decided from evidence, without touching the scraper stack.

Evidence per scraper: `AWS/Lambda` Invocations, Errors and Throttles over the run window, the
scraper's JSON status lines (`{"message": "scrape finished", "status": ..., "error": ...}`) in
its log group, and the state of the EventBridge rules that target it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from celebops.freshness.config import ScraperMonitorConfig

#: Minutes before the scheduled time included in the window; EventBridge may invoke a little early
#: in the metrics' one-minute resolution.
WINDOW_LEAD = timedelta(minutes=5)


class ScraperOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSED = "missed"


@dataclass(frozen=True)
class RunWindow:
    scheduled_at: datetime
    start: datetime
    end: datetime


def latest_run_window(config: ScraperMonitorConfig, now: datetime) -> RunWindow:
    """Return the window of the latest scheduled run that has ended by `now`."""
    scheduled = now.replace(
        hour=config.scrape_time.hour, minute=config.scrape_time.minute, second=0, microsecond=0
    ) - timedelta(days=(now.weekday() - config.scrape_weekday) % 7)
    length = timedelta(minutes=config.run_window_minutes)
    if scheduled + length > now:
        scheduled -= timedelta(days=7)
    return RunWindow(scheduled, scheduled - WINDOW_LEAD, scheduled + length)


def previous_windows(window: RunWindow, count: int) -> list[RunWindow]:
    """Return the `count` run windows before `window`, newest first."""
    week = timedelta(days=7)
    return [
        RunWindow(window.scheduled_at - week * k, window.start - week * k, window.end - week * k)
        for k in range(1, count + 1)
    ]


@dataclass(frozen=True)
class LambdaCounts:
    """Sums of the AWS/Lambda metrics of one function over a window (0 where no datapoint exists)."""

    invocations: float = 0.0
    errors: float = 0.0
    throttles: float = 0.0


@dataclass(frozen=True)
class StatusLine:
    timestamp_ms: int
    status: str
    error: str | None = None


@dataclass(frozen=True)
class RuleState:
    name: str
    enabled: bool


@dataclass(frozen=True)
class ScraperEvidence:
    counts: LambdaCounts
    status_lines: tuple[StatusLine, ...] = ()
    #: Rules that target the function; None when they could not be listed.
    rules: tuple[RuleState, ...] | None = None
    #: Why part of the evidence is missing (for example a log group that does not exist).
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScraperResult:
    source: str
    function_name: str
    outcome: ScraperOutcome
    reason: str
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is ScraperOutcome.SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        body = {
            "source": self.source,
            "function": self.function_name,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }
        if self.error:
            body["error"] = self.error
        return body


def _missed_reason(evidence: ScraperEvidence, function_name: str) -> str:
    if evidence.counts.throttles > 0:
        return f"throttled {evidence.counts.throttles:g} time(s) and never ran"
    if evidence.rules is None:
        return "no invocation in the run window; the schedule rules could not be read"
    if not evidence.rules:
        return f"no invocation in the run window; no EventBridge rule targets {function_name}"
    enabled = [rule.name for rule in evidence.rules if rule.enabled]
    if not enabled:
        names = ", ".join(rule.name for rule in evidence.rules)
        return f"schedule rule {names} is disabled"
    return f"no invocation in the run window although rule {', '.join(enabled)} is enabled"


def decide_outcome(source: str, function_name: str, evidence: ScraperEvidence) -> ScraperResult:
    """Decide one scraper's run: the last status line wins, then the Lambda metrics decide.

    A run whose first attempt failed and whose retry logged success counts as succeeded.
    """
    last = max(evidence.status_lines, key=lambda line: line.timestamp_ms, default=None)
    counts = evidence.counts
    if counts.invocations <= 0 and last is None:
        return ScraperResult(source, function_name, ScraperOutcome.MISSED, _missed_reason(evidence, function_name))

    if last is not None:
        if last.status == ScraperOutcome.SUCCEEDED.value:
            reason = "status line succeeded"
            if counts.errors > 0:
                reason += f" after {counts.errors:g} failed attempt(s)"
            return ScraperResult(source, function_name, ScraperOutcome.SUCCEEDED, reason)
        return ScraperResult(
            source, function_name, ScraperOutcome.FAILED, f"status line {last.status}", error=last.error or None
        )

    if counts.errors >= counts.invocations:
        return ScraperResult(
            source,
            function_name,
            ScraperOutcome.FAILED,
            f"{counts.errors:g} error(s) in {counts.invocations:g} invocation(s), no status line",
        )
    return ScraperResult(source, function_name, ScraperOutcome.SUCCEEDED, "invocations without errors, no status line")


@dataclass(frozen=True)
class ScrapeReport:
    window: RunWindow
    results: tuple[ScraperResult, ...]
    #: Percentage of successful runs over the last runs, this one included.
    success_rate_percent: float
    runs_in_rate: int

    @property
    def succeeded(self) -> list[ScraperResult]:
        return [r for r in self.results if r.succeeded]

    @property
    def all_succeeded(self) -> bool:
        return all(r.succeeded for r in self.results)

    def summary(self) -> str:
        text = f"{len(self.succeeded)} of {len(self.results)} sources succeeded"
        problems = [f"{r.source} {r.outcome.value} ({r.error or r.reason})" for r in self.results if not r.succeeded]
        if problems:
            text += ": " + "; ".join(problems)
        return f"{text}; ScraperSuccessRate {self.success_rate_percent:.1f}% over {self.runs_in_rate} scraper runs"

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "scheduled_at": self.window.scheduled_at.isoformat(),
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "results": [r.to_dict() for r in self.results],
            "succeeded": len(self.succeeded),
            "total": len(self.results),
            "success_rate_percent": round(self.success_rate_percent, 2),
            "runs_in_rate": self.runs_in_rate,
        }


def success_rate(current: Sequence[ScraperResult], history: Mapping[str, Sequence[bool]]) -> tuple[float, int]:
    """Return (percentage of successful runs, runs counted) over this run and the past runs the monitor recorded."""
    outcomes = [r.succeeded for r in current]
    for past in history.values():
        outcomes.extend(past)
    if not outcomes:
        return 0.0, 0
    return 100.0 * sum(outcomes) / len(outcomes), len(outcomes)
