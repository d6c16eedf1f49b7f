"""`make invoke`: a built handler runs in an isolated process against the local environment."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from harness.dashboards import dashboard_bodies, fetch_dashboard_series, widget_series
from harness.environment import LocalEnvironment
from harness.paths import BUILD, ROOT
from harness.sqs_delivery import deliver
from harness.stepfunctions import run_deployed_state_machine

pytestmark = pytest.mark.skipif(
    not (BUILD / "LogRetentionFunction" / "app.py").exists(), reason="needs `make build` first"
)


@pytest.fixture(scope="module")
def local_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    deliveries = tmp_path_factory.mktemp("receivers") / "deliveries.jsonl"
    with LocalEnvironment(overrides={"LogRetentionDryRun": "false"}, deliveries_path=deliveries) as env:
        yield env


@pytest.fixture(autouse=True)
def _aws_is_local(local_env: LocalEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in local_env.aws.items():
        monkeypatch.setenv(name, value)


def test_invoke_applies_retention_to_log_groups(local_env: LocalEnvironment) -> None:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/scraper-invoke-test")
    event = json.loads((ROOT / "events" / "log_retention_scheduled.json").read_text())

    invocation = local_env.invoke("LogRetentionFunction", event)

    assert invocation.ok, invocation.error
    group = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/scraper-invoke-test")["logGroups"][0]
    assert group["retentionInDays"] == 30
    assert invocation.result["counts"]["changed"] >= 1


def test_invoke_ships_logs_and_emf_metrics(local_env: LocalEnvironment) -> None:
    event = json.loads((ROOT / "events" / "log_retention_dry_run.json").read_text())
    function = local_env.deployment.functions["LogRetentionFunction"]

    invocation = local_env.invoke("LogRetentionFunction", event)

    assert invocation.ok, invocation.error
    streams = boto3.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{function.name}")["logStreams"]
    assert streams
    metrics = boto3.client("cloudwatch").list_metrics(Namespace="custom/celebrity-database")["Metrics"]
    assert "LogGroupsWithoutRetention" in {m["MetricName"] for m in metrics}


def test_handler_sees_only_its_package(local_env: LocalEnvironment) -> None:
    # moto and pytest are in the venv but not in the function's package: an isolated run cannot import them.
    function = local_env.deployment.functions["LogRetentionFunction"]
    probe = (
        "import sys; sys.path[:0] = " + json.dumps([function.build_dir, *function.layer_dirs]) + "\n"
        "import importlib.util as u\n"
        "print(u.find_spec('moto') is None, u.find_spec('aws_lambda_powertools') is not None)"
    )

    from harness.invoke import _base_python

    completed = subprocess.run([_base_python(), "-I", "-S", "-c", probe], capture_output=True, text=True, check=True)

    assert completed.stdout.split() == ["True", "True"]


def test_make_invoke_names_bad_policy_value() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.invoke",
            "--function",
            "LogRetentionFunction",
            "--event",
            "events/log_retention_scheduled.json",
            "--parameter-overrides",
            'LogRetentionPolicy={"/aws/lambda/":728}',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert completed.returncode == 1
    assert "728" in completed.stderr
    assert "RETENTION_POLICY" in completed.stderr


def _statistics(namespace: str, metric: str, dimension: tuple[str, str]) -> dict[str, float]:
    """Return the Sum, SampleCount and Maximum of a metric over the last hour, all periods together."""
    now = datetime.now(UTC)
    points = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum", "SampleCount", "Maximum"],
    )["Datapoints"]
    return {
        "Sum": sum(point["Sum"] for point in points),
        "SampleCount": sum(point["SampleCount"] for point in points),
        "Maximum": max((point["Maximum"] for point in points), default=0.0),
    }


def _lambda_statistics(function_name: str) -> dict[str, dict[str, float]]:
    dimension = ("FunctionName", function_name)
    return {name: _statistics("AWS/Lambda", name, dimension) for name in ("Invocations", "Errors", "Duration")}


def test_invoke_puts_lambda_metrics(local_env: LocalEnvironment) -> None:
    function = local_env.deployment.functions["LogRetentionFunction"]
    event = json.loads((ROOT / "events" / "log_retention_dry_run.json").read_text())
    before = _lambda_statistics(function.name)

    invocation = local_env.invoke("LogRetentionFunction", event)

    after = _lambda_statistics(function.name)
    assert invocation.ok, invocation.error
    assert after["Invocations"]["Sum"] - before["Invocations"]["Sum"] == 1
    assert after["Errors"]["Sum"] - before["Errors"]["Sum"] == 0
    assert after["Errors"]["SampleCount"] - before["Errors"]["SampleCount"] == 1
    assert after["Duration"]["SampleCount"] - before["Duration"]["SampleCount"] == 1
    # Duration is the handler's time, which leaves out the cold start that the wall time includes.
    assert invocation.handler_duration_ms is not None
    assert 0 < invocation.handler_duration_ms < invocation.duration_ms
    duration_put = after["Duration"]["Sum"] - before["Duration"]["Sum"]
    assert duration_put == pytest.approx(invocation.handler_duration_ms, abs=0.01)


def test_failed_invocation_puts_error(local_env: LocalEnvironment) -> None:
    function = local_env.deployment.functions["AlertRouterFunction"]
    fixture = ROOT / "tests" / "fixtures" / "malformed" / "any" / "records_not_list.json"
    before = _lambda_statistics(function.name)

    invocation = local_env.invoke("AlertRouterFunction", json.loads(fixture.read_text())["event"])

    after = _lambda_statistics(function.name)
    assert not invocation.ok
    assert after["Errors"]["Sum"] - before["Errors"]["Sum"] == 1
    assert after["Invocations"]["Sum"] - before["Invocations"]["Sum"] == 1


def test_state_machine_run_puts_states_metrics(local_env: LocalEnvironment) -> None:
    deployment = local_env.deployment
    arn = deployment.physical_id("RestoreTestStateMachine")
    event = json.loads((ROOT / "events" / "restore_test_state_machine_on_demand.json").read_text())

    execution = run_deployed_state_machine(deployment, "RestoreTestStateMachine", local_env.invoke, event)

    status_metric = {
        "SUCCEEDED": "ExecutionsSucceeded",
        "FAILED": "ExecutionsFailed",
        "TIMED_OUT": "ExecutionsTimedOut",
    }[execution.status]
    dimension = ("StateMachineArn", arn)
    assert _statistics("AWS/States", "ExecutionsStarted", dimension)["Sum"] == 1
    assert _statistics("AWS/States", status_metric, dimension)["Sum"] == 1
    assert execution.start_date is not None
    assert execution.stop_date is not None
    elapsed_ms = (execution.stop_date - execution.start_date) / timedelta(milliseconds=1)
    assert _statistics("AWS/States", "ExecutionTime", dimension)["Maximum"] == pytest.approx(elapsed_ms)


def test_suite_health_widgets_get_data(local_env: LocalEnvironment) -> None:
    deployment = local_env.deployment
    event = json.loads((ROOT / "events" / "log_retention_dry_run.json").read_text())
    assert local_env.invoke("LogRetentionFunction", event).ok
    on_demand = json.loads((ROOT / "events" / "restore_test_state_machine_on_demand.json").read_text())
    run_deployed_state_machine(deployment, "RestoreTestStateMachine", local_env.invoke, on_demand)
    for mapping in deployment.queue_mappings:
        deliver(
            boto3.client("sqs"),
            mapping,
            lambda batch, fn=mapping.function: local_env.invoke(fn, batch),
            deployment.region,
            cloudwatch=boto3.client("cloudwatch"),
        )
    body = dashboard_bodies(deployment)[f"{deployment.stack_name}-suite-health"]
    now = datetime.now(UTC) + timedelta(minutes=1)

    snapshot: dict[str, Any] = {
        "series": fetch_dashboard_series(boto3.client("cloudwatch"), {"suite": body}, deployment.region, now)
    }

    metric_widgets = [widget for widget in body["widgets"] if widget["type"] == "metric"]
    assert len(metric_widgets) == 5
    for widget in metric_widgets:
        lines = dict(widget_series(widget, snapshot, deployment.region))
        with_data = [label for label, points in lines.items() if points]
        assert with_data, f"widget {widget['properties']['title']!r} has no data in any of {sorted(lines)}"
    queue_widget = next(w for w in metric_widgets if w["properties"]["title"].startswith("Alert queues"))
    queue_lines = dict(widget_series(queue_widget, snapshot, deployment.region))
    assert queue_lines["dead-letter queue"]
    assert queue_lines["alert queue"]
