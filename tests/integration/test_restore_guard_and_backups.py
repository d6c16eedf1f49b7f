"""Delete guard, daily sweep and backup guard against the moto server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celebops.restore.backup_guard import BackupAction, guard_backups, guard_finding
from celebops.restore.config import BackupGuardConfig, PitrEnforcement
from celebops.restore.errors import DeleteRejected, InvalidRestoreInput
from celebops.restore.naming import (
    SCRATCH_PREFIX,
    SUITE_TAG_KEY,
    SUITE_TAG_VALUE,
    RestoreType,
    check_deletable,
    scratch_table_name,
)
from celebops.restore.steps import delete_scratch_table
from celebops.restore.sweep import SweepOutcome, sweep_scratch_tables
from tests.conftest import FakeLambdaContext, load_event, load_handler

PRODUCTION = "celebrity-database"
SUITE_TAG = {SUITE_TAG_KEY: SUITE_TAG_VALUE}


def _table(dynamodb: Any, name: str, tagged: bool) -> str:
    arn = dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "celebrity_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "celebrity_id", "KeyType": "HASH"}],
    )["TableDescription"]["TableArn"]
    if tagged:
        dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": SUITE_TAG_KEY, "Value": SUITE_TAG_VALUE}])
    return arn


def _names(dynamodb: Any) -> set[str]:
    return set(dynamodb.list_tables()["TableNames"])


# ---------------------------------------------------------------------------------- guard
def test_guard_rejects_tagged_production() -> None:
    with pytest.raises(DeleteRejected):
        check_deletable(PRODUCTION, SUITE_TAG, frozenset({PRODUCTION}))


def test_guard_rejects_untagged_scratch_name() -> None:
    with pytest.raises(DeleteRejected):
        check_deletable(f"{SCRATCH_PREFIX}pitr-20270101-030000", {}, frozenset({PRODUCTION}))


def test_guard_accepts_tagged_scratch_table() -> None:
    check_deletable(f"{SCRATCH_PREFIX}pitr-20270101-030000", SUITE_TAG, frozenset({PRODUCTION}))


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=80))
def test_guard_rejects_unprefixed_names(name: str) -> None:
    if name.startswith(SCRATCH_PREFIX):
        return
    with pytest.raises(DeleteRejected):
        check_deletable(name, SUITE_TAG, frozenset())


@given(st.text(max_size=40))
def test_scratch_name_always_has_prefix(run_id: str) -> None:
    try:
        name = scratch_table_name(RestoreType.BACKUP, run_id)
    except InvalidRestoreInput:
        return
    assert name.startswith(SCRATCH_PREFIX)


def test_production_table_survives_delete_attempt(moto: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=True)

    with pytest.raises(DeleteRejected):
        delete_scratch_table(dynamodb, PRODUCTION, frozenset({PRODUCTION}))

    assert PRODUCTION in _names(dynamodb)


def test_cleanup_action_never_reaches_production(moto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=True)
    for variable, value in {
        "SOURCE_TABLE": PRODUCTION,
        "STATE_PARAMETER": "/t/last",
        "CRITICAL_TOPIC_ARN": "a",
        "WARNINGS_TOPIC_ARN": "b",
        "INFO_TOPIC_ARN": "c",
    }.items():
        monkeypatch.setenv(variable, value)
    handler = load_handler("restore_test")
    hostile = {"action": "cleanup", "restore_type": "backup", "run_id": f"x/../../{PRODUCTION}"}

    with pytest.raises(InvalidRestoreInput):
        handler.lambda_handler(hostile, FakeLambdaContext())

    assert PRODUCTION in _names(dynamodb)


# ---------------------------------------------------------------------------------- sweep
def test_sweep_deletes_only_old_tagged_scratch_tables(moto: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=True)
    _table(dynamodb, f"{SCRATCH_PREFIX}backup-20270101-030000", tagged=True)
    _table(dynamodb, f"{SCRATCH_PREFIX}pitr-20270101-030000", tagged=False)
    later = datetime.now(UTC) + timedelta(days=2)

    report = sweep_scratch_tables(dynamodb, PRODUCTION, timedelta(hours=24), later)

    assert report.count(SweepOutcome.DELETED) == 1
    assert report.count(SweepOutcome.REJECTED) == 1
    assert _names(dynamodb) == {PRODUCTION, f"{SCRATCH_PREFIX}pitr-20270101-030000"}


def test_sweep_keeps_recent_scratch_tables(moto: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, f"{SCRATCH_PREFIX}backup-20270101-030000", tagged=True)

    report = sweep_scratch_tables(dynamodb, PRODUCTION, timedelta(hours=24), datetime.now(UTC))

    assert report.count(SweepOutcome.KEPT_RECENT) == 1


# --------------------------------------------------------------------------- backup guard
def _guard_config(mode: PitrEnforcement = PitrEnforcement.ENABLE) -> BackupGuardConfig:
    return BackupGuardConfig(
        source_table=PRODUCTION,
        backup_prefix="celebrity-database-ops-daily-",
        retention_days=35,
        pitr_enforcement=mode,
        warnings_topic_arn="arn:aws:sns:us-east-1:123456789012:warnings",
    )


def test_retention_prunes_only_suite_backups(moto: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=False)
    for name in ("celebrity-database-ops-daily-2026-10-01", "celebrity-database-ops-daily-manual", "before-migration"):
        dynamodb.create_backup(TableName=PRODUCTION, BackupName=name)
    # moto stamps backups with the current time, so the run happens 40 days later.
    later = datetime.now(UTC) + timedelta(days=40)

    report = guard_backups(dynamodb, _guard_config(), later)

    deleted = [c.backup_name for c in report.changes if c.action is BackupAction.DELETED]
    remaining = {b["BackupName"] for b in dynamodb.list_backups(TableName=PRODUCTION)["BackupSummaries"]}
    assert deleted == ["celebrity-database-ops-daily-2026-10-01"]
    assert remaining == {
        "celebrity-database-ops-daily-manual",
        "before-migration",
        f"celebrity-database-ops-daily-{later:%Y-%m-%d}",
    }
    assert report.kept_other_backups == 2


def test_guard_creates_one_backup_per_day(moto: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=False)
    now = datetime.now(UTC)

    guard_backups(dynamodb, _guard_config(), now)
    second = guard_backups(dynamodb, _guard_config(), now)

    assert [c.action for c in second.changes] == [BackupAction.ALREADY_PRESENT]
    assert len(dynamodb.list_backups(TableName=PRODUCTION)["BackupSummaries"]) == 1


def test_guard_enables_pitr_and_warns(moto: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=False)
    now = datetime.now(UTC)

    report = guard_backups(dynamodb, _guard_config(PitrEnforcement.ENABLE), now)
    finding = guard_finding(report, now)

    status = dynamodb.describe_continuous_backups(TableName=PRODUCTION)["ContinuousBackupsDescription"]
    assert status["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert report.pitr_enabled_now is True
    assert finding is not None


def test_guard_alert_mode_leaves_pitr_off(moto: Any) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=False)

    report = guard_backups(dynamodb, _guard_config(PitrEnforcement.ALERT), datetime.now(UTC))

    assert report.pitr_enabled is False
    assert "point-in-time recovery is off on celebrity-database" in report.problems


def test_backup_guard_handler_emits_alarm_metrics(
    moto: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb = boto3.client("dynamodb")
    _table(dynamodb, PRODUCTION, tagged=False)
    topic = boto3.client("sns").create_topic(Name="warnings")["TopicArn"]
    monkeypatch.setenv("SOURCE_TABLE", PRODUCTION)
    monkeypatch.setenv("WARNINGS_TOPIC_ARN", topic)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "backup-guard")
    handler = load_handler("backup_guard")

    result = handler.lambda_handler(load_event("backup_guard_scheduled"), FakeLambdaContext())

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    by_name = {blob["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: blob for blob in blobs}
    assert result["pitr_enabled"] is True
    assert by_name["PitrEnabled"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["TableName", "service"]]
    assert by_name["PitrEnabled"]["PitrEnabled"] == [1.0]
    assert by_name["NewestBackupAgeSeconds"]["TableName"] == PRODUCTION
