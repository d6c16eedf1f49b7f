"""Alert secrets: a Slack webhook URL or a JSON map of topic to webhook, and a PagerDuty key alone or in that map."""

from __future__ import annotations

import json

import pytest

from celebops.alerts.senders import pagerduty_key_from, slack_url_for
from celebops.errors import ConfigError

CRITICAL = "https://hooks.slack.com/services/T1/B1/critical"
DEFAULT = "https://hooks.slack.com/services/T1/B2/default"


def test_plain_url_serves_every_topic() -> None:
    assert slack_url_for(DEFAULT, "critical") == DEFAULT
    assert slack_url_for(DEFAULT, None) == DEFAULT


def test_json_map_picks_topic_url() -> None:
    secret = json.dumps({"default": DEFAULT, "critical": CRITICAL})

    assert slack_url_for(secret, "critical") == CRITICAL
    assert slack_url_for(secret, "info") == DEFAULT


def test_json_map_without_default_rejected() -> None:
    with pytest.raises(ConfigError) as raised:
        slack_url_for(json.dumps({"critical": CRITICAL}), "info")

    assert "default" in str(raised.value)
    assert CRITICAL not in str(raised.value)


def test_broken_json_secret_rejected_without_echo() -> None:
    with pytest.raises(ConfigError) as raised:
        slack_url_for('{"default": "https://hooks.slack.com/services/T/B/secret-token"', "info")

    assert "secret-token" not in str(raised.value)


ROUTING_KEY = "R0123456789abcdef0123456789abcde"


def test_one_secret_serves_slack_and_pagerduty() -> None:
    secret = json.dumps({"default": DEFAULT, "pagerduty_routing_key": ROUTING_KEY})

    assert slack_url_for(secret, "critical") == DEFAULT
    assert pagerduty_key_from(secret) == ROUTING_KEY


def test_routing_key_field_is_never_a_webhook() -> None:
    secret = json.dumps({"pagerduty_routing_key": ROUTING_KEY})

    with pytest.raises(ConfigError) as raised:
        slack_url_for(secret, "pagerduty_routing_key")

    assert ROUTING_KEY not in str(raised.value)


def test_plain_routing_key_secret_is_kept() -> None:
    assert pagerduty_key_from(ROUTING_KEY) == ROUTING_KEY


def test_json_secret_without_routing_key_rejected_without_echo() -> None:
    with pytest.raises(ConfigError) as raised:
        pagerduty_key_from(json.dumps({"default": DEFAULT}))

    assert "pagerduty_routing_key" in str(raised.value)
    assert DEFAULT not in str(raised.value)
