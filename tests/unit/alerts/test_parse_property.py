from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from celebops.alerts.envelope import parse_record
from celebops.alerts.errors import EnvelopeError
from celebops.alerts.model import Notification
from celebops.alerts.pagerduty_format import PagerDutyOptions, format_pagerduty
from celebops.alerts.parse import parse_alert
from celebops.alerts.routing import route
from celebops.alerts.slack_format import SlackOptions, format_slack

from .conftest import TOPICS, routing_config
from .limits import pagerduty_limit_problems, slack_limit_problems

ALARM_KEYS = [
    "AlarmName",
    "AlarmDescription",
    "NewStateValue",
    "OldStateValue",
    "NewStateReason",
    "AlarmArn",
    "Region",
    "StateChangeTime",
    "Trigger",
    "AlarmRule",
    "TriggeringChildren",
    "MetricName",
    "Metrics",
    "Dimensions",
    "Threshold",
    "ThresholdMetricId",
    "schema",
    "version",
    "detail-type",
    "detail",
    "Period",
    "Statistic",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(ALARM_KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)
alarm_states = st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA", "alarm", "bogus"])


def _notification(message: str) -> Notification:
    return Notification("m-1", TOPICS["CRITICAL_TOPIC_ARN"], None, message, None)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values.map(json.dumps), st.text(max_size=200)))
def test_parse_alert_never_raises(message: str) -> None:
    alert = parse_alert(_notification(message))

    assert alert.title


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(ALARM_KEYS), json_values, max_size=8), alarm_states, st.text(max_size=300))
def test_alarm_like_messages_format_within_limits(document: dict[str, Any], state: str, name: str) -> None:
    message = json.dumps({**document, "AlarmName": name or "x", "NewStateValue": state})
    alert = parse_alert(_notification(message))
    decided = route(alert, routing_config())

    slack = format_slack(alert, decided, SlackOptions(mention_critical=True))
    event = format_pagerduty(alert, decided, PagerDutyOptions())

    assert slack_limit_problems(slack) == []
    assert event is None or pagerduty_limit_problems(event) == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"body": st.one_of(json_values.map(json.dumps), st.text())})))
def test_parse_record_raises_only_envelope_error(record: Any) -> None:
    try:
        parse_record(record)
    except EnvelopeError:
        return
