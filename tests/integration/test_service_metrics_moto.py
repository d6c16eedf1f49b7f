"""AWS/SQS queue samples taken while delivering to a function, read back from the moto server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from harness.deploy import QueueMapping
from harness.invoke import Invocation
from harness.sqs_delivery import deliver


@pytest.fixture
def queues(moto: Any) -> dict[str, str]:
    sqs = boto3.client("sqs")
    dead_letter_url = sqs.create_queue(QueueName="alerts-dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": 1})
    url = sqs.create_queue(QueueName="alerts", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn, "dead_letter_url": dead_letter_url}


def _mapping(queues: dict[str, str]) -> QueueMapping:
    return QueueMapping(
        queue_url=queues["url"],
        queue_arn=queues["arn"],
        function="AlertRouterFunction",
        batch_size=10,
        report_batch_item_failures=True,
    )


def _series(queue_name: str, metric: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    response = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName=metric,
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )
    return sorted(response["Datapoints"], key=lambda point: point["Timestamp"])


def _fails(event: dict[str, Any]) -> Invocation:
    return Invocation("AlertRouterFunction", "error", error={"errorType": "RuntimeError", "errorMessage": "down"})


def _succeeds(event: dict[str, Any]) -> Invocation:
    return Invocation("AlertRouterFunction", "ok", result={"batchItemFailures": []})


def test_delivery_samples_depth_and_age(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    for index in range(3):
        sqs.send_message(QueueUrl=queues["url"], MessageBody=f"alert {index}")
    # Sampled 90 s after the sends, so the oldest message is about 90 s old.
    sampled_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=90)

    report = deliver(
        sqs, _mapping(queues), _succeeds, "us-east-1", cloudwatch=boto3.client("cloudwatch"), now=lambda: sampled_at
    )

    window = (sampled_at - timedelta(minutes=5), sampled_at + timedelta(minutes=5))
    visible = _series("alerts", "ApproximateNumberOfMessagesVisible", *window)
    age = _series("alerts", "ApproximateAgeOfOldestMessage", *window)
    assert report.delivered == 3
    assert [point["SampleCount"] for point in visible] == [2.0]
    # Before the first receive 3 messages are visible; after the delivery none are.
    assert visible[0]["Maximum"] == 3.0
    assert 85.0 <= age[0]["Maximum"] <= 95.0
    assert age[0]["SampleCount"] == 2.0


def test_delivery_samples_dead_letter_queue(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    for index in range(2):
        sqs.send_message(QueueUrl=queues["url"], MessageBody=f"alert {index}")
    sampled_at = datetime.now(UTC).replace(microsecond=0)

    deliver(sqs, _mapping(queues), _fails, "us-east-1", cloudwatch=boto3.client("cloudwatch"), now=lambda: sampled_at)

    window = (sampled_at - timedelta(minutes=5), sampled_at + timedelta(minutes=5))
    dead_letters = _series("alerts-dlq", "ApproximateNumberOfMessagesVisible", *window)
    dead_letter_age = _series("alerts-dlq", "ApproximateAgeOfOldestMessage", *window)
    source = _series("alerts", "ApproximateNumberOfMessagesVisible", *window)
    assert [point["Maximum"] for point in dead_letters] == [2.0]
    # SQS dates a dead-letter message from its move, which moto does not record, so no age is put.
    assert dead_letter_age == []
    assert [point["Maximum"] for point in source] == [2.0]


def test_delivery_without_cloudwatch_puts_nothing(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues["url"], MessageBody="alert")

    deliver(sqs, _mapping(queues), _succeeds, "us-east-1")

    assert boto3.client("cloudwatch").list_metrics(Namespace="AWS/SQS")["Metrics"] == []
