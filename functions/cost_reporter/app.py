"""CostReporterFunction: yesterday's AWS cost per service, the month's forecast and the budget check, daily.

Invoked by the daily EventBridge schedule. Each run makes two billed Cost Explorer requests, so the
schedule must stay at one run a day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from celebops.clients import client
from celebops.costwatch.config import CostReporterConfig
from celebops.costwatch.explorer import cost_explorer_client
from celebops.costwatch.metrics import add_cost_metrics, emit_table_item_count
from celebops.costwatch.report import service_log_records
from celebops.costwatch.reporter import run_cost_report
from celebops.observability import get_logger, get_metrics, log_job_succeeded

logger = get_logger()
metrics = get_metrics()

# Raises ConfigError at cold start, naming the bad variable and value, before any AWS call.
CONFIG = CostReporterConfig.from_env()


def _run_day(event: Any) -> date:
    """Return the UTC day of the run: the schedule's time, or `{"today": "YYYY-MM-DD"}` when run by hand."""
    if not isinstance(event, dict):
        raise ValueError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("detail-type") == "Scheduled Event":
        scheduled = EventBridgeEvent(event)
        logger.info("scheduled run", extra={"rule": scheduled.resources, "scheduled_time": scheduled.time})
        if not isinstance(scheduled.time, str):
            raise ValueError(f"scheduled event time must be an ISO-8601 string, got {scheduled.time!r}")
        return datetime.fromisoformat(scheduled.time.replace("Z", "+00:00")).astimezone(UTC).date()
    if "today" in event:
        return date.fromisoformat(str(event["today"]))
    return datetime.now(UTC).date()


@logger.inject_lambda_context
@metrics.log_metrics
@log_job_succeeded(logger)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    today = _run_day(event)

    report = run_cost_report(cost_explorer_client(), client("dynamodb"), client("sns"), CONFIG, today)

    for record in service_log_records(report.costs):
        logger.info("service cost", extra=record)
    if report.forecast.forecast_error:
        logger.warning(
            "cost forecast unavailable, run rate used",
            extra={"error_code": report.forecast.forecast_error, "forecast_usd": float(report.forecast.amount)},
        )
    add_cost_metrics(metrics, report)
    if report.table_item_count is not None:
        emit_table_item_count(CONFIG.table_name, report.table_item_count)
    logger.info("cost report finished", extra=report.to_dict())
    return report.to_dict()
