"""The monitored system's pure generators: access log lines, Lambda log lines, items and schedules."""

from __future__ import annotations

import functools
import json
import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from harness import monitored_system as ms

FIXTURE = Path(__file__).parent.parent / "fixtures" / "monitored_system" / "apigw-access-production-format-sample.log"

# $context.requestId $context.identity.sourceIp $context.requestTime "$context.httpMethod $context.resourcePath"
# $context.status
PRODUCTION_LINE = re.compile(
    r"^(?P<request_id>[0-9a-f-]{36}) (?P<source>\S+) (?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000) "
    r'"(?P<method>[A-Z]+) (?P<path>/\S*)" (?P<status>\d{3})$'
)
NOW = datetime(2026, 12, 2, 14, 30, 0, tzinfo=UTC)  # a Wednesday


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")


@functools.cache
def _access_log(seed: int = 7, requests: int = 3000) -> ms.AccessLog:
    return ms.generate_access_log(NOW, random.Random(seed), requests)


def _failures_by_address(log: ms.AccessLog) -> dict[str, list[datetime]]:
    failures: dict[str, list[datetime]] = defaultdict(list)
    for lines in log.streams.values():
        for line in lines:
            match = PRODUCTION_LINE.match(line.message)
            if match and match["status"] == "401":
                failures[match["source"]].append(_parse_time(match["time"]))
    return {address: sorted(times) for address, times in failures.items()}


def _max_in_window(times: list[datetime], window: timedelta) -> int:
    best = 0
    first = 0
    for last, moment in enumerate(times):
        while moment - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


def test_production_pattern_matches_fixture_except_malformed() -> None:
    lines = FIXTURE.read_text().splitlines()

    unmatched = [line for line in lines if not PRODUCTION_LINE.match(line)]

    assert unmatched == ["malformed line without fields"]


def test_format_access_log_line_reproduces_fixture_line() -> None:
    expected = FIXTURE.read_text().splitlines()[0]

    line = ms.format_access_log_line(
        "ee05dd06-3439-a8e1-6292-181f602476e6",
        "198.51.100.19",
        datetime(2026, 11, 28, 2, 31, 28, tzinfo=UTC),
        "GET",
        "/search",
        200,
    )

    assert line == expected


def test_format_request_time_uses_english_month_and_utc() -> None:
    moment = datetime(2026, 12, 4, 3, 2, 3, tzinfo=timezone(timedelta(hours=1)))

    assert ms.format_request_time(moment) == "04/Dec/2026:02:02:03 +0000"


def test_access_log_same_seed_same_lines() -> None:
    first = ms.generate_access_log(NOW, random.Random(7), 500)
    second = ms.generate_access_log(NOW, random.Random(7), 500)

    assert first == second


def test_access_log_lines_match_production_format_but_one() -> None:
    log = _access_log()
    messages = [line.message for lines in log.streams.values() for line in lines]

    unmatched = [message for message in messages if not PRODUCTION_LINE.match(message)]

    assert len(unmatched) == 1
    assert log.malformed_lines == 1
    assert len(log.streams) == ms.ACCESS_LOG_STREAMS
    assert log.line_count >= 3000


def test_access_log_event_times_match_request_times() -> None:
    log = ms.generate_access_log(NOW, random.Random(3), 800)

    for lines in log.streams.values():
        stamps = [line.timestamp_ms for line in lines]
        assert stamps == sorted(stamps)
        for line in lines:
            match = PRODUCTION_LINE.match(line.message)
            if match:
                assert line.timestamp_ms // 1000 == int(_parse_time(match["time"]).timestamp())


def test_access_log_covers_24_hours_before_now() -> None:
    log = _access_log()
    stamps = [line.timestamp_ms for lines in log.streams.values() for line in lines]

    assert min(stamps) >= ms.to_millis(NOW - timedelta(hours=24))
    assert max(stamps) <= ms.to_millis(NOW + timedelta(seconds=1))
    assert max(stamps) - min(stamps) > ms.to_millis(NOW) - ms.to_millis(NOW - timedelta(hours=20))


def test_access_log_burst_exceeds_rule_in_8_minutes() -> None:
    log = _access_log()
    times = _failures_by_address(log)[ms.BURST_ADDRESS]

    assert len(times) == ms.BURST_FAILURES
    assert times[0] == log.burst.start
    assert times[-1] == log.burst.end
    assert log.burst.end - log.burst.start <= timedelta(minutes=8)


def test_access_log_near_miss_under_rule() -> None:
    log = _access_log()
    times = _failures_by_address(log)[ms.NEAR_MISS_ADDRESS]

    assert len(times) == 19
    assert _max_in_window(times, timedelta(minutes=10)) == 19


def test_access_log_slow_attacker_spread() -> None:
    log = _access_log()
    times = _failures_by_address(log)[ms.SLOW_ATTACKER_ADDRESS]
    routes = {
        (match["method"], match["path"])
        for lines in log.streams.values()
        for line in lines
        if (match := PRODUCTION_LINE.match(line.message)) and match["source"] == ms.SLOW_ATTACKER_ADDRESS
    }

    assert len(times) == ms.SLOW_ATTACKER_FAILURES
    assert _max_in_window(times, timedelta(minutes=10)) <= 2
    assert len(routes) == 5
    assert times[0].hour == 0


def test_access_log_background_401s_stay_under_rule() -> None:
    log = _access_log()
    failures = _failures_by_address(log)
    background = {address: times for address, times in failures.items() if address not in ms._SPECIAL_ADDRESSES}

    assert len(background) > 20
    assert max(_max_in_window(times, timedelta(minutes=10)) for times in background.values()) < 5


def test_access_log_has_dash_ipv6_and_console_sources() -> None:
    log = _access_log()
    sources = {
        match["source"]
        for lines in log.streams.values()
        for line in lines
        if (match := PRODUCTION_LINE.match(line.message))
    }

    assert "-" in sources
    assert ms.TEST_INVOKE_SOURCE in sources
    assert any(source.startswith("2001:db8:") for source in sources)
    assert any(source.startswith("198.51.100.") for source in sources)


def test_batch_log_events_splits_at_10000_events() -> None:
    lines = [ms.LogLine(1_000_000 + index, "x") for index in range(25_001)]

    sizes = [len(batch) for batch in ms.batch_log_events(lines)]

    assert sizes == [10_000, 10_000, 5_001]


def test_batch_log_events_splits_at_1_mb() -> None:
    message = "y" * (100_000 - 26)  # 100,000 bytes counted per event
    lines = [ms.LogLine(1_000_000 + index, message) for index in range(12)]

    sizes = [len(batch) for batch in ms.batch_log_events(lines)]

    assert sizes == [10, 2]


def test_batch_log_events_splits_at_24_hours() -> None:
    day_ms = 24 * 3600 * 1000
    lines = [ms.LogLine(0, "a"), ms.LogLine(day_ms - 1, "b"), ms.LogLine(day_ms, "c")]

    batches = list(ms.batch_log_events(lines))

    assert [len(batch) for batch in batches] == [2, 1]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 2, 14, 30, tzinfo=UTC), datetime(2026, 11, 29, 2, tzinfo=UTC)),  # Wednesday
        (datetime(2026, 11, 29, 2, 10, tzinfo=UTC), datetime(2026, 11, 22, 2, tzinfo=UTC)),  # run in progress
        (datetime(2026, 11, 29, 2, 45, tzinfo=UTC), datetime(2026, 11, 29, 2, tzinfo=UTC)),  # run settled
        (datetime(2026, 11, 28, 23, 59, tzinfo=UTC), datetime(2026, 11, 22, 2, tzinfo=UTC)),  # Saturday
    ],
)
def test_latest_scheduled_run_is_settled_sunday(now: datetime, expected: datetime) -> None:
    assert ms.latest_scheduled_run(now) == expected


def _run(outcome: ms.ScraperOutcome, error: str | None = None) -> ms.ScraperRun:
    started = datetime(2026, 11, 29, 2, 0, 31, 250_000, tzinfo=UTC)
    return ms.ScraperRun(
        source="news",
        function_name="scraper-news",
        scheduled_at=datetime(2026, 11, 29, 2, tzinfo=UTC),
        started_at=started,
        finished_at=started + timedelta(seconds=212),
        outcome=outcome,
        request_id="11111111-2222-4333-8444-555555555555",
        items_written=143,
        error=error,
    )


def _status_lines(lines: list[ms.LogLine]) -> list[dict[str, object]]:
    return [json.loads(line.message) for line in lines if line.message.startswith('{"level"')]


def test_scraper_lines_failed_run_reports_error() -> None:
    lines = ms.scraper_log_lines(_run(ms.ScraperOutcome.FAILED, ms.FAILED_RUN_ERROR))
    finished = _status_lines(lines)[-1]

    assert finished["message"] == "scrape finished"
    assert finished["status"] == "failed"
    assert finished["error"] == "HTTP 503 from newsapi"
    assert finished["level"] == "ERROR"
    assert finished["items_written"] == 143
    assert finished["duration_ms"] == 212_000


def test_scraper_lines_succeeded_run_order() -> None:
    lines = ms.scraper_log_lines(_run(ms.ScraperOutcome.SUCCEEDED))
    statuses = _status_lines(lines)

    assert lines[0].message.startswith("START RequestId: 11111111-")
    assert lines[-1].message.startswith("REPORT RequestId: 11111111-")
    assert [status["message"] for status in statuses] == ["scrape started", "scrape finished"]
    assert statuses[-1]["status"] == "succeeded"
    assert statuses[-1]["timestamp"] == "2026-11-29T02:04:03.210Z"
    assert [line.timestamp_ms for line in lines] == sorted(line.timestamp_ms for line in lines)


def test_scraper_lines_missed_run_has_none() -> None:
    assert ms.scraper_log_lines(_run(ms.ScraperOutcome.MISSED)) == []


@functools.cache
def _generate(now: datetime, total: int = 2000) -> tuple[list[ms.Celebrity], dict[str, list[ms.ScraperRun]]]:
    rng = random.Random(7)
    planned = ms.plan_scraper_runs(now, rng, ms.SystemConfig())
    return ms.generate_items(now, rng, planned, total)


def _newest(items: list[ms.Celebrity], source: str) -> datetime:
    return max(
        ms.parse_iso(item.updated_at or "")
        for item in items
        if item.source == source and ms.is_valid_timestamp(item.updated_at)
    )


# One `now` per day of the week, plus the hours right after the Sunday run.
WEEK = [datetime(2026, 11, 29, 4, tzinfo=UTC) + timedelta(hours=hours) for hours in range(0, 7 * 24, 11)]


@pytest.mark.parametrize("now", WEEK, ids=lambda now: now.strftime("%a%H"))
def test_items_stale_source_older_than_8_days(now: datetime) -> None:
    items, _ = _generate(now, 600)

    assert now - _newest(items, "social") > timedelta(days=8)


@pytest.mark.parametrize("now", WEEK, ids=lambda now: now.strftime("%a%H"))
def test_items_other_sources_written_by_latest_run(now: datetime) -> None:
    items, _ = _generate(now, 600)
    latest = ms.latest_scheduled_run(now)

    for source in ("tmdb", "wikipedia", "news"):
        newest = _newest(items, source)
        assert latest <= newest <= latest + timedelta(minutes=15)


def test_items_counts_and_malformed_share() -> None:
    items, _ = _generate(NOW, 2000)
    malformed = [item for item in items if not ms.is_valid_timestamp(item.updated_at)]

    assert len(items) == 2000
    assert len(malformed) == 10
    assert {item.source for item in items} == set(ms.SOURCES)
    assert len({item.celebrity_id for item in items}) == 2000
    assert any(item.updated_at is None for item in malformed)


def test_items_malformed_values_sort_below_valid() -> None:
    items, _ = _generate(NOW, 2000)
    oldest_valid = min(item.updated_at or "" for item in items if ms.is_valid_timestamp(item.updated_at))
    malformed = [item.updated_at for item in items if item.updated_at and not ms.is_valid_timestamp(item.updated_at)]

    assert malformed
    assert all(value < oldest_valid for value in malformed)


def test_items_latest_run_written_count_matches_table() -> None:
    items, runs = _generate(NOW, 2000)
    latest = ms.latest_scheduled_run(NOW)

    for source in ("tmdb", "wikipedia", "news"):
        in_table = sum(
            1
            for item in items
            if item.source == source
            and ms.is_valid_timestamp(item.updated_at)
            and ms.parse_iso(item.updated_at or "") >= latest
        )
        assert runs[source][0].items_written == in_table


def test_items_outcomes_of_latest_runs() -> None:
    _, runs = _generate(NOW)

    outcomes = {source: runs[source][0].outcome for source in ms.SOURCES}

    assert outcomes == {
        "tmdb": ms.ScraperOutcome.SUCCEEDED,
        "wikipedia": ms.ScraperOutcome.SUCCEEDED,
        "news": ms.ScraperOutcome.FAILED,
        "social": ms.ScraperOutcome.MISSED,
    }


def test_dynamodb_item_omits_missing_updated_at() -> None:
    items, _ = _generate(NOW, 2000)
    missing = next(item for item in items if item.updated_at is None)

    assert "updated_at" not in ms.to_dynamodb_item(missing)


def test_post_processor_lines_score_latest_run_items() -> None:
    items, runs = _generate(NOW, 2000)
    latest = ms.latest_scheduled_run(NOW)

    lines = ms.post_processor_lines(items, latest)
    first = json.loads(lines[0].message)
    by_id = {item.celebrity_id: item for item in items}

    assert len(lines) == sum(
        runs[source][0].items_written
        for source in ms.SOURCES
        if runs[source][0].outcome is not ms.ScraperOutcome.MISSED
    )
    assert first["message"] == "item scored"
    assert first["weight"] == by_id[first["celebrity_id"]].weight
    assert first["sentiment"] == by_id[first["celebrity_id"]].sentiment


def test_create_rejects_naive_now_before_aws_calls() -> None:
    with pytest.raises(ValueError, match="timezone-aware") as raised:
        ms.create_monitored_system(datetime(2026, 12, 2, 14, 30))

    assert "datetime.now(UTC)" in str(raised.value)


def test_create_rejects_unknown_stale_source() -> None:
    config = ms.SystemConfig(stale_source="myspace")

    with pytest.raises(ValueError, match="invalid stale_source") as raised:
        ms.create_monitored_system(NOW, config=config)

    assert "tmdb, wikipedia, news, social" in str(raised.value)
