from __future__ import annotations

import json

import pytest

from celebops.alerts.envelope import parse_record, parse_sqs_body
from celebops.alerts.errors import EnvelopeError
from celebops.alerts.model import Origin
from tests.conftest import load_event

from .conftest import load_fixture


def test_sqs_body_reads_sns_envelope() -> None:
    record = load_fixture("sqs-sns-envelope-in-sqs-batch.json")["Records"][0]

    notification = parse_record(record)

    assert notification.message_id == "5bde3c96-a452-5edc-adac-6cf7d99db78f"
    assert notification.topic_arn == "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-critical"
    assert json.loads(notification.message)["AlarmName"] == "scraper-tmdb-error-rate-critical"
    assert notification.origin is Origin.SNS


def test_sns_lambda_record_accepted() -> None:
    record = load_fixture("sns-alarm-p95-latency-ALARM.json")["Records"][0]

    notification = parse_record(record)

    assert notification.message_id == "78635ae5-f5b0-5c25-928a-f4df62811313"
    assert notification.subject == 'ALARM: "api-high-latency" in US East (N. Virginia)'


def test_null_subject_kept_as_none() -> None:
    record = load_fixture("case-plain-text-null-subject.json")["Records"][0]

    notification = parse_record(record)

    assert notification.subject is None
    assert notification.message == "plain message with no subject"


def test_eventbridge_event_direct() -> None:
    event = load_fixture("eventbridge-alarm-state-change.json")

    notification = parse_record(event)

    assert notification.origin is Origin.EVENTBRIDGE
    assert notification.message_id == "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92"
    assert notification.topic_arn is None


def test_eventbridge_event_as_sqs_body() -> None:
    event = load_fixture("eventbridge-alarm-state-change.json")

    notification = parse_sqs_body(json.dumps(event))

    assert notification.origin is Origin.EVENTBRIDGE


def test_message_attributes_flattened() -> None:
    record = load_fixture("sns-plain-text-message.json")["Records"][0]
    record["Sns"]["MessageAttributes"] = {"severity": {"Type": "String", "Value": "info"}}

    notification = parse_record(record)

    assert notification.attributes == {"severity": "info"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"body": "not json {"}, "SQS body is not JSON"),
        ({"body": "[1, 2]"}, "JSON list"),
        ({"body": json.dumps({"Type": "SubscriptionConfirmation"})}, "expected 'Notification'"),
        ({"body": json.dumps({"Type": "Notification", "TopicArn": "arn:x"})}, "'Message'"),
        ({"body": json.dumps({"Type": "Notification", "Message": "m", "TopicArn": "arn:x"})}, "'MessageId'"),
        ({"body": 42}, "'body' is a int"),
        ({"something": "else"}, "keys: something"),
        ("text", "record is a str"),
    ],
)
def test_malformed_record_raises_typed_error(record: object, expected: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_record(record)

    assert expected in str(caught.value)


def test_malformed_event_records_raise_typed_error() -> None:
    records = load_event("alert_router_malformed")["Records"]

    errors = []
    for record in records:
        with pytest.raises(EnvelopeError) as caught:
            parse_record(record)
        errors.append(str(caught.value))

    assert len(errors) == 2
