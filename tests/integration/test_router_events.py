"""Every router event in events/ runs through the built AlertRouterFunction, as `make invoke` runs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.environment import LocalEnvironment
from harness.paths import BUILD, EVENTS

ROUTER_EVENTS = sorted(EVENTS.glob("alert_router_*.json"))

pytestmark = pytest.mark.skipif(
    not (BUILD / "AlertRouterFunction" / "app.py").exists(), reason="needs `make build` first"
)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    deliveries = tmp_path_factory.mktemp("router-events") / "deliveries.jsonl"
    with LocalEnvironment(deliveries_path=deliveries) as env:
        yield env


@pytest.fixture(autouse=True)
def _aws_is_local(environment: LocalEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in environment.aws.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("path", ROUTER_EVENTS, ids=lambda p: p.stem)
def test_router_event_is_delivered(environment: LocalEnvironment, path: Path) -> None:
    event = json.loads(path.read_text())
    before = len(environment.receivers.deliveries())

    invocation = environment.invoke("AlertRouterFunction", event)

    assert invocation.ok, invocation.error
    assert invocation.result == {"batchItemFailures": []}
    assert len(environment.receivers.deliveries()) > before


def test_critical_alert_uses_its_own_channel(environment: LocalEnvironment) -> None:
    import boto3

    secrets = boto3.client("secretsmanager")
    arn = environment.deployment.parameters["SlackWebhookSecretArn"]
    original = secrets.get_secret_value(SecretId=arn)["SecretString"]
    critical_url = f"{environment.receivers.http_url}/services/TCRITICAL/BCRITICAL/token0critical"
    channels = {"default": original, "critical": critical_url}
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(channels))
    event = json.loads((EVENTS / "alert_router_metric_alarm.json").read_text())
    critical_arn = environment.deployment.physical_id("CriticalTopic")
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        envelope["TopicArn"] = critical_arn
        envelope["MessageId"] = "channel-test-" + envelope["MessageId"]
        record["body"] = json.dumps(envelope)
    before = len(environment.receivers.deliveries("slack"))

    try:
        invocation = environment.invoke("AlertRouterFunction", event)
    finally:
        secrets.put_secret_value(SecretId=arn, SecretString=original)

    assert invocation.ok, invocation.error
    new = environment.receivers.deliveries("slack")[before:]
    assert len(new) == 1
    assert new[0]["path"].startswith("/services/TCRITICAL/BCRITICAL/")
