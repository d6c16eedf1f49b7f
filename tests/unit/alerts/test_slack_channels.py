"""Slack secret: one webhook URL, or a JSON map of topic to webhook so each severity has its channel."""

from __future__ import annotations

import json

import pytest

from celebops.alerts.senders import slack_url_for
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
