"""Daily backup guard: a dated on-demand backup, retention of the suite's own backups, and PITR."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from celebops.findings import Finding, Severity, new_finding
from celebops.restore.config import BackupGuardConfig, PitrEnforcement
from celebops.restore.steps import error_code
from celebops.restore.times import to_iso

RUNBOOK = "docs/runbooks/backup.md"


class BackupAction(StrEnum):
    CREATED = "created"
    ALREADY_PRESENT = "already-present"
    DELETED = "deleted"
    FAILED = "failed"


@dataclass(frozen=True)
class BackupChange:
    backup_name: str
    action: BackupAction
    backup_arn: str = ""
    detail: str = ""


@dataclass(frozen=True)
class GuardReport:
    table: str
    changes: list[BackupChange] = field(default_factory=list)
    kept_other_backups: int = 0
    newest_backup_age_seconds: float | None = None
    pitr_enabled: bool = False
    pitr_enabled_now: bool = False
    pitr_window_seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        found = [
            f"{c.action.value} {c.backup_name}: {c.detail}" for c in self.changes if c.action is BackupAction.FAILED
        ]
        if not self.pitr_enabled:
            found.append(f"point-in-time recovery is off on {self.table}")
        if self.newest_backup_age_seconds is None:
            found.append(f"{self.table} has no AVAILABLE on-demand backup")
        return found

    def summary(self) -> str:
        created = sum(1 for c in self.changes if c.action in (BackupAction.CREATED, BackupAction.ALREADY_PRESENT))
        deleted = sum(1 for c in self.changes if c.action is BackupAction.DELETED)
        age = "none" if self.newest_backup_age_seconds is None else f"{self.newest_backup_age_seconds / 3600:.1f} h"
        pitr = f"PITR on ({self.pitr_window_seconds / 86400:.1f} days window)" if self.pitr_enabled else "PITR OFF"
        if self.pitr_enabled_now:
            pitr += ", enabled by this run"
        return (
            f"{self.table}: {created} dated backup, {deleted} expired deleted, {self.kept_other_backups} other kept, "
            f"newest backup {age} old, {pitr}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "changes": [
                {"backup_name": c.backup_name, "action": c.action.value, "backup_arn": c.backup_arn, "detail": c.detail}
                for c in self.changes
            ],
            "kept_other_backups": self.kept_other_backups,
            "newest_backup_age_seconds": self.newest_backup_age_seconds,
            "pitr_enabled": self.pitr_enabled,
            "pitr_enabled_now": self.pitr_enabled_now,
            "pitr_window_seconds": self.pitr_window_seconds,
            "problems": self.problems,
            "summary": self.summary(),
        }


def backup_name_for(config: BackupGuardConfig, now: datetime) -> str:
    return f"{config.backup_prefix}{now:%Y-%m-%d}"


def list_user_backups(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    backups: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"TableName": table, "BackupType": "USER"}
    while True:
        page = dynamodb.list_backups(**arguments)
        backups.extend(page.get("BackupSummaries", []))
        if not page.get("LastEvaluatedBackupArn"):
            return backups
        arguments["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]


def _is_suite_backup(config: BackupGuardConfig, name: str) -> bool:
    # Only the dated names this job creates: a prefix match alone could take an operator's backup.
    suffix = name[len(config.backup_prefix) :] if name.startswith(config.backup_prefix) else ""
    try:
        datetime.strptime(suffix, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def guard_backups(dynamodb: Any, config: BackupGuardConfig, now: datetime) -> GuardReport:
    """Create today's backup, delete the suite's backups older than the retention, and check PITR."""
    changes: list[BackupChange] = []
    backups = list_user_backups(dynamodb, config.source_table)
    today = backup_name_for(config, now)
    existing = [b for b in backups if b.get("BackupName") == today and b.get("BackupStatus") != "DELETED"]
    if existing:
        changes.append(BackupChange(today, BackupAction.ALREADY_PRESENT, existing[0]["BackupArn"]))
    else:
        try:
            details = dynamodb.create_backup(TableName=config.source_table, BackupName=today)["BackupDetails"]
            changes.append(BackupChange(today, BackupAction.CREATED, details["BackupArn"]))
            backups = list_user_backups(dynamodb, config.source_table)
        except ClientError as exc:
            changes.append(BackupChange(today, BackupAction.FAILED, detail=f"CreateBackup failed: {error_code(exc)}"))

    cutoff = now - timedelta(days=config.retention_days)
    # Today's backup is never pruned, even with a retention shorter than the clock skew.
    todays = {c.backup_arn for c in changes if c.action in (BackupAction.CREATED, BackupAction.ALREADY_PRESENT)}
    kept_others = 0
    for backup in backups:
        name = str(backup.get("BackupName", ""))
        if not _is_suite_backup(config, name):
            kept_others += 1
            continue
        if backup["BackupArn"] in todays or backup["BackupCreationDateTime"] >= cutoff:
            continue
        if backup.get("BackupStatus") != "AVAILABLE":
            continue
        try:
            dynamodb.delete_backup(BackupArn=backup["BackupArn"])
            changes.append(BackupChange(name, BackupAction.DELETED, backup["BackupArn"]))
        except ClientError as exc:
            changes.append(
                BackupChange(name, BackupAction.FAILED, backup["BackupArn"], f"DeleteBackup: {error_code(exc)}")
            )

    deleted = {c.backup_arn for c in changes if c.action is BackupAction.DELETED}
    available = [
        b["BackupCreationDateTime"]
        for b in backups
        if b.get("BackupStatus") == "AVAILABLE" and b["BackupArn"] not in deleted
    ]
    # A backup stamped a moment after `now` (clock skew between Lambda and DynamoDB) counts as age 0.
    newest_age = round(max(0.0, (now - max(available)).total_seconds()), 3) if available else None

    enabled, enabled_now, window = _check_pitr(dynamodb, config)
    return GuardReport(
        table=config.source_table,
        changes=changes,
        kept_other_backups=kept_others,
        newest_backup_age_seconds=newest_age,
        pitr_enabled=enabled,
        pitr_enabled_now=enabled_now,
        pitr_window_seconds=window,
    )


def _check_pitr(dynamodb: Any, config: BackupGuardConfig) -> tuple[bool, bool, float]:
    """Return (enabled, enabled by this run, restore window in seconds)."""
    description = _pitr_description(dynamodb, config.source_table)
    enabled_now = False
    if description.get("PointInTimeRecoveryStatus") != "ENABLED" and config.pitr_enforcement is PitrEnforcement.ENABLE:
        dynamodb.update_continuous_backups(
            TableName=config.source_table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        enabled_now = True
        description = _pitr_description(dynamodb, config.source_table)
    if description.get("PointInTimeRecoveryStatus") != "ENABLED":
        return False, enabled_now, 0.0
    earliest, latest = description.get("EarliestRestorableDateTime"), description.get("LatestRestorableDateTime")
    window = (latest - earliest).total_seconds() if earliest and latest else 0.0
    return True, enabled_now, round(window, 3)


def _pitr_description(dynamodb: Any, table: str) -> dict[str, Any]:
    described = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    return dict(described.get("PointInTimeRecoveryDescription", {}))


def guard_finding(report: GuardReport, now: datetime) -> Finding | None:
    """Return a warning finding when the guard found a problem or had to enable PITR, else None."""
    problems = report.problems
    if report.pitr_enabled_now:
        problems = [*problems, f"point-in-time recovery was off on {report.table}; this run enabled it"]
    if not problems:
        return None
    return new_finding(
        finding_id=f"backup-guard-{report.table}-{to_iso(now)}",
        source="BackupGuardFunction",
        kind="backup-guard.problem",
        severity=Severity.WARNING,
        title=f"Backup guard: {problems[0]}"[:200],
        summary="; ".join(problems) + f". {report.summary()}",
        details=report.to_dict(),
        resource=report.table,
        runbook=RUNBOOK,
        now=now,
    )
