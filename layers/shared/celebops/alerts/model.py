"""Typed model of one alert, whatever shape it arrived in."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from celebops.findings import Finding


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class AlertKind(StrEnum):
    METRIC_ALARM = "metric_alarm"
    COMPOSITE_ALARM = "composite_alarm"
    FINDING = "finding"
    BUDGET = "budget"
    TEXT = "text"
    UNRECOGNISED = "unrecognised"


class Origin(StrEnum):
    """How the alert reached the router."""

    SNS = "sns"
    EVENTBRIDGE = "eventbridge"


@dataclass(frozen=True)
class Notification:
    """One SNS notification (or an EventBridge event, with `message` holding the event JSON)."""

    message_id: str
    topic_arn: str | None
    subject: str | None
    message: str
    timestamp: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    origin: Origin = Origin.SNS


@dataclass(frozen=True)
class MetricRef:
    """A CloudWatch metric with the statistic the alarm reads."""

    namespace: str | None
    name: str | None
    dimensions: tuple[tuple[str, str], ...] = ()
    statistic: str | None = None
    period: int | None = None
    unit: str | None = None


@dataclass(frozen=True)
class MetricQuery:
    """One entry of a metric-math or anomaly-detection alarm: a metric or an expression."""

    id: str
    expression: str | None = None
    metric: MetricRef | None = None
    label: str | None = None
    return_data: bool = False


@dataclass(frozen=True)
class Condition:
    """What the alarm evaluates: one metric, or queries with an expression, against a threshold or a band."""

    metric: MetricRef | None = None
    queries: tuple[MetricQuery, ...] = ()
    comparison: str | None = None
    threshold: float | None = None
    threshold_metric_id: str | None = None
    period: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None

    @property
    def band_query(self) -> MetricQuery | None:
        """The anomaly-detection band expression the threshold refers to, if any."""
        if self.threshold_metric_id is None:
            return None
        return next((q for q in self.queries if q.id == self.threshold_metric_id), None)


@dataclass(frozen=True)
class ChildAlarm:
    """A child of a composite alarm that triggered it."""

    name: str
    arn: str
    state: str | None


@dataclass(frozen=True)
class BudgetDetails:
    """Fields read from an AWS Budgets text notification; any may be missing."""

    budget_name: str | None = None
    budget_type: str | None = None
    budgeted_amount: str | None = None
    alert_type: str | None = None
    alert_threshold: str | None = None
    actual_amount: str | None = None
    forecasted_amount: str | None = None


@dataclass(frozen=True)
class Alert:
    """One alert ready to route and format. Text fields are raw (unescaped, untruncated)."""

    kind: AlertKind
    notification: Notification
    title: str
    reason: str
    state: AlarmState | None = None
    old_state: AlarmState | None = None
    description: str | None = None
    alarm_name: str | None = None
    alarm_arn: str | None = None
    account_id: str | None = None
    region: str | None = None
    time: str | None = None
    condition: Condition | None = None
    alarm_rule: str | None = None
    children: tuple[ChildAlarm, ...] = ()
    finding: Finding | None = None
    budget: BudgetDetails | None = None
    #: True when a finding declares that the problem it reported is over (see parse.finding_resolves).
    resolved: bool = False
    #: Newest log lines matched by the metric filter behind the alarm's metric, filled by enrichment.
    log_lines: tuple[str, ...] = ()

    @property
    def is_alarm(self) -> bool:
        return self.kind in (AlertKind.METRIC_ALARM, AlertKind.COMPOSITE_ALARM)
