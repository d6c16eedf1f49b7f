"""Faults between the code and its neighbours: AWS throttling and 5xx, Slack and PagerDuty outages.

AWS faults come from `harness.fault_proxy`, which responds to chosen requests with the error a real
service sends in its own wire format, so botocore's retries run exactly as in AWS. Slack and
PagerDuty faults come from the local receivers' fault modes. Every job of template.yaml with a
schedule is covered, so new jobs are checked as they land.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from harness import alarms
from harness.environment import LocalEnvironment
from harness.fault_proxy import FaultProxy, FaultRule, ProxyRecord
from harness.invoke import Invocation, invoke
from harness.paths import BUILD
from harness.scheduler import Firing, scheduled_event
from harness.sqs_delivery import deliver

pytestmark = pytest.mark.skipif(not (BUILD / "SharedLayer").exists(), reason="needs `make build` first")

# The function timeout for runs under a permanent fault. botocore's 10 adaptive attempts back off
# for up to about 80 s in total, so a shorter budget ends the run the way Lambda's timeout would.
FAULT_BUDGET_SECONDS = 15


@dataclasses.dataclass(frozen=True)
class FaultRun:
    function: str
    invocation: Invocation
    calls: list[ProxyRecord]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    deliveries = tmp_path_factory.mktemp("receivers") / "deliveries.jsonl"
    with LocalEnvironment(overrides={"LogRetentionDryRun": "true"}, deliveries_path=deliveries) as local:
        from harness.monitored_system import create_monitored_system

        create_monitored_system(datetime.now(UTC))
        yield local


@pytest.fixture(autouse=True)
def _aws_is_local(env: LocalEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.aws.items():
        monkeypatch.setenv(name, value)


def _scheduled_jobs(env: LocalEnvironment) -> list[str]:
    jobs = []
    for schedule in env.deployment.schedules:
        function = env.deployment.functions.get(getattr(schedule, "target_function", "") or "")
        if function and Path(function.build_dir, function.handler.rsplit(".", 1)[0] + ".py").exists():
            jobs.append(function.logical_id)
    return sorted(set(jobs))


def _run_under(env: LocalEnvironment, function: str, rule: FaultRule, timeout: int | None = None) -> FaultRun:
    assert env.moto is not None
    proxy = FaultProxy(env.moto.endpoint)
    try:
        proxy.add_rule(rule)
        local = env.deployment.functions[function]
        if timeout is not None:
            local = dataclasses.replace(local, timeout=timeout)
        schedule = next(s for s in env.deployment.schedules if s.target_function == function)
        event = scheduled_event(Firing(at=datetime.now(UTC), schedule=schedule), env.deployment)
        extra = {**env.receivers.client_environment(), "AWS_ENDPOINT_URL": proxy.endpoint}
        invocation = invoke(local, event, env.aws, extra, ship_logs=False)
        return FaultRun(function, invocation, proxy.records())
    finally:
        proxy.stop()


def _in_parallel(env: LocalEnvironment, rule: Any, timeout: int | None = None) -> dict[str, FaultRun]:
    jobs = _scheduled_jobs(env)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {job: pool.submit(_run_under, env, job, rule(), timeout) for job in jobs}
        return {job: future.result() for job, future in futures.items()}


@pytest.fixture(scope="module")
def transient_throttling(env: LocalEnvironment) -> dict[str, FaultRun]:
    return _in_parallel(env, lambda: FaultRule(".*", count=2))


@pytest.fixture(scope="module")
def transient_unavailable(env: LocalEnvironment) -> dict[str, FaultRun]:
    return _in_parallel(env, lambda: FaultRule(".*", status=503, code="ServiceUnavailable", count=2))


@pytest.fixture(scope="module")
def permanent_throttling(env: LocalEnvironment) -> dict[str, FaultRun]:
    return _in_parallel(env, lambda: FaultRule(".*"), timeout=FAULT_BUDGET_SECONDS)


def _jobs() -> list[str]:
    from harness import iam_check

    return iam_check.sam_functions()


def _case(runs: dict[str, FaultRun], function: str) -> FaultRun:
    if function not in runs:
        pytest.skip(f"{function} has no schedule of its own or is not built")
    return runs[function]


@pytest.mark.parametrize("function", _jobs())
def test_job_retries_through_throttling(transient_throttling: dict[str, FaultRun], function: str) -> None:
    run = _case(transient_throttling, function)
    injected = [call for call in run.calls if call.injected]
    retried = [call for call in run.calls if not call.injected and call.action == injected[0].action]

    assert run.invocation.ok, (run.invocation.error, run.invocation.logs[-10:])
    assert len(injected) == 2
    assert retried, "the throttled call was never made again"


@pytest.mark.parametrize("function", _jobs())
def test_job_retries_through_unavailable(transient_unavailable: dict[str, FaultRun], function: str) -> None:
    run = _case(transient_unavailable, function)

    assert run.invocation.ok, (run.invocation.error, run.invocation.logs[-10:])
    assert sum(call.injected for call in run.calls) == 2


@pytest.mark.parametrize("function", _jobs())
def test_job_fails_loudly_when_throttled(permanent_throttling: dict[str, FaultRun], function: str) -> None:
    run = _case(permanent_throttling, function)
    attempts = Counter(call.action for call in run.calls)

    assert not run.invocation.ok
    # A job whose deadline leaves no time for a call under this short budget fails before calling AWS.
    assert not attempts or max(attempts.values()) > 1, "the first throttled call was not retried"


# --- the alert path ----------------------------------------------------------------------------


def _publish_alarms(env: LocalEnvironment, count: int, prefix: str) -> list[str]:
    """Put `count` critical alarms into ALARM and return their names.

    Each alarm publishes one SNS message, so a count per alarm name is a count per SNS message id.
    """
    cloudwatch, sns = boto3.client("cloudwatch"), boto3.client("sns")
    critical = env.deployment.physical_id("CriticalTopic")
    names = []
    for index in range(count):
        name = f"{prefix}-{index}"
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="custom/celebrity-database",
            MetricName="FaultTest",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[critical],
        )
        alarms.set_alarm_state(cloudwatch, sns, name, "ALARM", "fault test", datetime.now(UTC))
        names.append(name)
    return names


def _deliver_all(env: LocalEnvironment, proxy: FaultProxy | None = None, rounds: int = 12) -> None:
    sqs = boto3.client("sqs")
    extra = {"AWS_ENDPOINT_URL": proxy.endpoint} if proxy else {}
    for mapping in env.deployment.queue_mappings:
        deliver(
            sqs, mapping, lambda event, fn=mapping.function: env.invoke(fn, event, extra), env.deployment.region, rounds
        )


def _counts(env: LocalEnvironment, names: list[str]) -> tuple[Counter[str], Counter[str]]:
    slack: Counter[str] = Counter()
    pagerduty: Counter[str] = Counter()
    for delivery in env.receivers.deliveries():
        text = json.dumps(delivery["payload"])
        for name in names:
            if f'{name}"' in text or f"{name} " in text or f"{name}\\" in text:
                (slack if delivery["receiver"] == "slack" else pagerduty)[name] += 1
    return slack, pagerduty


def _dead_letters(env: LocalEnvironment) -> int:
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=env.deployment.physical_id("AlertDeadLetterQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@pytest.mark.parametrize(
    ("receiver", "mode", "options"),
    [
        pytest.param("slack", "outage", {"count": 4, "status": 503}, id="slack-outage"),
        pytest.param("slack", "rate_limit", {"count": 3, "retry_after": 1}, id="slack-rate-limit"),
        pytest.param("pagerduty", "outage", {"count": 4, "status": 500}, id="pagerduty-outage"),
        pytest.param("pagerduty", "rate_limit", {"count": 3, "retry_after": 1}, id="pagerduty-rate-limit"),
    ],
)
def test_receiver_fault_loses_and_repeats_nothing(
    env: LocalEnvironment, receiver: str, mode: str, options: dict[str, Any]
) -> None:
    env.receivers.reset()
    env.receivers.set_fault(receiver, mode, **options)
    names = _publish_alarms(env, 3, f"fault-{receiver}-{mode}".replace("_", "-"))

    _deliver_all(env)
    slack, pagerduty = _counts(env, names)

    assert dict(slack) == dict.fromkeys(names, 1)
    assert dict(pagerduty) == dict.fromkeys(names, 1)
    assert _dead_letters(env) == 0


def test_idempotency_table_throttled_repeats_nothing(env: LocalEnvironment) -> None:
    assert env.moto is not None
    env.receivers.reset()
    proxy = FaultProxy(env.moto.endpoint)
    try:
        proxy.add_rule(FaultRule("dynamodb:.*", code="ProvisionedThroughputExceededException", count=3))
        names = _publish_alarms(env, 3, "fault-idempotency")
        _deliver_all(env, proxy)
    finally:
        proxy.stop()
    slack, pagerduty = _counts(env, names)

    assert dict(slack) == dict.fromkeys(names, 1)
    assert dict(pagerduty) == dict.fromkeys(names, 1)


# --- the router's invocation budget ------------------------------------------------------------


def _router_round_under(env: LocalEnvironment, rule: FaultRule, timeout: int | None = None) -> Any:
    """Deliver one batch of the alert queue to the router with every AWS call going through `rule`."""
    assert env.moto is not None
    mapping = next(m for m in env.deployment.queue_mappings if m.function == "AlertRouterFunction")
    local = env.deployment.functions["AlertRouterFunction"]
    if timeout is not None:
        local = dataclasses.replace(local, timeout=timeout)
    proxy = FaultProxy(env.moto.endpoint)
    try:
        proxy.add_rule(rule)
        extra = {**env.receivers.client_environment(), "AWS_ENDPOINT_URL": proxy.endpoint}
        report = deliver(
            boto3.client("sqs"),
            mapping,
            lambda event: invoke(local, event, env.aws, extra, ship_logs=False),
            env.deployment.region,
            max_rounds=1,
        )
    finally:
        proxy.stop()
    return report.rounds[0], local.timeout


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(FaultRule(".*"), id="all-throttled"),
        pytest.param(FaultRule(".*", status=503, code="ServiceUnavailable"), id="all-503"),
    ],
)
def test_router_reports_batch_before_timeout(env: LocalEnvironment, rule: FaultRule) -> None:
    _deliver_all(env)  # so the batch holds only this test's alerts
    env.receivers.reset()
    names = _publish_alarms(env, 3, f"fault-router-{rule.code.lower()}")

    # Given every AWS call of the router fails (secrets, idempotency records, enrichment),
    # when one batch arrives, then the router returns every record as a failure before its timeout.
    delivery, timeout = _router_round_under(env, rule)
    invocation = delivery.invocation
    failures = invocation.result.get("batchItemFailures", []) if isinstance(invocation.result, dict) else []
    slack, pagerduty = _counts(env, names)

    assert invocation.ok, (invocation.error, invocation.logs[-10:])
    assert invocation.duration_ms < timeout * 1000
    assert delivery.received == len(names)
    assert len(failures) == delivery.received
    assert delivery.returned == delivery.received
    assert not slack
    assert not pagerduty

    # Once the fault clears, the returned records are delivered once each, and none is dead-lettered.
    _deliver_all(env)
    slack, pagerduty = _counts(env, names)

    assert dict(slack) == dict.fromkeys(names, 1)
    assert dict(pagerduty) == dict.fromkeys(names, 1)
    assert _dead_letters(env) == 0


def test_router_stops_slow_aws_calls_before_timeout(env: LocalEnvironment) -> None:
    _deliver_all(env)  # so the batch holds only this test's alerts
    env.receivers.reset()
    names = _publish_alarms(env, 3, "fault-router-slow")

    # Given AWS delays every request for longer than the router's 3 s read timeout, and a 20 s
    # function timeout, the enrichment half-budget, the invocation deadline and the delivery
    # budget stop the work in time, and the batch comes back failed.
    delivery, timeout = _router_round_under(env, FaultRule(".*", delay_seconds=4.0), timeout=20)
    invocation = delivery.invocation
    failures = invocation.result.get("batchItemFailures", []) if isinstance(invocation.result, dict) else []

    assert invocation.ok, (invocation.error, invocation.logs[-10:])
    assert invocation.duration_ms < timeout * 1000
    assert delivery.received == len(names)
    assert len(failures) == delivery.received
    stopped = [line for line in invocation.logs if "ms left in the invocation" in line or "delivery deferred" in line]
    assert stopped, "neither the invocation deadline nor the delivery budget stopped any work"

    _deliver_all(env)
    slack, pagerduty = _counts(env, names)

    assert dict(slack) == dict.fromkeys(names, 1)
    assert dict(pagerduty) == dict.fromkeys(names, 1)
    assert _dead_letters(env) == 0
