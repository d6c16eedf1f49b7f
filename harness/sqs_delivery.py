"""SQS-to-Lambda delivery, as the Lambda event source mapping does it, for the embedded AWS.

Messages are received in batches up to the mapping's BatchSize and handed to the function in
Lambda's SQS event shape. With ReportBatchItemFailures, only the messages the function lists in
`batchItemFailures` return to the queue; an invocation error, or a response that names a message
outside the batch, returns the whole batch, as Lambda documents. Returned messages become visible
again at once here (in AWS, after the visibility timeout), and the queue's redrive policy moves a
message to the dead-letter queue after maxReceiveCount receives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.deploy import QueueMapping
from harness.invoke import Invocation


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
) -> DeliveryReport:
    """Poll the mapping's queue until it is empty (or `max_rounds` batches), invoking the function."""
    report = DeliveryReport()
    for _ in range(max_rounds):
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
    return report
