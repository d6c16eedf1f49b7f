"""ScraperMonitorFunction: decide each scraper's weekly run, emit ScraperSuccess and send the weekly notice.

Invoked by the weekly schedule after the scrape window, and by the EventBridge rule that receives
the scrapers' Lambda destination events (one per finished asynchronous invocation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from celebops.clients import client
from celebops.config import env_str
from celebops.constants import ENV_ALERT_TOPIC_INFO, ENV_ALERT_TOPIC_WARNINGS
from celebops.findings import Severity
from celebops.freshness.config import ScraperMonitorConfig
from celebops.freshness.evidence import arn_prefix_of
from celebops.freshness.scrape_check import (
    RESULT_FAILURE,
    RESULT_SUCCESS,
    assess_scrape,
    emit_scrape_metrics,
    emit_source_results,
    failure_finding,
    parse_result_event,
    result_from_event,
    scrape_finding,
)
from celebops.observability import get_logger, log_job_succeeded
from celebops.publish import publish_finding

logger = get_logger()

# Raises ConfigError at cold start, naming the bad variable and value, before any AWS call.
CONFIG = ScraperMonitorConfig.from_env()
WARNINGS_TOPIC = env_str(ENV_ALERT_TOPIC_WARNINGS)
INFO_TOPIC = env_str(ENV_ALERT_TOPIC_INFO)


def _handle_result(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    result_event = parse_result_event(event)
    result = result_from_event(CONFIG, result_event)
    if result is None:
        logger.info("result of another function ignored", extra={"function": result_event.function_name})
        return {"summary": f"ignored: {result_event.function_name} is not a configured scraper", "ignored": True}

    emit_source_results([(result.source, result.succeeded)])
    body: dict[str, Any] = {"result": result.to_dict(), "request_id": result_event.request_id}
    if result.succeeded:
        body["summary"] = f"scraper {result.source} succeeded"
        return body
    logger.error("scraper failed", extra=body)
    finding = failure_finding(result, result_event.request_id, now)
    body["message_id"] = publish_finding(client("sns"), WARNINGS_TOPIC, finding)
    body["summary"] = f"scraper {result.source} failed: {result.error or result.reason}; warning sent"
    return body


def _handle_sweep(context: LambdaContext, now: datetime) -> dict[str, Any]:
    report = assess_scrape(
        client("cloudwatch"),
        client("logs"),
        client("events"),
        CONFIG,
        arn_prefix_of(context.invoked_function_arn),
        now,
    )
    emit_scrape_metrics(report)
    finding = scrape_finding(report, now)
    topic = INFO_TOPIC if finding.severity is Severity.INFO else WARNINGS_TOPIC
    message_id = publish_finding(client("sns"), topic, finding)
    log = logger.info if report.all_succeeded else logger.warning
    log("weekly scrape assessed", extra={**report.to_dict(), "message_id": message_id})
    return {**report.to_dict(), "severity": finding.severity.value, "message_id": message_id}


@logger.inject_lambda_context
@log_job_succeeded(logger)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise ValueError(f"event must be a JSON object, got {type(event).__name__}")
    now = datetime.now(UTC)
    if event.get("detail-type") in (RESULT_SUCCESS, RESULT_FAILURE):
        return _handle_result(event, now)
    if event.get("detail-type") == "Scheduled Event":
        scheduled = EventBridgeEvent(event)
        logger.info("scheduled run", extra={"rule": scheduled.resources, "scheduled_time": scheduled.time})
    return _handle_sweep(context, now)
