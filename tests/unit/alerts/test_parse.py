from __future__ import annotations

import json

import pytest

from celebops.alerts.model import AlarmState, AlertKind, Notification
from celebops.alerts.parse import normalise_statistic, normalise_treat_missing_data, parse_alert
from celebops.alerts.regions import region_from_name, resolve_region

from .conftest import alert_of


def _notification(message: str, subject: str | None = "subject") -> Notification:
    return Notification(
        message_id="m-1",
        topic_arn="arn:aws:sns:eu-west-1:123456789012:ops-alerts",
        subject=subject,
        message=message,
        timestamp="2025-03-04T10:15:11.000Z",
    )


def test_p95_alarm_reads_extended_statistic() -> None:
    alert = alert_of("p95_alarm")

    assert alert.kind is AlertKind.METRIC_ALARM
    assert alert.condition is not None
    assert alert.condition.metric is not None
    assert alert.condition.metric.statistic == "p95"
    assert alert.condition.metric.unit is None
    assert alert.condition.threshold == 2000.0


def test_p95_ok_has_ok_state() -> None:
    alert = alert_of("p95_ok")

    assert alert.state is AlarmState.OK
    assert alert.old_state is AlarmState.ALARM


def test_metric_math_has_queries_and_no_metric() -> None:
    alert = alert_of("metric_math")

    assert alert.condition is not None
    assert alert.condition.metric is None
    assert [q.id for q in alert.condition.queries] == ["error_rate", "errors", "invocations"]
    assert alert.condition.queries[0].expression == "100 * errors / MAX([errors, invocations])"


def test_anomaly_band_threshold_metric_id() -> None:
    alert = alert_of("anomaly_band")

    assert alert.condition is not None
    assert alert.condition.threshold is None
    assert alert.condition.band_query is not None
    assert alert.condition.band_query.expression == "ANOMALY_DETECTION_BAND(m1, 2)"
    assert alert.description is None


def test_composite_reads_rule_and_child() -> None:
    alert = alert_of("composite_alarm")

    assert alert.kind is AlertKind.COMPOSITE_ALARM
    assert alert.condition is None
    assert alert.alarm_rule == 'ALARM("api-gateway-5xx-errors") OR ALARM("api-high-latency")'
    assert [c.name for c in alert.children] == ["api-gateway-5xx-errors"]


def test_composite_ok_without_children() -> None:
    alert = alert_of("composite_ok")

    assert alert.kind is AlertKind.COMPOSITE_ALARM
    assert alert.state is AlarmState.OK
    assert alert.children == ()


def test_missing_data_quirks() -> None:
    alert = alert_of("missing_data")

    assert alert.description is None
    assert alert.old_state is AlarmState.INSUFFICIENT_DATA
    assert alert.condition is not None
    assert alert.condition.metric is not None
    assert alert.condition.metric.statistic == "Maximum"
    assert alert.condition.metric.dimensions == ()


def test_eventbridge_state_change_via_sns() -> None:
    alert = alert_of("eventbridge_state_change")

    assert alert.kind is AlertKind.METRIC_ALARM
    assert alert.alarm_name == "dynamodb-throttling"
    assert alert.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:dynamodb-throttling"
    assert alert.condition is not None
    assert alert.condition.metric is not None
    assert alert.condition.metric.dimensions == (("TableName", "celebrity-database"), ("Operation", "Query"))


def test_finding_parsed() -> None:
    alert = alert_of("finding")

    assert alert.kind is AlertKind.FINDING
    assert alert.finding is not None
    assert alert.finding.dedup_key == "restore-test:celebrity-database"
    assert alert.resolved is False


def test_budget_fields_read() -> None:
    alert = alert_of("budget")

    assert alert.kind is AlertKind.BUDGET
    assert alert.budget is not None
    assert alert.budget.budget_name == "celebrity-database-monthly"
    assert alert.budget.actual_amount == "$43.17"
    assert alert.title == "AWS Budget: celebrity-database-monthly"


def test_plain_text_kept_verbatim() -> None:
    alert = alert_of("plain_text")

    assert alert.kind is AlertKind.TEXT
    assert "für Kunde Müller" in alert.reason
    assert "⚠️ —" in alert.reason
    assert alert.title == "manual publish: nightly export"


def test_null_subject_gets_default_title() -> None:
    alert = alert_of("null_subject")

    assert alert.title == "SNS notification"


def test_unknown_json_becomes_unrecognised() -> None:
    alert = parse_alert(_notification(json.dumps({"hello": "world", "n": [1, 2]})))

    assert alert.kind is AlertKind.UNRECOGNISED
    assert '"hello": "world"' in alert.reason


def test_unrecognised_raw_text_truncated() -> None:
    alert = parse_alert(_notification(json.dumps({"blob": "x" * 50_000})))

    assert len(alert.reason) <= 20_000
    assert alert.reason.endswith("… (truncated)")


def test_invalid_finding_becomes_unrecognised() -> None:
    document = {"schema": "celebrity-database-ops/finding", "version": 1, "severity": "loud"}

    alert = parse_alert(_notification(json.dumps(document)))

    assert alert.kind is AlertKind.UNRECOGNISED
    assert alert.description is not None
    assert "invalid finding" in alert.description


def test_wrong_types_in_alarm_do_not_crash() -> None:
    document = {
        "AlarmName": 123,
        "NewStateValue": "alarm",
        "Trigger": {"Metrics": "nope", "Threshold": "abc", "Dimensions": {"a": 1}, "MetricName": "M"},
        "TriggeringChildren": None,
    }

    alert = parse_alert(_notification(json.dumps(document)))

    assert alert.kind is AlertKind.METRIC_ALARM
    assert alert.state is AlarmState.ALARM
    assert alert.title == "123"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("US East (N. Virginia)", "us-east-1"),
        ("US - N. Virginia", "us-east-1"),
        ("EU (Ireland)", "eu-west-1"),
        ("EU - Ireland", "eu-west-1"),
        ("Europe (Frankfurt)", "eu-central-1"),
        ("Asia Pacific (Tokyo)", "ap-northeast-1"),
        ("South America (São Paulo)", "sa-east-1"),
        ("Canada (Central)", "ca-central-1"),
        ("AWS GovCloud (US-West)", "us-gov-west-1"),
        ("eu-west-2", "eu-west-2"),
        ("Atlantis (Deep)", None),
    ],
)
def test_region_name_to_code(name: str, code: str | None) -> None:
    assert region_from_name(name) == code


def test_region_prefers_arn() -> None:
    assert resolve_region("arn:aws:cloudwatch:ap-south-1:123456789012:alarm:x", "US East (N. Virginia)") == "ap-south-1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MAXIMUM", "Maximum"),
        ("samplecount", "SampleCount"),
        ("P95", "p95"),
        ("p99.9", "p99.9"),
        ("TM(10%:90%)", "TM(10%:90%)"),
    ],
)
def test_statistic_spelling(raw: str, expected: str) -> None:
    assert normalise_statistic(raw) == expected


def test_treat_missing_data_label_stripped() -> None:
    assert normalise_treat_missing_data("- TreatMissingData:                    missing") == "missing"
