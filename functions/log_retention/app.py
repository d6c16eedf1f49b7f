"""LogRetentionFunction: set CloudWatch Logs retention by log group name prefix, once a day.

Invoked by the daily EventBridge schedule, or by hand with `{"dry_run": true}` to preview the changes.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from celebops.clients import client
from celebops.observability import get_logger, get_metrics, log_job_succeeded
from celebops.retention.enforcer import Deadline, enforce_retention
from celebops.retention.policy import RetentionConfig
from celebops.retention.report import RunStatus, add_report_metrics

logger = get_logger()
metrics = get_metrics()

# Raises ConfigError at cold start, naming the bad variable and value, before any AWS call.
CONFIG = RetentionConfig.from_env()


class RetentionRunError(RuntimeError):
    """Some log groups failed or were not processed; raised so the Lambda Errors metric counts the run."""


def _requested_dry_run(event: Any) -> bool | None:
    """Return the manual invocation's dry_run override, or None to keep the configured DRY_RUN."""
    if not isinstance(event, dict):
        raise ValueError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("detail-type") == "Scheduled Event":
        scheduled = EventBridgeEvent(event)
        logger.info("scheduled run", extra={"rule": scheduled.resources, "scheduled_time": scheduled.time})
        return None
    dry_run = event.get("dry_run")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise ValueError(f"dry_run must be true or false, got {dry_run!r}")
    return dry_run


@logger.inject_lambda_context
@metrics.log_metrics
@log_job_succeeded(logger)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dry_run = _requested_dry_run(event)
    config = CONFIG if dry_run is None else CONFIG.with_dry_run(dry_run)
    deadline = Deadline.from_remaining_ms(context.get_remaining_time_in_millis())

    report = enforce_retention(client("logs"), config, deadline)

    add_report_metrics(metrics, report)
    if report.status is RunStatus.ERROR:
        logger.error("retention run finished with errors", extra=report.summary())
        # log_metrics flushes the metrics in a finally block, so they are emitted before this propagates.
        raise RetentionRunError(report.failure_message())
    logger.info("retention run finished", extra=report.summary())
    return report.to_dict()
