"""Parsing of access-log lines in every format, and canonical source addresses."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from celebops.access_scan.addresses import Allowlist, canonical_address
from celebops.access_scan.detector import DetectionRules, Detector
from celebops.access_scan.parse import (
    AccessRecord,
    FormatSetting,
    LogFormat,
    MalformedLine,
    detect_format,
    parse_line,
    parse_request_time,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "access_scan"
# 2026-11-28T02:31:28Z
SAMPLE_TIME = 1795833088


def test_production_line_parses_all_fields() -> None:
    line = 'ee05dd06-3439-a8e1-6292-181f602476e6 198.51.100.19 28/Nov/2026:02:31:28 +0000 "GET /search" 401'

    record = parse_line(line, LogFormat.PRODUCTION)

    assert record == AccessRecord("198.51.100.19", SAMPLE_TIME, "GET", "/search", 401)


def test_production_line_with_ipv6_source() -> None:
    line = 'r-1 2001:db8::5a13 28/Nov/2026:02:31:28 +0000 "GET /celebrities/{id}/news" 401'

    record = parse_line(line, LogFormat.PRODUCTION)

    assert isinstance(record, AccessRecord)
    assert record.source == "2001:db8::5a13"
    assert record.path == "/celebrities/{id}/news"


def test_production_line_cut_short_is_malformed() -> None:
    line = 'r-1 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /cele'

    outcome = parse_line(line, LogFormat.PRODUCTION)

    assert isinstance(outcome, MalformedLine)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        'r-1 198.51.100.7 28/Foo/2026:02:31:28 +0000 "GET /x" 401',
        'r-1 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x" 4O1',
    ],
)
def test_production_malformed_lines_never_raise(line: str) -> None:
    outcome = parse_line(line, LogFormat.PRODUCTION)

    assert isinstance(outcome, MalformedLine)


def test_request_time_applies_offset() -> None:
    assert parse_request_time("28/Nov/2026:04:31:28 +0200") == SAMPLE_TIME


def test_clf_preset_keeps_ipv6_whole() -> None:
    lines = (FIXTURES / "clf-preset-ipv6-first-field.txt").read_text().splitlines()

    records = [parse_line(line, LogFormat.CLF) for line in lines]

    assert [r.source for r in records if isinstance(r, AccessRecord)] == ["2001:db8::7", "203.0.113.5", "198.51.100.20"]
    assert [r.status for r in records if isinstance(r, AccessRecord)] == [401, 401, 200]


def test_json_preset_parses_string_status() -> None:
    line = (FIXTURES / "json-preset-address-spellings.txt").read_text().splitlines()[4]

    record = parse_line(line, LogFormat.JSON)

    assert record == AccessRecord("[2001:db8::7]:50123", 1741050123, "GET", "/orders", 401)


@pytest.mark.parametrize(
    "line", ["{not json", "[1, 2]", '{"ip": "203.0.113.5", "status": "401"}', '{"ip": null, "requestTime": "x"}']
)
def test_json_malformed_lines_never_raise(line: str) -> None:
    outcome = parse_line(line, LogFormat.JSON)

    assert isinstance(outcome, MalformedLine)


def test_detect_format_each_format() -> None:
    production = 'r-1 198.51.100.19 28/Nov/2026:02:31:28 +0000 "GET /search" 401'
    clf = '203.0.113.5 - - [04/Mar/2025:01:02:04 +0000] "POST /login HTTP/1.1" 401 52 r-11'

    assert detect_format(production) is LogFormat.PRODUCTION
    assert detect_format(clf) is LogFormat.CLF
    assert detect_format('{"ip": "x"}') is LogFormat.JSON
    assert detect_format("nothing known") is None


def test_auto_setting_parses_mixed_formats() -> None:
    production = 'r-1 198.51.100.19 28/Nov/2026:02:31:28 +0000 "GET /search" 401'
    clf = '203.0.113.5 - - [04/Mar/2025:01:02:04 +0000] "POST /login HTTP/1.1" 401 52 r-11'

    outcomes = [parse_line(line, FormatSetting.AUTO) for line in (production, clf)]

    assert all(isinstance(outcome, AccessRecord) for outcome in outcomes)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("203.0.113.5:41234", "203.0.113.5"),
        ("2001:db8::7", "2001:db8::7"),
        ("[2001:db8::7]:50123", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("2001:DB8:0:0:0:0:0:7", "2001:db8::7"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("-", None),
        ("test-invoke-source-ip", None),
        ("", None),
        ("[2001:db8::7", None),
    ],
)
def test_canonical_address_spellings(raw: str, expected: str | None) -> None:
    assert canonical_address(raw) == expected


def _counts(lines: list[str], log_format: LogFormat) -> tuple[dict[str, int], int]:
    detector = Detector(DetectionRules())
    for line in lines:
        outcome = parse_line(line, log_format)
        assert isinstance(outcome, AccessRecord)
        detector.add(outcome)
    detection = detector.finish(top=100)
    return {item.address: item.failures for item in detection.top_sources}, detection.non_ip_failures


def test_json_preset_spellings_count_as_one_client() -> None:
    lines = (FIXTURES / "json-preset-address-spellings.txt").read_text().splitlines()

    counts, non_ip = _counts(lines, LogFormat.JSON)

    assert counts == {"203.0.113.5": 3, "2001:db8::7": 3}
    assert non_ip == 1


def test_clf_preset_counts_401s_per_address() -> None:
    lines = (FIXTURES / "clf-preset-ipv6-first-field.txt").read_text().splitlines()

    counts, non_ip = _counts(lines, LogFormat.CLF)

    assert counts == {"2001:db8::7": 1, "203.0.113.5": 1}
    assert non_ip == 0


def test_allowlist_matches_address_and_range() -> None:
    allowlist = Allowlist.from_entries(("198.51.100.0/28", "2001:db8:1::/48", "203.0.113.9"))

    results = Counter(
        allowlist.contains(address) for address in ("198.51.100.3", "2001:db8:1::5", "203.0.113.9", "203.0.113.10")
    )

    assert results == Counter({True: 3, False: 1})


def test_allowlist_rejects_bad_entry() -> None:
    with pytest.raises(ValueError, match="not an IP address") as raised:
        Allowlist.from_entries(("10.0.0.0/33",))

    assert "10.0.0.0/33" in str(raised.value)
