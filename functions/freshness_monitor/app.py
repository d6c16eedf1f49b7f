"""FreshnessMonitorFunction: the age of the newest data per source, as the DataFreshness metric, every hour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from celebops.clients import client
from celebops.freshness.assess import RunOutcome, emit_freshness_metrics
from celebops.freshness.check import check_freshness
from celebops.freshness.config import FreshnessConfig
from celebops.observability import get_logger, log_job_succeeded

logger = get_logger()

# Raises ConfigError at cold start, naming the bad variable and value, before any AWS call.
CONFIG = FreshnessConfig.from_env()


class FreshnessCheckError(RuntimeError):
    """The table could not be read; raised after FreshnessCheckFailed=1 is written so Lambda counts an error."""


@logger.inject_lambda_context
@log_job_succeeded(logger)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("detail-type") == "Scheduled Event":
        scheduled = EventBridgeEvent(event)
        logger.info("scheduled run", extra={"rule": scheduled.resources, "scheduled_time": scheduled.time})

    # The wall clock, not the event time: ages are measured when the table is read.
    report = check_freshness(client("dynamodb"), CONFIG, datetime.now(UTC))
    emit_freshness_metrics(report)

    if report.outcome is RunOutcome.CHECK_FAILED:
        raise FreshnessCheckError(report.summary())
    logger.info("freshness checked", extra=report.to_dict())
    return report.to_dict()
