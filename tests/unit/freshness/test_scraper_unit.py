"""Unit tests of the scraper monitor's decisions, notices and EMF output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from celebops.errors import ConfigError
from celebops.findings import Severity
from celebops.freshness.config import ScraperMonitorConfig
from celebops.freshness.scrape_check import (
    emit_scrape_metrics,
    emit_source_results,
    parse_result_event,
    result_from_event,
    scrape_finding,
)
from celebops.freshness.scrapers import (
    LambdaCounts,
    RuleState,
    ScrapeReport,
    ScraperEvidence,
    ScraperOutcome,
    ScraperResult,
    StatusLine,
    decide_outcome,
    latest_run_window,
    success_rate,
)
from tests.conftest import load_event
from tests.unit.freshness.emf_capture import emf_documents, metric_points

FIXTURES = Path(__file__).parents[2] / "fixtures" / "freshness"
FUNCTIONS = "scraper-tmdb,scraper-wikipedia,scraper-news,scraper-social"
CONFIG = ScraperMonitorConfig.from_env({"SCRAPER_FUNCTION_NAMES": FUNCTIONS})
ENABLED = (RuleState("scraper-news-weekly", True),)


def _decide(evidence: ScraperEvidence) -> ScraperResult:
    return decide_outcome("news", "scraper-news", evidence)


def test_window_thursday_points_to_last_sunday() -> None:
    window = latest_run_window(CONFIG, datetime(2026, 12, 3, 10, 0, tzinfo=UTC))

    assert window.scheduled_at == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    assert window.start == datetime(2026, 11, 29, 1, 55, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 29, 2, 30, tzinfo=UTC)


def test_window_during_run_points_to_previous_week() -> None:
    window = latest_run_window(CONFIG, datetime(2026, 11, 29, 2, 10, tzinfo=UTC))

    assert window.scheduled_at == datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def test_window_sunday_four_am_points_to_today() -> None:
    window = latest_run_window(CONFIG, datetime(2026, 11, 29, 4, 0, tzinfo=UTC))

    assert window.scheduled_at == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def test_outcome_success_from_status_line() -> None:
    result = _decide(ScraperEvidence(LambdaCounts(1, 0, 0), (StatusLine(1, "succeeded"),), ENABLED))

    assert result.outcome is ScraperOutcome.SUCCEEDED


def test_outcome_failure_from_status_line_with_error() -> None:
    evidence = ScraperEvidence(LambdaCounts(1, 1, 0), (StatusLine(1, "failed", "HTTP 503 from newsapi"),), ENABLED)

    result = _decide(evidence)

    assert result.outcome is ScraperOutcome.FAILED
    assert result.error == "HTTP 503 from newsapi"


def test_outcome_retry_success_wins() -> None:
    lines = (StatusLine(1, "failed", "timeout"), StatusLine(2, "succeeded"))

    result = _decide(ScraperEvidence(LambdaCounts(2, 1, 0), lines, ENABLED))

    assert result.outcome is ScraperOutcome.SUCCEEDED
    assert "after 1 failed attempt" in result.reason


def test_outcome_errors_without_status_line_fail() -> None:
    result = _decide(ScraperEvidence(LambdaCounts(3, 3, 0), (), ENABLED))

    assert result.outcome is ScraperOutcome.FAILED


def test_outcome_invocation_without_status_line_succeeds() -> None:
    result = _decide(ScraperEvidence(LambdaCounts(1, 0, 0), (), ENABLED))

    assert result.outcome is ScraperOutcome.SUCCEEDED


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        (
            ScraperEvidence(LambdaCounts(), (), (RuleState("scraper-news-weekly", False),)),
            "schedule rule scraper-news-weekly is disabled",
        ),
        (ScraperEvidence(LambdaCounts(), (), ()), "no EventBridge rule targets scraper-news"),
        (ScraperEvidence(LambdaCounts(0, 0, 2), (), ENABLED), "throttled 2 time(s)"),
        (ScraperEvidence(LambdaCounts(), (), None), "schedule rules could not be read"),
        (ScraperEvidence(LambdaCounts(), (), ENABLED), "although rule scraper-news-weekly is enabled"),
    ],
)
def test_outcome_missed_names_reason(evidence: ScraperEvidence, reason: str) -> None:
    result = _decide(evidence)

    assert result.outcome is ScraperOutcome.MISSED
    assert reason in result.reason


def _report(*outcomes: ScraperOutcome) -> ScrapeReport:
    window = latest_run_window(CONFIG, datetime(2026, 12, 3, tzinfo=UTC))
    results = tuple(
        ScraperResult(
            source, f"scraper-{source}", outcome, "test", error="boom" if outcome is ScraperOutcome.FAILED else None
        )
        for source, outcome in zip(CONFIG.sources, outcomes, strict=True)
    )
    rate, runs = success_rate(results, {})
    return ScrapeReport(window, results, rate, runs)


def test_emit_scrape_metrics_exact(capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(ScraperOutcome.SUCCEEDED, ScraperOutcome.SUCCEEDED, ScraperOutcome.FAILED, ScraperOutcome.MISSED)

    emit_scrape_metrics(report)
    documents = emf_documents(capsys.readouterr().out)

    assert metric_points(documents, "ScraperSuccess") == [
        ({"Source": "tmdb"}, [1.0], "Count"),
        ({"Source": "wikipedia"}, [1.0], "Count"),
        ({"Source": "news"}, [0.0], "Count"),
        ({"Source": "social"}, [0.0], "Count"),
        ({}, [0.0], "Count"),
    ]
    assert metric_points(documents, "ScraperSuccessRate") == [({}, [50.0], "Percent")]


def test_success_rate_counts_recorded_history() -> None:
    current = _report(*[ScraperOutcome.SUCCEEDED] * 4).results
    history = {"tmdb": [True, True, True], "wikipedia": [True, True, True], "news": [True, False, True], "social": []}

    rate, runs = success_rate(current, history)

    assert runs == 13
    assert rate == pytest.approx(100 * 12 / 13)


def test_finding_all_succeeded_is_info() -> None:
    finding = scrape_finding(_report(*[ScraperOutcome.SUCCEEDED] * 4), datetime(2026, 12, 3, tzinfo=UTC))

    assert finding.severity is Severity.INFO
    assert finding.title == "Weekly scrape 2026-11-29: 4 of 4 sources succeeded"


def test_finding_failures_are_warning_naming_sources() -> None:
    report = _report(ScraperOutcome.SUCCEEDED, ScraperOutcome.SUCCEEDED, ScraperOutcome.FAILED, ScraperOutcome.MISSED)

    finding = scrape_finding(report, datetime(2026, 12, 3, tzinfo=UTC))

    assert finding.severity is Severity.WARNING
    assert finding.title == "Weekly scrape 2026-11-29: 2 of 4 sources succeeded (news failed, social missed)"
    assert "news: failed, boom" in finding.summary


def test_result_event_failure_parsed() -> None:
    parsed = parse_result_event(load_event("scraper_monitor_scraper_result"))

    assert parsed.function_name == "scraper-news"
    assert parsed.succeeded is False
    assert parsed.error == "HTTP 503 from newsapi"


def test_result_event_maps_to_source() -> None:
    result = result_from_event(CONFIG, parse_result_event(load_event("scraper_monitor_scraper_result_success")))

    assert result is not None
    assert result.source == "tmdb"
    assert result.outcome is ScraperOutcome.SUCCEEDED


def test_result_event_other_function_ignored() -> None:
    event = load_event("scraper_monitor_scraper_result")
    event["detail"]["requestContext"]["functionArn"] = "arn:aws:lambda:us-east-1:123456789012:function:billing:$LATEST"

    assert result_from_event(CONFIG, parse_result_event(event)) is None


def test_result_event_wrong_type_rejected() -> None:
    with pytest.raises(ValueError, match="detail-type") as caught:
        parse_result_event(load_event("scraper_monitor_scheduled"))

    assert "not a Lambda destination result" in str(caught.value)


def test_config_rejects_function_count_mismatch() -> None:
    with pytest.raises(ConfigError) as caught:
        ScraperMonitorConfig.from_env({"SCRAPER_FUNCTION_NAMES": "scraper-tmdb,scraper-news"})

    assert caught.value.variable == "SCRAPER_FUNCTION_NAMES"


def _loop_case() -> dict:
    return json.loads((FIXTURES / "scraper-success-loop.json").read_text())


def test_success_loop_small_one_document_per_scraper(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _loop_case()["run_small"]

    emit_source_results([(row["scraper"], row["ok"]) for row in rows])
    documents = emf_documents(capsys.readouterr().out)

    assert len(documents) == 3
    assert {d["Source"]: d["ScraperSuccess"] for d in documents} == {"alpha": [1.0], "beta": [0.0], "gamma": [1.0]}
    assert all(len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) == 1 for d in documents)


def test_success_loop_large_keeps_every_value_within_limits(capsys: pytest.CaptureFixture[str]) -> None:
    # 120 scrapers named s000..s119; a scraper succeeds unless its index is a multiple of 7.
    rows = [(f"s{index:03d}", index % 7 != 0) for index in range(120)]

    emit_source_results(rows)
    documents = emf_documents(capsys.readouterr().out)
    points = metric_points(documents, "ScraperSuccess")

    assert {dims["Source"]: values for dims, values, _ in points} == {name: [1.0 if ok else 0.0] for name, ok in rows}
    assert sum(values[0] == 0.0 for _, values, _ in points) == 18
    assert all(len(values) <= 100 for _, values, _ in points)
    assert all(len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) <= 100 for d in documents)
    assert all(set(d) - {"_aws", "Source", "ScraperSuccess"} == set() for d in documents)
