"""AlertRouterFunction: SQS batch of SNS alert notifications -> Slack and PagerDuty.

Returns a partial batch response. The whole batch is planned at once (not record by record with
Powertools' BatchProcessor) because an alert storm becomes one grouped Slack message per topic.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from celebops.alerts.router import build_router
from celebops.observability import get_logger, get_metrics

logger = get_logger()
metrics = get_metrics()


def _count(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


router = build_router(logger, _count)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    if not isinstance(event, dict) or not isinstance(event.get("Records", []), list):
        # Not an SQS event at all: nothing to return to the queue, so fail the invocation loudly.
        raise ValueError(f"expected an SQS event with a Records list, got {type(event).__name__}")
    router.deduplicator.register_context(context)
    result = router.process_batch(event.get("Records", []), context.get_remaining_time_in_millis)
    return result.response()
