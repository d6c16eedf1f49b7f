"""Tasks of RestoreTestStateMachine: plan, start the restore, poll it, and delete the scratch table.

Each function takes the DynamoDB client and the time the state machine entered the state, so the
state machine's clock (not the Lambda's) measures the restore, and a restore that takes hours is
only a number of Wait states.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from celebops.restore.config import RestoreTestConfig
from celebops.restore.errors import (
    InvalidRestoreInput,
    NoBackupAvailable,
    RestoreFailed,
    RestoreThrottled,
    RestoreTimedOut,
    TableInUse,
)
from celebops.restore.naming import (
    SUITE_TAG_KEY,
    SUITE_TAG_VALUE,
    RestoreType,
    check_deletable,
    parse_restore_type,
    run_id_for,
    scratch_table_name,
)
from celebops.restore.times import parse_iso, to_iso

# Table states from which a restore will never become ACTIVE.
_DEAD_STATES = frozenset({"DELETING", "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "ARCHIVING", "ARCHIVED"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def plan_run(config: RestoreTestConfig, execution_input: Any, started_at: datetime) -> dict[str, Any]:
    """Return the run id and the restore types: the configured ones, or `restore_types` of an on-demand start."""
    requested: Any = None
    if isinstance(execution_input, Mapping) and execution_input.get("detail-type") != "Scheduled Event":
        requested = execution_input.get("restore_types")
    types = config.restore_types if requested is None else tuple(parse_restore_type(v) for v in requested)
    if not types:
        raise InvalidRestoreInput("restore_types is empty; name backup, pitr or both")
    return {
        "run_id": run_id_for(started_at),
        "started_at": to_iso(started_at),
        "source_table": config.source_table,
        "restore_types": [t.value for t in dict.fromkeys(types)],
        "poll_seconds": config.poll_seconds,
    }


def newest_available_backup(dynamodb: Any, table: str) -> dict[str, Any]:
    """Return the newest AVAILABLE on-demand (USER) backup summary of `table`; raise NoBackupAvailable."""
    newest: dict[str, Any] | None = None
    arguments: dict[str, Any] = {"TableName": table, "BackupType": "USER"}
    while True:
        page = dynamodb.list_backups(**arguments)
        for summary in page.get("BackupSummaries", []):
            if summary.get("BackupStatus") != "AVAILABLE":
                continue
            if newest is None or summary["BackupCreationDateTime"] > newest["BackupCreationDateTime"]:
                newest = summary
        last = page.get("LastEvaluatedBackupArn")
        if not last:
            break
        arguments["ExclusiveStartBackupArn"] = last
    if newest is None:
        raise NoBackupAvailable(f"table {table} has no AVAILABLE on-demand backup to restore")
    return newest


def start_restore(
    dynamodb: Any, config: RestoreTestConfig, restore_type: RestoreType, run_id: str, requested_at: datetime
) -> dict[str, Any]:
    """Request the restore into the run's scratch table and tag it; return what later steps need."""
    target = scratch_table_name(restore_type, run_id)
    restore: dict[str, Any] = {
        "restore_type": restore_type.value,
        "table_name": target,
        "source_table": config.source_table,
        "requested_at": to_iso(requested_at),
    }
    try:
        if restore_type is RestoreType.BACKUP:
            backup = newest_available_backup(dynamodb, config.source_table)
            restore_point: datetime = backup["BackupCreationDateTime"]
            restore |= {"backup_arn": backup["BackupArn"], "backup_name": backup.get("BackupName", "")}
            description = dynamodb.restore_table_from_backup(TargetTableName=target, BackupArn=backup["BackupArn"])
        else:
            continuous = dynamodb.describe_continuous_backups(TableName=config.source_table)
            pitr = continuous["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
            if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
                raise NoBackupAvailable(f"point-in-time recovery is not enabled on table {config.source_table}")
            restore_point = pitr["LatestRestorableDateTime"]
            description = dynamodb.restore_table_to_point_in_time(
                SourceTableName=config.source_table, TargetTableName=target, RestoreDateTime=restore_point
            )
    except ClientError as exc:
        code = error_code(exc)
        if code == "LimitExceededException":
            raise RestoreThrottled(f"restore into {target} rejected: {exc}") from exc
        if code not in ("TableAlreadyExistsException", "ResourceInUseException"):
            raise RestoreFailed(f"restore into {target} failed with {code}: {exc}") from exc
        # A retried task whose first request went through: the restore is already running.
        description = {"TableDescription": dynamodb.describe_table(TableName=target)["Table"]}
    table_arn = description["TableDescription"]["TableArn"]
    restore |= {
        "table_arn": table_arn,
        "restore_point": to_iso(restore_point),
        "rpo_seconds": round((requested_at - restore_point).total_seconds(), 3),
        "tagged": tag_scratch_table(dynamodb, table_arn),
    }
    return restore


def tag_scratch_table(dynamodb: Any, table_arn: str) -> bool:
    """Tag a scratch table as the suite's; return False while DynamoDB does not accept tags yet (CREATING)."""
    try:
        dynamodb.tag_resource(ResourceArn=table_arn, Tags=[{"Key": SUITE_TAG_KEY, "Value": SUITE_TAG_VALUE}])
    except ClientError as exc:
        if error_code(exc) == "ResourceInUseException":
            return False
        raise
    return True


def table_tags(dynamodb: Any, table_arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    arguments = {"ResourceArn": table_arn}
    while True:
        page = dynamodb.list_tags_of_resource(**arguments)
        tags |= {tag["Key"]: tag["Value"] for tag in page.get("Tags", [])}
        if not page.get("NextToken"):
            return tags
        arguments["NextToken"] = page["NextToken"]


def check_restore(
    dynamodb: Any, config: RestoreTestConfig, restore: Mapping[str, Any], checked_at: datetime
) -> dict[str, Any]:
    """Return the scratch table's status; raise RestoreFailed or RestoreTimedOut when it cannot succeed."""
    table_name = str(restore.get("table_name", ""))
    requested_at = parse_iso(restore.get("requested_at"), "restore.requested_at")
    elapsed = round((checked_at - requested_at).total_seconds(), 3)
    try:
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise RestoreFailed(f"scratch table {table_name} does not exist {elapsed:.0f} s after the request") from exc
        raise
    status = str(table["TableStatus"])
    if status in _DEAD_STATES:
        raise RestoreFailed(f"scratch table {table_name} is {status}; the restore failed")
    if not restore.get("tagged") and SUITE_TAG_KEY not in table_tags(dynamodb, table["TableArn"]):
        tag_scratch_table(dynamodb, table["TableArn"])
    if status != "ACTIVE" and elapsed > config.restore_timeout_seconds:
        raise RestoreTimedOut(
            f"scratch table {table_name} is still {status} after {elapsed:.0f} s "
            f"(timeout {config.restore_timeout_seconds} s)"
        )
    return {
        "table_status": "ACTIVE" if status == "ACTIVE" else "CREATING",
        "checked_at": to_iso(checked_at),
        "elapsed_seconds": elapsed,
    }


def delete_scratch_table(dynamodb: Any, table_name: str, protected: frozenset[str]) -> str:
    """Delete one scratch table after the guard; return deleted or absent, raise DeleteRejected or TableInUse."""
    try:
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return "absent"
        raise
    check_deletable(table_name, table_tags(dynamodb, table["TableArn"]), protected)
    try:
        dynamodb.delete_table(TableName=table_name)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            return "absent"
        if code == "ResourceInUseException":
            raise TableInUse(f"scratch table {table_name} is still being created or updated; retry later") from exc
        raise
    return "deleted"


def cleanup(dynamodb: Any, config: RestoreTestConfig, restore_type: RestoreType, run_id: str) -> dict[str, Any]:
    """Delete the run's scratch table, named from the run id so a failed start still gets cleaned up."""
    table_name = scratch_table_name(restore_type, run_id)
    outcome = delete_scratch_table(dynamodb, table_name, frozenset({config.source_table}))
    return {"table_name": table_name, "outcome": outcome}
