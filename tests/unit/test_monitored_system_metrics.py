"""The service metrics the monitored system publishes for its ordinary traffic, checked against its access log."""

from __future__ import annotations

import functools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness import monitored_system as ms

NOW = datetime(2026, 12, 2, 14, 30, 0, tzinfo=UTC)  # a Wednesday
CONFIG = ms.SystemConfig()
API_DIMENSIONS = [{"Name": "ApiName", "Value": "celebrity-database-api"}, {"Name": "Stage", "Value": "prod"}]


@functools.cache
def _served(now: datetime = NOW) -> tuple[ms.ServedRequest, ...]:
    access_log = ms.generate_access_log(now, random.Random(7), 3000)
    return tuple(ms.serve_requests(ms.parse_access_log(access_log), random.Random("service-metrics-7"), CONFIG))


def _writes() -> list[datetime]:
    # Two scraper runs inside the window: 40 items at 09:00 and 25 at 09:07.
    return [NOW - timedelta(hours=5, minutes=30)] * 40 + [NOW - timedelta(hours=5, minutes=23)] * 25


@functools.cache
def _metrics() -> dict[str, list[dict[str, Any]]]:
    return ms.traffic_metrics(_served(), _writes(), CONFIG)


def _sums(namespace: str, name: str, value: str) -> dict[datetime, float]:
    """Return the Sum of each period of one metric, by period start, from the statistic sets."""
    sums: dict[datetime, float] = {}
    for item in _metrics()[namespace]:
        if item["MetricName"] == name and value in [d["Value"] for d in item["Dimensions"]]:
            assert item["Timestamp"] not in sums, f"two datapoints of {name} in the period {item['Timestamp']}"
            sums[item["Timestamp"]] = item["StatisticValues"]["Sum"]
    return sums


def _per_period(moments: list[datetime], weights: list[float] | None = None) -> dict[datetime, float]:
    counts: Counter[datetime] = Counter()
    for index, moment in enumerate(moments):
        counts[ms.period_start(moment)] += weights[index] if weights else 1.0
    return dict(counts)


def test_parse_access_log_skips_only_cut_line() -> None:
    access_log = ms.generate_access_log(NOW, random.Random(7), 3000)

    requests = ms.parse_access_log(access_log)

    assert len(requests) == access_log.line_count - access_log.malformed_lines
    assert [r.moment for r in requests] == sorted(r.moment for r in requests)
    assert {r.method for r in requests} == {"GET", "POST", "PUT", "DELETE"}


def test_invocations_match_access_log_gets() -> None:
    for function, path in ((CONFIG.list_function, "/celebrities"), (CONFIG.get_function, "/celebrities/{id}")):
        reached = [
            item.request.moment
            for item in _served()
            if item.request.method == "GET" and item.request.path == path and item.request.status not in (401, 429)
        ]

        assert reached, function
        assert _sums("AWS/Lambda", "Invocations", function) == _per_period(reached)


def test_errors_are_the_502_responses() -> None:
    assert any(item.function_error for item in _served())
    for function in (CONFIG.list_function, CONFIG.get_function):
        failed = [item.request.moment for item in _served() if item.function == function and item.request.status == 502]
        errors = _sums("AWS/Lambda", "Errors", function)
        invocations = _sums("AWS/Lambda", "Invocations", function)

        assert set(errors) == set(invocations)
        assert {moment: value for moment, value in errors.items() if value} == _per_period(failed)
        assert sum(errors.values()) < 0.005 * sum(invocations.values())


def test_no_server_errors_in_last_hour() -> None:
    healthy_from = NOW - ms.SERVER_ERROR_FREE_TIME
    recent = [item.request for item in _served() if item.request.moment >= healthy_from]

    assert recent
    assert all(request.status < 500 for request in recent)
    assert any(item.request.status >= 500 for item in _served())


def test_durations_one_per_invocation_under_alarm() -> None:
    for function in (CONFIG.list_function, CONFIG.get_function):
        durations = [
            item
            for item in _metrics()["AWS/Lambda"]
            if item["MetricName"] == "Duration" and item["Dimensions"][0]["Value"] == function
        ]

        assert len(durations) == sum(_sums("AWS/Lambda", "Invocations", function).values())
        assert all(0 < item["Value"] <= ms.MAX_API_DURATION_MS for item in durations)
        assert all(item["Unit"] == "Milliseconds" for item in durations)


def test_api_counts_match_access_log() -> None:
    requests = [item.request for item in _served()]
    client_errors = [r.moment for r in requests if 400 <= r.status < 500]
    server_errors = [r.moment for r in requests if r.status >= 500]
    counts = _sums("AWS/ApiGateway", "Count", "prod")

    assert counts == _per_period([r.moment for r in requests])
    assert {m: v for m, v in _sums("AWS/ApiGateway", "4XXError", "prod").items() if v} == _per_period(client_errors)
    assert {m: v for m, v in _sums("AWS/ApiGateway", "5XXError", "prod").items() if v} == _per_period(server_errors)
    assert max(_sums("AWS/ApiGateway", "5XXError", "prod").values()) <= 10  # the 5XX alarm's threshold
    for item in _metrics()["AWS/ApiGateway"]:
        assert item["Dimensions"] == API_DIMENSIONS


def test_latency_one_sample_per_request() -> None:
    latencies = [item for item in _metrics()["AWS/ApiGateway"] if item["MetricName"] == "Latency"]

    assert len(latencies) == len(_served())
    for item, served in zip(latencies, _served(), strict=True):
        assert item["Timestamp"] == served.request.moment
        assert item["Value"] > (served.duration_ms or 0.0)
        assert item["Value"] < 2000  # the p95 latency alarm's threshold


def test_read_units_match_api_reads() -> None:
    reads = [item for item in _served() if item.function is not None]
    units = [ms.LIST_READ_UNITS if item.function == CONFIG.list_function else ms.GET_READ_UNITS for item in reads]

    assert _sums("AWS/DynamoDB", "ConsumedReadCapacityUnits", CONFIG.table_name) == pytest.approx(
        _per_period([item.request.moment for item in reads], units)
    )


def test_write_units_match_api_and_scraper_writes() -> None:
    api_writes = [
        item.request.moment
        for item in _served()
        if item.request.method in ("POST", "PUT", "DELETE") and 200 <= item.request.status < 300
    ]
    expected = _per_period(api_writes + _writes())

    assert _sums("AWS/DynamoDB", "ConsumedWriteCapacityUnits", CONFIG.table_name) == expected
    assert expected[ms.period_start(NOW - timedelta(hours=5, minutes=30))] >= 40


def test_no_throttle_metric_published() -> None:
    names = {item["MetricName"] for data in _metrics().values() for item in data}

    assert names == {
        "Invocations",
        "Errors",
        "Duration",
        "Count",
        "4XXError",
        "5XXError",
        "Latency",
        "ConsumedReadCapacityUnits",
        "ConsumedWriteCapacityUnits",
    }


def test_scraper_write_times_window_and_malformed() -> None:
    written = ms.format_iso(NOW - timedelta(hours=2))
    stamps = [written, ms.format_iso(NOW - timedelta(days=2)), None, "0000-00-00T00:00:00Z"]
    items = [
        ms.Celebrity(f"cel-{index}", "tmdb", stamp, "Ada Weber", 1.0, 0.1, 1.0, 1990, "actor", "US", f"tmdb:{index}")
        for index, stamp in enumerate(stamps)
    ]

    assert ms.scraper_write_times(items, NOW - timedelta(hours=24), NOW) == [ms.parse_iso(written)]


def test_estimated_charges_every_6_hours_below_alarm() -> None:
    data = ms.estimated_charges(NOW)
    moments = [item["Timestamp"] for item in data]

    assert len(data) == 4
    assert all(NOW - timedelta(hours=24) < moment <= NOW for moment in moments)
    assert all(moment.hour % 6 == 0 and moment.minute == 0 for moment in moments)
    assert [item["Value"] for item in data] == sorted(item["Value"] for item in data)
    assert data[-1]["Value"] == pytest.approx(ms.DAILY_CHARGES_USD * (1 + 12 / 24), abs=0.01)
    assert all(item["Dimensions"] == [{"Name": "Currency", "Value": "USD"}] for item in data)
    assert ms.DAILY_CHARGES_USD * 31 < 15


def test_estimated_charges_restart_each_month() -> None:
    data = ms.estimated_charges(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    values = {item["Timestamp"]: item["Value"] for item in data}

    assert values[datetime(2026, 11, 30, 18, 0, tzinfo=UTC)] == pytest.approx(ms.DAILY_CHARGES_USD * 29.75, abs=0.01)
    assert values[datetime(2026, 12, 1, 0, 0, tzinfo=UTC)] == 0.0
    assert values[datetime(2026, 12, 1, 6, 0, tzinfo=UTC)] == pytest.approx(ms.DAILY_CHARGES_USD / 4, abs=0.01)


def test_post_processor_one_invocation_per_batch() -> None:
    scored = [ms.LogLine(1_764_900_000_000 + 1000 * index, "item scored") for index in range(250)]

    items = ms.post_processor_metrics(list(reversed(scored)), CONFIG)

    invocations = [item for item in items if item["MetricName"] == "Invocations"]
    durations = [item["Value"] for item in items if item["MetricName"] == "Duration"]
    assert [item["Timestamp"].timestamp() for item in invocations] == [1_764_900_000, 1_764_900_100, 1_764_900_200]
    assert durations == [420.0, 420.0, 270.0]
    assert {item["Dimensions"][0]["Value"] for item in items} == {"post-processor"}
    assert sum(item["Value"] for item in items if item["MetricName"] == "Errors") == 0


def test_post_processor_no_lines_no_metrics() -> None:
    assert ms.post_processor_metrics([], CONFIG) == []
