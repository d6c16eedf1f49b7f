"""Read the transport envelope of an alert: an SQS record carrying an SNS notification (raw
delivery off), an SNS Lambda event record, or an EventBridge event.

With raw delivery off the SQS `body` is the SNS envelope as a JSON string, and its `Message` is a
string again (JSON for CloudWatch alarms and findings, free text otherwise). The message itself is
left undecoded here: `parse` decides what it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from celebops.alerts.errors import EnvelopeError
from celebops.alerts.model import Notification, Origin

_EVENTBRIDGE_KEYS = ("detail-type", "source", "detail")


def _required_text(document: Mapping[str, Any], key: str, where: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise EnvelopeError(f"{where}: field {key!r} is missing or not a non-empty string (got {type(value).__name__})")
    return value


def _optional_text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) else None


def _attributes(raw: Any) -> dict[str, str]:
    """Flatten SNS message attributes ({"name": {"Type": ..., "Value": ...}}) to name -> value."""
    if not isinstance(raw, Mapping):
        return {}
    flat: dict[str, str] = {}
    for name, attribute in raw.items():
        if isinstance(attribute, Mapping):
            value = attribute.get("Value", attribute.get("StringValue"))
            if value is not None:
                flat[str(name)] = str(value)
    return flat


def is_eventbridge_event(document: Any) -> bool:
    return isinstance(document, Mapping) and all(key in document for key in _EVENTBRIDGE_KEYS)


def parse_sns_envelope(document: Mapping[str, Any], where: str = "SNS notification") -> Notification:
    """Read an SNS notification (the `Sns` object of a Lambda record, or the body sent to SQS)."""
    message = document.get("Message")
    if not isinstance(message, str):
        raise EnvelopeError(f"{where}: field 'Message' is missing or not a string (got {type(message).__name__})")
    return Notification(
        message_id=_required_text(document, "MessageId", where),
        topic_arn=_required_text(document, "TopicArn", where),
        subject=_optional_text(document, "Subject"),
        message=message,
        timestamp=_optional_text(document, "Timestamp"),
        attributes=_attributes(document.get("MessageAttributes")),
        origin=Origin.SNS,
    )


def parse_eventbridge_event(event: Mapping[str, Any]) -> Notification:
    """Wrap an EventBridge event as a notification whose message is the event JSON."""
    return Notification(
        message_id=_required_text(event, "id", "EventBridge event"),
        topic_arn=None,
        subject=_optional_text(event, "detail-type"),
        message=json.dumps(event, ensure_ascii=False),
        timestamp=_optional_text(event, "time"),
        origin=Origin.EVENTBRIDGE,
    )


def parse_sqs_body(body: str) -> Notification:
    """Read an SQS message body: an SNS envelope, or an EventBridge event sent to the queue directly."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise EnvelopeError(f"SQS body is not JSON ({detail}); expected an SNS envelope") from None
    if is_eventbridge_event(document):
        return parse_eventbridge_event(document)
    if not isinstance(document, Mapping):
        raise EnvelopeError(f"SQS body is a JSON {type(document).__name__}, expected an SNS envelope object")
    if document.get("Type") not in ("Notification", None):
        raise EnvelopeError(f"SQS body has SNS Type {document.get('Type')!r}, expected 'Notification'")
    return parse_sns_envelope(document, where="SNS envelope in SQS body")


def parse_record(record: Any) -> Notification:
    """Read one record of an SQS or SNS Lambda event, or a whole EventBridge event."""
    if not isinstance(record, Mapping):
        raise EnvelopeError(f"record is a {type(record).__name__}, expected an object")
    if "body" in record:
        body = record["body"]
        if not isinstance(body, str):
            raise EnvelopeError(f"SQS record field 'body' is a {type(body).__name__}, expected a string")
        return parse_sqs_body(body)
    if isinstance(record.get("Sns"), Mapping):
        return parse_sns_envelope(record["Sns"], where="SNS record")
    if is_eventbridge_event(record):
        return parse_eventbridge_event(record)
    keys = ", ".join(sorted(str(key) for key in record)[:10]) or "none"
    raise EnvelopeError(f"record is neither an SQS record, an SNS record nor an EventBridge event (keys: {keys})")
