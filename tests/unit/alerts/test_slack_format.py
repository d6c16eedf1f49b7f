from __future__ import annotations

import json
from dataclasses import replace

import pytest
from syrupy.assertion import SnapshotAssertion

from celebops.alerts.model import Notification
from celebops.alerts.parse import parse_alert
from celebops.alerts.routing import Topic, route
from celebops.alerts.slack_format import SlackOptions, format_slack, format_slack_group
from celebops.alerts.text import escape_mrkdwn

from .conftest import EVENT_NAMES, alert_of, alerts_of, routing_config
from .limits import slack_limit_problems

OPTIONS = SlackOptions(
    dashboard_url="https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/celebrity-database-ops",
    runbook_base_url="https://github.com/example/celebrity-database-ops/blob/main/docs/runbooks",
    mention_critical=True,
)


def _slack(event_name: str, options: SlackOptions = OPTIONS) -> dict:
    alert = alert_of(event_name)
    return format_slack(alert, route(alert, routing_config()), options)


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_slack_payload_snapshot(event_name: str, snapshot: SnapshotAssertion) -> None:
    assert _slack(event_name) == snapshot


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_slack_payload_within_limits(event_name: str) -> None:
    assert slack_limit_problems(_slack(event_name)) == []


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_slack_payload_has_no_null_words(event_name: str) -> None:
    text = json.dumps(_slack(event_name), ensure_ascii=False)

    for word in ("None", "null", "undefined", "KeyError"):
        assert word not in text


def test_huge_reason_truncated_with_marker() -> None:
    body = _slack("huge_reason")
    reason = next(b for b in body["blocks"] if b.get("text", {}).get("text", "").startswith("*Reason*"))

    assert reason["text"]["text"].endswith("… (truncated)")
    assert "#alarmsV2:alarm/search-api-p99-latency|CloudWatch alarm>" in body["blocks"][-1]["text"]["text"]


def test_backticks_neutralised() -> None:
    body = _slack("huge_reason")
    description = next(b for b in body["blocks"] if b.get("text", {}).get("text", "").startswith("*Description*"))

    assert "`" not in description["text"]["text"]


def test_long_name_header_capped() -> None:
    body = _slack("long_name_reason")

    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert body["blocks"][0]["text"]["text"].endswith("… (truncated)")


def test_escape_mrkdwn_entities() -> None:
    assert escape_mrkdwn("a < b && c > `d`") == "a &lt; b &amp;&amp; c &gt; ˋdˋ"


def test_mention_only_when_enabled() -> None:
    quiet = _slack("metric_alarm", replace(OPTIONS, mention_critical=False))
    loud = _slack("metric_alarm")

    assert "<!here>" not in json.dumps(quiet)
    assert "<!here>" in loud["blocks"][1]["text"]["text"]


def test_no_mention_for_ok() -> None:
    assert "<!here>" not in json.dumps(_slack("composite_ok"))


def test_unicode_text_verbatim() -> None:
    body = _slack("plain_text")
    decoded = json.loads(json.dumps(body))

    assert (
        "Nightly export für Kunde Müller finished with warnings ⚠️ — 3 text files"
        in decoded["blocks"][2]["text"]["text"]
    )
    assert set(body) == {"text", "blocks"}


def test_console_link_uses_alarm_region() -> None:
    body = _slack("anomaly_band")

    assert (
        "<https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/checkout-api-latency-anomaly|"
        in body["blocks"][-1]["text"]["text"]
    )


def test_console_link_encodes_name() -> None:
    message = json.dumps(
        {
            "AlarmName": "a b/c#ü",
            "NewStateValue": "ALARM",
            "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a b/c#ü",
        }
    )
    alert = parse_alert(Notification("m", None, None, message, None))

    body = format_slack(alert, route(alert, routing_config()), OPTIONS)

    assert "#alarmsV2:alarm/a%20b%2Fc%23%C3%BC|" in body["blocks"][-1]["text"]["text"]


def test_runbook_from_description_url() -> None:
    body = _slack("huge_reason")

    assert "<https://wiki.example.com/runbooks/search|Runbook>" in body["blocks"][-1]["text"]["text"]


def test_storm_group_snapshot(snapshot: SnapshotAssertion) -> None:
    alerts = alerts_of("storm")

    assert format_slack_group(alerts, Topic.CRITICAL, OPTIONS) == snapshot


def test_storm_group_counts_states() -> None:
    body = format_slack_group(alerts_of("storm"), Topic.CRITICAL, OPTIONS)

    assert body["blocks"][1]["text"]["text"] == "<!here> *ALARM 25, OK 5*"


def test_storm_group_header_names_most_urgent_state() -> None:
    alerts = alerts_of("storm")
    recoveries = [alert for alert in alerts if alert.state is not None and alert.state.value == "OK"]
    firing = [alert for alert in alerts if alert.state is not None and alert.state.value == "ALARM"]

    mixed = format_slack_group(recoveries + firing[:1], Topic.CRITICAL, OPTIONS)
    calm = format_slack_group(recoveries, Topic.CRITICAL, OPTIONS)

    assert mixed["blocks"][0]["text"]["text"].startswith(":rotating_light: 6 alerts")
    assert calm["blocks"][0]["text"]["text"].startswith(":large_green_circle: 5 alerts")
    assert "<!here>" not in calm["blocks"][1]["text"]["text"]


def test_storm_group_of_many_truncated() -> None:
    alerts = alerts_of("storm") * 20

    body = format_slack_group(alerts, Topic.CRITICAL, OPTIONS)

    assert slack_limit_problems(body) == []
    assert any("more … (truncated)" in b.get("text", {}).get("text", "") for b in body["blocks"])


def test_unreadable_record_within_limits() -> None:
    from celebops.alerts.errors import EnvelopeError
    from celebops.alerts.router import unreadable_alert

    alert = unreadable_alert({"body": "not json {"}, "item-1", EnvelopeError("SQS body is not JSON"))

    body = format_slack(alert, route(alert, routing_config()), SlackOptions())

    assert slack_limit_problems(body) == []
    assert body["text"].startswith("Unreadable alert record — not json {")
