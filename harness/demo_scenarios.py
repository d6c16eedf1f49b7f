"""Alert-path scenarios the demo runs after the scheduled jobs.

Each scenario takes the running `Demo`, acts through the same path as production (CloudWatch's
notification message or a job's finding, published to a topic, carried by SNS to the alert
queue, delivered to the router), checks what the Slack and PagerDuty receivers got, and returns
{"name", "passed", "detail"}. A scenario that does not pass makes `make demo` exit non-zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness import alarms
from harness.receivers import PAGERDUTY, SLACK

Scenario = Callable[[Any], dict[str, Any]]


def _deliveries(demo: Any, receiver: str) -> list[dict[str, Any]]:
    return list(demo.env.receivers.deliveries(receiver))


def _set_state(demo: Any, logical_id: str, state: str, reason: str) -> str:
    name = demo.env.deployment.physical_id(logical_id)
    alarms.set_alarm_state(demo.cloudwatch, demo.sns, name, state, reason, datetime.now(UTC))
    demo.deliver_alerts()
    return name


def _publish_finding(demo: Any, topic_logical_id: str, finding_id: str, severity: str, title: str) -> None:
    finding = {
        "schema": "celebrity-database-ops/finding",
        "version": 1,
        "finding_id": finding_id,
        "source": "demo",
        "kind": "demo.notice",
        "severity": severity,
        "title": title,
        "summary": f"{title}. Published by the demo to show the {severity} path.",
        "created_at": datetime.now(UTC).isoformat(),
        "details": {},
    }
    demo.sns.publish(
        TopicArn=demo.env.deployment.physical_id(topic_logical_id), Subject=title[:100], Message=json.dumps(finding)
    )


def critical_alarm_pages_and_resolves(demo: Any) -> dict[str, Any]:
    before = len(_deliveries(demo, PAGERDUTY))
    name = _set_state(demo, "AlertDeadLetterQueueAlarm", "ALARM", "Demo: 3 alerts parked in the dead-letter queue")
    _set_state(demo, "AlertDeadLetterQueueAlarm", "OK", "Demo: the dead-letter queue is empty again")
    events = [d["payload"] for d in _deliveries(demo, PAGERDUTY)[before:]]

    actions = [e.get("event_action") for e in events]
    keys = {e.get("dedup_key") for e in events}
    passed = actions == ["trigger", "resolve"] and len(keys) == 1
    return {
        "name": "critical alarm pages, then resolves",
        "passed": passed,
        "detail": f"{name}: PagerDuty got {actions} with {len(keys)} dedup key(s)",
    }


def warning_goes_to_slack_only(demo: Any) -> dict[str, Any]:
    slack_before = len(_deliveries(demo, SLACK))
    pages_before = len(_deliveries(demo, PAGERDUTY))
    name = _set_state(demo, "LogRetentionErrorsAlarm", "ALARM", "Demo: the retention job failed on 2 log groups")
    _set_state(demo, "LogRetentionErrorsAlarm", "OK", "Demo: the retention job succeeded")

    texts = [str(d["payload"].get("text", "")) for d in _deliveries(demo, SLACK)[slack_before:]]
    pages = len(_deliveries(demo, PAGERDUTY)) - pages_before
    passed = len(texts) == 2 and pages == 0 and all(name in text for text in texts)
    return {
        "name": "warning alarm posts to Slack and never pages",
        "passed": passed,
        "detail": f"{len(texts)} Slack message(s), {pages} PagerDuty event(s)",
    }


def info_finding_reaches_slack(demo: Any) -> dict[str, Any]:
    before = len(_deliveries(demo, SLACK))
    _publish_finding(demo, "InfoTopic", "demo-info-1", "info", "Weekly scrape finished: 4 of 4 sources")
    demo.deliver_alerts()

    texts = [str(d["payload"].get("text", "")) for d in _deliveries(demo, SLACK)[before:]]
    passed = len(texts) == 1 and "Weekly scrape finished" in texts[0]
    return {"name": "info finding posts to Slack", "passed": passed, "detail": f"{len(texts)} Slack message(s)"}


def alarm_storm_is_grouped(demo: Any) -> dict[str, Any]:
    warnings_topic = demo.env.deployment.physical_id("WarningsTopic")
    names = [f"demo-storm-api-{index:02d}-latency" for index in range(30)]
    for name in names:
        demo.cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription="Demo alarm for the storm scenario",
            Namespace="AWS/ApiGateway",
            MetricName="Latency",
            Dimensions=[{"Name": "ApiName", "Value": "celebrity-database-api"}],
            ExtendedStatistic="p95",
            Period=300,
            EvaluationPeriods=1,
            Threshold=2000,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[warnings_topic],
        )
    slack_before = len(_deliveries(demo, SLACK))
    now = datetime.now(UTC)
    for name in names:
        alarms.set_alarm_state(demo.cloudwatch, demo.sns, name, "ALARM", "Demo: p95 latency 2.4 s", now)
    demo.deliver_alerts()
    demo.cloudwatch.delete_alarms(AlarmNames=names)

    received = len(_deliveries(demo, SLACK)) - slack_before
    return {
        "name": "storm of 30 alarms reaches Slack as one grouped message",
        "passed": received == 1,
        "detail": f"30 alarms -> {received} Slack message(s)",
    }


def slack_outage_delays_without_loss(demo: Any) -> dict[str, Any]:
    receivers = demo.env.receivers
    finding_ids = [f"demo-outage-{index}" for index in range(3)]
    slack_before = len(_deliveries(demo, SLACK))
    # Nine failed requests: three alerts times the router's three attempts in the first invocation.
    receivers.outage(SLACK, count=9)
    for finding_id in finding_ids:
        _publish_finding(demo, "InfoTopic", finding_id, "info", f"Outage test {finding_id}")
    delivered_rounds = []
    for _ in range(5):
        report = demo.deliver_alerts()
        delivered_rounds.append(report)
        if len(_deliveries(demo, SLACK)) - slack_before >= len(finding_ids):
            break
    receivers.reset(SLACK)

    texts = [str(d["payload"].get("text", "")) for d in _deliveries(demo, SLACK)[slack_before:]]
    counts = {finding_id: sum(finding_id in text for text in texts) for finding_id in finding_ids}
    passed = all(count == 1 for count in counts.values())
    return {
        "name": "Slack outage delays alerts without losing or repeating them",
        "passed": passed,
        "detail": f"deliveries per alert after recovery: {counts}",
    }


SCENARIOS: list[Scenario] = [
    critical_alarm_pages_and_resolves,
    warning_goes_to_slack_only,
    info_finding_reaches_slack,
    alarm_storm_is_grouped,
    slack_outage_delays_without_loss,
]
