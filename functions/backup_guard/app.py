"""BackupGuardFunction: a dated on-demand backup each day, retention of the suite's backups, and PITR."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import single_metric
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from celebops.clients import client
from celebops.constants import METRICS_NAMESPACE
from celebops.observability import get_logger, get_metrics, log_job_succeeded
from celebops.publish import publish_finding
from celebops.restore.backup_guard import guard_backups, guard_finding
from celebops.restore.config import BackupGuardConfig

logger = get_logger()
metrics = get_metrics()

# Raises ConfigError at cold start, naming the bad variable and value, before any AWS call.
CONFIG = BackupGuardConfig.from_env()

# Seconds since the newest backup; when there is none, this stands in so the age alarm fires.
_NO_BACKUP_AGE_SECONDS = 10 * 365 * 86400.0


def _emit(name: str, unit: str, value: float) -> None:
    with single_metric(name=name, unit=unit, value=value, namespace=METRICS_NAMESPACE) as metric:
        metric.add_dimension(name="TableName", value=CONFIG.source_table)


@logger.inject_lambda_context
@metrics.log_metrics
@log_job_succeeded(logger)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("detail-type") == "Scheduled Event":
        scheduled = EventBridgeEvent(event)
        logger.info("scheduled run", extra={"rule": scheduled.resources, "scheduled_time": scheduled.time})
    now = datetime.now(UTC)

    report = guard_backups(client("dynamodb"), CONFIG, now)

    age = report.newest_backup_age_seconds
    _emit("NewestBackupAgeSeconds", "Seconds", _NO_BACKUP_AGE_SECONDS if age is None else age)
    _emit("PitrEnabled", "Count", 1.0 if report.pitr_enabled else 0.0)
    _emit("PitrWindowSeconds", "Seconds", report.pitr_window_seconds)
    finding = guard_finding(report, now)
    if finding is not None:
        publish_finding(client("sns"), CONFIG.warnings_topic_arn, finding)
        logger.warning("backup guard found problems", extra={"problems": report.problems})
    result = report.to_dict()
    logger.info("backup guard finished", extra={"summary": result["summary"]})
    return result
