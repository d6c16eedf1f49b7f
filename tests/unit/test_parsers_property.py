"""Every parser of untrusted input returns a value or raises its own documented error, never another exception.

Inputs come from SNS, SQS, EventBridge, DynamoDB items, access logs and the state machine's
state, so any of them may be truncated, mistyped or hostile.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celebops.access_scan.addresses import canonical_address, parse_network
from celebops.access_scan.parse import AccessRecord, FormatSetting, MalformedLine, parse_line, parse_request_time
from celebops.alerts.budgets import looks_like_budget, parse_budget
from celebops.alerts.envelope import parse_record
from celebops.alerts.errors import EnvelopeError
from celebops.alerts.model import Notification
from celebops.alerts.parse import parse_alert
from celebops.errors import ConfigError
from celebops.findings import SCHEMA, Finding, FindingError, parse_finding
from celebops.freshness.scrape_check import parse_result_event
from celebops.freshness.timestamps import TimestampFormat, attribute_scalar, parse_timestamp
from celebops.restore.errors import InvalidRestoreInput
from celebops.restore.naming import parse_restore_type
from celebops.restore.times import parse_iso
from celebops.retention.policy import parse_policy

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOPIC = "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-critical"

ENVELOPE_KEYS = ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "MessageAttributes"]
EVENT_KEYS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
FINDING_KEYS = [
    "schema",
    "version",
    "finding_id",
    "source",
    "kind",
    "severity",
    "title",
    "summary",
    "created_at",
    "details",
    "resource",
    "runbook",
    "dedup_key",
]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=10,
)


def _keyed(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), json_values, max_size=8)


def _call(parser: Any, *args: Any, allowed: type[Exception]) -> tuple[Any, Exception | None]:
    """Call `parser`; return (result, None), or (None, error) when it raises its documented error type."""
    try:
        return parser(*args), None
    except allowed as exc:
        return None, exc


def _dumps(value: Any) -> str:
    # allow_nan: Python's json writes NaN and Infinity, which other producers never do but a parser must survive.
    return json.dumps(value, allow_nan=True)


sns_envelopes = _keyed(ENVELOPE_KEYS)
eventbridge_events = _keyed(EVENT_KEYS)
sqs_bodies = st.one_of(
    sns_envelopes.map(_dumps), eventbridge_events.map(_dumps), json_values.map(_dumps), st.text(max_size=200)
)
records = st.one_of(
    st.fixed_dictionaries({"body": sqs_bodies}, optional={"messageId": st.text(max_size=20)}),
    st.fixed_dictionaries({"body": json_values}),
    st.fixed_dictionaries({"Sns": sns_envelopes | json_values}),
    eventbridge_events,
    json_values,
)


@SETTINGS
@given(records)
def test_parse_record_raises_only_envelope_error(record: Any) -> None:
    notification, error = _call(parse_record, record, allowed=EnvelopeError)

    assert error is None or str(error)
    if error is None:
        assert isinstance(notification.message, str)


@SETTINGS
@given(st.one_of(json_values.map(_dumps), st.text(max_size=300), _keyed(FINDING_KEYS).map(_dumps)))
def test_parse_alert_never_raises(message: str) -> None:
    alert = parse_alert(Notification("m-1", TOPIC, None, message, None))

    assert alert.title


@SETTINGS
@given(_keyed(FINDING_KEYS), st.sampled_from(["critical", "warning", "info", "", "CRITICAL", None]))
def test_parse_finding_raises_only_finding_error(document: dict[str, Any], severity: str | None) -> None:
    candidate = {**document, "schema": SCHEMA, "version": 1, "severity": severity}
    finding, error = _call(parse_finding, candidate, allowed=FindingError)

    assert error is None or str(error)
    if error is None:
        assert isinstance(finding, Finding)


@SETTINGS
@given(st.text(max_size=40) | st.none(), st.sampled_from(list(TimestampFormat)))
def test_parse_timestamp_never_raises(text: str | None, timestamp_format: TimestampFormat) -> None:
    moment = parse_timestamp(text, timestamp_format)

    assert moment is None or moment.tzinfo is not None


@SETTINGS
@given(
    st.one_of(st.integers(), st.floats(), st.datetimes()).map(str) | st.text(max_size=30),
    st.sampled_from(list(TimestampFormat)),
)
def test_parse_timestamp_numbers_and_dates(text: str, timestamp_format: TimestampFormat) -> None:
    moment = parse_timestamp(text, timestamp_format)

    assert moment is None or isinstance(moment, datetime)


@SETTINGS
@given(json_values)
def test_attribute_scalar_never_raises(value: Any) -> None:
    text = attribute_scalar(value)

    assert text is None or isinstance(text, str)


REQUEST_TIME = r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"
request_times = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}", fullmatch=True),
    st.from_regex(r"\d{2}/(Jan|Mar|Dec)/?[0-9]{0,4}:?\d{0,2}", fullmatch=True),
)


@SETTINGS
@given(request_times)
def test_parse_request_time_raises_only_value_error(text: str) -> None:
    seconds, error = _call(parse_request_time, text, allowed=ValueError)

    assert error is not None or isinstance(seconds, int)


access_lines = st.one_of(
    st.text(max_size=200),
    st.from_regex(
        r"[a-z0-9-]{1,20} [0-9a-f.:\[\]]{1,40} " + REQUEST_TIME + r' "[A-Z]{1,7} [^"]{0,30}" \d{3}',
        fullmatch=True,
    ),
    st.from_regex(
        r"[0-9a-f.:]{1,40} - - \[" + REQUEST_TIME + r'\] "[A-Z]{1,7} \S{1,20} HTTP/1\.1" \d{3} \d{1,5} \S{1,20}',
        fullmatch=True,
    ),
    _keyed(
        ["requestId", "ip", "requestTime", "httpMethod", "resourcePath", "status", "protocol", "responseLength"]
    ).map(_dumps),
)


@SETTINGS
@given(access_lines, st.sampled_from(list(FormatSetting)))
def test_parse_line_never_raises(line: str, setting: FormatSetting) -> None:
    outcome = parse_line(line, setting)

    assert isinstance(outcome, (AccessRecord, MalformedLine))


@SETTINGS
@given(st.text(max_size=60) | st.from_regex(r"[0-9a-f:.\[\]]{1,45}(:\d{1,5})?", fullmatch=True))
def test_canonical_address_never_raises(raw: str) -> None:
    canonical = canonical_address(raw)

    assert canonical is None or isinstance(canonical, str)


@SETTINGS
@given(st.text(max_size=60) | st.from_regex(r"[0-9a-f:.]{1,40}/\d{1,3}", fullmatch=True))
def test_parse_network_raises_only_value_error(entry: str) -> None:
    network, error = _call(parse_network, entry, allowed=ValueError)

    assert error is None or str(error)
    if error is None:
        assert network.num_addresses >= 1


@SETTINGS
@given(json_values | st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?", fullmatch=True))
def test_parse_iso_raises_only_invalid_restore_input(value: Any) -> None:
    moment, error = _call(parse_iso, value, "started_at", allowed=InvalidRestoreInput)

    assert error is None or str(error)
    if error is None:
        assert moment.tzinfo is not None


@SETTINGS
@given(json_values)
def test_parse_restore_type_raises_only_invalid_restore_input(value: Any) -> None:
    _, error = _call(parse_restore_type, value, allowed=InvalidRestoreInput)

    assert error is None or str(error)


result_events = st.fixed_dictionaries(
    {
        "detail-type": st.sampled_from(
            ["Lambda Function Invocation Result - Success", "Lambda Function Invocation Result - Failure"]
        )
        | st.text(max_size=10),
        "detail": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"requestContext": json_values | _keyed(["functionArn", "requestId", "condition"])},
                optional={"responsePayload": json_values, "responseContext": json_values},
            ),
        ),
    }
)


@SETTINGS
@given(result_events)
def test_parse_result_event_raises_only_value_error(event: dict[str, Any]) -> None:
    result, error = _call(parse_result_event, event, allowed=ValueError)

    assert error is None or str(error)
    if error is None:
        assert result.function_name is not None


@SETTINGS
@given(st.text(max_size=100) | st.dictionaries(st.text(max_size=20), json_values, max_size=4).map(_dumps))
def test_parse_policy_raises_only_config_error(text: str) -> None:
    policy, error = _call(parse_policy, text, allowed=ConfigError)

    assert error is None or str(error)
    if error is None:
        assert policy is not None


@SETTINGS
@given(st.text(max_size=300))
def test_parse_budget_never_raises_on_budget_like_text(text: str) -> None:
    candidate = "AWS Budget Notification\n" + text
    if looks_like_budget(candidate):
        details = parse_budget(candidate)

        assert details is not None
