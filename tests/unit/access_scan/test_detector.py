"""fail2ban-style detection: sliding window, daily ceiling, path spread, allowlist."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _brute_force_window(per_second: Counter[int], find_time: int) -> Window:
    best = Window(count=0, start=min(per_second), end=min(per_second))
    for start in sorted(per_second):
        inside = [second for second in per_second if start <= second < start + find_time]
        count = sum(per_second[second] for second in inside)
        if count > best.count:
            best = Window(count=count, start=start, end=max(inside))
    return best


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.integers(0, 3000), st.integers(1, 5), min_size=1, max_size=40),
    st.integers(1, 900),
)
def test_densest_window_matches_brute_force(per_second: dict[int, int], find_time: int) -> None:
    counts = Counter(per_second)

    assert densest_window(counts, find_time) == _brute_force_window(counts, find_time)


def _mixed_records(seed: int, count: int) -> list[AccessRecord]:
    """Failures from many spellings, routes and statuses, including non-IP and allowlisted sources."""
    rng = random.Random(seed)
    sources = [
        "203.0.113.66",
        "203.0.113.66:4000",
        "[2001:db8::7]:50123",
        "2001:DB8:0:0:0:0:0:7",
        "2001:db8::7",
        "[2001:db8::7]:6000",
        "::ffff:198.51.100.4",
        "198.51.100.4",
        "198.51.100.9",
        "192.0.2.10",
        "-",
        "test-invoke-source-ip",
    ] + [f"198.51.100.{index}" for index in range(20, 60)]
    records = []
    for _ in range(count):
        source = rng.choice(sources[:12]) if rng.random() < 0.5 else rng.choice(sources)
        route = f"/celebrities/{rng.randrange(80)}" if source.startswith("203") else rng.choice(["/a", "/b", "/c"])
        records.append(AccessRecord(source, START + rng.randrange(5000), "GET", route, rng.choice([401, 401, 403])))
    return records


def _merged(records: list[AccessRecord], cuts: list[int], rules: DetectionRules) -> Detector:
    parts = [records[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(records)], strict=True)]
    statuses = frozenset({401, 403})
    detectors = []
    for part in parts:
        detector = Detector(rules, statuses)
        for record in part:
            detector.add(record)
        detectors.append(detector)
    first, *later = detectors
    for detector in later:
        first.merge(detector.state())
    return first


@pytest.mark.parametrize("cuts", [[0], [1500], [700, 1400, 2100], [2999]])
def test_merged_parts_equal_one_detector(cuts: list[int]) -> None:
    rules = DetectionRules(allowlist=Allowlist.from_entries(("192.0.2.0/24",)))
    records = _mixed_records(seed=11, count=3000)
    whole = Detector(rules, frozenset({401, 403}))
    for record in records:
        whole.add(record)

    merged = _merged(records, cuts, rules)

    assert merged.finish(top=100) == whole.finish(top=100)


def test_merge_keeps_first_spellings_in_log_order() -> None:
    spellings = ["[2001:db8::7]:1", "[2001:db8::7]:2", "[2001:db8::7]:3", "[2001:db8::7]:4", "[2001:db8::7]:5"]
    records = [AccessRecord(raw, START + index, "GET", "/x", 401) for index, raw in enumerate(spellings * 2)]

    merged = _merged(records, [2], DetectionRules())

    assert merged.finish().top_sources[0].spellings == tuple(sorted(spellings[:4]))


@pytest.mark.parametrize(
    "rules",
    [DetectionRules(), DetectionRules(max_retry=50, daily_ceiling=10), DetectionRules(path_spread_threshold=2)],
)
def test_finish_lists_every_offender_and_spreader(rules: DetectionRules) -> None:
    records = _mixed_records(seed=5, count=4000)
    records += _failures("198.51.100.200", [round(i * 599 / 19) for i in range(20)])
    records += _failures("198.51.100.202", [i * 700 for i in range(11)])
    records += [AccessRecord("198.51.100.201", START + i * 900, "GET", f"/p/{i}", 401) for i in range(6)]
    detector = _detect(records, rules)

    # top=0 leaves the offenders and spreaders to the candidate filter alone.
    detection = detector.finish(top=0)
    everything = detector.finish(top=10_000).top_sources

    assert detection.top_sources == ()
    assert detection.offenders == tuple(
        sorted(
            (item for item in everything if item.is_offender),
            key=lambda item: (-item.densest.count, -item.failures, item.address),
        )
    )
    assert {item.address for item in detection.spreaders} == {
        item.address for item in everything if item.spreads_paths and not item.is_offender
    }
    assert "198.51.100.201" in {item.address for item in detection.spreaders + detection.offenders}


def test_finish_top_sources_by_failures() -> None:
    detector = _detect(_mixed_records(seed=5, count=4000))

    top = detector.finish(top=3).top_sources
    everything = detector.finish(top=10_000).top_sources

    assert top == everything[:3]
    assert [item.failures for item in everything] == sorted((item.failures for item in everything), reverse=True)


def test_window_edge_offender_found_among_many() -> None:
    records = _mixed_records(seed=5, count=4000)
    records += _failures("198.51.100.200", [round(i * 599 / 19) for i in range(20)])
    records += _failures("198.51.100.203", [round(i * 600 / 19) for i in range(20)])

    detection = _detect(records).finish(top=0)
    offenders = {item.address for item in detection.offenders}

    assert "198.51.100.200" in offenders
    assert "198.51.100.203" not in offenders


def test_route_cap_counts_other_routes() -> None:
    records = [AccessRecord("203.0.113.9", START + i, "GET", f"/r/{i}", 401) for i in range(70)]

    finding = _detect(records).finish().top_sources[0]

    assert finding.distinct_routes == 65
    assert finding.failures == 70
    assert len(finding.routes) == 10
