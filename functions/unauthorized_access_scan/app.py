"""UnauthorizedAccessScanFunction: find addresses with repeated 401s in the API's access logs, nightly.

Invoked by the nightly EventBridge schedule, whose event time ends the scan window (so a retried
invocation scans the same window), or by hand with `{"end": "<ISO-8601 time>"}`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from celebops.access_scan.log_reader import ReadLimits
from celebops.access_scan.report import RunStatus, add_report_metrics
from celebops.access_scan.scan import ScanClients, run_scan
from celebops.access_scan.settings import BlockMode, ScanConfig
from celebops.clients import client
from celebops.config import env_str
from celebops.constants import ENV_ALERT_TOPIC_INFO, ENV_ALERT_TOPIC_WARNINGS
from celebops.findings import Severity
from celebops.observability import get_logger, get_metrics, log_job_succeeded
from celebops.publish import publish_finding

logger = get_logger()
metrics = get_metrics()

# Raises ConfigError at cold start, naming the bad variable and value, before any AWS call.
CONFIG = ScanConfig.from_env()
WARNINGS_TOPIC = env_str(ENV_ALERT_TOPIC_WARNINGS)
INFO_TOPIC = env_str(ENV_ALERT_TOPIC_INFO)

#: Seconds kept free before the Lambda timeout to publish the finding, store the report and flush metrics.
DEADLINE_MARGIN_SECONDS = 30.0


class ScanRunError(RuntimeError):
    """Reading the access log failed; raised after the report so the Lambda Errors metric counts the run."""


def _window_end(event: Any) -> datetime:
    if not isinstance(event, dict):
        raise ValueError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("detail-type") == "Scheduled Event":
        scheduled = EventBridgeEvent(event)
        logger.info("scheduled run", extra={"rule": scheduled.resources, "scheduled_time": scheduled.time})
        if not isinstance(scheduled.time, str):
            raise ValueError(f"scheduled event time must be an ISO-8601 string, got {scheduled.time!r}")
        return datetime.fromisoformat(scheduled.time.replace("Z", "+00:00"))
    end = event.get("end")
    if end is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"end must be an ISO-8601 time such as 2026-12-04T02:30:00Z, got {end!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@logger.inject_lambda_context
@metrics.log_metrics
@log_job_succeeded(logger)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    window_end = _window_end(event)
    remaining = context.get_remaining_time_in_millis() / 1000
    limits = ReadLimits(max_pages=CONFIG.max_pages, deadline=time.monotonic() + remaining - DEADLINE_MARGIN_SECONDS)
    clients = ScanClients(
        logs=client("logs"),
        dynamodb=client("dynamodb"),
        s3=client("s3") if CONFIG.report_bucket else None,
        wafv2=client("wafv2") if CONFIG.block_mode is BlockMode.BLOCK else None,
    )

    report = run_scan(CONFIG, clients, window_end, limits, now=datetime.now(UTC))

    add_report_metrics(metrics, report)
    if report.status is RunStatus.ERROR:
        # log_metrics flushes the metrics in a finally block, so they are emitted before this propagates.
        raise ScanRunError(f"reading {CONFIG.log_group} failed: {report.paging.error_code}")
    finding = report.finding()
    topic = WARNINGS_TOPIC if finding.severity is Severity.WARNING else INFO_TOPIC
    message_id = publish_finding(client("sns"), topic, finding)
    logger.info("finding published", extra={"finding_id": finding.finding_id, "message_id": message_id})
    result = report.to_dict(max_offenders=20)
    result.pop("top_sources", None)
    return result
