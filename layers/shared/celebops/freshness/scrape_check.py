"""Entry points of ScraperMonitorFunction: the weekly sweep and one scraper's result event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from celebops.findings import Finding, Severity, new_finding
from celebops.freshness.config import ScraperMonitorConfig
from celebops.freshness.emf import SCRAPER_SUCCESS, SCRAPER_SUCCESS_RATE, Writer, emit_metric, emit_per_source
from celebops.freshness.evidence import (
    function_arn,
    read_lambda_counts,
    read_rules,
    read_status_lines,
    read_success_history,
)
from celebops.freshness.scrapers import (
    ScrapeReport,
    ScraperEvidence,
    ScraperOutcome,
    ScraperResult,
    decide_outcome,
    latest_run_window,
    success_rate,
)

logger = Logger(child=True)

FINDING_SOURCE = "ScraperMonitorFunction"
RUNBOOK = "docs/runbooks/scraper-failed.md"

# detail-type values of Lambda destination events on EventBridge ("Configuring destinations for
# asynchronous invocation", Lambda Developer Guide).
RESULT_SUCCESS = "Lambda Function Invocation Result - Success"
RESULT_FAILURE = "Lambda Function Invocation Result - Failure"


def assess_scrape(
    cloudwatch: Any, logs: Any, events: Any, config: ScraperMonitorConfig, arn_prefix: str, now: datetime
) -> ScrapeReport:
    """Decide every scraper's latest scheduled run and the success rate over the last runs.

    Raises EvidenceError when the Lambda metrics cannot be read, because no decision is possible.
    """
    window = latest_run_window(config, now)
    counts = read_lambda_counts(cloudwatch, list(config.functions.values()), window)
    results = []
    for source, name in config.functions.items():
        lines, log_gap = read_status_lines(logs, name, window, config.status_message)
        rules, rule_gap = read_rules(events, function_arn(arn_prefix, name))
        evidence = ScraperEvidence(
            counts=counts[name],
            status_lines=lines,
            rules=rules,
            gaps=tuple(gap for gap in (log_gap, rule_gap) if gap),
        )
        result = decide_outcome(source, name, evidence)
        logger.info("scraper run decided", extra={**result.to_dict(), "evidence_gaps": list(evidence.gaps)})
        results.append(result)

    history = read_success_history(cloudwatch, config.sources, window, config.success_rate_runs - 1)
    rate, runs = success_rate(results, history)
    return ScrapeReport(window=window, results=tuple(results), success_rate_percent=rate, runs_in_rate=runs)


def emit_scrape_metrics(report: ScrapeReport, write: Writer = print) -> None:
    """Write ScraperSuccess per source and overall (1 only when every source succeeded) and ScraperSuccessRate."""
    emit_per_source(
        SCRAPER_SUCCESS, MetricUnit.Count, [(r.source, 1 if r.succeeded else 0) for r in report.results], write
    )
    emit_metric(SCRAPER_SUCCESS, MetricUnit.Count, 1 if report.all_succeeded else 0, {}, write)
    emit_metric(SCRAPER_SUCCESS_RATE, MetricUnit.Percent, report.success_rate_percent, {}, write)


def emit_source_results(results: Sequence[tuple[str | None, bool]], write: Writer = print) -> None:
    """Write one ScraperSuccess document per (source, succeeded)."""
    emit_per_source(SCRAPER_SUCCESS, MetricUnit.Count, [(source, 1 if ok else 0) for source, ok in results], write)


def scrape_finding(report: ScrapeReport, now: datetime) -> Finding:
    """Build the weekly notice: info when every source succeeded, otherwise a warning naming the others."""
    run_day = report.window.scheduled_at.strftime("%Y-%m-%d")
    failed = [r for r in report.results if not r.succeeded]
    title = f"Weekly scrape {run_day}: {len(report.succeeded)} of {len(report.results)} sources succeeded"
    if failed:
        title += " (" + ", ".join(f"{r.source} {r.outcome.value}" for r in failed) + ")"
    lines = [f"{r.source}: {r.outcome.value}, {r.error or r.reason}" for r in report.results]
    return new_finding(
        finding_id=f"scrape-{run_day}",
        source=FINDING_SOURCE,
        kind="scraper.weekly-run",
        severity=Severity.WARNING if failed else Severity.INFO,
        title=title,
        summary="\n".join(lines)
        + f"\nScraperSuccessRate {report.success_rate_percent:.1f}% over {report.runs_in_rate} runs.",
        details=report.to_dict(),
        runbook=RUNBOOK if failed else None,
        dedup_key=f"scrape-{run_day}",
        now=now,
    )


@dataclass(frozen=True)
class ResultEvent:
    function_name: str
    succeeded: bool
    error: str | None
    request_id: str | None


def parse_result_event(event: dict[str, Any]) -> ResultEvent:
    """Read a Lambda destination event; raise ValueError naming what is missing."""
    detail_type = event.get("detail-type")
    if detail_type not in (RESULT_SUCCESS, RESULT_FAILURE):
        raise ValueError(f"detail-type {detail_type!r} is not a Lambda destination result")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise ValueError("the result event has no detail object")
    context = detail.get("requestContext") or {}
    if not isinstance(context, dict):
        raise ValueError(f"detail.requestContext must be an object, got {type(context).__name__}")
    arn = context.get("functionArn")
    if not isinstance(arn, str) or ":function:" not in arn:
        raise ValueError(f"detail.requestContext.functionArn {arn!r} is not a function ARN")
    # The ARN carries a qualifier such as :$LATEST after the name.
    name = arn.split(":function:", 1)[1].split(":", 1)[0]
    error = None
    if detail_type == RESULT_FAILURE:
        payload = detail.get("responsePayload")
        if isinstance(payload, dict) and payload.get("errorMessage"):
            error = str(payload["errorMessage"])
        else:
            response = detail.get("responseContext") or {}
            error = str(response.get("functionError") or context.get("condition") or "failed")
    return ResultEvent(name, detail_type == RESULT_SUCCESS, error, context.get("requestId"))


def result_from_event(config: ScraperMonitorConfig, result_event: ResultEvent) -> ScraperResult | None:
    """Return the scraper result of the event, or None when the function is not a configured scraper."""
    source = config.source_of_function(result_event.function_name)
    if source is None:
        return None
    if result_event.succeeded:
        return ScraperResult(source, result_event.function_name, ScraperOutcome.SUCCEEDED, "destination event Success")
    return ScraperResult(
        source, result_event.function_name, ScraperOutcome.FAILED, "destination event Failure", error=result_event.error
    )


def failure_finding(result: ScraperResult, request_id: str | None, now: datetime) -> Finding:
    """Build the warning sent as soon as one scraper reports a failure."""
    return new_finding(
        finding_id=f"scraper-failed-{result.source}-{request_id or now.strftime('%Y%m%dT%H%M%S')}",
        source=FINDING_SOURCE,
        kind="scraper.failed",
        severity=Severity.WARNING,
        title=f"Scraper {result.source} failed: {result.error or result.reason}",
        summary=f"{result.function_name} reported a failed run ({result.error or result.reason}).",
        details={**result.to_dict(), "request_id": request_id},
        runbook=RUNBOOK,
        now=now,
    )
