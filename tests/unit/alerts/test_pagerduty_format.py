from __future__ import annotations

import hashlib
import json

import pytest
from syrupy.assertion import SnapshotAssertion

from celebops.alerts.model import Notification
from celebops.alerts.pagerduty_format import PagerDutyOptions, bounded_key, format_pagerduty
from celebops.alerts.parse import parse_alert
from celebops.alerts.routing import route

from .conftest import EVENT_NAMES, alert_of, routing_config
from .limits import pagerduty_limit_problems

OPTIONS = PagerDutyOptions(
    client_url="https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards",
    runbook_base_url="https://github.com/example/celebrity-database-ops/blob/main/docs/runbooks",
)


def _event(event_name: str) -> dict | None:
    alert = alert_of(event_name)
    return format_pagerduty(alert, route(alert, routing_config()), OPTIONS)


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_pagerduty_event_snapshot(event_name: str, snapshot: SnapshotAssertion) -> None:
    assert _event(event_name) == snapshot


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_pagerduty_event_within_limits(event_name: str) -> None:
    event = _event(event_name)

    assert event is None or pagerduty_limit_problems(event) == []


def test_long_arn_dedup_key_hashed() -> None:
    alert = alert_of("long_name_reason")

    event = _event("long_name_reason")

    assert event is not None
    assert event["dedup_key"] == "cw:" + hashlib.sha256(alert.alarm_arn.encode()).hexdigest()


def test_long_alarm_ok_resolves_same_key() -> None:
    trigger = _event("long_name_reason")
    resolve = _event("long_name_ok")

    assert trigger is not None
    assert resolve is not None
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"]


def test_long_summary_capped_and_starts_with_state() -> None:
    event = _event("long_name_reason")

    assert event is not None
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["summary"].startswith("ALARM: prod-orders-service-primary-queue-depth")


def test_full_reason_in_custom_details() -> None:
    alert = alert_of("long_name_reason")

    event = _event("long_name_reason")

    assert event is not None
    assert event["payload"]["custom_details"]["reason"] == alert.reason
    assert len(alert.reason) > 1024


def test_p95_ok_resolves_what_alarm_opened() -> None:
    alert = alert_of("composite_alarm")
    ok = alert_of("composite_ok")

    assert format_pagerduty(alert, route(alert, routing_config()), OPTIONS)["event_action"] == "trigger"
    assert format_pagerduty(ok, route(ok, routing_config()), OPTIONS)["event_action"] == "resolve"


def test_short_arn_is_the_key() -> None:
    event = _event("metric_alarm")

    assert event is not None
    assert event["dedup_key"] == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-api-5xx"


def test_bounded_key_deterministic() -> None:
    raw = "x" * 300

    assert bounded_key(raw, "cw:") == bounded_key(raw, "cw:")
    assert len(bounded_key(raw, "cw:")) == 67


def test_finding_uses_own_dedup_key() -> None:
    event = _event("finding")

    assert event is not None
    assert event["dedup_key"] == "restore-test:celebrity-database"
    assert event["payload"]["severity"] == "critical"


def test_resolved_finding_resolves() -> None:
    alert = alert_of("finding")
    document = alert.finding.to_dict()
    document["details"] = {**document["details"], "resolved": True}
    resolved = parse_alert(Notification("m2", alert.notification.topic_arn, None, json.dumps(document), None))

    event = format_pagerduty(resolved, route(resolved, routing_config()), OPTIONS)

    assert event == {"event_action": "resolve", "dedup_key": "restore-test:celebrity-database"}


def test_oversized_details_shrunk_under_limit() -> None:
    message = json.dumps(
        {
            "AlarmName": "big",
            "NewStateValue": "ALARM",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:big",
            "NewStateReason": "é" * 400_000,
        }
    )
    alert = parse_alert(
        Notification("m", "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-critical", None, message, None)
    )

    event = format_pagerduty(alert, route(alert, routing_config()), OPTIONS)

    assert event is not None
    assert pagerduty_limit_problems(event) == []
    assert event["payload"]["custom_details"]["reason"].endswith("… (truncated)")


def test_text_never_pages() -> None:
    assert _event("plain_text") is None


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_pagerduty_event_has_no_null_words(event_name: str) -> None:
    event = _event(event_name)
    text = json.dumps(event, ensure_ascii=False) if event is not None else ""

    for word in ("None", "null", "undefined", "KeyError"):
        assert word not in text
