"""Alarm evaluation for the embedded AWS: what CloudWatch does and moto does not.

moto 5.2.5 stores metric alarms and metric data but never evaluates an alarm, never changes its
state and never runs its actions. `evaluate_alarms` does that on demand: it reads the alarms,
fetches their datapoints, decides the new state with `decide_state` (a pure function), records a
change with SetAlarmState and publishes CloudWatch's notification to the alarm's SNS actions.

What moto 5.2.5 supports, and how this module works around the rest:

* GetMetricData computes only SampleCount, Sum, Average, Minimum and Maximum (a percentile `Stat`
  fails with HTTP 500), and it returns a metric-math expression empty unless the expression is a
  bare id. Percentiles are computed here from per-second buckets, and metric math from the
  MetricStat results (`evaluate_expression`, a subset of the CloudWatch syntax).
* GetMetricData matches a query without dimensions against every dimension set of the metric,
  while CloudWatch matches dimensions exactly. The series of the other dimension sets (found with
  ListMetrics) are subtracted, so a dimensionless alarm evaluates only dimensionless data.
* A new alarm starts in OK with the reason "Unchecked: Initial alarm creation", where CloudWatch
  starts it in INSUFFICIENT_DATA, so that state is read as INSUFFICIENT_DATA.
* PutCompositeAlarm fails with HTTP 500, so the deployer registers composite alarms as
  `CompositeAlarm` definitions and `CompositeAlarmRegistry` keeps their state.
* SetAlarmState works and records each decided state change.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

INITIAL_REASON = "Unchecked: Initial alarm creation"
MAX_SUBJECT = 100  # SNS cuts subjects at 100 characters.

#: Region names as CloudWatch writes them in notifications (they predate the "Europe (...)" names).
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "sa-east-1": "South America (Sao Paulo)",
}


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class TreatMissingData(StrEnum):
    MISSING = "missing"
    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"


class Outcome(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


class UnsupportedAlarmError(NotImplementedError):
    """The alarm uses a CloudWatch feature this emulation does not evaluate; the message names it."""


_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_ANOMALY_OPERATORS = frozenset(
    {"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"}
)
_STANDARD_STATISTICS = frozenset({"SampleCount", "Sum", "Average", "Minimum", "Maximum"})
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


# --- Decision (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Datapoint:
    """One period's value; `timestamp` is the period start, as CloudWatch reports it."""

    timestamp: datetime
    value: float
    sample_count: float | None = None


@dataclass(frozen=True)
class AlarmConfig:
    """The settings of a metric alarm that decide its state."""

    name: str
    period: int
    evaluation_periods: int
    comparison_operator: str
    threshold: float
    datapoints_to_alarm: int | None = None
    treat_missing_data: TreatMissingData = TreatMissingData.MISSING
    current_state: AlarmState = AlarmState.INSUFFICIENT_DATA
    #: Percentile of an ExtendedStatistic alarm (95.0 for p95), for the low-sample-count rule.
    percentile: float | None = None
    evaluate_low_sample_count_percentile: str = ""
    #: Periods retrieved before deciding; CloudWatch retrieves more than EvaluationPeriods.
    evaluation_range: int | None = None

    @property
    def required_breaching(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def range_periods(self) -> int:
        # NOTE: CloudWatch documents 5 retrieved periods for a 3-period alarm but not the general rule,
        # which depends on the period and resolution. Two extra periods is an approximation.
        return self.evaluation_range or self.evaluation_periods + 2

    @classmethod
    def from_alarm(cls, alarm: Mapping[str, Any]) -> AlarmConfig:
        """Build the config from a DescribeAlarms `MetricAlarms` entry."""
        percentile = None
        extended = alarm.get("ExtendedStatistic")
        if extended:
            percentile = _parse_percentile(extended)
        return cls(
            name=alarm["AlarmName"],
            period=int(alarm.get("Period") or _metrics_period(alarm.get("Metrics") or [])),
            evaluation_periods=int(alarm["EvaluationPeriods"]),
            comparison_operator=alarm["ComparisonOperator"],
            threshold=float(alarm.get("Threshold", 0.0)),
            datapoints_to_alarm=alarm.get("DatapointsToAlarm"),
            treat_missing_data=TreatMissingData(alarm.get("TreatMissingData") or "missing"),
            current_state=current_state_of(alarm),
            percentile=percentile,
            evaluate_low_sample_count_percentile=alarm.get("EvaluateLowSampleCountPercentile") or "",
        )


def current_state_of(alarm: Mapping[str, Any]) -> AlarmState:
    """Read an alarm's state, mapping moto's initial OK to CloudWatch's initial INSUFFICIENT_DATA."""
    if alarm.get("StateReason") == INITIAL_REASON:
        return AlarmState.INSUFFICIENT_DATA
    return AlarmState(alarm.get("StateValue", "INSUFFICIENT_DATA"))


def period_starts(config: AlarmConfig, now: datetime) -> list[datetime]:
    """Return the starts of the periods in the evaluation range, oldest first, the last ending at `now`.

    NOTE: CloudWatch aligns periods to the clock and evaluates a period only after it has ended.
    This emulation ends the range at `now` (whole seconds), so data written just before counts.
    """
    end = _whole_seconds(now)
    step = timedelta(seconds=config.period)
    count = config.range_periods
    return [end - step * (count - index) for index in range(count)]


def decide_state(datapoints: Sequence[Datapoint], alarm_config: AlarmConfig, now: datetime) -> tuple[AlarmState, str]:
    """Decide an alarm's state from its datapoints as CloudWatch documents it.

    The rules follow "Configuring how CloudWatch alarms treat missing data" (CloudWatch User Guide):

    * The evaluation range contains more periods than EvaluationPeriods (N). With at least N real
      datapoints, the N most recent are evaluated and missing data does not matter.
    * With fewer real datapoints, `breaching` and `notBreaching` fill the missing ones up to N;
      every real datapoint in the range is evaluated.
    * With `missing` or `ignore` and some data, the state is ALARM when DatapointsToAlarm (M) real
      datapoints breach and OK when any real datapoint does not. When every real datapoint breaches
      but fewer than M exist, `ignore` keeps the state and `missing` gives INSUFFICIENT_DATA if a
      datapoint lies in the N most recent periods, otherwise ALARM (the documented example rows).
    * With no data at all: `missing` gives INSUFFICIENT_DATA, `ignore` keeps the state, `breaching`
      gives ALARM and `notBreaching` gives OK.

    Then the state is ALARM when at least M evaluated datapoints breach, otherwise OK.
    """
    if alarm_config.comparison_operator in _ANOMALY_OPERATORS:
        raise UnsupportedAlarmError(
            f"alarm {alarm_config.name}: {alarm_config.comparison_operator} compares with an anomaly "
            "detection band, which this emulation does not compute"
        )
    if alarm_config.comparison_operator not in _COMPARISONS:
        raise UnsupportedAlarmError(
            f"alarm {alarm_config.name}: unknown ComparisonOperator {alarm_config.comparison_operator!r}"
        )

    starts = period_starts(alarm_config, now)
    slots = _place_in_periods(datapoints, starts, alarm_config.period)
    existing = [point for point in slots if point is not None]
    n = alarm_config.evaluation_periods
    treatment = alarm_config.treat_missing_data
    current = alarm_config.current_state

    if not existing:
        return _decide_without_data(alarm_config)

    if _sample_count_too_low(existing[-n:], alarm_config):
        return current, "Retained state: too few samples for the percentile, and low sample counts are ignored."

    if len(existing) >= n:
        return _threshold_decision(alarm_config, existing[-n:], filled=0)

    missing_count = n - len(existing)
    if treatment in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        return _threshold_decision(alarm_config, existing, filled=missing_count)

    breaching = [point for point in existing if _breaches(point.value, alarm_config)]
    if len(breaching) >= alarm_config.required_breaching or len(breaching) < len(existing):
        return _threshold_decision(alarm_config, existing, filled=0)
    if treatment is TreatMissingData.IGNORE:
        return current, "Retained state: missing datapoints are ignored."
    if any(point is not None for point in slots[-n:]):
        return AlarmState.INSUFFICIENT_DATA, _insufficient_reason(missing_count)
    return _threshold_decision(alarm_config, existing, filled=0, force_alarm=True)


def _decide_without_data(config: AlarmConfig) -> tuple[AlarmState, str]:
    n = config.evaluation_periods
    match config.treat_missing_data:
        case TreatMissingData.MISSING:
            return AlarmState.INSUFFICIENT_DATA, _insufficient_reason(n)
        case TreatMissingData.IGNORE:
            return config.current_state, "Retained state: no datapoints were received and missing data is ignored."
        case TreatMissingData.BREACHING:
            state, label = AlarmState.ALARM, "Breaching"
        case TreatMissingData.NOT_BREACHING:
            state, label = AlarmState.OK, "NonBreaching"
    return state, (
        f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
        f"{_plural(n, 'missing datapoint')} {_was(n)} treated as [{label}]."
    )


def _threshold_decision(
    config: AlarmConfig, evaluated: list[Datapoint], filled: int, force_alarm: bool = False
) -> tuple[AlarmState, str]:
    breaching = [point for point in evaluated if _breaches(point.value, config)]
    not_breaching = [point for point in evaluated if not _breaches(point.value, config)]
    breaching_count = len(breaching)
    if config.treat_missing_data is TreatMissingData.BREACHING:
        breaching_count += filled
    required = config.required_breaching
    in_alarm = force_alarm or breaching_count >= required
    new_state = AlarmState.ALARM if in_alarm else AlarmState.OK
    words = _COMPARISONS[config.comparison_operator][1]
    evaluated_count = len(evaluated) + filled

    if in_alarm:
        listed_points, count, relation = breaching, breaching_count, words
        minimum = required
    else:
        listed_points, relation = not_breaching, f"not {words}"
        count = len(not_breaching) + (filled if config.treat_missing_data is TreatMissingData.NOT_BREACHING else 0)
        minimum = config.evaluation_periods - required + 1
    listed = ", ".join(_format_datapoint(point) for point in reversed(listed_points))
    reason = (
        f"Threshold Crossed: {count} out of the last {evaluated_count} datapoints [{listed}] {_was(count)} "
        f"{relation} the threshold ({_java_double(config.threshold)})"
    )
    if filled:
        # NOTE: CloudWatch's wording for a mix of real and filled datapoints is not documented;
        # this clause follows its all-missing wording.
        label = "Breaching" if config.treat_missing_data is TreatMissingData.BREACHING else "NonBreaching"
        reason += f" and {_plural(filled, 'missing datapoint')} {_was(filled)} treated as [{label}]"
    old = config.current_state.value
    reason += f" (minimum {_plural(minimum, 'datapoint')} for {old} -> {new_state.value} transition)."
    return new_state, reason


def _place_in_periods(points: Sequence[Datapoint], starts: list[datetime], period: int) -> list[Datapoint | None]:
    slots: list[Datapoint | None] = [None] * len(starts)
    step = timedelta(seconds=period)
    for point in sorted(points, key=lambda p: p.timestamp):
        moment = _utc(point.timestamp)
        for index, start in enumerate(starts):
            if start <= moment < start + step:
                slots[index] = Datapoint(start, point.value, point.sample_count)
    return slots


def _breaches(value: float, config: AlarmConfig) -> bool:
    return _COMPARISONS[config.comparison_operator][0](value, config.threshold)


def _sample_count_too_low(points: Sequence[Datapoint], config: AlarmConfig) -> bool:
    """Apply EvaluateLowSampleCountPercentile=ignore: below 10/(1-p) samples (10/p under p50) skip."""
    if config.percentile is None or config.evaluate_low_sample_count_percentile != "ignore":
        return False
    fraction = config.percentile / 100
    if fraction >= 0.5:
        needed = math.inf if fraction >= 1 else 10 / (1 - fraction)
    else:
        needed = math.inf if fraction <= 0 else 10 / fraction
    return any(point.sample_count is not None and point.sample_count < needed for point in points)


def _insufficient_reason(count: int) -> str:
    return f"Insufficient Data: {_plural(count, 'datapoint')} {_was(count)} unknown."


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _format_datapoint(point: Datapoint) -> str:
    return f"{_java_double(point.value)} ({_utc(point.timestamp):%d/%m/%y %H:%M:%S})"


def _java_double(value: float) -> str:
    """Format a number as Java's Double.toString does, which is how CloudWatch writes thresholds."""
    value = float(value)
    magnitude = abs(value)
    if value == 0 or 1e-3 <= magnitude < 1e7:
        return repr(value)
    mantissa, exponent = f"{value:.16E}".split("E")
    digits = repr(float(mantissa)).rstrip("0")
    if digits.endswith("."):
        digits += "0"
    return f"{digits}E{int(exponent)}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _whole_seconds(moment: datetime) -> datetime:
    return _utc(moment).replace(microsecond=0)


def _parse_percentile(statistic: str) -> float:
    match = _PERCENTILE.match(statistic)
    if not match:
        raise UnsupportedAlarmError(f"extended statistic {statistic!r} is not supported; use a percentile like p95")
    return float(match.group(1))


def _metrics_period(metrics: Sequence[Mapping[str, Any]]) -> int:
    for query in metrics:
        if "MetricStat" in query:
            return int(query["MetricStat"]["Period"])
        if query.get("Period"):
            return int(query["Period"])
    raise UnsupportedAlarmError("a metric-math alarm needs at least one MetricStat with a Period")


# --- Metric math (pure) -------------------------------------------------------------------------

Series = dict[datetime, float]
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(.))")
_ARRAY_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "MAX": max,
    "MIN": min,
    "SUM": math.fsum,
    "AVG": lambda values: math.fsum(values) / len(values),
}


def evaluate_expression(expression: str, series: Mapping[str, Series], timestamps: Sequence[datetime]) -> Series:
    """Evaluate a metric-math expression over series keyed by query id.

    Supported: numbers, ids, `+ - * /`, unary minus, parentheses, `FILL(x, number)` and
    `MAX|MIN|SUM|AVG([x, y, ...])` (per timestamp, over the series that have a value there).
    Arithmetic between series keeps the timestamps both have; division by zero gives no value.
    Everything else raises UnsupportedAlarmError naming the expression.
    """
    parser = _ExpressionParser(expression, series, timestamps)
    result = parser.parse()
    if isinstance(result, float):
        return dict.fromkeys(timestamps, result)
    return result


class _ExpressionParser:
    def __init__(self, expression: str, series: Mapping[str, Series], timestamps: Sequence[datetime]) -> None:
        self.expression = expression
        self.series = series
        self.timestamps = list(timestamps)
        self.tokens = self._tokenize(expression)
        self.position = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text.strip()):
            number, name, symbol = match.groups()
            if number is not None:
                tokens.append(("number", number))
            elif name is not None:
                tokens.append(("name", name))
            elif symbol is not None and symbol.strip():
                tokens.append(("symbol", symbol))
        return tokens

    def _unsupported(self, detail: str) -> UnsupportedAlarmError:
        return UnsupportedAlarmError(f"metric math expression {self.expression!r} is not supported: {detail}")

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (expected is not None and token[1] != expected):
            raise self._unsupported(f"expected {expected or 'a term'} at token {self.position + 1}")
        self.position += 1
        return token

    def parse(self) -> Series | float:
        value = self._sum()
        if self._peek() is not None:
            raise self._unsupported(f"unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return value

    def _sum(self) -> Series | float:
        left = self._product()
        while (token := self._peek()) is not None and token[1] in "+-":
            self._take()
            right = self._product()
            left = _combine(left, right, operator.add if token[1] == "+" else operator.sub)
        return left

    def _product(self) -> Series | float:
        left = self._unary()
        while (token := self._peek()) is not None and token[1] in "*/":
            self._take()
            right = self._unary()
            left = _combine(left, right, operator.mul if token[1] == "*" else _divide)
        return left

    def _unary(self) -> Series | float:
        token = self._peek()
        if token is not None and token[1] == "-":
            self._take()
            return _combine(-1.0, self._unary(), operator.mul)
        return self._atom()

    def _atom(self) -> Series | float:
        kind, text = self._take()
        if kind == "number":
            return float(text)
        if text == "(":
            value = self._sum()
            self._take(")")
            return value
        if kind != "name":
            raise self._unsupported(f"unexpected {text!r}")
        following = self._peek()
        if following is not None and following[1] == "(":
            return self._function(text)
        if text not in self.series:
            raise self._unsupported(f"unknown id {text!r}")
        return dict(self.series[text])

    def _function(self, name: str) -> Series | float:
        self._take("(")
        if name == "FILL":
            target = self._sum()
            self._take(",")
            kind, text = self._take()
            if kind != "number":
                raise self._unsupported(f"FILL with {text!r}; only a number is supported")
            self._take(")")
            filled = dict.fromkeys(self.timestamps, float(text))
            if isinstance(target, float):
                return target
            filled.update(target)
            return filled
        if name in _ARRAY_FUNCTIONS:
            if (token := self._peek()) is None or token[1] != "[":
                raise self._unsupported(f"{name} over a single series; only {name}([a, b, ...]) is supported")
            self._take("[")
            members = [self._sum()]
            while (token := self._peek()) is not None and token[1] == ",":
                self._take(",")
                members.append(self._sum())
            self._take("]")
            self._take(")")
            return _across(members, _ARRAY_FUNCTIONS[name], self.timestamps)
        raise self._unsupported(f"function {name}")


def _divide(left: float, right: float) -> float:
    return left / right if right != 0 else math.nan


def _combine(left: Series | float, right: Series | float, op: Callable[[float, float], float]) -> Series | float:
    if isinstance(left, float) and isinstance(right, float):
        return op(left, right)
    if isinstance(left, float):
        pairs = {moment: (left, value) for moment, value in right.items()}  # type: ignore[union-attr]
    elif isinstance(right, float):
        pairs = {moment: (value, right) for moment, value in left.items()}
    else:
        pairs = {moment: (value, right[moment]) for moment, value in left.items() if moment in right}
    combined = {moment: op(a, b) for moment, (a, b) in pairs.items()}
    return {moment: value for moment, value in combined.items() if math.isfinite(value)}


def _across(
    members: list[Series | float], reduce: Callable[[list[float]], float], timestamps: Sequence[datetime]
) -> Series:
    result: Series = {}
    for moment in timestamps:
        values = [m if isinstance(m, float) else m[moment] for m in members if isinstance(m, float) or moment in m]
        if values:
            result[moment] = float(reduce(values))
    return result


# --- Datapoints from moto -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Bucket:
    count: float
    total: float
    minimum: float
    maximum: float

    def samples(self) -> list[float]:
        """Rebuild the samples of a bucket: exact for up to 3 samples, evenly spread beyond."""
        n = round(self.count)
        if n <= 0:
            return []
        if n == 1:
            return [self.total]
        if n == 2:
            return [self.minimum, self.maximum]
        middle = (self.total - self.minimum - self.maximum) / (n - 2)
        return [self.minimum, *([middle] * (n - 2)), self.maximum]


def _other_dimension_sets(cloudwatch: Any, metric: Mapping[str, Any]) -> list[list[dict[str, str]]]:
    """List the non-empty dimension sets of a metric, which moto mixes into a dimensionless query."""
    if metric.get("Dimensions"):
        return []
    found: dict[tuple[tuple[str, str], ...], list[dict[str, str]]] = {}
    paginator = cloudwatch.get_paginator("list_metrics")
    for page in paginator.paginate(Namespace=metric["Namespace"], MetricName=metric["MetricName"]):
        for listed in page.get("Metrics", []):
            dimensions = listed.get("Dimensions") or []
            if dimensions:
                key = tuple(sorted((d["Name"], d["Value"]) for d in dimensions))
                found[key] = [{"Name": name, "Value": value} for name, value in key]
    return list(found.values())


def _fetch_buckets(
    cloudwatch: Any, metric: Mapping[str, Any], unit: str | None, period: int, start: datetime, end: datetime
) -> dict[datetime, _Bucket]:
    """Fetch SampleCount, Sum, Minimum and Maximum per period for exactly this dimension set."""
    metrics = [dict(metric)] + [{**metric, "Dimensions": dims} for dims in _other_dimension_sets(cloudwatch, metric)]
    queries = []
    for index, queried in enumerate(metrics):
        for stat in ("SampleCount", "Sum", "Minimum", "Maximum"):
            stat_query: dict[str, Any] = {
                "Metric": {
                    "Namespace": queried["Namespace"],
                    "MetricName": queried["MetricName"],
                    "Dimensions": queried.get("Dimensions", []),
                },
                "Period": period,
                "Stat": stat,
            }
            if unit:
                stat_query["Unit"] = unit
            queries.append({"Id": f"q{index}_{stat.lower()}", "MetricStat": stat_query, "ReturnData": True})

    columns: dict[str, dict[datetime, float]] = {}
    paginator = cloudwatch.get_paginator("get_metric_data")
    for page in paginator.paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    ):
        for result in page["MetricDataResults"]:
            column = columns.setdefault(result["Id"], {})
            for moment, value in zip(result["Timestamps"], result["Values"], strict=True):
                column[_utc(moment)] = float(value)

    def buckets_of(index: int) -> dict[datetime, _Bucket]:
        counts = columns.get(f"q{index}_samplecount", {})
        return {
            moment: _Bucket(
                count=count,
                total=columns[f"q{index}_sum"][moment],
                minimum=columns[f"q{index}_minimum"][moment],
                maximum=columns[f"q{index}_maximum"][moment],
            )
            for moment, count in counts.items()
            if count > 0
        }

    own = buckets_of(0)
    others = [buckets_of(index) for index in range(1, len(metrics))]
    if not others:
        return own
    return _subtract_buckets(own, others)


def _subtract_buckets(total: dict[datetime, _Bucket], others: list[dict[datetime, _Bucket]]) -> dict[datetime, _Bucket]:
    result: dict[datetime, _Bucket] = {}
    for moment, bucket in total.items():
        parts = [other[moment] for other in others if moment in other]
        count = bucket.count - sum(part.count for part in parts)
        if count <= 0.5:
            continue
        if not parts:
            result[moment] = bucket
            continue
        total_sum = bucket.total - sum(part.total for part in parts)
        if round(count) == 1:
            result[moment] = _Bucket(count, total_sum, total_sum, total_sum)
            continue
        samples = bucket.samples()
        for part in parts:
            for value in part.samples():
                nearest = min(range(len(samples)), key=lambda i: abs(samples[i] - value))
                samples.pop(nearest)
        # NOTE: exact when each period contains at most 3 samples per dimension set; beyond that the
        # rebuilt samples are spread evenly between the minimum and maximum, an approximation.
        result[moment] = _Bucket(count, total_sum, min(samples), max(samples))
    return result


def _statistic_of(bucket: _Bucket, statistic: str) -> float:
    match statistic:
        case "SampleCount":
            return bucket.count
        case "Sum":
            return bucket.total
        case "Average":
            return bucket.total / bucket.count
        case "Minimum":
            return bucket.minimum
        case "Maximum":
            return bucket.maximum
    raise UnsupportedAlarmError(f"statistic {statistic!r} is not supported")


def percentile_of(samples: Sequence[float], percentile: float) -> float:
    """Return the nearest-rank percentile of the samples.

    NOTE: CloudWatch does not document its percentile algorithm, so nearest rank is an assumption.
    """
    ordered = sorted(samples)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]


def fetch_series(
    cloudwatch: Any,
    metric: Mapping[str, Any],
    statistic: str,
    period: int,
    start: datetime,
    end: datetime,
    unit: str | None = None,
) -> list[Datapoint]:
    """Fetch one statistic of one metric per period from moto, as GetMetricData on AWS would return it."""
    if statistic in _STANDARD_STATISTICS:
        buckets = _fetch_buckets(cloudwatch, metric, unit, period, start, end)
        return [
            Datapoint(moment, _statistic_of(bucket, statistic), bucket.count)
            for moment, bucket in sorted(buckets.items())
        ]
    percentile = _parse_percentile(statistic)
    # moto has no percentiles: rebuild the samples from one-second buckets and rank them per period.
    seconds = _fetch_buckets(cloudwatch, metric, unit, 1, start, end)
    per_period: dict[datetime, list[float]] = {}
    for moment, bucket in seconds.items():
        offset = int((moment - start).total_seconds()) // period
        per_period.setdefault(start + timedelta(seconds=offset * period), []).extend(bucket.samples())
    return [
        Datapoint(moment, percentile_of(samples, percentile), float(len(samples)))
        for moment, samples in sorted(per_period.items())
    ]


def fetch_alarm_datapoints(
    cloudwatch: Any, alarm: Mapping[str, Any], start: datetime, end: datetime
) -> list[Datapoint]:
    """Fetch the datapoints a metric alarm evaluates: its metric's statistic or its expression."""
    if alarm.get("MetricName"):
        metric = {
            "Namespace": alarm["Namespace"],
            "MetricName": alarm["MetricName"],
            "Dimensions": alarm.get("Dimensions", []),
        }
        statistic = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
        if not statistic:
            raise UnsupportedAlarmError(f"alarm {alarm['AlarmName']} has neither Statistic nor ExtendedStatistic")
        return fetch_series(cloudwatch, metric, statistic, int(alarm["Period"]), start, end, alarm.get("Unit"))
    return _fetch_math_datapoints(cloudwatch, alarm, start, end)


def _fetch_math_datapoints(
    cloudwatch: Any, alarm: Mapping[str, Any], start: datetime, end: datetime
) -> list[Datapoint]:
    queries = alarm.get("Metrics") or []
    if alarm.get("ThresholdMetricId"):
        raise UnsupportedAlarmError(
            f"alarm {alarm['AlarmName']} compares with ThresholdMetricId (an anomaly detection band)"
        )
    returned = [query for query in queries if query.get("ReturnData", True)]
    if len(returned) != 1:
        raise UnsupportedAlarmError(f"alarm {alarm['AlarmName']} must return exactly one query, got {len(returned)}")
    period = _metrics_period(queries)
    series: dict[str, Series] = {}
    for query in queries:
        if "MetricStat" not in query:
            continue
        stat = query["MetricStat"]
        points = fetch_series(
            cloudwatch, stat["Metric"], stat["Stat"], int(stat["Period"]), start, end, stat.get("Unit")
        )
        series[query["Id"]] = {point.timestamp: point.value for point in points}
    target = returned[0]
    if "MetricStat" in target:
        values = series[target["Id"]]
    else:
        timestamps = [
            start + timedelta(seconds=period * i) for i in range(int((end - start).total_seconds()) // period)
        ]
        pending = {query["Id"]: query["Expression"] for query in queries if "Expression" in query}
        values = _evaluate_with_dependencies(target["Id"], pending, series, timestamps)
    return [Datapoint(moment, value) for moment, value in sorted(values.items())]


def _evaluate_with_dependencies(
    query_id: str, expressions: Mapping[str, str], series: dict[str, Series], timestamps: list[datetime]
) -> Series:
    # Expressions may reference other expressions; resolve them first (ids are unique per alarm).
    expression = expressions[query_id]
    for other_id in expressions:
        if other_id != query_id and other_id not in series and re.search(rf"\b{re.escape(other_id)}\b", expression):
            series[other_id] = _evaluate_with_dependencies(other_id, expressions, series, timestamps)
    return evaluate_expression(expression, series, timestamps)


# --- Notifications (pure) -----------------------------------------------------------------------


def region_long_name(region: str) -> str:
    return REGION_NAMES.get(region, region)


def build_subject(state: AlarmState | str, alarm_name: str, region: str) -> str:
    """Build CloudWatch's SNS subject `ALARM: "name" in US East (N. Virginia)`, at most 100 characters."""
    subject = f'{state}: "{alarm_name}" in {region_long_name(region)}'
    if len(subject) <= MAX_SUBJECT:
        return subject
    # NOTE: CloudWatch's exact cut is undocumented; observed subjects keep 60 characters of the
    # name and mark the cut with "...".
    subject = f'{state}: "{alarm_name[:60]}..." in {region_long_name(region)}'
    return subject[:MAX_SUBJECT]


def format_timestamp(moment: datetime) -> str:
    """Format a time as CloudWatch notifications do: `2025-03-04T10:15:10.123+0000`."""
    utc = _utc(moment)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


def _dimensions_for_message(dimensions: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    return [{"value": d["Value"], "name": d["Name"]} for d in dimensions]


def _query_for_message(query: Mapping[str, Any]) -> dict[str, Any]:
    # CloudWatch writes the members of Trigger.Metrics in alphabetical order.
    entry: dict[str, Any] = {}
    if "Expression" in query:
        entry["Expression"] = query["Expression"]
    entry["Id"] = query["Id"]
    if query.get("Label"):
        entry["Label"] = query["Label"]
    if "MetricStat" in query:
        stat = query["MetricStat"]
        metric = stat["Metric"]
        metric_stat: dict[str, Any] = {
            "Metric": {
                "Dimensions": _dimensions_for_message(metric.get("Dimensions", [])),
                "MetricName": metric["MetricName"],
                "Namespace": metric["Namespace"],
            },
            "Period": int(stat["Period"]),
            "Stat": stat["Stat"],
        }
        if stat.get("Unit"):
            metric_stat["Unit"] = stat["Unit"]
        entry["MetricStat"] = metric_stat
    entry["ReturnData"] = bool(query.get("ReturnData", True))
    return entry


def build_trigger(alarm: Mapping[str, Any]) -> dict[str, Any]:
    """Build the `Trigger` member of a metric alarm's notification."""
    tail: dict[str, Any] = {}
    if alarm.get("DatapointsToAlarm") is not None:
        tail["DatapointsToAlarm"] = int(alarm["DatapointsToAlarm"])
    tail["ComparisonOperator"] = alarm["ComparisonOperator"]
    if alarm.get("ThresholdMetricId"):
        tail["ThresholdMetricId"] = alarm["ThresholdMetricId"]
    else:
        tail["Threshold"] = float(alarm.get("Threshold", 0.0))
    # NOTE: an alarm created without TreatMissingData has been seen with "" and with
    # "- TreatMissingData:                    missing" here; this emulation writes "".
    tail["TreatMissingData"] = alarm.get("TreatMissingData") or ""
    tail["EvaluateLowSampleCountPercentile"] = alarm.get("EvaluateLowSampleCountPercentile") or ""

    if not alarm.get("MetricName"):
        queries = alarm.get("Metrics") or []
        head = {"Period": _metrics_period(queries), "EvaluationPeriods": int(alarm["EvaluationPeriods"])}
        return {**head, **tail, "Metrics": [_query_for_message(query) for query in queries]}

    trigger: dict[str, Any] = {"MetricName": alarm["MetricName"], "Namespace": alarm["Namespace"]}
    if alarm.get("ExtendedStatistic"):
        trigger["StatisticType"] = "ExtendedStatistic"
        trigger["ExtendedStatistic"] = alarm["ExtendedStatistic"]
    else:
        trigger["StatisticType"] = "Statistic"
        trigger["Statistic"] = str(alarm.get("Statistic", "")).upper()
    trigger["Unit"] = alarm.get("Unit")
    trigger["Dimensions"] = _dimensions_for_message(alarm.get("Dimensions", []))
    trigger["Period"] = int(alarm["Period"])
    trigger["EvaluationPeriods"] = int(alarm["EvaluationPeriods"])
    return {**trigger, **tail}


def _message_head(
    alarm: Mapping[str, Any], old_state: AlarmState, new_state: AlarmState, reason: str, changed_at: datetime
) -> dict[str, Any]:
    arn = alarm["AlarmArn"]
    updated = alarm.get("AlarmConfigurationUpdatedTimestamp") or changed_at
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": _account_of(arn),
        "AlarmConfigurationUpdatedTimestamp": format_timestamp(updated),
        "NewStateValue": new_state.value,
        "NewStateReason": reason,
        "StateChangeTime": format_timestamp(changed_at),
        "Region": region_long_name(_region_of(arn)),
        "AlarmArn": arn,
        "OldStateValue": old_state.value,
        "OKActions": list(alarm.get("OKActions", [])),
        "AlarmActions": list(alarm.get("AlarmActions", [])),
        "InsufficientDataActions": list(alarm.get("InsufficientDataActions", [])),
    }


def build_alarm_message(
    alarm: Mapping[str, Any], old_state: AlarmState, new_state: AlarmState, reason: str, changed_at: datetime
) -> dict[str, Any]:
    """Build the JSON document CloudWatch publishes to SNS for a metric alarm's state change."""
    return {**_message_head(alarm, old_state, new_state, reason, changed_at), "Trigger": build_trigger(alarm)}


def encode_message(message: Mapping[str, Any]) -> str:
    """Encode a notification compactly, as CloudWatch does."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def actions_for(alarm: Mapping[str, Any], state: AlarmState) -> list[str]:
    key = {AlarmState.ALARM: "AlarmActions", AlarmState.OK: "OKActions"}.get(state, "InsufficientDataActions")
    return list(alarm.get(key, []))


# --- moto-facing evaluation ---------------------------------------------------------------------


@dataclass(frozen=True)
class StateTransition:
    """A state change recorded with SetAlarmState, and the SNS topics notified about it."""

    alarm_name: str
    alarm_arn: str
    old_state: AlarmState
    new_state: AlarmState
    reason: str
    changed_at: datetime
    message: dict[str, Any]
    notified_topics: tuple[str, ...] = ()
    #: Action ARNs that are not SNS topics (Lambda, EC2, Systems Manager), which are not emulated.
    skipped_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlarmEvaluation:
    alarm_name: str
    outcome: Outcome
    state: AlarmState | None
    reason: str


@dataclass(frozen=True)
class EvaluationReport:
    transitions: list[StateTransition] = field(default_factory=list)
    evaluations: list[AlarmEvaluation] = field(default_factory=list)


def _describe_metric_alarms(cloudwatch: Any, alarm_names: Sequence[str] | None) -> list[dict[str, Any]]:
    arguments: dict[str, Any] = {"AlarmTypes": ["MetricAlarm"]}
    if alarm_names:
        arguments["AlarmNames"] = list(alarm_names)
    alarms: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(**arguments):
        alarms.extend(page.get("MetricAlarms", []))
    return alarms


def _notify(
    sns: Any, alarm: Mapping[str, Any], subject: str, body: str, state: AlarmState
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    notified: list[str] = []
    skipped: list[str] = []
    if not alarm.get("ActionsEnabled", True):
        return (), ()
    for arn in actions_for(alarm, state):
        if not arn.startswith("arn:aws:sns:"):
            # Only SNS actions are emulated; the others are reported in StateTransition.skipped_actions.
            skipped.append(arn)
            continue
        sns.publish(TopicArn=arn, Subject=subject, Message=body)
        notified.append(arn)
    return tuple(notified), tuple(skipped)


def _record_transition(
    cloudwatch: Any,
    sns: Any,
    alarm: Mapping[str, Any],
    old_state: AlarmState,
    new_state: AlarmState,
    reason: str,
    reason_data: Mapping[str, Any],
    message: dict[str, Any],
    now: datetime,
) -> StateTransition:
    cloudwatch.set_alarm_state(
        AlarmName=alarm["AlarmName"],
        StateValue=new_state.value,
        StateReason=reason[:1023],  # SetAlarmState caps StateReason at 1,023 characters.
        StateReasonData=json.dumps(reason_data),
    )
    region = _region_of(alarm["AlarmArn"])
    notified, skipped = _notify(
        sns, alarm, build_subject(new_state, alarm["AlarmName"], region), encode_message(message), new_state
    )
    return StateTransition(
        alarm_name=alarm["AlarmName"],
        alarm_arn=alarm["AlarmArn"],
        old_state=old_state,
        new_state=new_state,
        reason=reason,
        changed_at=now,
        message=message,
        notified_topics=notified,
        skipped_actions=skipped,
    )


def _reason_data(
    alarm: Mapping[str, Any], config: AlarmConfig, points: Sequence[Datapoint], start: datetime, now: datetime
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": format_timestamp(now),
        "startDate": format_timestamp(start),
        "period": config.period,
        "recentDatapoints": [point.value for point in points[-config.evaluation_periods :]],
        "threshold": config.threshold,
        "evaluatedDatapoints": [
            {"timestamp": format_timestamp(point.timestamp), "value": point.value}
            for point in reversed(points[-config.evaluation_periods :])
        ],
    }
    if alarm.get("Statistic"):
        data["statistic"] = alarm["Statistic"]
    if alarm.get("ExtendedStatistic"):
        data["statistic"] = alarm["ExtendedStatistic"]
    if alarm.get("Unit"):
        data["unit"] = alarm["Unit"]
    return data


def evaluate_metric_alarm(
    cloudwatch: Any, sns: Any, alarm: Mapping[str, Any], now: datetime
) -> tuple[AlarmEvaluation, StateTransition | None]:
    """Evaluate one DescribeAlarms `MetricAlarms` entry; record and notify a state change."""
    name = alarm["AlarmName"]
    try:
        config = AlarmConfig.from_alarm(alarm)
        starts = period_starts(config, now)
        end = _whole_seconds(now)
        points = fetch_alarm_datapoints(cloudwatch, alarm, starts[0], end)
        new_state, reason = decide_state(points, config, now)
    except UnsupportedAlarmError as unsupported:
        logger.warning("alarm skipped: %s", unsupported)
        return AlarmEvaluation(name, Outcome.SKIPPED, None, str(unsupported)), None

    old_state = config.current_state
    if new_state is old_state:
        return AlarmEvaluation(name, Outcome.UNCHANGED, new_state, reason), None
    message = build_alarm_message(alarm, old_state, new_state, reason, now)
    transition = _record_transition(
        cloudwatch,
        sns,
        alarm,
        old_state,
        new_state,
        reason,
        _reason_data(alarm, config, points, starts[0], now),
        message,
        now,
    )
    return AlarmEvaluation(name, Outcome.CHANGED, new_state, reason), transition


def evaluate_all(
    cloudwatch_client: Any, sns_client: Any, now: datetime, alarm_names: list[str] | None = None
) -> EvaluationReport:
    """Evaluate every metric alarm (or the named ones) and report each alarm's outcome."""
    report = EvaluationReport()
    for alarm in _describe_metric_alarms(cloudwatch_client, alarm_names):
        try:
            evaluation, transition = evaluate_metric_alarm(cloudwatch_client, sns_client, alarm, now)
        except ClientError as error:
            logger.exception("alarm evaluation failed: %s", alarm["AlarmName"])
            code = error.response.get("Error", {}).get("Code", "unknown")
            evaluation, transition = AlarmEvaluation(alarm["AlarmName"], Outcome.FAILED, None, code), None
        report.evaluations.append(evaluation)
        if transition is not None:
            report.transitions.append(transition)
    return report


def evaluate_alarms(
    cloudwatch_client: Any, sns_client: Any, now: datetime, alarm_names: list[str] | None = None
) -> list[StateTransition]:
    """Evaluate metric alarms in moto as CloudWatch would at `now` and return the state changes."""
    return evaluate_all(cloudwatch_client, sns_client, now, alarm_names).transitions


# --- Composite alarms ---------------------------------------------------------------------------

_RULE_TOKEN = re.compile(
    r'\s*(?:(ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*("(?:[^"\\]|\\.)*"|[^()\s]+)\s*\)|(AND|OR|NOT|TRUE|FALSE)\b|([()]))'
)


@dataclass(frozen=True)
class CompositeAlarm:
    """A composite alarm the deployer registers, because moto cannot store one."""

    name: str
    rule: str
    description: str | None = None
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    actions_enabled: bool = True
    region: str = "us-east-1"
    account_id: str = "123456789012"
    configuration_updated: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{self.name}"


class RuleError(ValueError):
    """An AlarmRule that the composite grammar cannot parse; the message names the position."""


def rule_children(rule: str) -> list[str]:
    """Return the alarm names or ARNs an AlarmRule references, in order of appearance."""
    return [_child_name(match.group(2)) for match in _RULE_TOKEN.finditer(rule) if match.group(2)]


def _child_name(raw: str) -> str:
    name = raw[1:-1] if raw.startswith('"') else raw
    return name.split(":alarm:", 1)[1] if ":alarm:" in name else name


def evaluate_rule(rule: str, states: Mapping[str, AlarmState | str]) -> bool:
    """Evaluate an AlarmRule over child states: ALARM/OK/INSUFFICIENT_DATA("name"), AND, OR, NOT, ().

    NOT binds tighter than AND, which binds tighter than OR. A child named by ARN is looked up
    by its alarm name.
    """
    tokens: list[tuple[str, str]] = []
    position = 0
    text = rule.strip()
    while position < len(text):
        match = _RULE_TOKEN.match(text, position)
        if not match or match.end() == position:
            raise RuleError(f"invalid AlarmRule {rule!r} at position {position}")
        state_function, child, keyword, paren = match.groups()
        if state_function:
            name = _child_name(child)
            if name not in states:
                raise RuleError(f"AlarmRule {rule!r} references unknown alarm {name!r}")
            tokens.append(("value", "1" if str(states[name]) == state_function else "0"))
        elif keyword in ("TRUE", "FALSE"):
            tokens.append(("value", "1" if keyword == "TRUE" else "0"))
        else:
            tokens.append(("op", keyword or paren))
        position = match.end()

    index = 0

    def peek() -> str | None:
        return tokens[index][1] if index < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal index
        if index >= len(tokens):
            raise RuleError(f"AlarmRule {rule!r} ends too early")
        index += 1
        return tokens[index - 1]

    def disjunction() -> bool:
        value = conjunction()
        while peek() == "OR":
            take()
            value = conjunction() or value
        return value

    def conjunction() -> bool:
        value = negation()
        while peek() == "AND":
            take()
            value = negation() and value
        return value

    def negation() -> bool:
        if peek() == "NOT":
            take()
            return not negation()
        kind, symbol = take()
        if kind == "value":
            return symbol == "1"
        if symbol == "(":
            value = disjunction()
            if take()[1] != ")":
                raise RuleError(f"AlarmRule {rule!r} misses a closing parenthesis")
            return value
        raise RuleError(f"AlarmRule {rule!r} has {symbol!r} where a state function belongs")

    result = disjunction()
    if index != len(tokens):
        raise RuleError(f"AlarmRule {rule!r} has extra tokens after position {index}")
    return result


def build_composite_message(
    composite: CompositeAlarm,
    old_state: AlarmState,
    new_state: AlarmState,
    reason: str,
    triggering: Sequence[Mapping[str, Any]],
    changed_at: datetime,
) -> dict[str, Any]:
    """Build the JSON document CloudWatch publishes for a composite alarm: AlarmRule, TriggeringChildren."""
    alarm = {
        "AlarmName": composite.name,
        "AlarmDescription": composite.description,
        "AlarmArn": composite.arn,
        "AlarmConfigurationUpdatedTimestamp": composite.configuration_updated,
        "OKActions": list(composite.ok_actions),
        "AlarmActions": list(composite.alarm_actions),
        "InsufficientDataActions": list(composite.insufficient_data_actions),
    }
    head = _message_head(alarm, old_state, new_state, reason, changed_at)
    children = [
        {
            "Arn": child["AlarmArn"],
            "State": {"Value": child["StateValue"], "Timestamp": format_timestamp(child["StateUpdatedTimestamp"])},
        }
        for child in triggering
    ]
    return {**head, "AlarmRule": composite.rule, "TriggeringChildren": children}


@dataclass
class CompositeAlarmRegistry:
    """Composite alarms and their states, kept by the local tooling because moto cannot store them."""

    alarms: dict[str, CompositeAlarm] = field(default_factory=dict)
    states: dict[str, AlarmState] = field(default_factory=dict)

    def register(self, composite: CompositeAlarm) -> None:
        """Add or replace a composite alarm; like CloudWatch, it starts in INSUFFICIENT_DATA."""
        self.alarms[composite.name] = composite
        self.states.setdefault(composite.name, AlarmState.INSUFFICIENT_DATA)

    def evaluate(self, cloudwatch_client: Any, sns_client: Any, now: datetime) -> list[StateTransition]:
        """Evaluate every registered composite alarm over its children's states in moto."""
        transitions: list[StateTransition] = []
        for composite in self.alarms.values():
            try:
                transition = self._evaluate_one(cloudwatch_client, sns_client, composite, now)
            except RuleError:
                logger.exception("composite alarm skipped: %s", composite.name)
                continue
            if transition is not None:
                transitions.append(transition)
        return transitions

    def _evaluate_one(
        self, cloudwatch: Any, sns: Any, composite: CompositeAlarm, now: datetime
    ) -> StateTransition | None:
        names = list(dict.fromkeys(rule_children(composite.rule)))
        children = {alarm["AlarmName"]: alarm for alarm in _describe_metric_alarms(cloudwatch, names)}
        states = {name: current_state_of(alarm) for name, alarm in children.items()}
        states.update({name: state for name, state in self.states.items() if name in names and name not in states})
        new_state = AlarmState.ALARM if evaluate_rule(composite.rule, states) else AlarmState.OK
        old_state = self.states.get(composite.name, AlarmState.INSUFFICIENT_DATA)
        if new_state is old_state:
            return None

        referenced = sorted(children.values(), key=lambda a: a.get("StateUpdatedTimestamp") or now, reverse=True)
        triggering = (
            [child for child in referenced if current_state_of(child) is AlarmState.ALARM]
            if new_state is AlarmState.ALARM
            else []
        )
        latest = (triggering or referenced or [None])[0]
        if latest is None:
            reason = f"{composite.rule} evaluated to {new_state.value}"
        else:
            moment = _utc(latest.get("StateUpdatedTimestamp") or now)
            child_state = current_state_of(latest).value
            reason = f"{latest['AlarmArn']} transitioned to {child_state} at {moment:%A %d %B, %Y %H:%M:%S} UTC"
        self.states[composite.name] = new_state
        message = build_composite_message(composite, old_state, new_state, reason, triggering, now)
        actions = {
            "AlarmArn": composite.arn,
            "ActionsEnabled": composite.actions_enabled,
            "AlarmActions": composite.alarm_actions,
            "OKActions": composite.ok_actions,
            "InsufficientDataActions": composite.insufficient_data_actions,
        }
        notified, skipped = _notify(
            sns, actions, build_subject(new_state, composite.name, composite.region), encode_message(message), new_state
        )
        return StateTransition(
            alarm_name=composite.name,
            alarm_arn=composite.arn,
            old_state=old_state,
            new_state=new_state,
            reason=reason,
            changed_at=now,
            message=message,
            notified_topics=notified,
            skipped_actions=skipped,
        )


def set_alarm_state(
    cloudwatch_client: Any, sns_client: Any, alarm_name: str, state: AlarmState | str, reason: str, now: datetime
) -> StateTransition:
    """Do what CloudWatch's SetAlarmState does in AWS: change the state and notify the actions.

    moto records the state but notifies nobody, so this publishes the notification CloudWatch
    would publish. The fire drill uses it to push a chosen alarm through the alert path.
    """
    alarms = cloudwatch_client.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    if not alarms:
        raise ValueError(f"alarm {alarm_name!r} not found")
    alarm = alarms[0]
    new_state = AlarmState(state)
    old_state = current_state_of(alarm)
    message = build_alarm_message(alarm, old_state, new_state, reason, now)
    return _record_transition(cloudwatch_client, sns_client, alarm, old_state, new_state, reason, {}, message, now)
