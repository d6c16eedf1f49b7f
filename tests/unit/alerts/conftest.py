"""Shared helpers of the alert router tests: the suite's topic ARNs and alerts read from events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from celebops.alerts.envelope import parse_record
from celebops.alerts.model import Alert
from celebops.alerts.parse import parse_alert
from celebops.alerts.routing import RoutingConfig
from tests.conftest import load_event

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alerts"

TOPICS = {
    "CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-critical",
    "WARNINGS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-warnings",
    "INFO_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-info",
    "COST_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-cost",
}

EVENT_NAMES = (
    "metric_alarm",
    "p95_alarm",
    "p95_ok",
    "metric_math",
    "anomaly_band",
    "composite_alarm",
    "composite_ok",
    "missing_data",
    "eventbridge_state_change",
    "finding",
    "budget",
    "plain_text",
    "null_subject",
    "long_name_reason",
    "long_name_ok",
    "huge_reason",
)


def routing_config() -> RoutingConfig:
    return RoutingConfig.from_env(TOPICS)


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def alerts_of(event_name: str) -> list[Alert]:
    return [parse_alert(parse_record(record)) for record in load_event(f"alert_router_{event_name}")["Records"]]


def alert_of(event_name: str) -> Alert:
    (alert,) = alerts_of(event_name)
    return alert


@pytest.fixture
def topic_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in TOPICS.items():
        monkeypatch.setenv(name, value)
    return TOPICS
