"""DynamoDB adapter: the newest valid update time per source, by index query or by parallel scan.

Index mode reads one item per source: a descending Query of the (source, update time) index with
Limit=1, continued only past items whose timestamp is invalid. Scan mode reads every item but
projects only the two attributes, in `scan_segments` parallel segments. Both return the read
capacity DynamoDB reports (ReturnConsumedCapacity=TOTAL).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from celebops.freshness.config import FreshnessConfig
from celebops.freshness.timestamps import attribute_scalar, is_plausible, parse_timestamp

logger = Logger(child=True)

#: Items with invalid timestamps a descending index query skips per source before it gives up;
#: they sort above the valid ones, and a long run of them means the writer is broken.
MAX_INVALID_SKIPPED = 100


class ReadMode(StrEnum):
    INDEX = "index"
    SCAN = "scan"


class SkipReason(StrEnum):
    NO_SOURCE = "no_source"
    OTHER_SOURCE = "other_source"
    NO_TIMESTAMP = "no_timestamp"
    INVALID_TIMESTAMP = "invalid_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"


class TableReadError(RuntimeError):
    """The table could not be read; `error_code` is the AWS error code or the botocore error type."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


@dataclass(frozen=True)
class TableReading:
    """What one run read: the newest valid update time per source and what it skipped."""

    mode: ReadMode
    newest: Mapping[str, datetime]
    items_read: int
    #: Read capacity units DynamoDB reported; None when no response carried ConsumedCapacity.
    read_capacity_units: float | None
    requests: int
    skipped: Mapping[SkipReason, int] = field(default_factory=dict)
    #: Sources whose query stopped after MAX_INVALID_SKIPPED invalid items (index mode only).
    gave_up: tuple[str, ...] = ()

    @property
    def invalid_timestamps(self) -> int:
        return sum(
            count
            for reason, count in self.skipped.items()
            if reason in (SkipReason.NO_TIMESTAMP, SkipReason.INVALID_TIMESTAMP, SkipReason.FUTURE_TIMESTAMP)
        )


def classify_timestamp(
    item: Mapping[str, Any], config: FreshnessConfig, now: datetime
) -> tuple[datetime | None, SkipReason | None]:
    """Return the item's update time, or the reason it has no usable one."""
    raw = item.get(config.updated_at_attribute)
    if raw is None:
        return None, SkipReason.NO_TIMESTAMP
    moment = parse_timestamp(attribute_scalar(raw), config.timestamp_format)
    if moment is None:
        return None, SkipReason.INVALID_TIMESTAMP
    if not is_plausible(moment, now):
        return None, SkipReason.FUTURE_TIMESTAMP
    return moment, None


def _raise_read_error(exc: Exception, operation: str, config: FreshnessConfig) -> None:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        message = str(exc.response.get("Error", {}).get("Message", ""))
    else:
        code, message = type(exc).__name__, str(exc)
    target = f"{config.table_name} index {config.index_name}" if config.index_name else config.table_name
    raise TableReadError(code, f"{operation} on {target} failed: {code}: {message}") from exc


def _capacity(response: Mapping[str, Any]) -> float | None:
    consumed = response.get("ConsumedCapacity")
    if isinstance(consumed, dict) and isinstance(consumed.get("CapacityUnits"), int | float):
        return float(consumed["CapacityUnits"])
    return None


def _add(total: float | None, units: float | None) -> float | None:
    if units is None:
        return total
    return units if total is None else total + units


def read_newest_by_index(dynamodb: Any, config: FreshnessConfig, now: datetime) -> TableReading:
    """Query the index once per source, newest first, until a valid timestamp is found."""
    if config.index_name is None:
        raise ValueError("read_newest_by_index needs config.index_name")
    newest: dict[str, datetime] = {}
    skipped: Counter[SkipReason] = Counter()
    gave_up: list[str] = []
    items_read = 0
    requests = 0
    capacity: float | None = None

    for source in config.sources:
        request: dict[str, Any] = {
            "TableName": config.table_name,
            "IndexName": config.index_name,
            "KeyConditionExpression": "#source = :source",
            "ExpressionAttributeNames": {"#source": config.source_attribute},
            "ExpressionAttributeValues": {":source": {"S": source}},
            "ScanIndexForward": False,
            "Limit": 1,
            "ReturnConsumedCapacity": "TOTAL",
        }
        skipped_here = 0
        while True:
            try:
                response = dynamodb.query(**request)
            except (ClientError, BotoCoreError) as exc:
                _raise_read_error(exc, "Query", config)
            requests += 1
            items_read += int(response.get("Count", 0))
            capacity = _add(capacity, _capacity(response))
            found = None
            for item in response.get("Items", []):
                moment, reason = classify_timestamp(item, config, now)
                if reason is None:
                    found = moment
                    break
                skipped[reason] += 1
                skipped_here += 1
            if found is not None:
                newest[source] = found
                break
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                break
            if skipped_here >= MAX_INVALID_SKIPPED:
                logger.warning(
                    "index query gave up after invalid timestamps", extra={"source": source, "skipped": skipped_here}
                )
                gave_up.append(source)
                break
            request["ExclusiveStartKey"] = last_key

    return TableReading(
        mode=ReadMode.INDEX,
        newest=newest,
        items_read=items_read,
        read_capacity_units=capacity,
        requests=requests,
        skipped=dict(skipped),
        gave_up=tuple(gave_up),
    )


@dataclass
class _SegmentResult:
    newest: dict[str, datetime] = field(default_factory=dict)
    skipped: Counter[SkipReason] = field(default_factory=Counter)
    items_read: int = 0
    requests: int = 0
    capacity: float | None = None


def _scan_segment(
    dynamodb: Any, config: FreshnessConfig, now: datetime, segment: int, wanted: frozenset[str]
) -> _SegmentResult:
    result = _SegmentResult()
    request: dict[str, Any] = {
        "TableName": config.table_name,
        # Only the two attributes travel back; RCUs still count the whole item size.
        "ProjectionExpression": "#source, #updated",
        "ExpressionAttributeNames": {"#source": config.source_attribute, "#updated": config.updated_at_attribute},
        "Segment": segment,
        "TotalSegments": config.scan_segments,
        "ReturnConsumedCapacity": "TOTAL",
    }
    while True:
        try:
            response = dynamodb.scan(**request)
        except (ClientError, BotoCoreError) as exc:
            _raise_read_error(exc, "Scan", config)
        result.requests += 1
        result.items_read += int(response.get("ScannedCount", 0))
        result.capacity = _add(result.capacity, _capacity(response))
        _fold_items(response.get("Items", []), config, now, wanted, result)
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            return result
        request["ExclusiveStartKey"] = last_key


def _fold_items(
    items: Iterable[Mapping[str, Any]],
    config: FreshnessConfig,
    now: datetime,
    wanted: frozenset[str],
    result: _SegmentResult,
) -> None:
    for item in items:
        source = attribute_scalar(item.get(config.source_attribute))
        if source is None or not source.strip():
            result.skipped[SkipReason.NO_SOURCE] += 1
            continue
        if source not in wanted:
            result.skipped[SkipReason.OTHER_SOURCE] += 1
            continue
        moment, reason = classify_timestamp(item, config, now)
        if reason is not None:
            result.skipped[reason] += 1
            continue
        assert moment is not None
        if source not in result.newest or moment > result.newest[source]:
            result.newest[source] = moment


def read_newest_by_scan(
    dynamodb: Any,
    config: FreshnessConfig,
    now: datetime,
    executor_factory: Callable[[int], ThreadPoolExecutor] = lambda workers: ThreadPoolExecutor(max_workers=workers),
) -> TableReading:
    """Scan every segment in parallel, projecting only the source and update-time attributes."""
    wanted = frozenset(config.sources)
    with executor_factory(config.scan_segments) as executor:
        futures = [
            executor.submit(_scan_segment, dynamodb, config, now, segment, wanted)
            for segment in range(config.scan_segments)
        ]
        # result() re-raises a segment's TableReadError here, after every segment has finished.
        segments = [future.result() for future in futures]

    newest: dict[str, datetime] = {}
    skipped: Counter[SkipReason] = Counter()
    capacity: float | None = None
    for segment_result in segments:
        for source, moment in segment_result.newest.items():
            if source not in newest or moment > newest[source]:
                newest[source] = moment
        skipped.update(segment_result.skipped)
        capacity = _add(capacity, segment_result.capacity)
    return TableReading(
        mode=ReadMode.SCAN,
        newest=newest,
        items_read=sum(s.items_read for s in segments),
        read_capacity_units=capacity,
        requests=sum(s.requests for s in segments),
        skipped=dict(skipped),
    )


def read_newest(dynamodb: Any, config: FreshnessConfig, now: datetime) -> TableReading:
    """Read by index when one is configured, otherwise by scan."""
    if config.index_name:
        return read_newest_by_index(dynamodb, config, now)
    return read_newest_by_scan(dynamodb, config, now)
