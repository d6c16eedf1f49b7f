"""LogRetentionFunction end to end against the moto server: real log groups, real calls, EMF output."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from celebops.errors import ConfigError
from celebops.retention.enforcer import Deadline, RetryPolicy, enforce_retention
from celebops.retention.policy import RetentionConfig
from celebops.retention.report import Outcome
from tests.conftest import FakeLambdaContext, load_event, load_handler

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent.parent / "fixtures" / "log_retention" / "throttled_listing_and_updates.json"

# 120 log groups: name -> retention before the run (None = never expire).
OURS_LAMBDA = {f"/aws/lambda/celebrity-scraper-{index:02}": None for index in range(50)}
OTHER_STACK_LAMBDA = {f"/aws/lambda/other-stack-fn-{index:02}": 365 for index in range(10)}
COMPLIANT_LAMBDA = {f"/aws/lambda/compliant-{index:02}": 30 for index in range(10)}
API_GATEWAY = {f"/aws/api-gateway/celebrity-api-{index:02}": None for index in range(19)}
EXCLUDED_BY_PREFIX = {f"/aws/lambda/audit-{index:02}": None for index in range(10)}
EXCLUDED_BY_NAME = {"/aws/api-gateway/keep-forever": None}
NO_POLICY = {f"/ecs/celebrity-worker-{index:02}": None for index in range(20)}
ALL_GROUPS = {
    **OURS_LAMBDA,
    **OTHER_STACK_LAMBDA,
    **COMPLIANT_LAMBDA,
    **API_GATEWAY,
    **EXCLUDED_BY_PREFIX,
    **EXCLUDED_BY_NAME,
    **NO_POLICY,
}
# moto counts stored bytes as the sum of message lengths: three groups hold 1,000 bytes each.
STORED_BYTES = 3000

BASE_ENV = {
    "RETENTION_POLICY": '{"/aws/lambda/": 30, "/aws/api-gateway/": 14}',
    "RETENTION_MODE": "fill-missing",
    "RETENTION_EXCLUDE": "/aws/lambda/audit-*,/aws/api-gateway/keep-forever",
    "DRY_RUN": "false",
    "LOG_STORAGE_LIMIT_GB": "500",
    "POWERTOOLS_SERVICE_NAME": "log-retention",
}


def _logs() -> Any:
    return boto3.client("logs")


def _create_groups(logs: Any, retentions: dict[str, int | None]) -> None:
    for name, days in retentions.items():
        logs.create_log_group(logGroupName=name)
        if days is not None:
            logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    for name in ("/aws/lambda/celebrity-scraper-00", "/aws/lambda/other-stack-fn-00", "/ecs/celebrity-worker-00"):
        if name not in retentions:
            continue
        logs.create_log_stream(logGroupName=name, logStreamName="s")
        logs.put_log_events(
            logGroupName=name,
            logStreamName="s",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "x" * 1000}],
        )


def _retentions(logs: Any) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            found[group["logGroupName"]] = group.get("retentionInDays")
    return found


def _handler(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> ModuleType:
    for name, value in {**BASE_ENV, **overrides}.items():
        monkeypatch.setenv(name, value)
    return load_handler("log_retention")


def _emf_documents(output: str) -> list[dict[str, Any]]:
    documents = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" in document:
            documents.append(document)
    return documents


def _metrics_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return metric name -> {unit, values} of one EMF document (Powertools writes values as a list)."""
    directive = document["_aws"]["CloudWatchMetrics"][0]
    return {
        metric["Name"]: {"unit": metric["Unit"], "values": document[metric["Name"]]} for metric in directive["Metrics"]
    }


@pytest.fixture
def groups(moto: Any) -> Any:
    """The moto-backed logs client with all 120 log groups."""
    logs = _logs()
    _create_groups(logs, ALL_GROUPS)
    return logs


# Three log groups, one of each kind, for tests of the invocation rather than of the policy.
FEW_GROUPS: dict[str, int | None] = {
    "/aws/lambda/celebrity-scraper-00": None,
    "/aws/lambda/other-stack-fn-00": 365,
    "/ecs/celebrity-worker-00": None,
}


@pytest.fixture
def few_groups(moto: Any) -> Any:
    logs = _logs()
    _create_groups(logs, FEW_GROUPS)
    return logs


# --- handler runs ---------------------------------------------------------------------------------------------


def test_scheduled_fill_missing_sets_retentions(
    groups: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = _handler(monkeypatch)

    report = handler.lambda_handler(load_event("log_retention_scheduled"), FakeLambdaContext())

    after = _retentions(groups)
    expected = {
        **dict.fromkeys(OURS_LAMBDA, 30),
        **OTHER_STACK_LAMBDA,
        **COMPLIANT_LAMBDA,
        **dict.fromkeys(API_GATEWAY, 14),
        **EXCLUDED_BY_PREFIX,
        **EXCLUDED_BY_NAME,
        **NO_POLICY,
    }
    assert len(after) == 120
    assert after == expected
    assert report["status"] == "ok"
    assert report["log_groups"] == 120
    assert report["counts"] == {
        "changed": 69,
        "would_change": 0,
        "already_compliant": 10,
        "kept_existing": 10,
        "excluded": 11,
        "no_policy": 20,
        "skipped": 0,
        "failed": 0,
        "not_processed": 0,
    }
    assert report["without_retention_before"] == 100
    assert report["without_retention_after"] == 31
    assert report["stored_bytes"] == STORED_BYTES
    assert report["storage_above_limit"] is False


def test_scheduled_run_emits_emf_metrics(
    groups: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = _handler(monkeypatch)
    capsys.readouterr()

    handler.lambda_handler(load_event("log_retention_scheduled"), FakeLambdaContext())

    documents = _emf_documents(capsys.readouterr().out)
    assert len(documents) == 1
    document = documents[0]
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "custom/celebrity-database"
    assert directive["Dimensions"] == [["service"]]
    assert document["service"] == "log-retention"
    assert _metrics_by_name(document) == {
        "LogGroupsWithoutRetention": {"unit": "Count", "values": [31.0]},
        "LogStoredBytes": {"unit": "Bytes", "values": [float(STORED_BYTES)]},
        "RetentionChanges": {"unit": "Count", "values": [69.0]},
        "RetentionFailures": {"unit": "Count", "values": [0.0]},
    }


def test_enforce_mode_changes_other_stacks(groups: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _handler(monkeypatch, RETENTION_MODE="enforce")

    report = handler.lambda_handler(load_event("log_retention_scheduled"), FakeLambdaContext())

    after = _retentions(groups)
    assert {after[name] for name in OTHER_STACK_LAMBDA} == {30}
    assert {after[name] for name in EXCLUDED_BY_PREFIX} == {None}
    assert report["counts"]["changed"] == 79
    assert report["counts"]["kept_existing"] == 0


def test_dry_run_event_changes_nothing(
    groups: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = _handler(monkeypatch)
    capsys.readouterr()

    report = handler.lambda_handler(load_event("log_retention_dry_run"), FakeLambdaContext())

    assert _retentions(groups) == ALL_GROUPS
    assert report["dry_run"] is True
    assert report["counts"]["would_change"] == 69
    assert report["counts"]["changed"] == 0
    metrics = _metrics_by_name(_emf_documents(capsys.readouterr().out)[0])
    assert metrics["RetentionChanges"]["values"] == [0.0]
    assert metrics["LogGroupsWithoutRetention"]["values"] == [100.0]


def test_dry_run_variable_changes_nothing(few_groups: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _handler(monkeypatch, DRY_RUN="true")

    report = handler.lambda_handler(load_event("log_retention_scheduled"), FakeLambdaContext())

    assert _retentions(few_groups) == FEW_GROUPS
    assert report["counts"]["would_change"] == 1


def test_manual_event_overrides_dry_run_variable(few_groups: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _handler(monkeypatch, DRY_RUN="true")

    report = handler.lambda_handler({"dry_run": False}, FakeLambdaContext())

    assert report["dry_run"] is False
    assert _retentions(few_groups)["/aws/lambda/celebrity-scraper-00"] == 30


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_manual_event_non_boolean_dry_run_rejected(few_groups: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _handler(monkeypatch)

    with pytest.raises(ValueError, match="dry_run must be true or false") as caught:
        handler.lambda_handler({"dry_run": "yes"}, FakeLambdaContext())

    assert "'yes'" in str(caught.value)
    assert _retentions(few_groups) == FEW_GROUPS


def test_storage_above_limit_reported(few_groups: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _handler(monkeypatch, LOG_STORAGE_LIMIT_GB="0.000002")

    report = handler.lambda_handler({"dry_run": True}, FakeLambdaContext())

    assert report["storage_limit_bytes"] == 2000
    assert report["storage_above_limit"] is True


def test_invalid_policy_fails_cold_start(moto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = _logs()
    logs.create_log_group(logGroupName="/aws/lambda/untouched")

    with pytest.raises(ConfigError) as caught:
        _handler(monkeypatch, RETENTION_POLICY='{"/aws/lambda/": 728}')

    assert caught.value.variable == "RETENTION_POLICY"
    assert "nearest allowed values: 545, 731" in str(caught.value)
    assert _retentions(logs) == {"/aws/lambda/untouched": None}


# --- failures through the handler -------------------------------------------------------------------------


class FaultInjectingLogs:
    """The moto-backed client, except that chosen calls raise a ClientError first (moto never throttles)."""

    def __init__(self, inner: Any, describe_errors: dict[int, str], put_errors: dict[str, list[str]]) -> None:
        self._inner = inner
        self._describe_errors = dict(describe_errors)
        self._put_errors = {name: list(codes) for name, codes in put_errors.items()}
        self.describe_requests: list[dict[str, Any]] = []
        self.put_requests: list[dict[str, Any]] = []
        self.before_put: Callable[[str], None] = lambda name: None

    def describe_log_groups(self, **request: Any) -> dict[str, Any]:
        self.describe_requests.append(dict(request))
        code = self._describe_errors.pop(len(self.describe_requests), None)
        if code is not None:
            raise _client_error(code, "DescribeLogGroups")
        return dict(self._inner.describe_log_groups(**request))

    def put_retention_policy(self, **request: Any) -> dict[str, Any]:
        self.put_requests.append(dict(request))
        name = request["logGroupName"]
        self.before_put(name)
        pending = self._put_errors.get(name)
        if pending:
            raise _client_error(pending.pop(0), "PutRetentionPolicy")
        return dict(self._inner.put_retention_policy(**request))


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)


def test_failed_update_raises_after_metrics(
    groups: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = _handler(monkeypatch)
    faulty = FaultInjectingLogs(groups, {}, {"/aws/lambda/celebrity-scraper-07": ["AccessDeniedException"]})
    monkeypatch.setattr(handler, "client", lambda service: faulty)
    capsys.readouterr()

    with pytest.raises(handler.RetentionRunError) as caught:
        handler.lambda_handler(load_event("log_retention_scheduled"), FakeLambdaContext())

    assert "1 log groups failed" in str(caught.value)
    after = _retentions(groups)
    assert after["/aws/lambda/celebrity-scraper-07"] is None
    assert after["/aws/lambda/celebrity-scraper-08"] == 30
    metrics = _metrics_by_name(_emf_documents(capsys.readouterr().out)[0])
    assert metrics["RetentionFailures"]["values"] == [1.0]
    assert metrics["RetentionChanges"]["values"] == [68.0]


def test_near_timeout_raises_not_processed(few_groups: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _handler(monkeypatch)

    # 29 s left is below the 30 s margin, so the run lists nothing and reports the error.
    with pytest.raises(handler.RetentionRunError) as caught:
        handler.lambda_handler(load_event("log_retention_scheduled"), FakeLambdaContext(remaining_ms=29_000))

    assert "listing incomplete (deadline)" in str(caught.value)
    assert _retentions(few_groups) == FEW_GROUPS


# --- recorded throttling against real log groups -----------------------------------------------------------


def test_recorded_throttling_on_moto_ends_at_30(moto: Any) -> None:
    recording = json.loads(FIXTURE.read_text())
    logs = _logs()
    names = [f"/aws/lambda/fn-{index:03}" for index in range(60)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    put_errors = {
        name: [error["Code"] for error in errors if error["Code"] != "ResourceNotFoundException"]
        for name, errors in recording["put_retention_policy_errors"].items()
    }
    faulty = FaultInjectingLogs(logs, {2: "ThrottlingException"}, put_errors)
    # The deleted group really disappears between listing and update, so moto itself reports it.
    faulty.before_put = lambda name: logs.delete_log_group(logGroupName=name) if name.endswith("fn-059") else None
    sleeps: list[float] = []
    config = RetentionConfig.from_env(env={"RETENTION_POLICY": '{"/aws/lambda/": 30}'})

    report = enforce_retention(
        faulty,
        config,
        Deadline.from_remaining_ms(600_000, margin_seconds=0),
        retry=RetryPolicy(),
        sleep=sleeps.append,
        rng=random.Random(3),
    )

    after = _retentions(logs)
    assert faulty.describe_requests[1] == faulty.describe_requests[2]
    assert "nextToken" in faulty.describe_requests[1]
    assert len(report.results) == 60
    assert after["/aws/lambda/fn-007"] == 30
    assert after["/aws/lambda/fn-042"] == 30
    assert "/aws/lambda/fn-059" not in after
    assert set(after.values()) == {30}
    assert report.counts[Outcome.CHANGED] == 59
    assert report.counts[Outcome.SKIPPED] == 1
    assert report.counts[Outcome.FAILED] == 0
    assert len(sleeps) == 4
