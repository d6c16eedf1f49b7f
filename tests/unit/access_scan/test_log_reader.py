"""FilterLogEvents paging: empty pages, repeated tokens, the page cap and the deadline."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from celebops.access_scan.detector import DetectionRules, Detector
from celebops.access_scan.log_reader import ReadLimits, StopReason, read_log_events
from celebops.access_scan.parse import FormatSetting
from celebops.access_scan.scan import LineSink

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "access_scan"
    / "filter-log-events-empty-pages-repeated-token.json"
)
REQUEST = {"logGroupName": "API-Gateway-Access-Logs_example/prod", "startTime": 1741046400000, "endTime": 1741132799999}


def _scenario() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _counts(sink: LineSink) -> dict[str, int]:
    return {item.address: item.failures for item in sink.detector.finish(top=100).top_sources}


def _sink() -> LineSink:
    return LineSink(Detector(DetectionRules()), FormatSetting.JSON)


def test_empty_pages_and_repeated_token_read_to_the_end() -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    sink = _sink()
    expected_tokens = [None, "tokA", "tokB", "tokB"]
    with Stubber(logs) as stubber:
        for response, token in zip(_scenario()["responses_in_order"], expected_tokens, strict=True):
            params = dict(REQUEST) if token is None else {**REQUEST, "nextToken": token}
            stubber.add_response("filter_log_events", response, params)

        result = read_log_events(logs, REQUEST, sink, ReadLimits())

        stubber.assert_no_pending_responses()
    assert result.stop_reason is StopReason.COMPLETE
    assert result.pages == 4
    assert result.repeated_tokens == 1
    assert _counts(sink) == {"203.0.113.50": 2, "203.0.113.51": 1}


def test_endless_token_stops_at_page_cap(caplog: pytest.LogCaptureFixture) -> None:
    endless = _scenario()["endless_variant"]
    logs = boto3.client("logs", region_name="us-east-1")
    sink = _sink()
    with Stubber(logs) as stubber:
        stubber.add_response("filter_log_events", endless["first"])
        for _ in range(9):
            stubber.add_response("filter_log_events", copy.deepcopy(endless["then_forever"]))

        with caplog.at_level(logging.WARNING):
            result = read_log_events(logs, REQUEST, sink, ReadLimits(max_pages=10))

    assert result.stop_reason is StopReason.PAGE_CAP
    assert result.complete is False
    assert result.last_token == "tokZ"
    assert _counts(sink) == {"203.0.113.52": 1}
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings[0].__dict__.get("next_token") == "tokZ"


def test_endless_token_stops_at_deadline() -> None:
    endless = _scenario()["endless_variant"]
    logs = boto3.client("logs", region_name="us-east-1")
    ticks = iter(range(100))
    limits = ReadLimits(deadline=3, clock=lambda: float(next(ticks)))
    with Stubber(logs) as stubber:
        stubber.add_response("filter_log_events", endless["first"])
        for _ in range(2):
            stubber.add_response("filter_log_events", copy.deepcopy(endless["then_forever"]))

        result = read_log_events(logs, REQUEST, _sink(), limits)

    assert result.stop_reason is StopReason.DEADLINE
    assert result.pages == 3


def test_missing_log_group_reports_error_code() -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    with Stubber(logs) as stubber:
        stubber.add_client_error(
            "filter_log_events", "ResourceNotFoundException", "The specified log group does not exist."
        )

        result = read_log_events(logs, REQUEST, _sink(), ReadLimits())

    assert result.stop_reason is StopReason.ERROR
    assert result.error_code == "ResourceNotFoundException"
