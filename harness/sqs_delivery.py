"""SQS-to-Lambda delivery, as the Lambda event source mapping does it, for the embedded AWS.

Messages are received in batches up to the mapping's BatchSize and handed to the function in
Lambda's SQS event shape. With ReportBatchItemFailures, only the messages the function lists in
`batchItemFailures` return to the queue; an invocation error, or a response that names a message
outside the batch, returns the whole batch, as Lambda documents. Returned messages become visible
again at once here (in AWS, after the visibility timeout), and the queue's redrive policy moves a
message to the dead-letter queue after maxReceiveCount receives.

Given a CloudWatch client, a delivery also puts the `AWS/SQS` queue metrics, which SQS publishes
each minute and moto never does. The queue is sampled before the first receive and after the
last. Its dead-letter queue is sampled after the last receive, because moto moves messages there
only during a receive.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from harness.deploy import QueueMapping
from harness.emf import MetricRecord, put_emf_metrics
from harness.invoke import Invocation

#: Queue attributes behind the ApproximateNumberOfMessages* metrics, by metric name.
_DEPTH_ATTRIBUTES = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}


@dataclass
class DeliveryRound:
    received: int
    succeeded: int
    returned: int
    invocation: Invocation


@dataclass
class DeliveryReport:
    rounds: list[DeliveryRound] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(r.succeeded for r in self.rounds)

    @property
    def returned(self) -> int:
        return sum(r.returned for r in self.rounds)


@dataclass(frozen=True)
class QueueSample:
    """One reading of a queue's depth and oldest message, as SQS publishes them to CloudWatch."""

    queue_name: str
    at: datetime
    depth: dict[str, int]  # metric name -> number of messages
    oldest_age_seconds: float | None = None  # None when the age cannot be known without a receive

    @property
    def empty(self) -> bool:
        return not any(self.depth.values())


def read_queue_sample(sqs: Any, queue_url: str, at: datetime) -> QueueSample:
    """Read a queue's depth with GetQueueAttributes; an empty queue has an oldest-message age of 0."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_DEPTH_ATTRIBUTES.values()))[
        "Attributes"
    ]
    depth = {metric: int(attributes.get(attribute, 0)) for metric, attribute in _DEPTH_ATTRIBUTES.items()}
    sample = QueueSample(queue_name=queue_url.rsplit("/", 1)[-1], at=at, depth=depth)
    return sample if not sample.empty else QueueSample(sample.queue_name, at, depth, oldest_age_seconds=0.0)


def oldest_age_seconds(messages: Sequence[dict[str, Any]], at: datetime) -> float | None:
    """Return the age of the oldest of `messages` from their SentTimestamp attribute (epoch milliseconds)."""
    sent = [int(m["Attributes"]["SentTimestamp"]) for m in messages if "SentTimestamp" in m.get("Attributes", {})]
    if not sent:
        return None
    return max(0.0, at.timestamp() - min(sent) / 1000)


def queue_metric_records(sample: QueueSample) -> list[MetricRecord]:
    """Build the AWS/SQS metrics of one sample, by QueueName, with the units SQS uses."""
    dimensions = (("QueueName", sample.queue_name),)
    records = [
        MetricRecord("AWS/SQS", name, dimensions, (float(count),), sample.at, "Count")
        for name, count in sample.depth.items()
    ]
    if sample.oldest_age_seconds is not None:
        age = round(sample.oldest_age_seconds, 3)
        records.append(
            MetricRecord("AWS/SQS", "ApproximateAgeOfOldestMessage", dimensions, (age,), sample.at, "Seconds")
        )
    return records


def dead_letter_queue_url(sqs: Any, queue_url: str) -> str | None:
    """Return the URL of the queue's redrive target, or None when it has no redrive policy."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = attributes.get("RedrivePolicy")
    if not policy:
        return None
    target_name = json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[-1]
    return str(sqs.get_queue_url(QueueName=target_name)["QueueUrl"])


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """Convert a ReceiveMessage result into a record of Lambda's SQS event."""
    attributes = message.get("Attributes", {})
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            key: attributes[key]
            for key in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
            if key in attributes
        },
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(invocation: Invocation, batch_ids: set[str], partial: bool) -> set[str]:
    """Message ids Lambda returns to the queue after this invocation."""
    if not invocation.ok:
        return set(batch_ids)
    if not partial:
        return set()
    response = invocation.result
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set(batch_ids)
    failures = response.get("batchItemFailures") or []
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            # Lambda treats a malformed or foreign identifier as a failure of the whole batch.
            return set(batch_ids)
        failed.add(identifier)
    return failed


def deliver(
    sqs: Any,
    mapping: QueueMapping,
    call_function: Callable[[dict[str, Any]], Invocation],
    region: str,
    max_rounds: int = 20,
    cloudwatch: Any | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DeliveryReport:
    """Poll the mapping's queue until it is empty (or `max_rounds` batches), invoking the function.

    With `cloudwatch`, the queue and its dead-letter queue are sampled into AWS/SQS metrics at `now()`.
    """
    report = DeliveryReport()
    before = read_queue_sample(sqs, mapping.queue_url, now()) if cloudwatch is not None else None
    for _ in range(max_rounds):
        messages = _receive_batch(sqs, mapping)
        if before is not None:
            put_emf_metrics(cloudwatch, queue_metric_records(_with_oldest_age(before, messages)))
            before = None
        if not messages:
            break

        records = [to_lambda_record(m, mapping.queue_arn, region) for m in messages]
        invocation = call_function({"Records": records})
        batch_ids = {m["MessageId"] for m in messages}
        failed = failed_message_ids(invocation, batch_ids, mapping.report_batch_item_failures)
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
        report.rounds.append(
            DeliveryRound(
                received=len(messages),
                succeeded=len(messages) - len(failed),
                returned=len(failed),
                invocation=invocation,
            )
        )

    if cloudwatch is not None:
        put_queue_metrics_after_delivery(sqs, cloudwatch, mapping.queue_url, now())
    return report


def _receive_batch(sqs: Any, mapping: QueueMapping) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < mapping.batch_size:
        response = sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(10, mapping.batch_size - len(messages)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        page = response.get("Messages", [])
        if not page:
            break
        messages.extend(page)
    return messages


def _with_oldest_age(sample: QueueSample, first_batch: Sequence[dict[str, Any]]) -> QueueSample:
    """Add the oldest-message age read from the first batch received after the sample."""
    if not first_batch:
        return sample
    # moto returns the visible messages oldest first, so the first batch contains the oldest one.
    # NOTE: a message in flight to another consumer is not received here, while SQS counts its age.
    return replace(sample, oldest_age_seconds=oldest_age_seconds(first_batch, sample.at))


def put_queue_metrics_after_delivery(sqs: Any, cloudwatch: Any, queue_url: str, at: datetime) -> None:
    """Sample the queue and its dead-letter queue after a delivery and put their AWS/SQS metrics.

    A queue with messages left gets no oldest-message age, because reading it would take a receive,
    which would change the messages' receive counts and so their redrive.
    """
    samples = [read_queue_sample(sqs, queue_url, at)]
    dead_letter_url = dead_letter_queue_url(sqs, queue_url)
    if dead_letter_url is not None:
        # NOTE: SQS counts a dead-letter message's age from its move to that queue, which moto does not
        # record, so a non-empty dead-letter queue reports its depth without an age.
        samples.append(read_queue_sample(sqs, dead_letter_url, at))
    put_emf_metrics(cloudwatch, [record for sample in samples for record in queue_metric_records(sample)])
