"""Turn a notification into a typed Alert, whatever its message is.

Every message becomes an alert. Known kinds are CloudWatch metric alarms (single metric, metric
math, anomaly band), composite alarms, EventBridge "CloudWatch Alarm State Change" events, the
suite's findings, AWS Budgets text notifications and free text. Any other shape becomes an
"unrecognised message" alert that carries the raw text, so `parse_alert` raises for no message
text (a property test checks this).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from celebops.alerts.budgets import looks_like_budget, parse_budget
from celebops.alerts.model import (
    AlarmState,
    Alert,
    AlertKind,
    ChildAlarm,
    Condition,
    MetricQuery,
    MetricRef,
    Notification,
)
from celebops.alerts.regions import region_from_arn, resolve_region
from celebops.alerts.text import truncate
from celebops.findings import FindingError, is_finding, parse_finding

#: Raw text kept for an unrecognised message. Formatters cut it further to their own limits.
MAX_RAW_CHARS = 20_000

_STATISTICS = {name.lower(): name for name in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")}
_TREAT_MISSING_PREFIX = re.compile(r"^[\s\-]*TreatMissingData\s*:\s*", re.IGNORECASE)
_ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


# -- small readers that return None for a wrong type ---------------------------------------------


def _text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _number(document: Mapping[str, Any], key: str) -> float | None:
    value = document.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _integer(document: Mapping[str, Any], key: str) -> int | None:
    number = _number(document, key)
    if number is None or number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number)


def _mapping(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(document: Mapping[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    return value if isinstance(value, list) else []


def _state(value: Any) -> AlarmState | None:
    if not isinstance(value, str):
        return None
    try:
        return AlarmState(value.strip().upper())
    except ValueError:
        return None


def normalise_statistic(raw: str | None) -> str | None:
    """Return CloudWatch's spelling of a statistic ("MAXIMUM" -> "Maximum", "P95" -> "p95")."""
    if raw is None:
        return None
    text = raw.strip()
    if text.lower() in _STATISTICS:
        return _STATISTICS[text.lower()]
    if re.fullmatch(r"[pP]\d+(\.\d+)?", text):
        return text.lower()
    return text


def normalise_treat_missing_data(raw: str | None) -> str | None:
    """Strip the label some notifications repeat inside the value ("- TreatMissingData:   missing")."""
    if raw is None:
        return None
    cleaned = " ".join(_TREAT_MISSING_PREFIX.sub("", raw).split())
    return cleaned or None


def _dimensions(raw: Any) -> tuple[tuple[str, str], ...]:
    """Read dimensions as a list of {"name", "value"} (SNS) or a name -> value map (EventBridge)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, Mapping):
        pairs = [(str(name), str(value)) for name, value in raw.items()]
    elif isinstance(raw, list):
        for item in raw:
            if not isinstance(item, Mapping):
                continue
            name = item.get("name", item.get("Name"))
            value = item.get("value", item.get("Value"))
            if name is not None and value is not None:
                pairs.append((str(name), str(value)))
    return tuple(pairs)


# -- CloudWatch alarm notifications (SNS, PascalCase) --------------------------------------------


def _metric_query(raw: Mapping[str, Any]) -> MetricQuery:
    stat = _mapping(raw, "MetricStat")
    metric_doc = _mapping(stat, "Metric")
    metric = None
    if metric_doc:
        metric = MetricRef(
            namespace=_text(metric_doc, "Namespace"),
            name=_text(metric_doc, "MetricName"),
            dimensions=_dimensions(metric_doc.get("Dimensions")),
            statistic=normalise_statistic(_text(stat, "Stat")),
            period=_integer(stat, "Period"),
            unit=_text(stat, "Unit"),
        )
    return MetricQuery(
        id=_text(raw, "Id") or "?",
        expression=_text(raw, "Expression"),
        metric=metric,
        label=_text(raw, "Label"),
        return_data=raw.get("ReturnData") is True,
    )


def _condition(trigger: Mapping[str, Any]) -> Condition:
    metric = None
    if _text(trigger, "MetricName"):
        extended = _text(trigger, "ExtendedStatistic")
        statistic = extended if (trigger.get("StatisticType") == "ExtendedStatistic" or extended) else None
        metric = MetricRef(
            namespace=_text(trigger, "Namespace"),
            name=_text(trigger, "MetricName"),
            dimensions=_dimensions(trigger.get("Dimensions")),
            statistic=normalise_statistic(statistic or _text(trigger, "Statistic")),
            period=_integer(trigger, "Period"),
            unit=_text(trigger, "Unit"),
        )
    queries = tuple(_metric_query(item) for item in _list(trigger, "Metrics") if isinstance(item, Mapping))
    return Condition(
        metric=metric,
        queries=queries,
        comparison=_text(trigger, "ComparisonOperator"),
        threshold=_number(trigger, "Threshold"),
        threshold_metric_id=_text(trigger, "ThresholdMetricId"),
        period=_integer(trigger, "Period"),
        evaluation_periods=_integer(trigger, "EvaluationPeriods"),
        datapoints_to_alarm=_integer(trigger, "DatapointsToAlarm"),
        treat_missing_data=normalise_treat_missing_data(_text(trigger, "TreatMissingData")),
    )


def _child(raw: Mapping[str, Any]) -> ChildAlarm | None:
    arn = _text(raw, "Arn")
    if arn is None:
        return None
    name = arn.split(":alarm:", 1)[1] if ":alarm:" in arn else arn
    return ChildAlarm(name=name, arn=arn, state=_text(_mapping(raw, "State"), "Value"))


def is_cloudwatch_alarm(document: Mapping[str, Any]) -> bool:
    return _text(document, "AlarmName") is not None and _state(document.get("NewStateValue")) is not None


def _alarm_from_sns(document: Mapping[str, Any], notification: Notification) -> Alert:
    name = _text(document, "AlarmName") or "unnamed alarm"
    arn = _text(document, "AlarmArn")
    composite = "AlarmRule" in document or ("TriggeringChildren" in document and "Trigger" not in document)
    trigger = _mapping(document, "Trigger")
    children = tuple(
        c for c in (_child(i) for i in _list(document, "TriggeringChildren") if isinstance(i, Mapping)) if c
    )
    return Alert(
        kind=AlertKind.COMPOSITE_ALARM if composite else AlertKind.METRIC_ALARM,
        notification=notification,
        title=name,
        reason=_text(document, "NewStateReason") or "",
        state=_state(document.get("NewStateValue")),
        old_state=_state(document.get("OldStateValue")),
        description=_text(document, "AlarmDescription"),
        alarm_name=name,
        alarm_arn=arn,
        account_id=_text(document, "AWSAccountId"),
        region=resolve_region(arn, _text(document, "Region")),
        time=_text(document, "StateChangeTime") or notification.timestamp,
        condition=None if composite or not trigger else _condition(trigger),
        alarm_rule=_text(document, "AlarmRule"),
        children=children,
    )


# -- EventBridge "CloudWatch Alarm State Change" (camelCase detail) ------------------------------


def _eventbridge_query(raw: Mapping[str, Any]) -> MetricQuery:
    stat = _mapping(raw, "metricStat")
    metric_doc = _mapping(stat, "metric")
    metric = None
    if metric_doc:
        metric = MetricRef(
            namespace=_text(metric_doc, "namespace"),
            name=_text(metric_doc, "name"),
            dimensions=_dimensions(metric_doc.get("dimensions")),
            statistic=normalise_statistic(_text(stat, "stat")),
            period=_integer(stat, "period"),
            unit=_text(stat, "unit"),
        )
    return MetricQuery(
        id=_text(raw, "id") or "?",
        expression=_text(raw, "expression"),
        metric=metric,
        label=_text(raw, "label"),
        return_data=raw.get("returnData") is True,
    )


def _alarm_from_eventbridge(event: Mapping[str, Any], notification: Notification) -> Alert:
    detail = _mapping(event, "detail")
    state = _mapping(detail, "state")
    configuration = _mapping(detail, "configuration")
    resources = [r for r in _list(event, "resources") if isinstance(r, str)]
    arn = resources[0] if resources else None
    name = _text(detail, "alarmName") or "unnamed alarm"
    rule = _text(configuration, "alarmRule")
    queries = tuple(_eventbridge_query(m) for m in _list(configuration, "metrics") if isinstance(m, Mapping))
    single = queries[0].metric if len(queries) == 1 and queries[0].expression is None else None
    condition = None
    if rule is None and queries:
        # EventBridge events carry the metrics but not the threshold or the comparison.
        condition = Condition(
            metric=single, queries=() if single else queries, period=single.period if single else None
        )
    return Alert(
        kind=AlertKind.COMPOSITE_ALARM if rule else AlertKind.METRIC_ALARM,
        notification=notification,
        title=name,
        reason=_text(state, "reason") or "",
        state=_state(state.get("value")),
        old_state=_state(_mapping(detail, "previousState").get("value")),
        description=_text(configuration, "description"),
        alarm_name=name,
        alarm_arn=arn,
        account_id=_text(event, "account"),
        region=_text(event, "region") or region_from_arn(arn),
        time=_text(state, "timestamp") or _text(event, "time"),
        condition=condition,
        alarm_rule=rule,
    )


# -- findings, budgets, text, the rest -----------------------------------------------------------


def finding_resolves(details: Mapping[str, Any]) -> bool:
    """Tell whether a finding declares its problem over: by convention `details.resolved` is true."""
    return details.get("resolved") is True


def _from_finding(document: dict[str, Any], notification: Notification) -> Alert:
    try:
        finding = parse_finding(document)
    except FindingError as exc:
        return _unrecognised(notification, document, problem=f"invalid finding: {exc}")
    return Alert(
        kind=AlertKind.FINDING,
        notification=notification,
        title=finding.title,
        reason=finding.summary,
        account_id=_topic_account(notification),
        region=region_from_arn(notification.topic_arn),
        time=finding.created_at,
        finding=finding,
        resolved=finding_resolves(finding.details),
    )


def _topic_account(notification: Notification) -> str | None:
    parts = (notification.topic_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _unrecognised(notification: Notification, document: Any, problem: str | None = None) -> Alert:
    pretty = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return Alert(
        kind=AlertKind.UNRECOGNISED,
        notification=notification,
        title=notification.subject or "Unrecognised message",
        reason=truncate(pretty, MAX_RAW_CHARS),
        description=problem,
        account_id=_topic_account(notification),
        region=region_from_arn(notification.topic_arn),
        time=notification.timestamp,
    )


def _from_text(notification: Notification) -> Alert:
    text = notification.message
    if looks_like_budget(text):
        budget = parse_budget(text)
        title = f"AWS Budget: {budget.budget_name}" if budget.budget_name else (notification.subject or "AWS Budget")
        return Alert(
            kind=AlertKind.BUDGET,
            notification=notification,
            title=title,
            reason=truncate(text, MAX_RAW_CHARS),
            account_id=_topic_account(notification),
            region=region_from_arn(notification.topic_arn),
            time=notification.timestamp,
            budget=budget,
        )
    return Alert(
        kind=AlertKind.TEXT,
        notification=notification,
        title=notification.subject or "SNS notification",
        reason=truncate(text, MAX_RAW_CHARS),
        account_id=_topic_account(notification),
        region=region_from_arn(notification.topic_arn),
        time=notification.timestamp,
    )


def _decode(text: str) -> tuple[bool, Any]:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False, None
    try:
        return True, json.loads(stripped)
    except (ValueError, RecursionError):
        return False, None


def parse_alert(notification: Notification) -> Alert:
    """Classify and read a notification's message; unknown shapes become an UNRECOGNISED alert."""
    decoded, document = _decode(notification.message)
    if not decoded:
        return _from_text(notification)
    if not isinstance(document, dict):
        return _unrecognised(notification, document)
    if is_finding(document):
        return _from_finding(document, notification)
    if document.get("detail-type") == _ALARM_STATE_CHANGE and isinstance(document.get("detail"), Mapping):
        return _alarm_from_eventbridge(document, notification)
    if is_cloudwatch_alarm(document):
        return _alarm_from_sns(document, notification)
    return _unrecognised(notification, document)
