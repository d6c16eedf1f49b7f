"""`make invoke`: a built handler runs in an isolated process against the local environment."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from harness.environment import LocalEnvironment
from harness.paths import BUILD, ROOT

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
