"""Unit tests of EMF extraction: the CloudWatch Logs rules the local tooling reproduces."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from harness.emf import (
    IssueKind,
    MetricRecord,
    extract_emf,
    format_summary,
    parse_emf,
    summarize_records,
    to_metric_datum,
)

NAMESPACE = "custom/celebrity-database"
TIMESTAMP_MS = 1_764_383_700_000  # 2025-11-29T02:35:00Z
TIMESTAMP = datetime(2025, 11, 29, 2, 35, tzinfo=UTC)


def emf_line(members: dict[str, Any], directives: list[dict[str, Any]] | None = None, **aws: Any) -> str:
    metadata: dict[str, Any] = {"Timestamp": TIMESTAMP_MS, **aws}
    if directives is not None:
        metadata["CloudWatchMetrics"] = directives
    return json.dumps({"_aws": metadata, **members})


def directive(dimensions: list[list[str]], *metrics: dict[str, Any], namespace: str = NAMESPACE) -> dict[str, Any]:
    return {"Namespace": namespace, "Dimensions": dimensions, "Metrics": list(metrics)}


def test_extract_emf_single_metric() -> None:
    line = emf_line(
        {"Source": "tmdb", "DataFreshness": 300},
        [directive([["Source"]], {"Name": "DataFreshness", "Unit": "Seconds"})],
    )

    records = extract_emf([line])

    assert records == [
        MetricRecord(
            namespace=NAMESPACE,
            name="DataFreshness",
            dimensions=(("Source", "tmdb"),),
            values=(300.0,),
            timestamp=TIMESTAMP,
            unit="Seconds",
            storage_resolution=60,
        )
    ]


def test_extract_emf_skips_non_emf_lines() -> None:
    lines = [
        "START RequestId: 1 Version: $LATEST",
        '{"level": "INFO", "message": "scrape finished"}',
        "[1, 2, 3]",
        "{not json",
        "",
    ]

    extraction = parse_emf(lines)

    assert extraction.records == []
    assert extraction.issues == []


def test_extract_emf_one_record_per_dimension_set() -> None:
    line = emf_line(
        {"Source": "tmdb", "Stage": "prod", "ScraperSuccess": 1},
        [directive([["Source"], ["Source", "Stage"], []], {"Name": "ScraperSuccess", "Unit": "Count"})],
    )

    records = extract_emf([line])

    assert [record.dimensions for record in records] == [
        (("Source", "tmdb"),),
        (("Source", "tmdb"), ("Stage", "prod")),
        (),
    ]


def test_extract_emf_keeps_all_values_of_array() -> None:
    line = emf_line({"Latency": [12, 15.5, 12]}, [directive([[]], {"Name": "Latency", "Unit": "Milliseconds"})])

    records = extract_emf([line])

    assert records[0].values == (12.0, 15.5, 12.0)


def test_extract_emf_empty_dimensions_list_is_dimensionless() -> None:
    line = emf_line({"ColdStart": 1}, [directive([], {"Name": "ColdStart"})])

    records = extract_emf([line])

    assert records[0].dimensions == ()
    assert records[0].unit == "None"


def test_extract_emf_missing_dimension_key_drops_directive() -> None:
    line = emf_line(
        {"Source": "tmdb", "DataFreshness": 300, "ScraperSuccess": 1},
        [
            directive([["Scraper"]], {"Name": "ScraperSuccess"}),
            directive([["Source"]], {"Name": "DataFreshness"}),
        ],
    )

    extraction = parse_emf([line])

    assert [record.name for record in extraction.records] == ["DataFreshness"]
    assert [issue.kind for issue in extraction.issues] == [IssueKind.INVALID_DIMENSION_SET]


@pytest.mark.parametrize("value", [None, 7, True, ["tmdb"], {"name": "tmdb"}])
def test_extract_emf_non_string_dimension_drops_directive(value: Any) -> None:
    line = emf_line({"Source": value, "DataFreshness": 300}, [directive([["Source"]], {"Name": "DataFreshness"})])

    extraction = parse_emf([line])

    assert extraction.records == []
    assert extraction.issues[0].kind is IssueKind.INVALID_DIMENSION_SET


@pytest.mark.parametrize("value", ["", "  "])
def test_extract_emf_empty_dimension_value_drops_dimensions(value: str) -> None:
    line = emf_line({"Source": value, "DataFreshness": 7200}, [directive([["Source"]], {"Name": "DataFreshness"})])

    extraction = parse_emf([line])

    assert [record.dimensions for record in extraction.records] == [()]
    assert extraction.records[0].values == (7200.0,)
    assert [issue.kind for issue in extraction.issues] == [IssueKind.EMPTY_DIMENSION_VALUE]


def test_extract_emf_empty_value_merges_with_dimensionless_set() -> None:
    line = emf_line({"Source": "", "DataFreshness": 1}, [directive([["Source"], []], {"Name": "DataFreshness"})])

    records = extract_emf([line])

    assert [record.dimensions for record in records] == [()]


def test_extract_emf_100_values_accepted() -> None:
    line = emf_line({"ScraperSuccess": [1] * 100}, [directive([[]], {"Name": "ScraperSuccess"})])

    records = extract_emf([line])

    assert len(records[0].values) == 100


def test_extract_emf_101_values_rejects_document() -> None:
    line = emf_line(
        {"ScraperSuccess": [1] * 101, "Other": 1},
        [directive([[]], {"Name": "ScraperSuccess"}), directive([[]], {"Name": "Other"})],
    )

    extraction = parse_emf([line])

    assert extraction.records == []
    assert [issue.kind for issue in extraction.issues] == [IssueKind.TOO_MANY_VALUES]


def test_extract_emf_101_metrics_rejects_document() -> None:
    members = {f"M{i}": i for i in range(101)}
    line = emf_line(members, [directive([[]], *({"Name": name} for name in members))])

    extraction = parse_emf([line])

    assert extraction.records == []
    assert [issue.kind for issue in extraction.issues] == [IssueKind.TOO_MANY_METRICS]


def test_extract_emf_100_metrics_accepted() -> None:
    members = {f"M{i}": i for i in range(100)}
    line = emf_line(members, [directive([[]], *({"Name": name} for name in members))])

    records = extract_emf([line])

    assert len(records) == 100


@pytest.mark.parametrize(
    "aws",
    [
        "not an object",
        {"Timestamp": TIMESTAMP_MS},
        {"Timestamp": TIMESTAMP_MS, "CloudWatchMetrics": {"Namespace": NAMESPACE}},
        {"Timestamp": "yesterday", "CloudWatchMetrics": []},
    ],
)
def test_extract_emf_malformed_aws_reported_not_fatal(aws: Any) -> None:
    broken = json.dumps({"_aws": aws, "Errors": 1})
    good = emf_line({"Errors": 2}, [directive([[]], {"Name": "Errors", "Unit": "Count"})])

    extraction = parse_emf([broken, good])

    assert [record.values for record in extraction.records] == [(2.0,)]
    assert [(issue.line, issue.kind) for issue in extraction.issues] == [(1, IssueKind.INVALID_AWS_BLOCK)]


@pytest.mark.parametrize(
    ("members", "definition"),
    [
        ({}, {"Name": "Errors"}),
        ({"Errors": "1"}, {"Name": "Errors"}),
        ({"Errors": [1, "2"]}, {"Name": "Errors"}),
        ({"Errors": []}, {"Name": "Errors"}),
        ({"Errors": True}, {"Name": "Errors"}),
        ({"Errors": 1}, {"Name": "Errors", "Unit": "Hours"}),
        ({"Errors": 1}, {"Name": "Errors", "StorageResolution": 5}),
    ],
)
def test_extract_emf_invalid_metric_dropped_alone(members: dict[str, Any], definition: dict[str, Any]) -> None:
    line = emf_line({**members, "Fine": 1}, [directive([[]], definition, {"Name": "Fine"})])

    extraction = parse_emf([line])

    assert [record.name for record in extraction.records] == ["Fine"]
    assert [issue.kind for issue in extraction.issues] == [IssueKind.INVALID_METRIC]


def test_extract_emf_high_resolution() -> None:
    line = emf_line({"Latency": 5}, [directive([[]], {"Name": "Latency", "StorageResolution": 1})])

    records = extract_emf([line])

    assert records[0].storage_resolution == 1


def test_extract_emf_missing_timestamp_uses_now() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    line = json.dumps({"_aws": {"CloudWatchMetrics": [directive([[]], {"Name": "Errors"})]}, "Errors": 1})

    records = extract_emf([line], now=now)

    assert records[0].timestamp == now


def test_extract_emf_logs_rejected_documents(caplog: pytest.LogCaptureFixture) -> None:
    line = emf_line({"Errors": 1}, [directive([["Missing"]], {"Name": "Errors"})])

    with caplog.at_level(logging.WARNING, logger="harness.emf"):
        extract_emf([line])

    assert "invalid-dimension-set" in caplog.text


def test_to_metric_datum_values_and_counts() -> None:
    record = MetricRecord(
        NAMESPACE, "ScraperSuccess", (("Scraper", "alpha"),), (1.0, 0.0, 1.0, 1.0), TIMESTAMP, "Count"
    )

    datum = to_metric_datum(record)

    assert datum == {
        "MetricName": "ScraperSuccess",
        "Dimensions": [{"Name": "Scraper", "Value": "alpha"}],
        "Timestamp": TIMESTAMP,
        "Values": [1.0, 0.0],
        "Counts": [3.0, 1.0],
        "Unit": "Count",
        "StorageResolution": 60,
    }


def test_summarize_records_sorted_lines() -> None:
    records = [
        MetricRecord(NAMESPACE, "ScraperSuccess", (("Scraper", "beta"),), (0.0,), TIMESTAMP, "Count"),
        MetricRecord(NAMESPACE, "DataFreshness", (("Source", "tmdb"),), (300.0, 12.5), TIMESTAMP, "Seconds"),
    ]

    lines = summarize_records(records)

    assert lines == [
        f"{NAMESPACE} DataFreshness{{Source=tmdb}} = [300, 12.5] Seconds",
        f"{NAMESPACE} ScraperSuccess{{Scraper=beta}} = [0] Count",
    ]


def test_format_summary_header() -> None:
    records = [MetricRecord(NAMESPACE, "ColdStart", (), (1.0,), TIMESTAMP)]

    summary = format_summary(records)

    assert summary.splitlines() == ["metrics emitted: 1", f"  {NAMESPACE} ColdStart{{}} = [1] None"]
