"""Plain-language descriptions of what an alarm measures, shared by the Slack and PagerDuty formats."""

from __future__ import annotations

from celebops.alerts.model import Condition, MetricQuery, MetricRef
from celebops.alerts.text import format_number

_COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside",
    "LessThanLowerThreshold": "below",
    "GreaterThanUpperThreshold": "above",
}


def comparison_symbol(comparison: str | None) -> str | None:
    if comparison is None:
        return None
    return _COMPARISONS.get(comparison, comparison)


def describe_dimensions(dimensions: tuple[tuple[str, str], ...]) -> str:
    if not dimensions:
        return "none"
    return ", ".join(f"{name}={value}" for name, value in dimensions)


def describe_metric(metric: MetricRef) -> str:
    """ "AWS/ApiGateway Latency (ApiName=x, Stage=prod) p95 per 300 s"."""
    parts = [" ".join(p for p in (metric.namespace, metric.name) if p) or "unnamed metric"]
    if metric.dimensions:
        parts.append(f"({describe_dimensions(metric.dimensions)})")
    if metric.statistic:
        parts.append(metric.statistic)
    if metric.period:
        parts.append(f"per {metric.period} s")
    if metric.unit:
        parts.append(f"in {metric.unit}")
    return " ".join(parts)


def describe_query(query: MetricQuery) -> str:
    label = f" \u201c{query.label}\u201d" if query.label else ""
    if query.expression:
        return f"{query.id} = {query.expression}{label}"
    if query.metric:
        return f"{query.id} = {describe_metric(query.metric)}{label}"
    return f"{query.id}{label}"


def describe_threshold(condition: Condition) -> str | None:
    """ "> 2000", or the anomaly band expression, or None when the notification has no threshold."""
    symbol = comparison_symbol(condition.comparison)
    band = condition.band_query
    if condition.threshold_metric_id is not None:
        expression = band.expression if band and band.expression else condition.threshold_metric_id
        prefix = f"{symbol} the " if symbol else ""
        return f"{prefix}anomaly band {expression} (id {condition.threshold_metric_id}), no fixed threshold"
    if condition.threshold is None:
        return symbol
    if symbol is None:
        return format_number(condition.threshold)
    return f"{symbol} {format_number(condition.threshold)}"


def describe_evaluation(condition: Condition) -> str | None:
    """ "2 of 2 × 300 s" (datapoints to alarm of evaluation periods × period)."""
    if condition.period is None and condition.evaluation_periods is None:
        return None
    period = f"{condition.period} s" if condition.period is not None else "? s"
    periods = condition.evaluation_periods or 1
    if condition.datapoints_to_alarm and condition.datapoints_to_alarm != periods:
        return f"{condition.datapoints_to_alarm} of {periods} × {period}"
    return f"{periods} × {period}"


def measured_lines(condition: Condition) -> list[tuple[str, str]]:
    """(label, value) pairs of what the alarm measures, in display order, none empty."""
    lines: list[tuple[str, str]] = []
    if condition.metric:
        metric = condition.metric
        lines.append(("Metric", " ".join(p for p in (metric.namespace, metric.name) if p)))
        lines.append(("Dimensions", describe_dimensions(metric.dimensions)))
        if metric.statistic:
            lines.append(("Statistic", metric.statistic))
        if metric.unit:
            lines.append(("Unit", metric.unit))
    for query in condition.queries:
        # Mark the series the alarm compares when there is more than one query (metric math).
        is_input = query.return_data and query.id != condition.threshold_metric_id and len(condition.queries) > 1
        marker = " (alarm input)" if is_input else ""
        lines.append(("Expression" if query.expression else "Metric", describe_query(query) + marker))
    threshold = describe_threshold(condition)
    if threshold:
        lines.append(("Threshold", threshold))
    evaluation = describe_evaluation(condition)
    if evaluation:
        lines.append(("Evaluation", evaluation))
    if condition.treat_missing_data:
        lines.append(("Missing data", condition.treat_missing_data))
    return lines
