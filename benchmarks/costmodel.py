"""Arithmetic of the cost model: schedules to invocations, prorated metrics, alarms, dashboards, GB-seconds.

Pure functions only; `benchmarks.cost` applies them to template.yaml and the benchmark results.
A month is 730 hours, the month AWS prices CloudWatch metrics and alarms by.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_croniter import AwsCroniter

from benchmarks.template_model import AlarmSpec

HOURS_PER_MONTH = 730
WINDOW_START = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW_DAYS = 365
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")


def firing_times(expression: str, start: datetime = WINDOW_START, days: int = WINDOW_DAYS) -> list[datetime]:
    """Every time an EventBridge schedule fires in [start, start + days)."""
    end = start + timedelta(days=days)
    rate = _RATE.match(expression)
    if rate:
        step = timedelta(**{rate.group(2).rstrip("s") + "s": int(rate.group(1))})
        count = (end - start) // step
        return [start + step * (i + 1) for i in range(count) if start + step * (i + 1) < end]
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"invalid schedule expression {expression!r}: expected cron(...) or rate(...)")
    times = AwsCroniter(cron.group(1)).get_all_schedule_bw_dates(start, end)
    return [t for t in times if start <= t < end]


def invocations_per_month(expression: str, start: datetime = WINDOW_START, days: int = WINDOW_DAYS) -> float:
    """Mean firings per 730-hour month, counted over `days` days.

    A year is the default window: over 30 days a quarterly schedule fires 0 or 1 times and a
    weekly one 4 or 5, depending on the start.
    """
    return len(firing_times(expression, start, days)) * HOURS_PER_MONTH / (days * 24)


def hours_with_data_per_month(expression: str, start: datetime = WINDOW_START, days: int = WINDOW_DAYS) -> float:
    """Mean number of clock hours per month in which the schedule fires at least once."""
    hours = {t.replace(minute=0, second=0, microsecond=0) for t in firing_times(expression, start, days)}
    return len(hours) * HOURS_PER_MONTH / (days * 24)


def prorated_metric_cost(hours_with_data: float, price_per_metric_month: float) -> float:
    """Monthly cost of one custom metric billed for each hour in which it has data."""
    return min(hours_with_data, HOURS_PER_MONTH) * price_per_metric_month / HOURS_PER_MONTH


def alarm_billed_metrics(alarm: AlarmSpec) -> int:
    """Metrics an alarm is billed for: metric math counts every metric, anomaly detection three."""
    return alarm.metrics


def alarm_cost(alarm: AlarmSpec, standard: float, high_resolution: float, composite: float) -> float:
    if alarm.kind == "composite":
        return composite
    return alarm_billed_metrics(alarm) * (high_resolution if alarm.high_resolution else standard)


def dashboards_cost(count: int, price: float, free: int = 3) -> float:
    """Dashboards beyond the account's free ones, at `price` each per month."""
    return max(0, count - free) * price


def gb_seconds(invocations: float, duration_ms: float, memory_mb: int) -> float:
    """Lambda GB-seconds: each invocation's duration rounded up to 1 ms, times the configured memory."""
    return invocations * math.ceil(duration_ms) / 1000 * memory_mb / 1024


def _successors(state: dict[str, Any]) -> list[str]:
    names = [choice.get("Next") for choice in state.get("Choices", [])]
    names += [state.get("Default"), state.get("Next")]
    return [n for n in names if isinstance(n, str)]


def happy_path(definition: dict[str, Any]) -> list[str]:
    """States entered on the shortest route from StartAt to a Succeed state or an End, never through Fail."""
    states: dict[str, Any] = definition.get("States", {})
    start = definition.get("StartAt")
    if start not in states:
        return []
    routes: list[list[str]] = [[start]]
    seen = {start}
    while routes:
        route = routes.pop(0)
        state = states[route[-1]]
        if state.get("Type") == "Succeed" or state.get("End") is True:
            return route
        for name in _successors(state):
            if name in states and name not in seen and states[name].get("Type") != "Fail":
                seen.add(name)
                routes.append([*route, name])
    return []


def polling_loop(definition: dict[str, Any]) -> list[str]:
    """States of the first cycle through a Wait state (a poll loop), or an empty list."""
    states: dict[str, Any] = definition.get("States", {})
    for name, state in states.items():
        if state.get("Type") != "Wait":
            continue
        routes: list[list[str]] = [[name]]
        while routes:
            route = routes.pop(0)
            for successor in _successors(states[route[-1]]):
                if successor == name:
                    return route
                if successor in states and successor not in route and len(route) < 20:
                    routes.append([*route, successor])
    return []


def count_transitions(definition: dict[str, Any], polls: int) -> int:
    """State transitions of one run: the happy path plus `polls` extra rounds of the poll loop.

    Step Functions Standard bills each state entered. Parallel and Map branches are counted once
    each, with one Map iteration; retries are not counted.
    """
    states: dict[str, Any] = definition.get("States", {})
    total = 0
    for name in happy_path(definition):
        total += 1
        state = states[name]
        for branch in state.get("Branches", []):
            total += count_transitions(branch, 0)
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(inner, dict):
            total += count_transitions(inner, 0)
    return total + polls * len(polling_loop(definition))
