"""RestoreTestFunction: the tasks of RestoreTestStateMachine, and the daily sweep of scratch tables.

The state machine sends {"action": ...} with the task's parameters (see statemachine/restore_test.asl.json);
the daily EventBridge schedule sends a Scheduled Event, which runs the sweep.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import single_metric
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from celebops.clients import client
from celebops.constants import METRICS_NAMESPACE
from celebops.observability import get_logger, get_metrics, log_job_succeeded
from celebops.publish import publish_finding
from celebops.restore import report as reporting
from celebops.restore import steps
from celebops.restore.config import RestoreTestConfig
from celebops.restore.errors import InvalidRestoreInput
from celebops.restore.naming import parse_restore_type
from celebops.restore.sweep import sweep_scratch_tables
from celebops.restore.times import parse_iso
from celebops.restore.verify import verify_restore

logger = get_logger()
metrics = get_metrics()

# Raises ConfigError at cold start, naming the bad variable and value, before any AWS call.
CONFIG = RestoreTestConfig.from_env()


def emit_metric(name: str, unit: str, value: float, dimensions: Mapping[str, str]) -> None:
    # One EMF document per datapoint, so each carries its own RestoreType (plus Powertools' service).
    with single_metric(name=name, unit=unit, value=value, namespace=METRICS_NAMESPACE) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def _entered(event: Mapping[str, Any], field: str = "entered_at") -> datetime:
    return parse_iso(event.get(field), field)


def _plan(event: Mapping[str, Any]) -> dict[str, Any]:
    return steps.plan_run(CONFIG, event.get("input"), _entered(event, "started_at"))


def _start_restore(event: Mapping[str, Any]) -> dict[str, Any]:
    restore_type = parse_restore_type(event.get("restore_type"))
    return steps.start_restore(client("dynamodb"), CONFIG, restore_type, str(event.get("run_id")), _entered(event))


def _check_status(event: Mapping[str, Any]) -> dict[str, Any]:
    return steps.check_restore(client("dynamodb"), CONFIG, event.get("restore") or {}, _entered(event))


def _verify(event: Mapping[str, Any]) -> dict[str, Any]:
    result = verify_restore(client("dynamodb"), CONFIG, event["restore"], event["status"], random.Random())  # noqa: S311 - sampling, not security
    logger.info("restore verified", extra={"passed": result["passed"], "problems": result["problems"]})
    return result


def _cleanup(event: Mapping[str, Any]) -> dict[str, Any]:
    restore_type = parse_restore_type(event.get("restore_type"))
    result = steps.cleanup(client("dynamodb"), CONFIG, restore_type, str(event.get("run_id")))
    logger.info("scratch table cleaned up", extra=result)
    return result


def _report(event: Mapping[str, Any]) -> dict[str, Any]:
    now = _entered(event)
    ssm = client("ssm")
    record = reporting.load_last_success(ssm, CONFIG.state_parameter)
    report, finding, updated = reporting.build_report(
        CONFIG, str(event.get("run_id")), event.get("results") or [], record, now
    )
    if updated != record:
        reporting.save_last_success(ssm, CONFIG.state_parameter, updated)
    topic = {"info": CONFIG.info_topic_arn, "warning": CONFIG.warnings_topic_arn}.get(
        finding.severity.value, CONFIG.critical_topic_arn
    )
    publish_finding(client("sns"), topic, finding)
    reporting.emit_report_metrics(emit_metric, CONFIG, report)
    logger.info("restore test reported", extra={"passed": report["passed"], "severity": report["severity"]})
    return report


def _sweep(event: Mapping[str, Any]) -> dict[str, Any]:
    scheduled = EventBridgeEvent(event)
    now = datetime.now(UTC)
    logger.info("scheduled sweep", extra={"rule": scheduled.resources, "scheduled_time": scheduled.time})
    swept = sweep_scratch_tables(
        client("dynamodb"), CONFIG.source_table, timedelta(hours=CONFIG.scratch_max_age_hours), now
    )
    record = reporting.load_last_success(client("ssm"), CONFIG.state_parameter)
    days = reporting.days_since_success(record, [t.value for t in CONFIG.restore_types], now)
    reporting.emit_days_since_success(emit_metric, CONFIG, days)
    result = swept.to_dict()
    counts = result["counts"]
    since = "never" if days is None else f"{days:.1f} days ago"
    result["days_since_success"] = days
    result["summary"] = (
        f"scratch tables: {counts['deleted']} deleted, {counts['kept-recent']} recent kept, "
        f"{counts['rejected']} rejected, {counts['failed']} failed; last successful restore test {since}"
    )
    logger.info("sweep finished", extra=result)
    return result


ACTIONS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "plan": _plan,
    "start_restore": _start_restore,
    "check_status": _check_status,
    "verify": _verify,
    "cleanup": _cleanup,
    "report": _report,
}


@logger.inject_lambda_context
@metrics.log_metrics
@log_job_succeeded(logger)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidRestoreInput(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("detail-type") == "Scheduled Event":
        return _sweep(event)
    action = ACTIONS.get(str(event.get("action")))
    if action is None:
        raise InvalidRestoreInput(f"unknown action {event.get('action')!r}; expected one of {', '.join(ACTIONS)}")
    logger.append_keys(action=event["action"])
    try:
        return action(event)
    except Exception:
        logger.exception("restore test step failed")
        raise
