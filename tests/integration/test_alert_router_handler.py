"""AlertRouterFunction end to end: moto server (Secrets Manager, DynamoDB) and the local receivers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest

from celebops.errors import ConfigError
from harness.moto_server import MotoServer
from harness.receivers import Receivers, start_receivers
from tests.conftest import FakeLambdaContext, load_event, load_handler
from tests.unit.alerts.conftest import TOPICS

pytestmark = pytest.mark.integration

TOKEN = "S3cr3tT0k3nNeverLogged"
ROUTING_KEY = "R0UT1NGKEYEXAMPLE000000000000000"
TABLE = "alert-router-idempotency"


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


def _secret(name: str, value: str) -> str:
    return boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]


@pytest.fixture
def router_env(moto: MotoServer, hub: Receivers, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    env = {
        **TOPICS,
        "SLACK_WEBHOOK_SECRET_ARN": _secret("alerts/slack", hub.slack_url(TOKEN)),
        "PAGERDUTY_ROUTING_KEY_SECRET_ARN": _secret("alerts/pagerduty", ROUTING_KEY),
        "PAGERDUTY_EVENTS_URL": hub.http_url,
        "ALLOWED_TEST_HOST": "127.0.0.1",
        "IDEMPOTENCY_TABLE": TABLE,
        "SLACK_MENTION_CRITICAL": "true",
        "RUNBOOK_BASE_URL": "https://github.com/example/celebrity-database-ops/blob/main/docs/runbooks",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _handler(sleeper: Sleeper | None = None) -> ModuleType:
    module = load_handler("alert_router")
    module.router.senders.sleep = sleeper or Sleeper()
    return module


def _invoke(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    return module.lambda_handler(event, FakeLambdaContext())


def _accepted(hub: Receivers, receiver: str) -> list[Any]:
    return [r.payload for r in hub.requests(receiver) if r.status in (200, 202)]


def test_metric_alarm_reaches_both(router_env: dict[str, str], hub: Receivers) -> None:
    response = _invoke(_handler(), load_event("alert_router_metric_alarm"))

    assert response == {"batchItemFailures": []}
    assert len(_accepted(hub, "slack")) == 1
    assert [e["event_action"] for e in _accepted(hub, "pagerduty")] == ["trigger"]


def test_anomaly_band_pages_once(router_env: dict[str, str], hub: Receivers) -> None:
    _invoke(_handler(), load_event("alert_router_anomaly_band"))

    assert len(_accepted(hub, "slack")) == 1
    assert [e["event_action"] for e in _accepted(hub, "pagerduty")] == ["trigger"]


def test_composite_ok_resolves_same_key(router_env: dict[str, str], hub: Receivers) -> None:
    module = _handler()

    _invoke(module, load_event("alert_router_long_name_reason"))
    _invoke(module, load_event("alert_router_long_name_ok"))

    trigger, resolve = _accepted(hub, "pagerduty")
    assert trigger["event_action"] == "trigger"
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"]


def test_plain_text_posts_without_paging(router_env: dict[str, str], hub: Receivers) -> None:
    _invoke(_handler(), load_event("alert_router_plain_text"))

    (message,) = _accepted(hub, "slack")
    assert "Nightly export für Kunde Müller finished with warnings ⚠️" in json.dumps(message, ensure_ascii=False)
    assert _accepted(hub, "pagerduty") == []


def test_huge_reason_accepted_by_strict_receiver(router_env: dict[str, str], hub: Receivers) -> None:
    response = _invoke(_handler(), load_event("alert_router_huge_reason"))

    assert response == {"batchItemFailures": []}
    assert len(_accepted(hub, "slack")) == 1


def test_storm_grouped_on_slack(router_env: dict[str, str], hub: Receivers) -> None:
    response = _invoke(_handler(), load_event("alert_router_storm"))

    assert response == {"batchItemFailures": []}
    assert len(_accepted(hub, "slack")) == 1
    actions = [e["event_action"] for e in _accepted(hub, "pagerduty")]
    assert actions.count("trigger") == 25
    assert actions.count("resolve") == 5


def test_grouped_slack_failure_fails_members(router_env: dict[str, str], hub: Receivers) -> None:
    event = load_event("alert_router_storm")
    hub.revoke_slack()

    response = _invoke(_handler(), event)

    assert len(response["batchItemFailures"]) == 30
    assert len(_accepted(hub, "pagerduty")) == 30


def test_redelivery_sends_only_missing_destination(router_env: dict[str, str], hub: Receivers) -> None:
    event = load_event("alert_router_metric_alarm")
    module = _handler()
    hub.outage("pagerduty", status=503, count=3)

    first = _invoke(module, event)
    second = _invoke(module, event)

    assert first == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert second == {"batchItemFailures": []}
    assert len(_accepted(hub, "slack")) == 1
    assert len(_accepted(hub, "pagerduty")) == 1


def test_disabled_pagerduty_skipped_not_failed(
    router_env: dict[str, str], hub: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY_SECRET_ARN", "")

    response = _invoke(_handler(), load_event("alert_router_metric_alarm"))

    assert response == {"batchItemFailures": []}
    assert hub.requests("pagerduty") == []


def test_malformed_records_still_posted(router_env: dict[str, str], hub: Receivers) -> None:
    response = _invoke(_handler(), load_event("alert_router_malformed"))

    assert response == {"batchItemFailures": []}
    messages = _accepted(hub, "slack")
    assert len(messages) == 2
    assert "Unreadable alert record" in messages[0]["text"]


def test_finding_pages_with_own_key(router_env: dict[str, str], hub: Receivers) -> None:
    _invoke(_handler(), load_event("alert_router_finding"))

    (event,) = _accepted(hub, "pagerduty")
    assert event["dedup_key"] == "restore-test:celebrity-database"


def test_foreign_webhook_host_rejected(router_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SLACK_WEBHOOK_SECRET_ARN", _secret("alerts/slack-bad", "https://hooks.slack.example.com/services/T/B/" + TOKEN)
    )
    module = _handler()

    with pytest.raises(ConfigError) as caught:
        _invoke(module, load_event("alert_router_p95_alarm"))

    assert caught.value.variable == "SLACK_WEBHOOK_SECRET_ARN"
    assert TOKEN not in str(caught.value)


def test_secrets_never_logged(
    router_env: dict[str, str], hub: Receivers, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    hub.revoke_slack()
    hub.outage("pagerduty", status=500)

    _invoke(_handler(), load_event("alert_router_metric_alarm"))
    captured = capsys.readouterr()

    for text in (captured.out, captured.err, caplog.text):
        assert TOKEN not in text
        assert ROUTING_KEY not in text
    assert "slack webhook invalid or revoked" in caplog.text
