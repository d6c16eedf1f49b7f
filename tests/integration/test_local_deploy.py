"""Local deployment of template.yaml into the moto server, and SQS-to-Lambda delivery."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from harness.deploy import Deployment, QueueMapping, deploy
from harness.invoke import Invocation
from harness.sqs_delivery import deliver, failed_message_ids


@pytest.fixture
def deployment(moto: Any) -> Deployment:
    return deploy("default", {"LogRetentionDryRun": "false"})


def test_deploy_creates_alerting_resources(deployment: Deployment) -> None:
    sns = boto3.client("sns")
    topics = {t["TopicArn"].rsplit(":", 1)[1] for t in sns.list_topics()["Topics"]}

    assert {f"{deployment.stack_name}-{name}" for name in ("critical", "warnings", "info", "cost")} <= topics
    subscriptions = sns.list_subscriptions()["Subscriptions"]
    assert sum(1 for s in subscriptions if s["Protocol"] == "sqs") == 4


def test_deploy_resolves_function_environment(deployment: Deployment) -> None:
    router = deployment.functions["AlertRouterFunction"]

    assert router.environment["CRITICAL_TOPIC_ARN"].endswith(f":{deployment.stack_name}-critical")
    assert router.environment["IDEMPOTENCY_TABLE"] == f"{deployment.stack_name}-idempotency"
    assert router.environment["POWERTOOLS_SERVICE_NAME"] == "alert-router"
    assert deployment.functions["LogRetentionFunction"].timeout == 600


def test_deploy_registers_schedule_and_queue_mapping(deployment: Deployment) -> None:
    schedules = {s.target_function: s.expression for s in deployment.schedules}

    assert schedules["LogRetentionFunction"] == "cron(15 3 * * ? *)"
    assert [m.function for m in deployment.queue_mappings] == ["AlertRouterFunction"]
    rule_name = next(s.rule_name for s in deployment.schedules if s.target_function == "LogRetentionFunction")
    rule = boto3.client("events").describe_rule(Name=rule_name)
    assert rule["ScheduleExpression"] == "cron(15 3 * * ? *)"


def test_deploy_creates_alarms_with_actions(deployment: Deployment) -> None:
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    by_name = {a["AlarmName"]: a for a in alarms}

    dlq_alarm = by_name[f"{deployment.stack_name}-suite-alert-dlq-not-empty"]
    assert dlq_alarm["AlarmActions"] == [deployment.physical_id("CriticalTopic")]
    assert dlq_alarm["TreatMissingData"] == "notBreaching"


def test_deploy_skips_email_without_address(deployment: Deployment) -> None:
    assert "condition HasAlertEmail is false" in deployment.skipped["WarningsEmailSubscription"]


def test_topic_to_queue_keeps_sns_envelope(deployment: Deployment) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = deployment.physical_id("WarningsTopic")

    sns.publish(TopicArn=topic, Subject="check", Message='{"hello": "world"}')

    messages = sqs.receive_message(QueueUrl=deployment.physical_id("AlertQueue"), MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic
    assert json.loads(envelope["Message"]) == {"hello": "world"}


def _mapping(deployment: Deployment) -> QueueMapping:
    return deployment.queue_mappings[0]


def _send(deployment: Deployment, count: int) -> None:
    sqs = boto3.client("sqs")
    for index in range(count):
        sqs.send_message(QueueUrl=_mapping(deployment).queue_url, MessageBody=json.dumps({"n": index}))


def test_delivery_deletes_processed_batch(deployment: Deployment) -> None:
    _send(deployment, 12)
    batches: list[int] = []

    def function(event: dict[str, Any]) -> Invocation:
        batches.append(len(event["Records"]))
        assert event["Records"][0]["eventSource"] == "aws:sqs"
        return Invocation(function="AlertRouterFunction", status="ok", result={"batchItemFailures": []})

    report = deliver(boto3.client("sqs"), _mapping(deployment), function, "us-east-1")

    assert batches == [12]
    assert report.delivered == 12
    assert report.returned == 0


def test_delivery_returns_only_failed_items(deployment: Deployment) -> None:
    _send(deployment, 3)
    seen: list[str] = []

    def function(event: dict[str, Any]) -> Invocation:
        records = event["Records"]
        seen.extend(json.loads(r["body"])["n"] for r in records)
        failing = [r["messageId"] for r in records if json.loads(r["body"])["n"] == 1]
        if len(seen) > 3:  # second round: the returned message succeeds
            failing = []
        return Invocation(
            function="AlertRouterFunction",
            status="ok",
            result={"batchItemFailures": [{"itemIdentifier": i} for i in failing]},
        )

    report = deliver(boto3.client("sqs"), _mapping(deployment), function, "us-east-1")

    assert sorted(seen) == [0, 1, 1, 2]
    assert report.delivered == 3
    assert report.returned == 1


def test_delivery_parks_poison_message_in_dlq(deployment: Deployment) -> None:
    _send(deployment, 1)

    def always_fails(event: dict[str, Any]) -> Invocation:
        return Invocation(function="AlertRouterFunction", status="error", error={"errorMessage": "boom"})

    report = deliver(boto3.client("sqs"), _mapping(deployment), always_fails, "us-east-1", max_rounds=10)

    assert report.delivered == 0
    dlq = boto3.client("sqs").receive_message(QueueUrl=deployment.physical_id("AlertDeadLetterQueue"))
    assert len(dlq.get("Messages", [])) == 1


def test_foreign_item_identifier_fails_whole_batch() -> None:
    invocation = Invocation(function="f", status="ok", result={"batchItemFailures": [{"itemIdentifier": "x"}]})

    assert failed_message_ids(invocation, {"a", "b"}, partial=True) == {"a", "b"}


def test_empty_response_means_all_succeeded() -> None:
    invocation = Invocation(function="f", status="ok", result=None)

    assert failed_message_ids(invocation, {"a", "b"}, partial=True) == set()


def test_economy_profile_deploys_its_cheaper_resources(moto: Any) -> None:
    deploy("economy")
    cloudwatch = boto3.client("cloudwatch")

    alarms = {
        alarm["AlarmName"]: alarm
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
        for alarm in page["MetricAlarms"]
    }
    dashboards = [entry["DashboardName"] for entry in cloudwatch.list_dashboards()["DashboardEntries"]]

    assert not [name for name in alarms if "lambda-error-rate-warning" in name]
    assert len([name for name in alarms if "lambda-error-rate-critical" in name]) == 7
    throttling = next(alarm for name, alarm in alarms.items() if name.endswith("-dynamodb-throttling"))
    assert [query["Id"] for query in throttling["Metrics"]] == ["throttled", "reads", "writes"]
    assert throttling["Metrics"][0]["Expression"] == "SUM([reads, writes])"
    assert len(dashboards) == 3
    assert not [name for name in dashboards if name.endswith("-suite-health")]
