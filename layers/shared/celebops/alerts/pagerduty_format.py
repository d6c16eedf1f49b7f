"""PagerDuty Events API v2 events for alerts (the body without `routing_key`, which the client adds).

Limits [PagerDuty developer docs, Events API v2]: `payload.summary` at most 1,024 characters,
`dedup_key` at most 255, the whole request at most 512 KB. A resolve only matches a trigger with
the same `dedup_key` sent to the same routing key, so the key depends on the alarm ARN alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from celebops.alerts.describe import describe_metric, describe_threshold, measured_lines
from celebops.alerts.links import alarm_console_url, runbook_family, runbook_url
from celebops.alerts.model import Alert, AlertKind
from celebops.alerts.routing import PagerDutyAction, Route, Topic
from celebops.alerts.text import TRUNCATED, truncate
from celebops.findings import Severity

MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_BODY_BYTES = 512 * 1024
# Room for `"routing_key": "<32 characters>"`, which the client adds to the body.
_ROUTING_KEY_ALLOWANCE = 64

_TOPIC_SEVERITY = {
    Topic.CRITICAL: "critical",
    Topic.WARNINGS: "warning",
    Topic.INFO: "info",
    Topic.COST: "warning",
    Topic.UNKNOWN: "error",
}
_FINDING_SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}


@dataclass(frozen=True)
class PagerDutyOptions:
    client: str = "celebrity-database-ops"
    client_url: str | None = None
    runbook_base_url: str | None = None


def bounded_key(raw: str, prefix: str) -> str:
    """Return `raw` when it fits in 255 characters, else `prefix` + its SHA-256 hex (stable, never a cut)."""
    if len(raw) <= MAX_DEDUP_KEY:
        return raw
    return prefix + hashlib.sha256(raw.encode()).hexdigest()


def alarm_arn(alert: Alert) -> str | None:
    """Return the alarm ARN, rebuilt from region, account and name when the message has none."""
    if alert.alarm_arn:
        return alert.alarm_arn
    if alert.alarm_name and alert.region and alert.account_id:
        return f"arn:aws:cloudwatch:{alert.region}:{alert.account_id}:alarm:{alert.alarm_name}"
    return None


def dedup_key(alert: Alert) -> str | None:
    """Return the alarm ARN for alarms, and for findings their own key or "finding:<finding_id>"."""
    if alert.is_alarm:
        arn = alarm_arn(alert)
        return bounded_key(arn, "cw:") if arn else None
    if alert.finding is not None:
        raw = alert.finding.dedup_key or f"finding:{alert.finding.finding_id}"
        return bounded_key(raw, "finding:")
    return None


def severity(alert: Alert, route: Route) -> str:
    if alert.finding is not None:
        return _FINDING_SEVERITY[alert.finding.severity]
    return _TOPIC_SEVERITY[route.topic]


def summary(alert: Alert) -> str:
    """ "ALARM: <name> — <reason>" on one line, at most 1,024 characters."""
    if alert.state is not None:
        status = alert.state.value
    elif alert.resolved:
        status = "RESOLVED"
    else:
        status = "FINDING"
    reason = " ".join(alert.reason.split())
    text = f"{status}: {alert.title}" + (f" — {reason}" if reason else "")
    return truncate(text, MAX_SUMMARY)


def _timestamp(raw: str | None) -> str | None:
    if not raw:
        return None
    text = raw.strip()
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text.replace("Z", "+0000"), pattern).astimezone(UTC).isoformat()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()
    except ValueError:
        return None


def _component(alert: Alert) -> str | None:
    condition = alert.condition
    if condition is not None:
        metrics = [condition.metric] if condition.metric else [q.metric for q in condition.queries if q.metric]
        for metric in metrics:
            if metric and metric.dimensions:
                return metric.dimensions[0][1]
        if metrics and metrics[0]:
            return metrics[0].namespace
    if alert.finding is not None:
        return alert.finding.source
    return None


def _event_class(alert: Alert) -> str:
    if alert.finding is not None:
        return alert.finding.kind
    if alert.kind is AlertKind.COMPOSITE_ALARM:
        return "composite alarm"
    condition = alert.condition
    if condition is not None and condition.metric is not None and condition.metric.name:
        return condition.metric.name
    if condition is not None and condition.threshold_metric_id:
        return "anomaly detection alarm"
    if condition is not None and condition.queries:
        return "metric math alarm"
    return "cloudwatch alarm"


def _custom_details(alert: Alert, route: Route) -> dict[str, Any]:
    details: dict[str, Any] = {
        "reason": alert.reason,
        "topic": route.topic.value,
        "sns_message_id": alert.notification.message_id,
    }
    optional = {
        "description": alert.description,
        "old_state": alert.old_state.value if alert.old_state else None,
        "new_state": alert.state.value if alert.state else None,
        "alarm_arn": alert.alarm_arn,
        "account": alert.account_id,
        "region": alert.region,
        "state_change_time": alert.time,
        "alarm_rule": alert.alarm_rule,
        "team": route.team,
    }
    details.update({key: value for key, value in optional.items() if value is not None})
    if alert.condition is not None:
        details["trigger"] = _compact(asdict(alert.condition))
        details["measured"] = [f"{label}: {value}" for label, value in measured_lines(alert.condition)]
        if alert.condition.metric is not None:
            details["metric"] = describe_metric(alert.condition.metric)
        threshold = describe_threshold(alert.condition)
        if threshold:
            details["threshold"] = threshold
    if alert.children:
        details["triggering_children"] = [_compact(asdict(child)) for child in alert.children]
    if alert.finding is not None:
        details["finding"] = alert.finding.to_dict()
    return details


def _compact(value: Any) -> Any:
    """Drop None and empty values, so PagerDuty shows no "null" for fields a notification lacks."""
    if isinstance(value, dict):
        kept = {key: _compact(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, [], {}, ())}
    if isinstance(value, list | tuple):
        return [_compact(item) for item in value]
    return value


def _links(alert: Alert, options: PagerDutyOptions) -> list[dict[str, str]]:
    found = []
    console = alarm_console_url(alert)
    if console:
        found.append({"href": console, "text": "CloudWatch alarm"})
    runbook = runbook_url(alert, options.runbook_base_url)
    if runbook:
        found.append({"href": runbook, "text": "Runbook"})
    return found


def _body_bytes(event: dict[str, Any]) -> int:
    return len(json.dumps(event, ensure_ascii=False, default=str).encode()) + _ROUTING_KEY_ALLOWANCE


def _fit_body(event: dict[str, Any]) -> dict[str, Any]:
    """Shrink the largest custom details until the body fits in 512 KB; the summary stays whole."""
    details = event["payload"]["custom_details"]
    while _body_bytes(event) > MAX_BODY_BYTES:
        largest = max(details, key=lambda key: len(json.dumps(details[key], ensure_ascii=False, default=str)))
        text = details[largest] if isinstance(details[largest], str) else json.dumps(details[largest], default=str)
        over = _body_bytes(event) - MAX_BODY_BYTES
        # Characters can take up to 4 bytes in UTF-8, so cut by the byte excess at least.
        details[largest] = truncate(text, max(len(text) - over - len(TRUNCATED), 0))
    return event


def format_pagerduty(alert: Alert, route: Route, options: PagerDutyOptions) -> dict[str, Any] | None:
    """Build the event for the route's PagerDuty action, or None when the alert must not page."""
    action = route.pagerduty_action
    key = dedup_key(alert)
    if action is None or key is None:
        return None
    if action is PagerDutyAction.RESOLVE:
        return {"event_action": action.value, "dedup_key": key}
    payload: dict[str, Any] = {
        "summary": summary(alert),
        "severity": severity(alert, route),
        "source": _source(alert),
        "class": _event_class(alert),
        "custom_details": _custom_details(alert, route),
    }
    optional = {
        "timestamp": _timestamp(alert.time),
        "component": _component(alert),
        "group": route.team or runbook_family(alert),
    }
    payload.update({key: value for key, value in optional.items() if value})
    event: dict[str, Any] = {"event_action": action.value, "dedup_key": key, "payload": payload}
    found = _links(alert, options)
    if found:
        event["links"] = found
    event["client"] = options.client
    if options.client_url:
        event["client_url"] = options.client_url
    return _fit_body(event)


def _source(alert: Alert) -> str:
    if alert.finding is not None and alert.finding.resource:
        return alert.finding.resource
    parts = [p for p in (alert.account_id, alert.region) if p]
    return "/".join(parts) or "celebrity-database-ops"
