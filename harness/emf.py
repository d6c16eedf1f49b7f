"""Embedded Metric Format (EMF) extraction: what CloudWatch Logs does with function log lines.

moto stores metrics but never reads EMF lines from logs, so the local tooling extracts them here
and publishes them to the moto server with PutMetricData, following the CloudWatch EMF
specification ("Specification: Embedded metric format", CloudWatch User Guide):

* A log line is an EMF document when it is one JSON object whose `_aws` member is an object.
  Other lines (plain text, JSON without `_aws`) are not EMF and are skipped silently.
* `_aws.Timestamp` is milliseconds since the epoch. `_aws.CloudWatchMetrics` is a list of metric
  directives, each with `Namespace`, `Dimensions` (a list of dimension sets, each a list of keys
  whose values are top-level string members) and `Metrics` (`Name`, optional `Unit`, optional
  `StorageResolution` of 1 or 60).
* Metric values are top-level members named after the metric: a number or an array of numbers.

Rules for invalid input, each reported as an `EmfIssue` and never raised:

* A broken `_aws` block (not an object, no `CloudWatchMetrics` list, bad `Timestamp`) drops the
  document.
* A directive whose dimension set references a missing key or a key whose value is not a string,
  has more than 30 keys, or whose `Namespace` is not a non-empty string, is dropped.
* A directive with more than 100 metric definitions, or a metric value array with more than 100
  values, drops the whole document. The specification says both arrays MUST NOT hold more than
  100 entries, and CloudWatch rejects the log event in validation (counted in `AWS/Logs`
  `EMFValidationErrors`) instead of keeping the first 100. Powertools flushes at 100 for this reason.
* A dimension value that is empty or only whitespace makes CloudWatch record the metric with no
  dimensions at all (powertools-lambda-python#5526). That behaviour is reproduced, not rejected,
  so tests can show that the suite's emitters never write such a value.
* A metric whose member is missing or not numeric, or whose `Unit` or `StorageResolution` is
  invalid, is dropped alone.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

# Limits of the EMF specification and of PutMetricData.
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSION_KEYS = 30
MAX_DIMENSION_VALUE_LENGTH = 1024
MAX_DATUMS_PER_REQUEST = 1000  # PutMetricData accepts up to 1,000 metrics per request.

#: Units PutMetricData accepts (CloudWatch API reference, MetricDatum.Unit).
VALID_UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)


class IssueKind(StrEnum):
    INVALID_AWS_BLOCK = "invalid-aws-block"
    INVALID_DIRECTIVE = "invalid-directive"
    INVALID_DIMENSION_SET = "invalid-dimension-set"
    EMPTY_DIMENSION_VALUE = "empty-dimension-value"
    TOO_MANY_METRICS = "too-many-metrics"
    TOO_MANY_VALUES = "too-many-values"
    INVALID_METRIC = "invalid-metric"


@dataclass(frozen=True)
class EmfIssue:
    """A problem found in one EMF document; `line` is its 1-based position in the input."""

    line: int
    kind: IssueKind
    message: str


@dataclass(frozen=True)
class MetricRecord:
    """One extracted metric: one (metric, dimension set) of one EMF document, with all its values."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    timestamp: datetime
    unit: str = "None"
    storage_resolution: int = 60


@dataclass(frozen=True)
class EmfExtraction:
    records: list[MetricRecord] = field(default_factory=list)
    issues: list[EmfIssue] = field(default_factory=list)


@dataclass(frozen=True)
class PutResult:
    """Outcome of publishing records: datums sent, PutMetricData requests made, values in total."""

    datums: int
    requests: int
    values: int


class _DocumentRejected(Exception):
    """Raised to drop an EMF document, directive or metric; `kind` and `message` become the EmfIssue."""

    def __init__(self, issue_kind: IssueKind, message: str) -> None:
        super().__init__(message)
        self.kind = issue_kind
        self.message = message


def parse_emf(lines: Iterable[str], now: datetime | None = None) -> EmfExtraction:
    """Extract metric records from log lines and report every EMF document that breaks the rules.

    `now` stamps documents without `_aws.Timestamp`; CloudWatch uses the log event's time there.
    """
    records: list[MetricRecord] = []
    issues: list[EmfIssue] = []
    fallback_time = now or datetime.now(UTC)
    for number, line in enumerate(lines, start=1):
        document = _decode(line)
        if document is None or "_aws" not in document:
            continue
        document_records, document_issues = _extract_document(document, number, fallback_time)
        records.extend(document_records)
        issues.extend(document_issues)
    return EmfExtraction(records=records, issues=issues)


def extract_emf(lines: Iterable[str], now: datetime | None = None) -> list[MetricRecord]:
    """Extract metric records from log lines; each rejected document is logged as a warning."""
    extraction = parse_emf(lines, now=now)
    for issue in extraction.issues:
        logger.warning("emf document rejected: line %d, %s: %s", issue.line, issue.kind.value, issue.message)
    return extraction.records


def _decode(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _extract_document(
    document: dict[str, Any], line: int, fallback_time: datetime
) -> tuple[list[MetricRecord], list[EmfIssue]]:
    issues: list[EmfIssue] = []
    try:
        timestamp, directives = _read_metadata(document["_aws"], fallback_time)
        # Limits that reject the whole log event are checked before anything is extracted.
        for directive in directives:
            _check_document_limits(document, directive)
    except _DocumentRejected as rejected:
        return [], [EmfIssue(line, rejected.kind, rejected.message)]

    records: list[MetricRecord] = []
    for index, directive in enumerate(directives):
        directive_records, directive_issues = _extract_directive(document, directive, index, line, timestamp)
        records.extend(directive_records)
        issues.extend(directive_issues)
    return records, issues


def _read_metadata(aws: Any, fallback_time: datetime) -> tuple[datetime, list[Any]]:
    if not isinstance(aws, dict):
        raise _DocumentRejected(IssueKind.INVALID_AWS_BLOCK, f"_aws must be an object, got {type(aws).__name__}")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise _DocumentRejected(IssueKind.INVALID_AWS_BLOCK, "_aws.CloudWatchMetrics is missing or not an array")
    raw_timestamp = aws.get("Timestamp")
    if raw_timestamp is None:
        return fallback_time, directives
    if not _is_number(raw_timestamp):
        raise _DocumentRejected(
            IssueKind.INVALID_AWS_BLOCK, f"_aws.Timestamp must be epoch milliseconds, got {raw_timestamp!r}"
        )
    try:
        timestamp = datetime.fromtimestamp(raw_timestamp / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _DocumentRejected(
            IssueKind.INVALID_AWS_BLOCK, f"_aws.Timestamp {raw_timestamp!r} is out of range"
        ) from None
    return timestamp, directives


def _check_document_limits(document: dict[str, Any], directive: Any) -> None:
    if not isinstance(directive, dict):
        return
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list):
        return
    if len(metrics) > MAX_METRICS_PER_DIRECTIVE:
        raise _DocumentRejected(
            IssueKind.TOO_MANY_METRICS,
            f"a metric directive has {len(metrics)} metric definitions, above the limit of {MAX_METRICS_PER_DIRECTIVE}",
        )
    for definition in metrics:
        name = definition.get("Name") if isinstance(definition, dict) else None
        value = document.get(name) if isinstance(name, str) else None
        if isinstance(value, list) and len(value) > MAX_VALUES_PER_METRIC:
            raise _DocumentRejected(
                IssueKind.TOO_MANY_VALUES,
                f"metric {name!r} has {len(value)} values, above the limit of {MAX_VALUES_PER_METRIC}",
            )


def _extract_directive(
    document: dict[str, Any], directive: Any, index: int, line: int, timestamp: datetime
) -> tuple[list[MetricRecord], list[EmfIssue]]:
    where = f"CloudWatchMetrics[{index}]"
    if not isinstance(directive, dict):
        return [], [EmfIssue(line, IssueKind.INVALID_DIRECTIVE, f"{where} is not an object")]
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not namespace.strip() or len(namespace) > 255:
        return [], [EmfIssue(line, IssueKind.INVALID_DIRECTIVE, f"{where}.Namespace {namespace!r} is invalid")]
    raw_sets = directive.get("Dimensions")
    metrics = directive.get("Metrics")
    if not isinstance(raw_sets, list) or not isinstance(metrics, list):
        return [], [EmfIssue(line, IssueKind.INVALID_DIRECTIVE, f"{where} needs Dimensions and Metrics arrays")]

    issues: list[EmfIssue] = []
    try:
        dimension_sets, blanked = _resolve_dimension_sets(document, raw_sets, where)
    except _DocumentRejected as rejected:
        return [], [EmfIssue(line, rejected.kind, rejected.message)]
    if blanked:
        issues.append(
            EmfIssue(
                line,
                IssueKind.EMPTY_DIMENSION_VALUE,
                f"{where} has an empty dimension value, so CloudWatch records its metrics without dimensions",
            )
        )

    records: list[MetricRecord] = []
    for definition in metrics:
        try:
            name, values, unit, resolution = _read_metric(document, definition, where)
        except _DocumentRejected as rejected:
            issues.append(EmfIssue(line, rejected.kind, rejected.message))
            continue
        for dimensions in dimension_sets:
            records.append(
                MetricRecord(
                    namespace=namespace,
                    name=name,
                    dimensions=dimensions,
                    values=values,
                    timestamp=timestamp,
                    unit=unit,
                    storage_resolution=resolution,
                )
            )
    return records, issues


def _resolve_dimension_sets(
    document: dict[str, Any], raw_sets: list[Any], where: str
) -> tuple[list[tuple[tuple[str, str], ...]], bool]:
    """Resolve dimension sets to (key, value) pairs; the flag is True when a blank value emptied a set."""
    # An empty Dimensions array publishes the metrics without dimensions, like an empty set.
    if not raw_sets:
        return [()], False
    blanked = False
    resolved: list[tuple[tuple[str, str], ...]] = []
    for keys in raw_sets:
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise _DocumentRejected(
                IssueKind.INVALID_DIMENSION_SET, f"{where}.Dimensions has a set that is not a list of strings"
            )
        if len(keys) > MAX_DIMENSION_KEYS:
            raise _DocumentRejected(
                IssueKind.INVALID_DIMENSION_SET,
                f"{where}.Dimensions has a set of {len(keys)} keys, above the limit of {MAX_DIMENSION_KEYS}",
            )
        pairs: list[tuple[str, str]] = []
        for key in keys:
            if key not in document:
                raise _DocumentRejected(
                    IssueKind.INVALID_DIMENSION_SET, f"dimension key {key!r} has no top-level member"
                )
            value = document[key]
            if not isinstance(value, str):
                raise _DocumentRejected(
                    IssueKind.INVALID_DIMENSION_SET,
                    f"dimension {key!r} must be a string, got {type(value).__name__}",
                )
            if len(value) > MAX_DIMENSION_VALUE_LENGTH:
                raise _DocumentRejected(
                    IssueKind.INVALID_DIMENSION_SET,
                    f"dimension {key!r} is {len(value)} characters, above the limit of {MAX_DIMENSION_VALUE_LENGTH}",
                )
            pairs.append((key, value))
        if any(not value.strip() for _, value in pairs):
            # CloudWatch keeps the metric but drops every dimension of the set
            # (powertools-lambda-python#5526).
            pairs = []
            blanked = True
        dimensions = tuple(pairs)
        if dimensions not in resolved:
            resolved.append(dimensions)
    return resolved, blanked


def _read_metric(document: dict[str, Any], definition: Any, where: str) -> tuple[str, tuple[float, ...], str, int]:
    if not isinstance(definition, dict) or not isinstance(definition.get("Name"), str) or not definition["Name"]:
        raise _DocumentRejected(IssueKind.INVALID_METRIC, f"{where}.Metrics has a definition without a Name")
    name: str = definition["Name"]
    if name not in document:
        raise _DocumentRejected(IssueKind.INVALID_METRIC, f"metric {name!r} has no top-level member")
    raw = document[name]
    raw_values = raw if isinstance(raw, list) else [raw]
    if not raw_values or not all(_is_number(value) and math.isfinite(value) for value in raw_values):
        raise _DocumentRejected(IssueKind.INVALID_METRIC, f"metric {name!r} must be a number or an array of numbers")

    unit = definition.get("Unit", "None")
    if unit not in VALID_UNITS:
        raise _DocumentRejected(IssueKind.INVALID_METRIC, f"metric {name!r} has an invalid Unit {unit!r}")
    resolution = definition.get("StorageResolution", 60)
    if resolution not in (1, 60) or isinstance(resolution, bool):
        raise _DocumentRejected(
            IssueKind.INVALID_METRIC, f"metric {name!r} has StorageResolution {resolution!r}; use 1 or 60"
        )
    return name, tuple(float(value) for value in raw_values), unit, int(resolution)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- Publishing ------------------------------------------------------------------------------


def to_metric_datum(record: MetricRecord) -> dict[str, Any]:
    """Build a PutMetricData MetricDatum; repeated values become Values with Counts."""
    counts = Counter(record.values)
    datum: dict[str, Any] = {
        "MetricName": record.name,
        "Dimensions": [{"Name": name, "Value": value} for name, value in record.dimensions],
        "Timestamp": record.timestamp,
        "Values": list(counts),
        "Counts": [float(count) for count in counts.values()],
        "Unit": record.unit,
        "StorageResolution": record.storage_resolution,
    }
    return datum


def _batches(records: Sequence[MetricRecord]) -> Iterator[tuple[str, list[MetricRecord]]]:
    by_namespace: dict[str, list[MetricRecord]] = {}
    for record in records:
        by_namespace.setdefault(record.namespace, []).append(record)
    for namespace, group in by_namespace.items():
        for start in range(0, len(group), MAX_DATUMS_PER_REQUEST):
            yield namespace, group[start : start + MAX_DATUMS_PER_REQUEST]


def put_emf_metrics(cloudwatch_client: Any, records: Sequence[MetricRecord]) -> PutResult:
    """Publish records with PutMetricData: one request per namespace and per 1,000 datums."""
    requests = 0
    for namespace, batch in _batches(records):
        # NOTE: PutMetricData also caps a request at 1 MB; batches of 1,000 datums with 100 values
        # each can exceed it on AWS, but moto does not enforce it and local runs stay far below.
        cloudwatch_client.put_metric_data(Namespace=namespace, MetricData=[to_metric_datum(r) for r in batch])
        requests += 1
    return PutResult(datums=len(records), requests=requests, values=sum(len(r.values) for r in records))


def emf_to_cloudwatch(lines: Iterable[str], cloudwatch_client: Any, now: datetime | None = None) -> PutResult:
    """Extract the EMF documents of `lines` and publish their metrics to CloudWatch."""
    return put_emf_metrics(cloudwatch_client, extract_emf(lines, now=now))


# --- Summary ---------------------------------------------------------------------------------


def describe_record(record: MetricRecord) -> str:
    """Render one record as `Namespace Name{Key=Value,...} = [values] Unit`."""
    dimensions = ",".join(f"{name}={value}" for name, value in record.dimensions)
    values = ", ".join(_format_number(value) for value in record.values)
    return f"{record.namespace} {record.name}{{{dimensions}}} = [{values}] {record.unit}"


def summarize_records(records: Iterable[MetricRecord]) -> list[str]:
    """Return one line per record, sorted by namespace, metric name and dimensions."""
    ordered = sorted(records, key=lambda r: (r.namespace, r.name, r.dimensions, r.timestamp))
    return [describe_record(record) for record in ordered]


def format_summary(records: Iterable[MetricRecord]) -> str:
    """Render the "metrics emitted" block the demo prints."""
    lines = summarize_records(records)
    header = f"metrics emitted: {len(lines)}"
    return "\n".join([header, *(f"  {line}" for line in lines)])


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
