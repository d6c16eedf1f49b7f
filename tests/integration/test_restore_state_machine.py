"""RestoreTestStateMachine: the deployed definition, run by the local interpreter, tasks against moto.

The definition is statemachine/restore_test.asl.json with the template's substitutions; every task
runs RestoreTestFunction's handler in-process against the moto server. moto restores instantly and
never fails a restore, so slow and failing restores come from a wrapped DynamoDB client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.moto_restores import after_restore_task
from harness.paths import ROOT
from harness.stepfunctions import Execution, SimulatedClock, StateMachine, lambda_invoker, substitute
from harness.template import load_sam_template
from tests.conftest import FakeLambdaContext, load_handler

SOURCE = "celebrity-database"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:restore-test"
PARAMETER = "/restore-test-suite/restore-test/last-success"
ITEMS = 60


def _definition() -> dict[str, Any]:
    return substitute(
        (ROOT / "statemachine" / "restore_test.asl.json").read_text(), {"RestoreTestFunctionArn": FUNCTION_ARN}
    )


class Wrapped:
    """A moto-backed client with some operations replaced, for failures moto cannot produce."""

    def __init__(self, real: Any, **overrides: Callable[..., Any]) -> None:
        self.real = real
        self.overrides = overrides

    def __getattr__(self, name: str) -> Any:
        return self.overrides.get(name) or getattr(self.real, name)


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} from the test"}}, operation)


@pytest.fixture
def world(moto: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topics = {}
    queues = {}
    for name in ("critical", "warnings", "info"):
        topics[name] = sns.create_topic(Name=name)["TopicArn"]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topics[name], Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        queues[name] = url
    for variable, value in {
        "SOURCE_TABLE": SOURCE,
        "STATE_PARAMETER": PARAMETER,
        "CRITICAL_TOPIC_ARN": topics["critical"],
        "WARNINGS_TOPIC_ARN": topics["warnings"],
        "INFO_TOPIC_ARN": topics["info"],
        "COST_TOPIC_ARN": topics["info"],
        "SAMPLE_SIZE": "1000",
        "SCAN_SEGMENTS": "2",
        "POLL_SECONDS": "30",
        "POWERTOOLS_SERVICE_NAME": "restore-test",
    }.items():
        monkeypatch.setenv(variable, value)

    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=SOURCE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "celebrity_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "celebrity_id", "KeyType": "HASH"}],
    )
    old = "2026-01-01T00:00:00Z"
    table = boto3.resource("dynamodb").Table(SOURCE)
    with table.batch_writer() as batch:
        for index in range(ITEMS):
            batch.put_item(Item={"celebrity_id": f"c{index:04d}", "name": f"Name {index}", "updated_at": old})
    dynamodb.update_continuous_backups(
        TableName=SOURCE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    dynamodb.create_backup(TableName=SOURCE, BackupName="celebrity-database-ops-daily-2026-12-03")
    return {"dynamodb": dynamodb, "sqs": sqs, "queues": queues}


def run(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, execution_input: Any = None, **overrides: Any
) -> tuple[Execution, SimulatedClock, ModuleType]:
    handler = load_handler("restore_test")
    real = handler.client
    wrapped = Wrapped(world["dynamodb"], **overrides)
    monkeypatch.setattr(handler, "client", lambda service: wrapped if service == "dynamodb" else real(service))

    def invoke(resource: str, payload: Any) -> tuple[bool, Any, dict[str, Any] | None]:
        assert resource == FUNCTION_ARN
        try:
            result = handler.lambda_handler(payload, FakeLambdaContext())
        except Exception as exc:  # Lambda reports the exception's class name as errorType
            return False, None, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        after_restore_task(world["dynamodb"], result)
        return True, json.loads(json.dumps(result, default=str)), None

    clock = SimulatedClock(datetime.now(UTC))
    execution = StateMachine(_definition(), lambda_invoker(invoke), clock).execute(
        execution_input if execution_input is not None else {"restore_types": ["backup", "pitr"]}
    )
    return execution, clock, handler


def scratch_tables(world: dict[str, Any]) -> list[str]:
    return [n for n in world["dynamodb"].list_tables()["TableNames"] if n.startswith("celebops-restore-test-")]


def findings(world: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    messages = world["sqs"].receive_message(QueueUrl=world["queues"][topic], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def report_of(execution: Execution) -> dict[str, Any]:
    outputs = [e.detail["output"] for e in execution.events("TaskSucceeded") if "outcomes" in e.detail["output"]]
    return outputs[-1]


def outcome(execution: Execution, restore_type: str) -> dict[str, Any]:
    return next(o for o in report_of(execution)["outcomes"] if o["restore_type"] == restore_type)


def seed_last_success(days_ago: int) -> None:
    moment = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    boto3.client("ssm").put_parameter(
        Name=PARAMETER, Value=json.dumps({"backup": moment, "pitr": moment}), Type="String", Overwrite=True
    )


# ------------------------------------------------------------------------------------- tests
def test_template_substitutions_cover_definition() -> None:
    machine = load_sam_template()["Resources"]["RestoreTestStateMachine"]["Properties"]
    text = (ROOT / machine["DefinitionUri"]).read_text()

    substitute(text, dict.fromkeys(machine["DefinitionSubstitutions"], FUNCTION_ARN))


def test_both_paths_pass_and_clean_up(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    execution, _, _ = run(world, monkeypatch)

    assert execution.status == "SUCCEEDED", execution.cause
    assert [o["passed"] for o in report_of(execution)["outcomes"]] == [True, True]
    assert outcome(execution, "pitr")["items_counted"] == ITEMS
    assert outcome(execution, "backup")["cleanup"] == "deleted"
    assert scratch_tables(world) == []
    assert findings(world, "info")[0]["severity"] == "info"
    assert set(json.loads(boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"])) == {
        "backup",
        "pitr",
    }


def test_scheduled_event_runs_configured_types(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    event = json.loads((ROOT / "events" / "restore_test_state_machine_scheduled.json").read_text())

    execution, _, _ = run(world, monkeypatch, event)

    assert [o["restore_type"] for o in report_of(execution)["outcomes"]] == ["backup", "pitr"]


def test_slow_restore_polls_for_hours(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTO_TARGET_SECONDS", "10800")
    polls = {"count": 0}

    def describe_table(**kwargs: Any) -> dict[str, Any]:
        table = world["dynamodb"].describe_table(**kwargs)
        if kwargs["TableName"].startswith("celebops-restore-test-") and polls["count"] < 120:
            polls["count"] += 1
            table["Table"]["TableStatus"] = "CREATING"
        return table

    execution, clock, _ = run(world, monkeypatch, {"restore_types": ["pitr"]}, describe_table=describe_table)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.entered().count("WaitForRestore") == 121
    assert outcome(execution, "pitr")["rto_seconds"] == pytest.approx(121 * 30, abs=1)
    assert sum(clock.slept) == pytest.approx(121 * 30)


def test_restore_timeout_fails_and_cleans_up(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTORE_TIMEOUT_MINUTES", "10")

    def describe_table(**kwargs: Any) -> dict[str, Any]:
        table = world["dynamodb"].describe_table(**kwargs)
        if kwargs["TableName"].startswith("celebops-restore-test-"):
            table["Table"]["TableStatus"] = "CREATING"
        return table

    execution, _, _ = run(world, monkeypatch, {"restore_types": ["pitr"]}, describe_table=describe_table)

    assert execution.error == "RestoreTestFailed"
    assert outcome(execution, "pitr")["failed_step"] == "check_status"
    assert "RestoreTimedOut" in outcome(execution, "pitr")["reason"]
    assert scratch_tables(world) == []


def test_no_backup_fails_backup_path_only(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    seed_last_success(days_ago=90)
    for backup in world["dynamodb"].list_backups(TableName=SOURCE)["BackupSummaries"]:
        world["dynamodb"].delete_backup(BackupArn=backup["BackupArn"])

    execution, _, _ = run(world, monkeypatch)

    assert execution.error == "RestoreTestFailed"
    assert outcome(execution, "backup")["failed_step"] == "start_restore"
    assert "NoBackupAvailable" in outcome(execution, "backup")["reason"]
    assert outcome(execution, "backup")["cleanup"] == "absent"
    assert outcome(execution, "pitr")["passed"] is True
    assert findings(world, "warnings")[0]["severity"] == "warning"


def test_failure_after_100_days_is_critical(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    seed_last_success(days_ago=101)

    def reject(**kwargs: Any) -> Any:
        raise client_error("BackupInUseException", "RestoreTableFromBackup")

    execution, _, _ = run(world, monkeypatch, restore_table_from_backup=reject)

    assert execution.error == "RestoreTestFailed"
    assert findings(world, "critical")[0]["kind"] == "restore-test.report"


def test_restore_rejected_fails_and_names_step(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def reject(**kwargs: Any) -> Any:
        raise client_error("BackupInUseException", "RestoreTableFromBackup")

    execution, _, _ = run(world, monkeypatch, {"restore_types": ["backup"]}, restore_table_from_backup=reject)

    assert outcome(execution, "backup")["failed_step"] == "start_restore"
    assert "RestoreFailed" in outcome(execution, "backup")["reason"]
    assert scratch_tables(world) == []


def test_restore_limit_is_retried(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"count": 0}

    def limited(**kwargs: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == 1:
            raise client_error("LimitExceededException", "RestoreTableToPointInTime")
        return world["dynamodb"].restore_table_to_point_in_time(**kwargs)

    execution, clock, _ = run(world, monkeypatch, {"restore_types": ["pitr"]}, restore_table_to_point_in_time=limited)

    assert execution.status == "SUCCEEDED", execution.cause
    assert [e.detail["error"] for e in execution.events("Retry")] == ["RestoreThrottled"]
    assert clock.slept[0] == 60.0


def test_restore_failing_midway_cleans_up(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def describe_table(**kwargs: Any) -> dict[str, Any]:
        table = world["dynamodb"].describe_table(**kwargs)
        if kwargs["TableName"].startswith("celebops-restore-test-"):
            table["Table"]["TableStatus"] = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
        return table

    def delete_table(**kwargs: Any) -> Any:
        return world["dynamodb"].delete_table(**kwargs)

    execution, _, _ = run(
        world, monkeypatch, {"restore_types": ["backup"]}, describe_table=describe_table, delete_table=delete_table
    )

    assert outcome(execution, "backup")["failed_step"] == "check_status"
    assert scratch_tables(world) == []


def test_mismatch_reports_missing_and_changed(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb = world["dynamodb"]

    def restore_then_damage(**kwargs: Any) -> Any:
        response = dynamodb.restore_table_from_backup(**kwargs)
        target = kwargs["TargetTableName"]
        dynamodb.delete_item(TableName=target, Key={"celebrity_id": {"S": "c0001"}})
        dynamodb.update_item(
            TableName=target,
            Key={"celebrity_id": {"S": "c0002"}},
            UpdateExpression="SET #n = :v",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":v": {"S": "corrupted"}},
        )
        # Changed in the source after the backup: a difference here is expected and skipped.
        dynamodb.put_item(
            TableName=SOURCE,
            Item={"celebrity_id": {"S": "c0003"}, "name": {"S": "new"}, "updated_at": {"S": "2999-01-01T00:00:00Z"}},
        )
        return response

    execution, _, _ = run(
        world, monkeypatch, {"restore_types": ["backup"]}, restore_table_from_backup=restore_then_damage
    )
    sample = outcome(execution, "backup")["sample"]

    assert outcome(execution, "backup")["failed_step"] == "verify"
    assert sample["missing"] == 1
    assert sample["changed"] == 1
    assert sample["skipped_changed_after_backup"] == 1
    assert sample["changed_items"][0]["attributes"] == ["name"]
    assert scratch_tables(world) == []


def test_cleanup_retries_table_in_use(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"count": 0}

    def busy_then_delete(**kwargs: Any) -> Any:
        calls["count"] += 1
        if calls["count"] <= 2:
            raise client_error("ResourceInUseException", "DeleteTable")
        return world["dynamodb"].delete_table(**kwargs)

    execution, clock, _ = run(world, monkeypatch, {"restore_types": ["pitr"]}, delete_table=busy_then_delete)

    assert execution.status == "SUCCEEDED", execution.cause
    assert [e.detail["error"] for e in execution.events("Retry")] == ["TableInUse", "TableInUse"]
    assert clock.slept[-2:] == [30.0, 45.0]
    assert scratch_tables(world) == []


def test_cleanup_rejection_fails_test(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_tags(**kwargs: Any) -> dict[str, Any]:
        return {"Tags": []}

    def tag_nothing(**kwargs: Any) -> None:
        return None

    execution, _, _ = run(
        world, monkeypatch, {"restore_types": ["pitr"]}, list_tags_of_resource=no_tags, tag_resource=tag_nothing
    )

    assert outcome(execution, "pitr")["failed_step"] == "cleanup"
    assert "DeleteRejected" in outcome(execution, "pitr")["cleanup"]
    assert len(scratch_tables(world)) == 1


def test_rto_above_target_fails(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTO_TARGET_SECONDS", "60")
    polls = {"count": 0}

    def describe_table(**kwargs: Any) -> dict[str, Any]:
        table = world["dynamodb"].describe_table(**kwargs)
        if kwargs["TableName"].startswith("celebops-restore-test-") and polls["count"] < 10:
            polls["count"] += 1
            table["Table"]["TableStatus"] = "CREATING"
        return table

    execution, _, _ = run(world, monkeypatch, {"restore_types": ["backup"]}, describe_table=describe_table)

    assert "RTO 330 s is above the target 60 s" in outcome(execution, "backup")["reason"]
