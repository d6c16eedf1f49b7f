"""The Logs Insights subset that runs the dashboards' log widgets in the preview."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.dashboards import render_widget
from harness.logs_insights import QueryError, discover_fields, parse_query, run_query

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
BASE_MS = 1_764_900_000_000  # 2025-12-05 02:00:00 UTC


def _event(seconds: int, fields: dict[str, object] | str, group: str = "/aws/lambda/job") -> dict[str, object]:
    message = fields if isinstance(fields, str) else json.dumps(fields)
    return discover_fields(BASE_MS + seconds * 1000, message, group, "123456789012")


def _template_queries() -> list[str]:
    raw = re.findall(r'"query": "((?:[^"\\]|\\.)*)"', TEMPLATE.read_text())
    return [json.loads(f'"{text}"') for text in raw]


@pytest.mark.parametrize("query", _template_queries())
def test_template_queries_parse(query: str) -> None:
    parsed = parse_query(query)

    assert parsed.sources
    assert parsed.commands


def test_discover_json_fields_nested() -> None:
    event = _event(0, {"message": "item scored", "detail": {"weight": 3}, "tags": ["a"]})

    assert event["message"] == "item scored"
    assert event["detail.weight"] == 3
    assert "tags" not in event
    assert event["@log"] == "123456789012:/aws/lambda/job"


def test_plain_message_has_only_at_fields() -> None:
    event = _event(0, "START RequestId: 1 Version: $LATEST")

    assert set(event) == {"@timestamp", "@message", "@log"}


def test_filter_or_ispresent_and_coalesce() -> None:
    query = parse_query(
        "SOURCE '/aws/lambda/job' | fields @timestamp, coalesce(error, errorMessage) as error_text"
        ' | filter level = "ERROR" or ispresent(errorMessage) | sort @timestamp desc | limit 50'
    )
    events = [
        _event(0, {"level": "ERROR", "error": "timeout"}),
        _event(1, {"errorMessage": "boom", "errorType": "RuntimeError"}),
        _event(2, {"level": "INFO", "message": "job succeeded"}),
        _event(3, "END RequestId: 1"),
    ]

    result = run_query(query, events)

    assert result.columns == ["@timestamp", "error_text"]
    assert result.rows == [["2025-12-05 02:00:01.000", "boom"], ["2025-12-05 02:00:00.000", "timeout"]]


def test_stats_latest_and_count_by_field() -> None:
    query = parse_query(
        "SOURCE 'a' | fields @timestamp, job | filter message = \"job succeeded\""
        " | stats latest(@timestamp) as last_success, count(*) as runs by job | sort last_success desc | limit 20"
    )
    events = [
        _event(second, {"message": "job succeeded", "job": job}) for second, job in [(0, "a"), (5, "b"), (9, "a")]
    ]
    events.append(_event(10, {"message": "job failed", "job": "b"}))

    result = run_query(query, events)

    assert result.columns == ["job", "last_success", "runs"]
    assert result.rows == [["a", "2025-12-05 02:00:09.000", 2], ["b", "2025-12-05 02:00:05.000", 1]]


def test_stats_by_time_bin_sorted_by_timestamp() -> None:
    query = parse_query(
        "SOURCE 'a' | filter message = \"item scored\""
        " | stats count(*) as items, avg(weight) as avg_weight by bin(1h) | sort @timestamp desc | limit 48"
    )
    events = [
        _event(seconds, {"message": "item scored", "weight": weight})
        for seconds, weight in [(0, 2), (60, 4), (3600, 9)]
    ]

    result = run_query(query, events)

    assert result.columns == ["bin(1h)", "items", "avg_weight"]
    assert result.rows == [["2025-12-05 03:00:00.000", 1, 9], ["2025-12-05 02:00:00.000", 2, 3.0]]


def test_stats_by_computed_bucket_ascending() -> None:
    query = parse_query(
        "SOURCE 'a' | fields floor(sentiment * 5) / 5 as bucket | stats count(*) as items by bucket | sort bucket asc"
    )
    events = [_event(index, {"sentiment": value}) for index, value in enumerate([-0.5, -0.3, 0.1, 0.99])]

    result = run_query(query, events)

    assert result.rows == [[-0.6, 1], [-0.4, 1], [0.0, 1], [0.8, 1]]


def test_sum_ignores_non_numbers_and_limit_applies() -> None:
    query = parse_query("SOURCE 'a' | stats sum(cost_usd) as usd by cost_service | sort usd desc | limit 1")
    events = [
        _event(0, {"cost_service": "AWS Lambda", "cost_usd": 0.17}),
        _event(1, {"cost_service": "AWS Lambda", "cost_usd": "n/a"}),
        _event(2, {"cost_service": "Amazon DynamoDB", "cost_usd": 0.09}),
    ]

    result = run_query(query, events)

    assert result.rows == [["AWS Lambda", 0.17]]


@pytest.mark.parametrize(
    "query",
    [
        "SOURCE 'a' | parse @message 'x *' as y",
        "SOURCE 'a' | stats weight by job",
        "SOURCE 'a' | sort job sideways",
        "SOURCE a | fields job",
        "SOURCE 'a' | fields job job",
    ],
)
def test_unsupported_syntax_raises(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


def test_unsupported_function_raises_when_run() -> None:
    query = parse_query("SOURCE 'a' | fields strlen(job) as length")

    with pytest.raises(QueryError):
        run_query(query, [_event(0, {"job": "x"})])


LOG_WIDGET = {"type": "log", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {"query": "SOURCE 'a' | limit 5"}}


def test_preview_renders_query_rows_as_table() -> None:
    snapshot = {"queries": {"SOURCE 'a' | limit 5": {"columns": ["job", "runs"], "rows": [["backup-guard", 3]]}}}

    page = render_widget(LOG_WIDGET, snapshot, "us-east-1")

    assert "<th>job</th><th>runs</th>" in page
    assert "<td>backup-guard</td><td>3</td>" in page


def test_preview_shows_reason_for_unrun_query() -> None:
    snapshot = {"queries": {"SOURCE 'a' | limit 5": {"error": "command 'parse' is not supported by the preview"}}}

    page = render_widget(LOG_WIDGET, snapshot, "us-east-1")

    assert "command &#x27;parse&#x27; is not supported" in page
    assert "<table>" not in page
