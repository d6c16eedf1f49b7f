"""The router's delivery budget: a delivery that might not end before the deadline is not started."""

from __future__ import annotations

from typing import Any, cast

from celebops.alerts.delivery_policy import RetryPolicy
from celebops.alerts.idempotency import NoDeduplication
from celebops.alerts.router import AlertRouter, Outcome, RouterConfig
from tests.conftest import load_event
from tests.unit.alerts.conftest import TOPICS


class RecordingLogger:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def info(self, message: str, extra: dict[str, Any] | None = None) -> None:
        return None

    def warning(self, message: str, extra: dict[str, Any] | None = None) -> None:
        self.warnings.append((message, extra or {}))


class DisabledSenders:
    """Stands in for Senders: records each sender request and returns None (destination disabled)."""

    policy = RetryPolicy()

    def __init__(self) -> None:
        self.requests: list[str] = []

    def pagerduty(self) -> None:
        self.requests.append("pagerduty")

    def slack(self, topic: str | None = None) -> None:
        self.requests.append("slack")


def _router(senders: DisabledSenders, logger: RecordingLogger, metrics: list[str]) -> AlertRouter:
    config = RouterConfig.from_env(TOPICS)
    return AlertRouter(
        config, cast(Any, senders), NoDeduplication(), logger, lambda name, _: metrics.append(name), RetryPolicy()
    )


def _needed_ms(policy: RetryPolicy) -> int:
    """Return the time a delivery needs to start: one HTTP attempt plus the safety margin."""
    return int((policy.connect_timeout_seconds + policy.read_timeout_seconds) * 1000) + policy.safety_margin_ms


def test_short_time_defers_every_delivery() -> None:
    senders, logger, metrics = DisabledSenders(), RecordingLogger(), []
    records = load_event("alert_router_metric_alarm")["Records"]

    result = _router(senders, logger, metrics).process_batch(records, lambda: _needed_ms(RetryPolicy()) - 1)

    failed = {failure["itemIdentifier"] for failure in result.response()["batchItemFailures"]}
    deliveries = [delivery for record in result.records for delivery in record.deliveries]
    assert failed == {record["messageId"] for record in records}
    assert deliveries
    assert {delivery.outcome for delivery in deliveries} == {Outcome.FAILED_RETRYABLE}
    assert senders.requests == []
    assert metrics.count("AlertDeliveryDeferred") == len(deliveries)
    assert {message for message, _ in logger.warnings} == {"alert delivery deferred, too little invocation time left"}


def test_enough_time_starts_delivery() -> None:
    senders, logger, metrics = DisabledSenders(), RecordingLogger(), []
    records = load_event("alert_router_metric_alarm")["Records"]

    result = _router(senders, logger, metrics).process_batch(records, lambda: _needed_ms(RetryPolicy()))

    assert result.response()["batchItemFailures"] == []
    assert senders.requests
    assert "AlertDeliveryDeferred" not in metrics
