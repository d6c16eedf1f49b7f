"""Verification of a restored table against its source: settings, item count and a sample of items.

`ItemCount` from DescribeTable is refreshed only about every six hours, so a fresh restore often
reports 0 there; counts here come from a parallel Scan with Select=COUNT of every item.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celebops.restore.config import RestoreTestConfig
from celebops.restore.errors import InvalidRestoreInput, RestoreFailed
from celebops.restore.times import parse_iso

Item = dict[str, Any]  # DynamoDB low-level attribute values, compared exactly

#: BatchGetItem accepts at most 100 keys per request.
_BATCH_GET_KEYS = 100
#: Rounds of UnprocessedKeys before a sample read counts as failed (each round backs off in botocore).
_MAX_UNPROCESSED_ROUNDS = 10
#: Mismatched keys listed in the report; the counts cover all of them.
_LISTED_MISMATCHES = 10


def _scan_segment_count(dynamodb: Any, table: str, segment: int, total: int) -> int:
    count = 0
    arguments: dict[str, Any] = {"TableName": table, "Select": "COUNT", "Segment": segment, "TotalSegments": total}
    while True:
        page = dynamodb.scan(**arguments)
        count += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return count
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_items(dynamodb: Any, table: str, segments: int) -> int:
    """Count every item of `table` with a paginated parallel Scan (Select=COUNT), one thread per segment."""
    if segments == 1:
        return _scan_segment_count(dynamodb, table, 0, 1)
    with ThreadPoolExecutor(max_workers=min(segments, 32)) as pool:
        return sum(pool.map(lambda segment: _scan_segment_count(dynamodb, table, segment, segments), range(segments)))


def _key_names(table: Mapping[str, Any]) -> list[str]:
    return [element["AttributeName"] for element in table["KeySchema"]]


def _segment_keys(dynamodb: Any, table: str, keys: Sequence[str], segment: int, total: int) -> Iterator[Item]:
    names = {f"#k{index}": name for index, name in enumerate(keys)}
    arguments: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
        "Segment": segment,
        "TotalSegments": total,
    }
    while True:
        page = dynamodb.scan(**arguments)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def sample_keys(
    dynamodb: Any, table: str, keys: Sequence[str], size: int, item_count: int, rng: random.Random
) -> list[Item]:
    """Return up to `size` random keys: whole random Scan segments of about `size` items, then a random pick.

    Segments split the table by hash key, so a random segment is a random share of the items that
    costs only its own reads, instead of a second full scan.
    """
    if size <= 0 or item_count <= 0:
        return []
    total = max(1, min(1_000_000, item_count // size))
    picked: list[Item] = []
    for segment in rng.sample(range(total), k=total):
        picked.extend(_segment_keys(dynamodb, table, keys, segment, total))
        if len(picked) >= size:
            break
    return rng.sample(picked, k=min(size, len(picked)))


def batch_get(dynamodb: Any, table: str, keys: Sequence[Item]) -> dict[tuple[str, ...], Item]:
    """Fetch items by key with BatchGetItem (strongly consistent), following UnprocessedKeys."""
    found: dict[tuple[str, ...], Item] = {}
    key_names = sorted(keys[0]) if keys else []
    for start in range(0, len(keys), _BATCH_GET_KEYS):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + _BATCH_GET_KEYS]), "ConsistentRead": True}}
        for _ in range(_MAX_UNPROCESSED_ROUNDS):
            page = dynamodb.batch_get_item(RequestItems=request)
            for item in page.get("Responses", {}).get(table, []):
                found[key_of(item, key_names)] = item
            request = page.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RestoreFailed(f"BatchGetItem on {table} left keys unprocessed after {_MAX_UNPROCESSED_ROUNDS} rounds")
    return found


def key_of(item: Mapping[str, Any], key_names: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(item[name]) for name in key_names)


def _changed_after(item: Mapping[str, Any], attribute: str, moment: datetime) -> bool:
    value = item.get(attribute, {})
    text = value.get("S") if isinstance(value, Mapping) else None
    if not text:
        return False
    try:
        return parse_iso(text, attribute) > moment
    except (ValueError, InvalidRestoreInput):
        # Items with an unreadable change time are compared: only a readable later time excuses a difference.
        return False


@dataclass(frozen=True)
class SampleResult:
    requested: int
    compared: int = 0
    matched: int = 0
    skipped_changed: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    missing_count: int = 0
    changed_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "compared": self.compared,
            "matched": self.matched,
            "skipped_changed_after_backup": self.skipped_changed,
            "missing": self.missing_count,
            "changed": self.changed_count,
            "missing_keys": self.missing,
            "changed_items": self.changed,
        }


def compare_sample(
    dynamodb: Any,
    source: str,
    restored: str,
    keys: Sequence[Item],
    change_attribute: str,
    restore_point: datetime,
) -> SampleResult:
    """Fetch `keys` from both tables and compare them attribute by attribute.

    Items whose change attribute is later than the restore point are skipped: they may differ legitimately.
    """
    if not keys:
        return SampleResult(requested=0)
    names = sorted(keys[0])
    source_items = batch_get(dynamodb, source, keys)
    restored_items = batch_get(dynamodb, restored, keys)
    compared = matched = skipped = missing_count = changed_count = 0
    missing: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key in keys:
        identity = key_of(key, names)
        current = source_items.get(identity)
        # Deleted from the source since the sample was taken, or rewritten after the restore point.
        if current is None or _changed_after(current, change_attribute, restore_point):
            skipped += 1
            continue
        compared += 1
        copy = restored_items.get(identity)
        if copy is None:
            missing_count += 1
            if len(missing) < _LISTED_MISMATCHES:
                missing.append(key)
            continue
        if copy == current:
            matched += 1
            continue
        changed_count += 1
        if len(changed) < _LISTED_MISMATCHES:
            differing = sorted(name for name in set(copy) | set(current) if copy.get(name) != current.get(name))
            changed.append({"key": key, "attributes": differing})
    return SampleResult(
        requested=len(keys),
        compared=compared,
        matched=matched,
        skipped_changed=skipped,
        missing=missing,
        changed=changed,
        missing_count=missing_count,
        changed_count=changed_count,
    )


def _indexes(table: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return sorted(
        (
            {"IndexName": index["IndexName"], "KeySchema": index["KeySchema"], "Projection": index.get("Projection")}
            for index in table.get(kind, [])
        ),
        key=lambda index: str(index["IndexName"]),
    )


def _billing_mode(table: Mapping[str, Any]) -> str:
    return str(table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"))


def compare_settings(source: Mapping[str, Any], restored: Mapping[str, Any]) -> list[str]:
    """Return the differences in the settings a restore keeps: keys, attributes, indexes, billing mode."""
    differences = []
    if source["KeySchema"] != restored["KeySchema"]:
        differences.append("key schema differs")
    attributes = sorted(source.get("AttributeDefinitions", []), key=lambda a: str(a["AttributeName"]))
    if attributes != sorted(restored.get("AttributeDefinitions", []), key=lambda a: str(a["AttributeName"])):
        differences.append("attribute definitions differ")
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if _indexes(source, kind) != _indexes(restored, kind):
            differences.append(f"{kind} differ")
    if _billing_mode(source) != _billing_mode(restored):
        differences.append(f"billing mode {_billing_mode(restored)} instead of {_billing_mode(source)}")
    return differences


def settings_to_reapply(dynamodb: Any, source: Mapping[str, Any]) -> list[str]:
    """List the source's settings DynamoDB does not restore, which an operator re-applies after a real restore."""
    settings = ["tags", "IAM policies", "CloudWatch alarms", "point-in-time recovery"]
    if source.get("StreamSpecification", {}).get("StreamEnabled"):
        settings.append(f"stream ({source['StreamSpecification'].get('StreamViewType')})")
    ttl = dynamodb.describe_time_to_live(TableName=source["TableName"]).get("TimeToLiveDescription", {})
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        settings.append(f"TTL on {ttl.get('AttributeName')}")
    sse = source.get("SSEDescription", {})
    if sse.get("SSEType") == "KMS":
        settings.append(f"SSE with KMS key {sse.get('KMSMasterKeyArn')} (check the restored table's key)")
    if _billing_mode(source) == "PROVISIONED":
        settings.append("auto scaling of read and write capacity")
    return settings


def verify_restore(
    dynamodb: Any,
    config: RestoreTestConfig,
    restore: Mapping[str, Any],
    status: Mapping[str, Any],
    rng: random.Random,
) -> dict[str, Any]:
    """Verify the ACTIVE scratch table; return the figures and `passed`, with each problem named."""
    restored_name = str(restore["table_name"])
    restore_point = parse_iso(restore.get("restore_point"), "restore.restore_point")
    source = dynamodb.describe_table(TableName=config.source_table)["Table"]
    restored = dynamodb.describe_table(TableName=restored_name)["Table"]
    problems: list[str] = []
    if restored["TableStatus"] != "ACTIVE":
        problems.append(f"scratch table is {restored['TableStatus']}, not ACTIVE")
    problems.extend(compare_settings(source, restored))

    source_count = count_items(dynamodb, config.source_table, config.scan_segments)
    restored_count = count_items(dynamodb, restored_name, config.scan_segments)
    difference = abs(source_count - restored_count)
    difference_percent = 100.0 * difference / source_count if source_count else (0.0 if not difference else 100.0)
    if difference_percent > config.count_tolerance_percent:
        problems.append(
            f"restored {restored_count} items, source has {source_count} "
            f"({difference_percent:.2f}% apart, tolerance {config.count_tolerance_percent}%)"
        )

    keys = sample_keys(dynamodb, config.source_table, _key_names(source), config.sample_size, source_count, rng)
    sample = compare_sample(dynamodb, config.source_table, restored_name, keys, config.change_attribute, restore_point)
    if sample.missing_count:
        problems.append(f"{sample.missing_count} sampled items missing from the restored table")
    if sample.changed_count:
        problems.append(f"{sample.changed_count} sampled items differ from the source")

    rto = float(status.get("elapsed_seconds", 0.0))
    rpo = float(restore.get("rpo_seconds", 0.0))
    is_pitr = restore.get("restore_type") == "pitr"
    if rto > config.rto_target_seconds:
        problems.append(f"RTO {rto:.0f} s is above the target {config.rto_target_seconds} s")
    if is_pitr and rpo > config.rpo_target_seconds:
        problems.append(f"RPO {rpo:.0f} s is above the target {config.rpo_target_seconds} s")
    return {
        "passed": not problems,
        "problems": problems,
        "rto_seconds": rto,
        "rpo_seconds": rpo if is_pitr else None,
        "backup_age_seconds": None if is_pitr else rpo,
        "counts": {
            "source": source_count,
            "restored": restored_count,
            "difference_percent": round(difference_percent, 4),
            "tolerance_percent": config.count_tolerance_percent,
        },
        "sample": sample.to_dict(),
        "settings_to_reapply": settings_to_reapply(dynamodb, source),
    }
