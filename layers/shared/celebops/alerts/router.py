"""Process one SQS batch of alerts end to end: parse, route, group storms, deliver, report per record.

Every record ends with an outcome per destination. A record fails when any destination failed,
so the handler reports it in `batchItemFailures` and SQS delivers it again, or moves it to the DLQ
after the queue's max receives. On redelivery the deduplicator skips destinations that already
succeeded. PagerDuty goes first, so a page never waits behind a slow Slack.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from celebops.alerts.delivery_policy import Budget, RetryPolicy
from celebops.alerts.enrichment import Enricher
from celebops.alerts.envelope import parse_record
from celebops.alerts.errors import DeliveryError, EnvelopeError
from celebops.alerts.idempotency import Deduplicator
from celebops.alerts.model import Alert, AlertKind, Notification
from celebops.alerts.pagerduty_format import PagerDutyOptions, format_pagerduty
from celebops.alerts.parse import MAX_RAW_CHARS, parse_alert
from celebops.alerts.routing import Destination, Route, RoutingConfig, Topic, route
from celebops.alerts.senders import Senders
from celebops.alerts.slack_format import SlackOptions, format_slack, format_slack_group
from celebops.alerts.text import truncate
from celebops.config import env_bool, env_int, env_optional
from celebops.errors import ConfigError

if TYPE_CHECKING:
    from celebops.alerts.pagerduty_http import PagerDutySender
    from celebops.alerts.slack_http import SlackSender
    from celebops.clients import InvocationDeadline

MetricSink = Callable[[str, float], None]


class Outcome(StrEnum):
    DELIVERED = "delivered"
    ALREADY_DELIVERED = "already_delivered"
    SKIPPED_DISABLED = "skipped_disabled"
    FAILED_RETRYABLE = "failed_retryable"
    FAILED_PERMANENT = "failed_permanent"


_FAILED = (Outcome.FAILED_RETRYABLE, Outcome.FAILED_PERMANENT)


@dataclass(frozen=True)
class DeliveryResult:
    destination: Destination
    outcome: Outcome
    detail: str = ""


@dataclass
class RecordResult:
    item_id: str
    message_id: str
    kind: AlertKind
    deliveries: list[DeliveryResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(d.outcome in _FAILED for d in self.deliveries)


@dataclass(frozen=True)
class BatchResult:
    records: tuple[RecordResult, ...]

    def response(self) -> dict[str, list[dict[str, str]]]:
        """Build the SQS partial batch response from the failed records' message ids."""
        return {"batchItemFailures": [{"itemIdentifier": r.item_id} for r in self.records if r.failed]}


@dataclass(frozen=True)
class RouterConfig:
    routing: RoutingConfig
    slack: SlackOptions
    pagerduty: PagerDutyOptions
    storm_threshold: int = 5
    idempotency_table: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RouterConfig:
        dashboard = env_optional("DASHBOARD_URL", env=env)
        runbooks = env_optional("RUNBOOK_BASE_URL", env=env)
        return cls(
            routing=RoutingConfig.from_env(env),
            slack=SlackOptions(
                dashboard_url=dashboard,
                runbook_base_url=runbooks,
                mention_critical=env_bool("SLACK_MENTION_CRITICAL", False, env=env),
            ),
            pagerduty=PagerDutyOptions(client_url=dashboard, runbook_base_url=runbooks),
            storm_threshold=env_int("STORM_THRESHOLD", 5, minimum=2, env=env),
            idempotency_table=env_optional("IDEMPOTENCY_TABLE", env=env),
        )


@dataclass
class _Item:
    result: RecordResult
    alert: Alert
    route: Route


@dataclass
class _Job:
    """One outbound message: a key for once-only delivery, a body, and the records it stands for."""

    key: str
    destination: Destination
    body: dict[str, Any]
    members: list[_Item]
    #: Topic whose Slack channel receives the message (the Slack secret may map topics to webhooks).
    topic: Topic | None = None


def _item_id(record: Any, index: int) -> str:
    if isinstance(record, Mapping):
        for key in ("messageId", "id"):
            value = record.get(key)
            if isinstance(value, str):
                return value
        sns = record.get("Sns")
        message_id = sns.get("MessageId") if isinstance(sns, Mapping) else None
        if isinstance(message_id, str):
            return message_id
    return f"record-{index}"


def unreadable_alert(record: Any, item_id: str, error: EnvelopeError) -> Alert:
    """Build an alert for a record whose envelope cannot be read, so its content still reaches people."""
    raw = record.get("body") if isinstance(record, Mapping) and isinstance(record.get("body"), str) else None
    if raw is None:
        raw = json.dumps(record, ensure_ascii=False, default=str, indent=2)
    notification = Notification(
        message_id=item_id, topic_arn=None, subject="Unreadable alert record", message=raw, timestamp=None
    )
    return Alert(
        kind=AlertKind.UNRECOGNISED,
        notification=notification,
        title="Unreadable alert record",
        reason=truncate(raw, MAX_RAW_CHARS),
        description=str(error),
    )


class AlertRouter:
    def __init__(
        self,
        config: RouterConfig,
        senders: Senders,
        deduplicator: Deduplicator,
        logger: Any,
        metric: MetricSink,
        policy: RetryPolicy | None = None,
        enricher: Enricher | None = None,
        deadline: InvocationDeadline | None = None,
    ) -> None:
        self.config = config
        self.senders = senders
        self.deduplicator = deduplicator
        self.logger = logger
        self.metric = metric
        self.policy = policy or senders.policy
        self.enricher = enricher
        self.deadline = deadline
        # A delivery starts only when one HTTP attempt and two AWS attempts (the idempotency record
        # written before and completed after the send) still fit before the safety margin. The
        # senders check the budget only before a retry.
        # NOTE: retries of the first idempotency write can still use up that time. When the write
        # after a successful send is then not sent, the record stays in progress until this
        # invocation's deadline, and a redelivery after that sends the alert a second time.
        aws_attempt_seconds = deadline.attempt_ms / 1000 if deadline is not None else 0.0
        self.delivery_seconds = self.policy.connect_timeout_seconds + self.policy.read_timeout_seconds
        self.delivery_seconds += 2 * aws_attempt_seconds

    # -- planning ----------------------------------------------------------------------------------

    def _read(self, records: Sequence[Any], enrichment_budget: Budget | None = None) -> list[_Item]:
        """Parse, enrich (while `enrichment_budget` allows, or always without one) and route each record."""
        items = []
        if self.enricher is not None:
            self.enricher.begin_batch()
        for index, record in enumerate(records):
            item_id = _item_id(record, index)
            try:
                alert = parse_alert(parse_record(record))
            except EnvelopeError as exc:
                self.logger.warning("alert record unreadable", extra={"item_id": item_id, "error": str(exc)})
                self.metric("AlertRecordUnreadable", 1)
                alert = unreadable_alert(record, item_id, exc)
            tagged = None
            enrich = enrichment_budget is None or enrichment_budget.allows(0.0, 0.0)
            if self.enricher is not None and enrich:
                try:
                    alert = self.enricher.with_log_lines(alert)
                    tagged = self.enricher.tag_override(alert)
                except Exception as exc:  # enrichment is optional, so a bug in it must not stop delivery
                    self.metric("AlertEnrichmentError", 1)
                    self.logger.exception(
                        "alert enrichment raised an unexpected error",
                        extra={"item_id": item_id, "alarm": alert.alarm_name, "error_type": type(exc).__name__},
                    )
            decided = route(alert, self.config.routing, tagged)
            if decided.pagerduty_skip_reason:
                self.logger.info(
                    "pagerduty not paged",
                    extra={"item_id": item_id, "alarm": alert.alarm_name, "reason": decided.pagerduty_skip_reason},
                )
            result = RecordResult(item_id=item_id, message_id=alert.notification.message_id, kind=alert.kind)
            items.append(_Item(result=result, alert=alert, route=decided))
        return items

    def plan(self, items: list[_Item]) -> list[_Job]:
        """PagerDuty jobs first (one per alert), then Slack jobs (one per alert, or one per storm topic)."""
        jobs: list[_Job] = []
        for item in items:
            if not item.route.pagerduty:
                continue
            event = format_pagerduty(item.alert, item.route, self.config.pagerduty)
            if event is None:
                # Only an alarm without ARN, region and account gets here.
                self.logger.warning("pagerduty event not built", extra={"item_id": item.result.item_id})
                continue
            jobs.append(_Job(f"{item.alert.notification.message_id}#pagerduty", Destination.PAGERDUTY, event, [item]))

        by_topic: dict[Topic, list[_Item]] = defaultdict(list)
        for item in items:
            if item.route.slack:
                by_topic[item.route.topic].append(item)
        for topic, members in by_topic.items():
            if len(members) >= self.config.storm_threshold:
                ids = sorted(m.alert.notification.message_id for m in members)
                group = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]
                body = format_slack_group([m.alert for m in members], topic, self.config.slack)
                jobs.append(_Job(f"group:{group}#slack", Destination.SLACK, body, members, topic))
                continue
            for item in members:
                body = format_slack(item.alert, item.route, self.config.slack)
                jobs.append(_Job(f"{item.alert.notification.message_id}#slack", Destination.SLACK, body, [item], topic))
        return jobs

    # -- delivery ----------------------------------------------------------------------------------

    def _deliver(self, job: _Job, budget: Budget) -> DeliveryResult:
        sender: SlackSender | PagerDutySender | None
        try:
            if job.destination is Destination.PAGERDUTY:
                sender = self.senders.pagerduty()
            else:
                sender = self.senders.slack(job.topic.value if job.topic else None)
        except GetParameterError as exc:
            # Secrets Manager failed or timed out. A ConfigError (a bad secret value) still propagates.
            self.metric("AlertSecretUnavailable", 1)
            self.logger.error(
                "alert secret could not be read",
                extra={"destination": job.destination.value, "key": job.key, "error": str(exc)},
            )
            return DeliveryResult(job.destination, Outcome.FAILED_RETRYABLE, f"secret unavailable: {exc}")
        if sender is None:
            self.logger.info("destination disabled, alert skipped", extra={"destination": job.destination.value})
            self.metric("AlertDeliverySkipped", 1)
            return DeliveryResult(job.destination, Outcome.SKIPPED_DISABLED)

        def send() -> None:
            attempts = sender.send(job.body, budget)
            self.logger.info(
                "alert delivered",
                extra={"destination": job.destination.value, "key": job.key, "attempts": attempts},
            )

        try:
            ran = self.deduplicator.run_once(job.key, job.destination.value, send)
        except ConfigError:
            raise
        except DeliveryError as exc:
            self.metric(f"{'PagerDuty' if job.destination is Destination.PAGERDUTY else 'Slack'}DeliveryFailed", 1)
            outcome = Outcome.FAILED_RETRYABLE if exc.retryable else Outcome.FAILED_PERMANENT
            self.logger.error(
                "alert delivery failed",
                extra={
                    "destination": job.destination.value,
                    "key": job.key,
                    "retryable": exc.retryable,
                    "error": str(exc),
                },
            )
            return DeliveryResult(job.destination, outcome, str(exc))
        except Exception as exc:  # one broken delivery must not abort the other records
            self.metric("AlertDeliveryError", 1)
            self.logger.exception(
                "alert delivery raised an unexpected error",
                extra={"destination": job.destination.value, "key": job.key, "error_type": type(exc).__name__},
            )
            return DeliveryResult(job.destination, Outcome.FAILED_RETRYABLE, type(exc).__name__)
        if not ran:
            self.logger.info("alert already delivered", extra={"destination": job.destination.value, "key": job.key})
            return DeliveryResult(job.destination, Outcome.ALREADY_DELIVERED)
        self.metric("AlertDelivered", 1)
        return DeliveryResult(job.destination, Outcome.DELIVERED)

    def _defer(self, job: _Job, budget: Budget) -> DeliveryResult:
        """Leave a delivery for the next receive of its records, because it might not end in this invocation."""
        remaining_ms = budget.remaining_ms()
        needed_ms = int(self.delivery_seconds * 1000) + budget.safety_margin_ms
        self.metric("AlertDeliveryDeferred", 1)
        self.logger.warning(
            "alert delivery deferred, too little invocation time left",
            extra={
                "destination": job.destination.value,
                "key": job.key,
                "remaining_ms": remaining_ms,
                "needed_ms": needed_ms,
            },
        )
        detail = f"not started: {remaining_ms} ms left, {needed_ms} ms needed"
        return DeliveryResult(job.destination, Outcome.FAILED_RETRYABLE, detail)

    def process_batch(self, records: Sequence[Any], remaining_ms: Callable[[], int]) -> BatchResult:
        """Deliver a batch and return one result per record, in order, before the invocation's deadline.

        Enrichment may use only the first half of the time the batch starts with, because it is
        optional. A delivery that might not end in time is not started, and its records fail so
        that SQS delivers them again.
        """
        if self.deadline is not None:
            self.deadline.start(remaining_ms)
        budget = Budget(remaining_ms=remaining_ms, safety_margin_ms=self.policy.safety_margin_ms)
        enrichment_budget = Budget(remaining_ms=remaining_ms, safety_margin_ms=remaining_ms() // 2)
        items = self._read(records, enrichment_budget)
        for job in self.plan(items):
            if budget.allows(0.0, self.delivery_seconds):
                delivery = self._deliver(job, budget)
            else:
                delivery = self._defer(job, budget)
            for member in job.members:
                member.result.deliveries.append(delivery)
        results = tuple(item.result for item in items)
        for result in results:
            self.logger.info(
                "alert routed",
                extra={
                    "item_id": result.item_id,
                    "message_id": result.message_id,
                    "kind": result.kind.value,
                    "deliveries": {d.destination.value: d.outcome.value for d in result.deliveries},
                },
            )
        return BatchResult(results)


def build_router(logger: Any, metric: MetricSink, env: Mapping[str, str] | None = None) -> AlertRouter:
    """Build the router from the environment at cold start; raise ConfigError naming a bad variable."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from celebops.alerts.enrichment import EnrichmentConfig
    from celebops.alerts.idempotency import DynamoDBDeduplication, NoDeduplication
    from celebops.alerts.senders import SenderConfig
    from celebops.clients import ROUTER_ATTEMPT_MS, InvocationDeadline, deadline_clients

    config = RouterConfig.from_env(env)
    policy = RetryPolicy()
    # Every AWS attempt of the router must end before the safety margin, so under an AWS fault the
    # handler returns its partial batch response before the Lambda timeout stops it.
    deadline = InvocationDeadline(ROUTER_ATTEMPT_MS, reserve_ms=policy.safety_margin_ms)
    client = deadline_clients(deadline)
    senders = Senders(
        config=SenderConfig.from_env(env),
        secrets=SecretsProvider(boto3_client=client("secretsmanager")),
        logger=logger,
        policy=policy,
    )
    deduplicator: Deduplicator
    if config.idempotency_table:
        deduplicator = DynamoDBDeduplication(config.idempotency_table, client("dynamodb"))
    else:
        logger.warning("idempotency disabled because IDEMPOTENCY_TABLE is unset")
        deduplicator = NoDeduplication()
    enrichment = EnrichmentConfig.from_env(env)
    enricher = Enricher(enrichment, client, logger) if enrichment.log_lines or enrichment.alarm_tags else None
    return AlertRouter(config, senders, deduplicator, logger, metric, enricher=enricher, deadline=deadline)
