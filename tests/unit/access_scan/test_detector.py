"""fail2ban-style detection: sliding window, daily ceiling, path spread, allowlist."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from celebops.access_scan.addresses import Allowlist
from celebops.access_scan.detector import DetectionRules, Detector, OffenceRule, Window, densest_window
from celebops.access_scan.parse import AccessRecord

START = 1_795_833_088


def _failures(address: str, offsets: list[int], path: str = "/celebrities", status: int = 401) -> list[AccessRecord]:
    return [AccessRecord(address, START + offset, "GET", path, status) for offset in offsets]


def _detect(records: list[AccessRecord], rules: DetectionRules | None = None) -> Detector:
    detector = Detector(rules or DetectionRules())
    for record in records:
        detector.add(record)
    return detector


def test_window_twenty_within_599_seconds_offends() -> None:
    offsets = [round(i * 599 / 19) for i in range(20)]

    detection = _detect(_failures("203.0.113.66", offsets)).finish()

    assert [item.address for item in detection.offenders] == ["203.0.113.66"]
    assert detection.offenders[0].rules == (OffenceRule.FIND_TIME,)
    assert detection.offenders[0].densest == Window(count=20, start=START, end=START + 599)


def test_window_nineteen_within_ten_minutes_is_no_offender() -> None:
    offsets = [round(i * 570 / 18) for i in range(19)]

    detection = _detect(_failures("2001:db8:cafe::19", offsets)).finish()

    assert detection.offenders == ()
    assert detection.top_sources[0].densest.count == 19


def test_window_twenty_spanning_600_seconds_is_no_offender() -> None:
    offsets = [round(i * 600 / 19) for i in range(20)]

    detection = _detect(_failures("203.0.113.66", offsets)).finish()

    assert detection.offenders == ()
    assert detection.top_sources[0].densest.count == 19


def test_window_found_regardless_of_order() -> None:
    offsets = [i * 10 for i in range(20)] + [5000 + i for i in range(5)]
    records = _failures("203.0.113.66", offsets)
    random.Random(7).shuffle(records)

    detection = _detect(records).finish()

    assert detection.offenders[0].densest == Window(count=20, start=START, end=START + 190)
    assert detection.offenders[0].first_seen == START
    assert detection.offenders[0].last_seen == START + 5004


def test_same_second_failures_count_each() -> None:
    window = densest_window(Counter({START: 15, START + 100: 5, START + 700: 1}), 600)

    assert window == Window(count=20, start=START, end=START + 100)


def test_daily_ceiling_flags_slow_attacker() -> None:
    offsets = [i * 500 for i in range(36)]

    detection = _detect(_failures("203.0.113.77", offsets)).finish()

    assert detection.offenders[0].rules == (OffenceRule.DAILY_CEILING,)


def test_ceiling_is_exclusive() -> None:
    offsets = [i * 700 for i in range(30)]

    detection = _detect(_failures("203.0.113.77", offsets)).finish()

    assert detection.offenders == ()


def test_path_spread_reported_without_offence() -> None:
    records = [AccessRecord("198.51.100.4", START + i * 900, "GET", f"/path/{i}", 401) for i in range(6)]

    detection = _detect(records).finish()

    assert detection.offenders == ()
    assert [item.address for item in detection.spreaders] == ["198.51.100.4"]
    assert detection.spreaders[0].distinct_routes == 6


def test_allowlisted_range_is_ignored() -> None:
    rules = DetectionRules(allowlist=Allowlist.from_entries(("203.0.113.64/30",)))
    records = _failures("203.0.113.66", list(range(40)))

    detection = _detect(records, rules).finish()

    assert detection.offenders == ()
    assert detection.distinct_sources == 0
    assert detection.allowlisted_failures == 40


def test_spellings_merge_into_one_offender() -> None:
    spellings = ["2001:db8::7", "[2001:db8::7]:50123", "2001:DB8:0:0:0:0:0:7", "[2001:db8::7]:6000"]
    records = [AccessRecord(spellings[i % 4], START + i, "GET", "/x", 401) for i in range(20)]

    detection = _detect(records).finish()

    assert [item.address for item in detection.offenders] == ["2001:db8::7"]
    assert detection.offenders[0].failures == 20


def test_other_statuses_are_not_counted() -> None:
    detector = _detect(_failures("203.0.113.5", list(range(25)), status=403))

    detection = detector.finish()

    assert detection.failures == 0
    assert detection.offenders == ()


def test_403_counted_when_configured() -> None:
    detector = Detector(DetectionRules(), failure_statuses=frozenset({401, 403}))
    for record in _failures("203.0.113.5", list(range(25)), status=403):
        detector.add(record)

    detection = detector.finish()

    assert detection.offenders[0].statuses == {403: 25}


def test_non_ip_sources_counted_separately() -> None:
    records = [AccessRecord(source, START, "GET", "/x", 401) for source in ("-", "test-invoke-source-ip", "-")]

    detection = _detect(records).finish()

    assert detection.non_ip_failures == 3
    assert detection.non_ip_samples == {"-": 2, "test-invoke-source-ip": 1}
    assert detection.distinct_sources == 0


def test_empty_night_has_no_offenders() -> None:
    detection = Detector(DetectionRules()).finish()

    assert detection.failures == 0
    assert detection.offenders == ()
    assert detection.top_sources == ()


def test_densest_window_rejects_empty() -> None:
    with pytest.raises(ValueError, match="at least one failure") as raised:
        densest_window(Counter(), 600)

    assert raised.type is ValueError
