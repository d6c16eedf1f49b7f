"""AWS context for metric alarms, read at the edge before routing and formatting.

Two lookups, each switched by an environment variable (both default to true):

- `ENRICH_LOG_LINES`: when an alarm in ALARM watches a metric that a CloudWatch Logs metric
  filter publishes, read the newest log events that the filter matched in the evaluated window.
- `ROUTE_BY_ALARM_TAGS`: read the alarm's tags `team`, `slack-channel` and `alert-destinations`
  as a routing override (see `routing.tag_override`).

Enrichment is best effort. An AWS error is logged as a warning with the alarm name and error
code, and the alert goes on unchanged, so a missing permission never stops a page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from celebops.alerts.model import AlarmState, Alert, AlertKind
from celebops.alerts.routing import PrefixOverride, tag_override
from celebops.config import env_bool, env_int

ENV_ENRICH_LOG_LINES = "ENRICH_LOG_LINES"
ENV_ROUTE_BY_ALARM_TAGS = "ROUTE_BY_ALARM_TAGS"
ENV_MAX_LOG_LINES = "MAX_LOG_LINES"

# FilterLogEvents may return an empty page with a nextToken while it still searches, so a second
# request is allowed. More requests would hold up delivery for a best-effort extra.
MAX_PAGES = 2
PAGE_LIMIT = 100
# Window used when the alarm message carries no period.
DEFAULT_WINDOW_SECONDS = 300

_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class EnrichmentConfig:
    log_lines: bool = True
    alarm_tags: bool = True
    max_log_lines: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EnrichmentConfig:
        return cls(
            log_lines=env_bool(ENV_ENRICH_LOG_LINES, True, env=env),
            alarm_tags=env_bool(ENV_ROUTE_BY_ALARM_TAGS, True, env=env),
            max_log_lines=env_int(ENV_MAX_LOG_LINES, 5, minimum=1, env=env),
        )


@dataclass(frozen=True)
class MetricFilter:
    log_group: str
    pattern: str


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


# Error codes of AWS throttling that come with HTTP 400 (botocore 1.43 `retries/standard.py`).
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)


def _service_unavailable(exc: Exception) -> bool:
    """Return whether `exc` shows the service failing (throttling, 5xx, no response) rather than this alarm."""
    if not isinstance(exc, ClientError):
        return True  # a BotoCoreError: connection failure, timeout, or the invocation's deadline
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return status >= 500 or status == 429 or _error_code(exc) in _THROTTLING_CODES


def epoch_ms(raw: str | None) -> int | None:
    """Parse an AWS timestamp ("2026-11-29T02:41:07.254+0000" or with "Z") into epoch milliseconds."""
    if not raw:
        return None
    text = raw.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+0000"
    for pattern in _TIME_FORMATS:
        try:
            return int(datetime.strptime(text, pattern).timestamp() * 1000)
        except ValueError:
            continue
    return None


def evaluation_window_seconds(alert: Alert) -> int:
    """Return the seconds of data the alarm evaluated: period times evaluation periods."""
    condition = alert.condition
    if condition is None:
        return DEFAULT_WINDOW_SECONDS
    period = condition.period or (condition.metric.period if condition.metric else None)
    if not period:
        return DEFAULT_WINDOW_SECONDS
    return period * (condition.evaluation_periods or 1)


def find_metric_filter(logs: Any, namespace: str, metric_name: str) -> MetricFilter | None:
    """Return the first metric filter that publishes `namespace`/`metric_name`, or None."""
    response = logs.describe_metric_filters(metricName=metric_name, metricNamespace=namespace)
    for item in response.get("metricFilters", []):
        group = item.get("logGroupName")
        if isinstance(group, str) and group:
            return MetricFilter(log_group=group, pattern=str(item.get("filterPattern", "")))
    return None


def newest_matching_lines(
    logs: Any, metric_filter: MetricFilter, start_ms: int, end_ms: int, max_lines: int
) -> tuple[str, ...]:
    """Return up to `max_lines` newest messages the filter matched in [start_ms, end_ms], oldest first.

    FilterLogEvents returns events in ascending time order and cannot sort newest first, so this
    keeps the newest of what at most MAX_PAGES pages return.
    """
    events: list[tuple[int, str]] = []
    token: str | None = None
    seen_tokens: set[str] = set()
    for _ in range(MAX_PAGES):
        request: dict[str, Any] = {
            "logGroupName": metric_filter.log_group,
            "filterPattern": metric_filter.pattern,
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": PAGE_LIMIT,
        }
        if token:
            request["nextToken"] = token
        response = logs.filter_log_events(**request)
        for event in response.get("events", []):
            message = event.get("message")
            if isinstance(message, str):
                events.append((int(event.get("timestamp", 0)), message))
        token = response.get("nextToken")
        # A repeated token would only return the same page again.
        if not token or token in seen_tokens:
            break
        seen_tokens.add(token)
    # NOTE: with more than MAX_PAGES * PAGE_LIMIT matches in the window, these are the newest of
    # the oldest matches, not the newest overall.
    events.sort(key=lambda pair: pair[0])
    return tuple(message for _, message in events[-max_lines:])


def alarm_tags(cloudwatch: Any, alarm_arn: str) -> dict[str, str]:
    """Return the alarm's tags as a dict."""
    response = cloudwatch.list_tags_for_resource(ResourceARN=alarm_arn)
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in response.get("Tags", [])}


def arn_region(arn: str | None) -> str | None:
    """Return the region field of an ARN ("arn:partition:service:region:account:resource"), or None."""
    parts = (arn or "").split(":", 5)
    if len(parts) != 6:
        return None
    return parts[3] or None


class Enricher:
    """Adds AWS context to alerts. Clients are created on first use, so a cold start makes none."""

    def __init__(self, config: EnrichmentConfig, clients: ClientFactory, logger: Any) -> None:
        self.config = config
        self.clients = clients
        self.logger = logger
        self._filters: dict[tuple[str, str], MetricFilter | None] = {}
        self._overrides: dict[str, PrefixOverride | None] = {}
        self._failed_steps: set[str] = set()

    def begin_batch(self) -> None:
        """Forget cached lookups and failures, so tags, filters and AWS changed since the last invocation apply."""
        self._filters.clear()
        self._overrides.clear()
        self._failed_steps.clear()

    def _warn(self, step: str, alert: Alert, exc: Exception) -> None:
        # A step whose service failed stays off for the rest of the batch, because under a lasting
        # AWS fault each further lookup would spend invocation time that delivery needs.
        if _service_unavailable(exc):
            self._failed_steps.add(step)
        self.logger.warning(
            "alert enrichment failed, alert sent without it",
            extra={"step": step, "alarm": alert.alarm_name, "error_code": _error_code(exc)},
        )

    def _client_for(self, service: str, alert: Alert) -> Any | None:
        """Return the client for `service`, or None when the alarm lives in another region.

        Alarms, their tags and metric filters are regional, and the client reaches only its own
        region, so a lookup for an alarm elsewhere could only fail.
        """
        client = self.clients(service)
        region = arn_region(alert.alarm_arn)
        if region is not None and region != client.meta.region_name:
            self.logger.info(
                "alert enrichment skipped for alarm in another region",
                extra={"alarm": alert.alarm_name, "alarm_region": region, "service": service},
            )
            return None
        return client

    def with_log_lines(self, alert: Alert) -> Alert:
        """Return the alert with `log_lines` filled, or unchanged when nothing applies or AWS fails."""
        if not self.config.log_lines or alert.kind is not AlertKind.METRIC_ALARM:
            return alert
        if "log_lines" in self._failed_steps:
            return alert
        if alert.state is not AlarmState.ALARM or alert.condition is None or alert.condition.metric is None:
            return alert
        namespace, name = alert.condition.metric.namespace, alert.condition.metric.name
        end_ms = epoch_ms(alert.time)
        if not namespace or not name or end_ms is None:
            return alert
        start_ms = end_ms - evaluation_window_seconds(alert) * 1000
        try:
            logs = self._client_for("logs", alert)
            if logs is None:
                return alert
            key = (namespace, name)
            if key not in self._filters:
                self._filters[key] = find_metric_filter(logs, namespace, name)
            metric_filter = self._filters[key]
            if metric_filter is None:
                return alert
            lines = newest_matching_lines(logs, metric_filter, start_ms, end_ms, self.config.max_log_lines)
        except (ClientError, BotoCoreError) as exc:
            self._warn("log_lines", alert, exc)
            return alert
        return dataclasses.replace(alert, log_lines=lines) if lines else alert

    def tag_override(self, alert: Alert) -> PrefixOverride | None:
        """Return the routing override from the alarm's tags, cached per alarm ARN until `begin_batch`."""
        if not self.config.alarm_tags or not alert.is_alarm or not alert.alarm_arn:
            return None
        if "alarm_tags" in self._failed_steps:
            return None
        arn = alert.alarm_arn
        if arn in self._overrides:
            return self._overrides[arn]
        override: PrefixOverride | None = None
        cloudwatch = self._client_for("cloudwatch", alert)
        if cloudwatch is None:
            self._overrides[arn] = None
            return None
        try:
            override = tag_override(alarm_tags(cloudwatch, arn))
        except (ClientError, BotoCoreError) as exc:
            self._warn("alarm_tags", alert, exc)
        except ValueError as exc:
            self.logger.warning(
                "alarm routing tags invalid, tags ignored", extra={"alarm": alert.alarm_name, "error": str(exc)}
            )
        self._overrides[arn] = override
        return override
