"""The split fast path of production-format lines parses exactly like the regex path."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celebops.access_scan.parse import (
    AccessRecord,
    LogFormat,
    MalformedLine,
    _parse_production_regex,
    parse_line,
    split_production,
)

SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PLAIN = 'ee05dd06-3439-a8e1-6292-181f602476e6 198.51.100.19 28/Nov/2026:02:31:28 +0000 "GET /search" 401'

# Each line either parses on the fast path or is declined by it; both must agree with the regex.
CORPUS = [
    PLAIN,
    'r-1 2001:db8::5a13 28/Nov/2026:02:31:28 +0000 "GET /celebrities/{id}/news" 401',
    'r-2 [2001:db8::7]:50123 01/Jan/2026:00:00:00 -0130 "POST /login" 401',
    'r-3 203.0.113.5:41234 29/Feb/2024:23:59:59 +1400 "PUT /celebrities/{id}" 403',
    'r-4 2001:DB8:0:0:0:0:0:7 31/Dec/2026:12:00:00 +0000 "DELETE /x" 200',
    'r-5 ::ffff:203.0.113.5 04/Mar/2025:01:02:03 +0000 "GET /" 401',
    'r-6 - 04/Mar/2025:01:02:03 +0000 "GET /" 401',
    'r-7 test-invoke-source-ip 04/Mar/2025:01:02:03 +0000 "GET /" 401',
    'r-8 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET " 401',
    'r-9 198.51.100.7 04/Mar/2025:01:02:03 +0000 "G"T /x" 401',
    'r-10 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /a b" 401',
    'r-11 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /a"b" 401',
    'r-12 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /caf\u00e9" 401',
    'r-13 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /x" \u0664\u0660\u0661',
    'r-14\t198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /x" 401',
    'r-15 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /x\t" 401',
    'r-16  198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /x" 401',
    'r-17 198.51.100.7 28/Foo/2026:02:31:28 +0000 "GET /x" 401',
    'r-18 198.51.100.7 28/Nov/0000:02:31:28 +0000 "GET /x" 401',
    'r-19 198.51.100.7 99/Nov/2026:99:99:99 +9999 "GET /x" 401',
    'r-20 198.51.100.7 28/Nov/2026:02:31:28 +00a0 "GET /x" 401',
    'r-21 198.51.100.7 28/Nov/2026:02:31:2 +0000 "GET /x" 401',
    'r-22 198.51.100.7 28/nov/2026:02:31:28 +0000 "GET /x" 401',
    'r-23 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x" 4O1',
    'r-24 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x" 4011',
    'r-25 198.51.100.7 28/Nov/2026:02:31:28 +0000 GET /x" 401',
    'r-26 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x 401',
    'r-27 198.51.100.7 28/Nov/2026:02:31:28 +0000 "" /x" 401',
    'r-28 198.51.100.7 28/Nov/2026:02:31:28 +0000 " /x" 401',
    'r-29 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x"',
    'r-30 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x" 401 extra',
    'r-31 198.51.100.7 28/Nov/2026:02:31:28 "GET /x" 401',
    'r-32 \x01\x7f 28/Nov/2026:02:31:28 +0000 "GET /x" 401',
    'r-33 198.51.100.7 28/Nov/2026:02:31:28\u00a0+0000 "GET /x" 401',
    'r\t34 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x" 401',
    'r-35 198.51.100.7\x0b 28/Nov/2026:02:31:28 +0000 "GET /x" 401',
    'r-36 198.51.100.7 28/Nov/2026:02:31:28 +0000 "G\x1cT /x" 401',
    'r-37 198.51.100.7 28/Nov/2026:02:31:28 +0000 "GET /x\r" 401',
    'r-38 198.51.100.7 28/Nov/2026:02:31x28 +0000 "GET /x" 401',
    'r-39 198.51.100.7 28/Nov/2026:02:31:28 0000 "GET /x" 401',
    " ",
    "garbage",
]

# Short fields drawn mostly from characters that split, whitespace tests and the quotes treat specially.
TRICKY_CHARACTERS = list('ab1:/.+-"\t\x0b\x0c\r\x1c\x1f\x01\u00a0\u2003\u0664 ')
TRICKY_FIELDS = st.text(alphabet=st.sampled_from(TRICKY_CHARACTERS), max_size=6)

# Each component of a line: a strategy for valid values, and one for unusual or invalid ones.
COMPONENTS = [
    (st.sampled_from(["ee05dd06-3439-a8e1-6292-181f602476e6", "r-1"]), TRICKY_FIELDS),
    (st.just(" "), st.sampled_from(["", "  ", "\t", "\u00a0", "\x1f"])),
    (
        st.sampled_from(
            [
                "198.51.100.19",
                "203.0.113.5:41234",
                "2001:db8::7",
                "[2001:db8::7]:50123",
                "[2001:db8::7]",
                "2001:DB8:0:0:0:0:0:7",
                "::ffff:203.0.113.5",
                "-",
                "test-invoke-source-ip",
            ]
        ),
        TRICKY_FIELDS,
    ),
    (st.just(" "), st.sampled_from(["", "  ", "\t"])),
    (
        st.from_regex(
            r"(0[1-9]|[12][0-9]|3[01])/(Jan|Feb|Mar|Nov|Dec)/(2024|2026|1970):"
            r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [+-](0000|0130|1400)",
            fullmatch=True,
        ),
        st.from_regex(
            r"(00|99|\d)/(Foo|nov|Nov)/(0000|2026|202):(99|\d):[0-9]\d:(6[0-9]|9|\d\d)[ \t]?[+-]?(9999|00a0|0000|000)",
            fullmatch=True,
        ),
    ),
    (st.just(' "'), st.sampled_from(["", " ", ' ""', " '"])),
    (st.sampled_from(["GET", "POST", "DELETE"]), TRICKY_FIELDS),
    (st.just(" "), st.sampled_from(["", "  ", "\t"])),
    (st.sampled_from(["/celebrities", "/celebrities/{id}", "", "/"]), st.text(max_size=10) | TRICKY_FIELDS),
    (st.just('" '), st.sampled_from(["", '"', " ", '"\t', '""'])),
    (
        st.sampled_from(["401", "403", "200"]),
        st.sampled_from(["4O1", "40", "4011", "\u0664\u0660\u0661"]) | TRICKY_FIELDS,
    ),
]


@st.composite
def production_like_lines(draw: st.DrawFn) -> str:
    """Draw a valid production line with up to two components replaced and one character changed."""
    unusual = draw(st.sets(st.integers(0, len(COMPONENTS) - 1), max_size=2))
    pieces = [draw(tricky if index in unusual else valid) for index, (valid, tricky) in enumerate(COMPONENTS)]

    # Changing one character inside a chosen component reaches separators such as the clock's colons.
    changed = draw(st.integers(0, len(pieces)))
    if changed < len(pieces) and pieces[changed]:
        piece = pieces[changed]
        position = draw(st.integers(0, len(piece) - 1))
        pieces[changed] = piece[:position] + draw(st.sampled_from(TRICKY_CHARACTERS)) + piece[position + 1 :]
    return "".join(pieces)


def _assert_same_as_regex(line: str) -> None:
    text = line.strip()
    regex_outcome = _parse_production_regex(text) if text else MalformedLine("empty line")
    fields = split_production(text)

    assert parse_line(line, LogFormat.PRODUCTION) == regex_outcome
    if fields is not None:
        assert regex_outcome == AccessRecord(*fields)


@pytest.mark.parametrize("line", CORPUS)
def test_fast_path_matches_regex_on_corpus(line: str) -> None:
    _assert_same_as_regex(line)


@SETTINGS
@given(production_like_lines())
def test_fast_path_matches_regex_on_generated_lines(line: str) -> None:
    _assert_same_as_regex(line)


@SETTINGS
@given(st.text(max_size=120))
def test_fast_path_matches_regex_on_any_text(line: str) -> None:
    _assert_same_as_regex(line)


@pytest.mark.parametrize(
    "line",
    [
        PLAIN,
        'r-1 2001:db8::5a13 28/Nov/2026:02:31:28 +0000 "GET /celebrities/{id}/news" 401',
        'r-2 [2001:db8::7]:50123 01/Jan/2026:00:00:00 -0130 "POST /login" 401',
        'r-6 - 04/Mar/2025:01:02:03 +0000 "GET /" 401',
        'r-8 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET " 401',
        'r-19 198.51.100.7 99/Nov/2026:99:99:99 +9999 "GET /x" 401',
    ],
)
def test_fast_path_takes_plain_lines(line: str) -> None:
    assert split_production(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        'r-10 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /a b" 401',
        'r-12 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /caf\u00e9" 401',
        'r-14\t198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /x" 401',
        'r-17 198.51.100.7 28/Foo/2026:02:31:28 +0000 "GET /x" 401',
        'r-18 198.51.100.7 28/Nov/0000:02:31:28 +0000 "GET /x" 401',
    ],
)
def test_fast_path_declines_unusual_lines(line: str) -> None:
    assert split_production(line) is None


def test_fast_path_path_with_space_still_parses() -> None:
    line = 'r-10 198.51.100.7 04/Mar/2025:01:02:03 +0000 "GET /a b" 401'

    record = parse_line(line, LogFormat.PRODUCTION)

    assert isinstance(record, AccessRecord)
    assert record.path == "/a b"
