"""Dashboard preview series read from the moto server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from harness.alarms import fetch_series
from harness.dashboards import WINDOW, _fetch_percentile_series

METRIC = {
    "Namespace": "AWS/Lambda",
    "MetricName": "Duration",
    "Dimensions": [{"Name": "FunctionName", "Value": "ops-AlertRouterFunction"}],
}


def _put_durations(now: datetime, minutes_ago: list[int], milliseconds: list[float]) -> None:
    cloudwatch = boto3.client("cloudwatch")
    for minutes, value in zip(minutes_ago, milliseconds, strict=True):
        cloudwatch.put_metric_data(
            Namespace=METRIC["Namespace"],
            MetricData=[
                {
                    "MetricName": METRIC["MetricName"],
                    "Dimensions": METRIC["Dimensions"],
                    "Timestamp": now - timedelta(minutes=minutes),
                    "Value": value,
                    "Unit": "Milliseconds",
                }
            ],
        )


def test_narrowed_percentile_matches_full_window(moto: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # Three clusters of invocations, 3 days and 7 hours apart, that fill four 5-minute periods.
    _put_durations(
        now,
        [4320, 4318, 430, 428, 427, 427, 12, 11, 3],
        [75.0, 1400.0, 120.0, 900.0, 450.0, 80.0, 3000.0, 250.0, 610.0],
    )
    cloudwatch = boto3.client("cloudwatch")

    narrowed = _fetch_percentile_series(cloudwatch, METRIC, "p95", 300, now)

    full = fetch_series(cloudwatch, METRIC, "p95", 300, now - WINDOW, now)
    assert len(full) == 4
    assert narrowed == full


def test_percentile_without_data_is_empty(moto: Any) -> None:
    now = datetime.now(UTC)
    # A sample older than the percentile window is not read.
    _put_durations(now, [int(WINDOW.total_seconds() // 60) + 30], [500.0])

    assert _fetch_percentile_series(boto3.client("cloudwatch"), METRIC, "p95", 300, now) == []
