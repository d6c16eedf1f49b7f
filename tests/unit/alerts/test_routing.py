from __future__ import annotations

import json
from dataclasses import replace

import pytest

from celebops.alerts.model import AlarmState
from celebops.alerts.routing import Destination, PagerDutyAction, RoutingConfig, Topic, route
from celebops.errors import ConfigError

from .conftest import TOPICS, alert_of, routing_config


def test_critical_alarm_pages_and_posts() -> None:
    decided = route(alert_of("metric_alarm"), routing_config())

    assert decided.topic is Topic.CRITICAL
    assert decided.destinations == (Destination.PAGERDUTY, Destination.SLACK)
    assert decided.pagerduty_action is PagerDutyAction.TRIGGER


def test_critical_ok_resolves() -> None:
    decided = route(alert_of("composite_ok"), routing_config())

    assert decided.pagerduty_action is PagerDutyAction.RESOLVE


def test_warning_alarm_posts_only() -> None:
    decided = route(alert_of("p95_alarm"), routing_config())

    assert decided.destinations == (Destination.SLACK,)


def test_insufficient_data_never_pages() -> None:
    alert = replace(alert_of("metric_alarm"), state=AlarmState.INSUFFICIENT_DATA)

    decided = route(alert, routing_config())

    assert decided.destinations == (Destination.SLACK,)
    assert decided.pagerduty_skip_reason == "INSUFFICIENT_DATA never pages"


def test_text_on_critical_topic_does_not_page() -> None:
    alert = alert_of("plain_text")
    alert = replace(alert, notification=replace(alert.notification, topic_arn=TOPICS["CRITICAL_TOPIC_ARN"]))

    decided = route(alert, routing_config())

    assert decided.destinations == (Destination.SLACK,)


def test_critical_finding_pages_from_any_topic() -> None:
    alert = alert_of("finding")
    alert = replace(alert, notification=replace(alert.notification, topic_arn=TOPICS["INFO_TOPIC_ARN"]))

    decided = route(alert, routing_config())

    assert decided.pagerduty_action is PagerDutyAction.TRIGGER


def test_budget_posts_to_slack_only() -> None:
    decided = route(alert_of("budget"), routing_config())

    assert decided.topic is Topic.COST
    assert decided.destinations == (Destination.SLACK,)


def test_unknown_topic_defaults_to_slack() -> None:
    decided = route(alert_of("metric_alarm"), RoutingConfig.from_env({}))

    assert decided.topic is Topic.UNKNOWN
    assert decided.destinations == (Destination.SLACK,)


def test_prefix_override_sets_team_and_destinations() -> None:
    document = {
        "alarm_prefixes": [
            {"prefix": "orders-", "team": "orders", "channel": "#orders"},
            {"prefix": "orders-api-", "team": "api", "destinations": ["slack"]},
        ]
    }
    config = RoutingConfig.from_env({**TOPICS, "ROUTING_CONFIG": json.dumps(document)})

    decided = route(alert_of("metric_alarm"), config)

    assert decided.team == "api"
    assert decided.destinations == (Destination.SLACK,)


def test_topic_destinations_configurable() -> None:
    config = RoutingConfig.from_env({**TOPICS, "ROUTING_CONFIG": json.dumps({"topics": {"warnings": ["pagerduty"]}})})

    decided = route(alert_of("p95_alarm"), config)

    assert decided.destinations == (Destination.PAGERDUTY,)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("[]", "must be a JSON object"),
        ('{"topics": {"loud": ["slack"]}}', "unknown topic 'loud'"),
        ('{"topics": {"info": ["email"]}}', "unknown destination"),
        ('{"alarm_prefixes": [{"team": "x"}]}', "non-empty string 'prefix'"),
        ("{not json", "not valid JSON"),
    ],
)
def test_invalid_routing_config_rejected(document: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RoutingConfig.from_env({"ROUTING_CONFIG": document})

    assert caught.value.variable == "ROUTING_CONFIG"
    assert expected in str(caught.value)
