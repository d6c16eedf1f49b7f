from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from celebops.alerts.delivery_policy import Budget, RetryPolicy
from celebops.alerts.errors import PermanentDeliveryError, RetryableDeliveryError
from celebops.alerts.senders import (
    PagerDutySender,
    SenderConfig,
    SlackSender,
    check_pagerduty_url,
    check_slack_url,
)
from celebops.errors import ConfigError
from harness.moto_server import free_port
from harness.receivers import Receivers, start_receivers

from .conftest import load_fixture

POLICY = RetryPolicy()
TOKEN = "S3cr3tT0k3nNeverLogged"
ROUTING_KEY = "R0UT1NGKEYEXAMPLE000000000000000"
LOGGER = logging.getLogger("celebops.alerts.tests")
BODY = {"text": "ALARM: orders-api-5xx", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
EVENT = {
    "event_action": "trigger",
    "dedup_key": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-api-5xx",
    "payload": {"summary": "ALARM: orders-api-5xx", "source": "123456789012/eu-west-1", "severity": "critical"},
}


class Sleeper:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="module")
def receivers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receivers]:
    running = start_receivers(deliveries_path=tmp_path_factory.mktemp("deliveries") / "deliveries.jsonl")
    yield running
    running.stop()


@pytest.fixture
def hub(receivers: Receivers) -> Receivers:
    receivers.reset()
    receivers.clear_requests()
    return receivers


def _budget(remaining_ms: int) -> Budget:
    return Budget(remaining_ms=lambda: remaining_ms, safety_margin_ms=POLICY.safety_margin_ms)


def _slack(hub: Receivers, sleeper: Sleeper) -> SlackSender:
    return SlackSender(hub.slack_url(TOKEN), POLICY, sleeper, lambda: 0.5, LOGGER)


def _pagerduty(hub: Receivers, sleeper: Sleeper) -> PagerDutySender:
    return PagerDutySender(ROUTING_KEY, hub.http_url, POLICY, sleeper, lambda: 0.5, LOGGER, allow_http=True)


def _scenario(name: str) -> dict:
    return load_fixture("case-slack-delivery-scenarios.json")["scenarios"][name]


def _script(hub: Receivers, receiver: str, responses: list[dict]) -> None:
    hub.script(receiver, [(r["status"], r.get("headers", {}), r.get("text", "")) for r in responses])


def test_slack_retry_after_short_then_ok(hub: Receivers) -> None:
    scenario = _scenario("retry_after_short")
    _script(hub, "slack", scenario["slack"])
    sleeper = Sleeper()

    attempts = _slack(hub, sleeper).send(BODY, _budget(scenario["lambda_remaining_ms"]))

    assert attempts == 2
    assert len(hub.requests("slack")) == 2
    assert len(sleeper.calls) == 1
    assert sleeper.calls[0] >= 2.0


def test_slack_retry_after_too_long_retryable(hub: Receivers, caplog: pytest.LogCaptureFixture) -> None:
    scenario = _scenario("retry_after_too_long")
    _script(hub, "slack", scenario["slack"])
    sleeper = Sleeper()

    with caplog.at_level(logging.INFO), pytest.raises(RetryableDeliveryError) as caught:
        _slack(hub, sleeper).send(BODY, _budget(scenario["lambda_remaining_ms"]))

    assert caught.value.status == 429
    assert sleeper.calls == []
    assert len(hub.requests("slack")) == 1
    assert "slack delivery rate limited or unavailable" in caplog.text


def test_slack_webhook_gone_not_retried(hub: Receivers, caplog: pytest.LogCaptureFixture) -> None:
    scenario = _scenario("webhook_gone")
    _script(hub, "slack", scenario["slack"])
    sleeper = Sleeper()

    with caplog.at_level(logging.INFO), pytest.raises(PermanentDeliveryError) as caught:
        _slack(hub, sleeper).send(BODY, _budget(scenario["lambda_remaining_ms"]))

    assert caught.value.status == 404
    assert len(hub.requests("slack")) == 1
    assert sleeper.calls == []
    assert "slack webhook invalid or revoked" in caplog.text
    assert "no_service" in caplog.text


def test_slack_outage_bounded_to_three(hub: Receivers) -> None:
    hub.outage("slack", status=503)
    sleeper = Sleeper()

    with pytest.raises(RetryableDeliveryError):
        _slack(hub, sleeper).send(BODY, _budget(60_000))

    assert len(hub.requests("slack")) == 3
    assert len(sleeper.calls) == 2


def test_slack_connection_refused_retryable() -> None:
    sleeper = Sleeper()
    sender = SlackSender(f"http://127.0.0.1:{free_port()}/services/T/B/{TOKEN}", POLICY, sleeper, lambda: 0.0, LOGGER)

    with pytest.raises(RetryableDeliveryError) as caught:
        sender.send(BODY, _budget(60_000))

    assert len(sleeper.calls) == 2
    assert TOKEN not in str(caught.value)


def test_pagerduty_accepted(hub: Receivers) -> None:
    attempts = _pagerduty(hub, Sleeper()).send(EVENT, _budget(30_000))

    assert attempts == 1
    assert hub.requests("pagerduty")[0].status == 202


def test_pagerduty_rate_limit_retried(hub: Receivers) -> None:
    hub.rate_limit("pagerduty", count=1, retry_after=1)
    sleeper = Sleeper()

    attempts = _pagerduty(hub, sleeper).send(EVENT, _budget(30_000))

    assert attempts == 2
    assert sleeper.calls[0] >= 1.0


def test_pagerduty_rate_limit_not_looped_by_library(hub: Receivers) -> None:
    hub.rate_limit("pagerduty", retry_after=0)
    sleeper = Sleeper()

    with pytest.raises(RetryableDeliveryError):
        _pagerduty(hub, sleeper).send(EVENT, _budget(30_000))

    assert len(hub.requests("pagerduty")) == 3


def test_pagerduty_server_error_bounded(hub: Receivers) -> None:
    hub.outage("pagerduty", status=502)
    sleeper = Sleeper()

    with pytest.raises(RetryableDeliveryError) as caught:
        _pagerduty(hub, sleeper).send(EVENT, _budget(30_000))

    assert caught.value.status == 502
    assert len(hub.requests("pagerduty")) == 3


def test_pagerduty_invalid_event_permanent(hub: Receivers, caplog: pytest.LogCaptureFixture) -> None:
    event = {**EVENT, "payload": {**EVENT["payload"], "summary": "x" * 2000}}

    with caplog.at_level(logging.INFO), pytest.raises(PermanentDeliveryError) as caught:
        _pagerduty(hub, Sleeper()).send(event, _budget(30_000))

    assert caught.value.status == 400
    assert len(hub.requests("pagerduty")) == 1
    assert "pagerduty rejected the event" in caplog.text


def test_secrets_absent_from_logs_and_errors(
    hub: Receivers, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.revoke_slack()
    hub.outage("pagerduty", status=500)
    errors = []

    with caplog.at_level(logging.DEBUG):
        for send in (
            lambda: _slack(hub, Sleeper()).send(BODY, _budget(30_000)),
            lambda: _pagerduty(hub, Sleeper()).send(EVENT, _budget(30_000)),
        ):
            with pytest.raises((RetryableDeliveryError, PermanentDeliveryError)) as caught:
                send()
            errors.append(f"{caught.value} {caught.value!r}")
    captured = capsys.readouterr()

    for text in (caplog.text, captured.out, captured.err, *errors, repr(_slack(hub, Sleeper()))):
        assert TOKEN not in text
        assert ROUTING_KEY not in text


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.example.com/services/T000/B000/XXXXXXXX",
        "http://hooks.slack.com/services/T/B/X",
        "https://hooks.slack.com.evil.example/services/T/B/X",
        "https://user@hooks.slack.com/services/T/B/X",
        "http://127.0.0.1:9/services/T/B/X",
    ],
)
def test_slack_guard_rejects(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_slack_url(url, None)

    assert "XXXXXXXX" not in str(caught.value)
    assert caught.value.variable == "SLACK_WEBHOOK_SECRET_ARN"


def test_slack_guard_allows_official_and_test_host() -> None:
    check_slack_url("https://hooks.slack.com/services/T/B/X", None)
    check_slack_url("http://127.0.0.1:8080/services/T/B/X", "127.0.0.1")


@pytest.mark.parametrize(
    "url", ["https://events.pagerduty.com.evil.example", "http://events.pagerduty.com", "https://example.com"]
)
def test_pagerduty_guard_rejects(url: str) -> None:
    with pytest.raises(ConfigError):
        check_pagerduty_url(url, None)


def test_pagerduty_eu_host_allowed() -> None:
    config = SenderConfig.from_env({"PAGERDUTY_EVENTS_URL": "https://events.eu.pagerduty.com/"})

    assert config.pagerduty_url == "https://events.eu.pagerduty.com"


def test_sender_config_defaults() -> None:
    config = SenderConfig.from_env({})

    assert config.pagerduty_url == "https://events.pagerduty.com"
    assert config.slack_secret_arn is None
    assert config.secrets_max_age == 300
