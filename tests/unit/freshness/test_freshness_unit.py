"""Unit tests of the freshness package: timestamps, config, assessment and the EMF output."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from celebops.errors import ConfigError
from celebops.freshness.assess import (
    FreshnessReport,
    FreshnessStatus,
    RunOutcome,
    assess_sources,
    emit_freshness_metrics,
)
from celebops.freshness.config import FreshnessConfig
from celebops.freshness.emf import UNKNOWN_SOURCE, emit_per_source
from celebops.freshness.table import ReadMode, SkipReason, TableReading
from celebops.freshness.timestamps import TimestampFormat, parse_timestamp
from tests.unit.freshness.emf_capture import emf_documents, metric_points

FIXTURES = Path(__file__).parents[2] / "fixtures" / "freshness"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BASE_ENV = {"TABLE_NAME": "celebrity-database", "FRESHNESS_INDEX_NAME": "source-updated_at-index"}


def _config(**overrides: str) -> FreshnessConfig:
    return FreshnessConfig.from_env({**BASE_ENV, **overrides})


@pytest.mark.parametrize(
    ("text", "timestamp_format", "expected"),
    [
        ("2026-12-01T02:05:00Z", TimestampFormat.ISO8601, datetime(2026, 12, 1, 2, 5, tzinfo=UTC)),
        ("2026-12-01T04:05:00+02:00", TimestampFormat.ISO8601, datetime(2026, 12, 1, 2, 5, tzinfo=UTC)),
        ("2026-12-01T02:05:00", TimestampFormat.ISO8601, datetime(2026, 12, 1, 2, 5, tzinfo=UTC)),
        ("1796090700", TimestampFormat.EPOCH_SECONDS, datetime(2026, 12, 1, 2, 5, tzinfo=UTC)),
        ("1796090700000", TimestampFormat.EPOCH_MILLISECONDS, datetime(2026, 12, 1, 2, 5, tzinfo=UTC)),
        ("1796090700.5", TimestampFormat.EPOCH_SECONDS, datetime(2026, 12, 1, 2, 5, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_valid_formats(text: str, timestamp_format: TimestampFormat, expected: datetime) -> None:
    assert parse_timestamp(text, timestamp_format) == expected


@pytest.mark.parametrize(
    ("text", "timestamp_format"),
    [
        (None, TimestampFormat.ISO8601),
        ("", TimestampFormat.ISO8601),
        ("0000-00-00T00:00:00Z", TimestampFormat.ISO8601),
        ("2025-02-30T02:00:00Z", TimestampFormat.ISO8601),
        ("1796090700", TimestampFormat.ISO8601),
        ("2026-12-01T02:05:00Z", TimestampFormat.EPOCH_SECONDS),
        ("-5", TimestampFormat.EPOCH_SECONDS),
        ("nan", TimestampFormat.EPOCH_MILLISECONDS),
        ("1e300", TimestampFormat.EPOCH_SECONDS),
    ],
)
def test_parse_timestamp_invalid_is_none(text: str | None, timestamp_format: TimestampFormat) -> None:
    assert parse_timestamp(text, timestamp_format) is None


def test_config_defaults_are_production_values() -> None:
    config = _config()

    assert config.sources == ("tmdb", "wikipedia", "news", "social")
    assert config.source_attribute == "source"
    assert config.updated_at_attribute == "updated_at"
    assert config.timestamp_format is TimestampFormat.ISO8601
    assert config.index_name == "source-updated_at-index"
    assert config.thresholds["news"].warn_after_hours == 170.0
    assert config.thresholds["news"].error_after_hours == 192.0


def test_config_empty_index_means_scan() -> None:
    assert _config(FRESHNESS_INDEX_NAME="").index_name is None


def test_config_source_threshold_override() -> None:
    config = _config(SOURCE_THRESHOLDS=json.dumps({"news": {"warn_after_hours": 24, "error_after_hours": 48}}))

    assert config.thresholds["news"].error_after_hours == 48.0
    assert config.thresholds["tmdb"].error_after_hours == 192.0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TIMESTAMP_FORMAT", "rfc2822"),
        ("SOURCE_THRESHOLDS", '{"imdb": {"error_after_hours": 5}}'),
        ("SOURCE_THRESHOLDS", '{"news": {"warn_after_hours": 50, "error_after_hours": 40}}'),
        ("SOURCE_THRESHOLDS", '{"news": {"error_after_hours": -1}}'),
        ("SCAN_SEGMENTS", "0"),
        ("UPDATED_AT_ATTRIBUTE", "source"),
        ("FRESHNESS_INDEX_NAME", "ix"),
    ],
)
def test_config_rejects_invalid_value(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(**{variable: value})

    assert caught.value.variable == variable


def test_config_missing_table_name() -> None:
    with pytest.raises(ConfigError) as caught:
        FreshnessConfig.from_env({})

    assert caught.value.variable == "TABLE_NAME"


def test_assess_sources_statuses_per_threshold() -> None:
    config = _config(SOURCE_THRESHOLDS=json.dumps({"news": {"warn_after_hours": 24, "error_after_hours": 48}}))
    newest = {
        "tmdb": NOW - timedelta(hours=10),
        "wikipedia": NOW - timedelta(hours=180),
        "news": NOW - timedelta(hours=50),
    }

    statuses = {s.source: s.status for s in assess_sources(newest, config, NOW)}

    assert statuses == {
        "tmdb": FreshnessStatus.FRESH,
        "wikipedia": FreshnessStatus.WARN,
        "news": FreshnessStatus.ERROR,
        "social": FreshnessStatus.NO_DATA,
    }


def _report(newest: dict[str, datetime], config: FreshnessConfig | None = None) -> FreshnessReport:
    config = config or _config()
    reading = TableReading(ReadMode.INDEX, newest, items_read=4, read_capacity_units=2.0, requests=4)
    return FreshnessReport(RunOutcome.OK, tuple(assess_sources(newest, config, NOW)), reading)


def test_emit_freshness_exact_documents(capsys: pytest.CaptureFixture[str]) -> None:
    newest = {
        "tmdb": NOW - timedelta(hours=30),
        "wikipedia": NOW - timedelta(hours=31, minutes=30),
        "news": NOW - timedelta(hours=6),
        "social": NOW - timedelta(hours=200),
    }

    emit_freshness_metrics(_report(newest))
    documents = emf_documents(capsys.readouterr().out)

    assert metric_points(documents, "DataFreshness") == [
        ({"Source": "tmdb"}, [30.0], "None"),
        ({"Source": "wikipedia"}, [31.5], "None"),
        ({"Source": "news"}, [6.0], "None"),
        ({"Source": "social"}, [200.0], "None"),
        ({}, [200.0], "None"),
    ]
    assert metric_points(documents, "FreshnessCheckFailed") == [({}, [0.0], "Count")]
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in documents} == {"custom/celebrity-database"}
    assert all("service" not in d for d in documents)


def test_emit_freshness_source_without_data_omits_overall(capsys: pytest.CaptureFixture[str]) -> None:
    newest = {"tmdb": NOW - timedelta(hours=3), "wikipedia": NOW, "news": NOW}

    emit_freshness_metrics(_report(newest))
    points = metric_points(emf_documents(capsys.readouterr().out), "DataFreshness")

    assert [dimensions for dimensions, _, _ in points] == [
        {"Source": "tmdb"},
        {"Source": "wikipedia"},
        {"Source": "news"},
    ]


def test_emit_freshness_check_failure_writes_no_age(capsys: pytest.CaptureFixture[str]) -> None:
    report = FreshnessReport(RunOutcome.CHECK_FAILED, error_code="ResourceNotFoundException", error="gone")

    emit_freshness_metrics(report)
    documents = emf_documents(capsys.readouterr().out)

    assert metric_points(documents, "DataFreshness") == []
    assert metric_points(documents, "FreshnessCheckFailed") == [({}, [1.0], "Count")]


def test_report_flags_stale_source_in_summary() -> None:
    newest = {source: NOW - timedelta(hours=2) for source in ("tmdb", "wikipedia", "news")}
    newest["social"] = NOW - timedelta(days=9)

    body = _report(newest).to_dict()

    assert body["stale_sources"] == ["social"]
    assert "social 216.0 h (STALE)" in body["summary"]
    assert body["overall_age_hours"] == 216.0


def test_report_counts_invalid_timestamps() -> None:
    skipped = {SkipReason.NO_TIMESTAMP: 2, SkipReason.INVALID_TIMESTAMP: 3, SkipReason.OTHER_SOURCE: 7}
    reading = TableReading(ReadMode.SCAN, {}, items_read=12, read_capacity_units=1.5, requests=4, skipped=skipped)

    assert reading.invalid_timestamps == 5


def test_blank_source_names_become_unknown(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Four sources, three with an empty, null or blank name, and a fixed clock.
    case = json.loads((FIXTURES / "blank-source-names.json").read_text())
    now = datetime.fromisoformat(case["now"])
    values = [
        (row["source"], (now - datetime.fromisoformat(row["last_success"])).total_seconds() / 3600)
        for row in case["scraper_results"]
    ]

    emit_per_source("DataFreshness", MetricUnit.NoUnit, values)
    captured = capsys.readouterr()
    documents = emf_documents(captured.out)

    assert [(d["Source"], d["DataFreshness"]) for d in documents] == [
        ("orders-feed", [300 / 3600]),
        (UNKNOWN_SOURCE, [3.0]),
        (UNKNOWN_SOURCE, [2.0]),
        (UNKNOWN_SOURCE, [1.5]),
    ]
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                assert all(str(document[key]).strip() for key in dimension_set)
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in documents} == {"custom/celebrity-database"}
    warnings = [r for r in caplog.records if r.getMessage() == "blank source name replaced"]
    assert len(warnings) == 3
    assert all(r.levelname == "WARNING" for r in warnings)
