"""Freshness read modes at 100,000 items: items read, requests, read capacity and time per run.

`run()` feeds the shared layer's readers (`read_newest_by_index`, `read_newest_by_scan`) from an
in-process table model that pages like DynamoDB: Scan pages stop at 1 MB of scanned item data,
each segment holds the items whose key hashes to it, Query on the index walks one source in
descending update-time order, and ConsumedCapacity follows the on-demand rules for eventually
consistent reads (0.5 RRU per 4 KB, rounded up per request, counted on whole items even when a
projection returns two attributes). The moto server needs minutes for a 100,000-item scan, so it
cannot time this. The measured time is the client-side work of one run (paging, parsing, keeping
the newest per source); DynamoDB's own latency is not included, and `estimated_wall_seconds`
adds an assumed 10 ms per request for it.
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "layers" / "shared") not in sys.path:
    sys.path.insert(0, str(ROOT / "layers" / "shared"))

from celebops.freshness.config import FreshnessConfig  # noqa: E402
from celebops.freshness.table import read_newest_by_index, read_newest_by_scan  # noqa: E402

ITEMS = 100_000
ITEM_BYTES = 400  # a celebrity item: id, source, updated_at, name, weight, sentiment, popularity, ...
INDEX_ITEM_BYTES = 100  # KEYS_ONLY index entry: celebrity_id, source and updated_at
PAGE_BYTES = 1024 * 1024  # Scan and Query stop a page at 1 MB of data read
RRU_BYTES = 4096
ASSUMED_LATENCY_SECONDS = 0.010
PRICE_PER_MILLION_RRU = 0.125  # DynamoDB on-demand, us-east-1 list price
SOURCES = ("tmdb", "wikipedia", "news", "social")


def _rru(read_bytes: int) -> float:
    return 0.5 * math.ceil(max(read_bytes, 1) / RRU_BYTES)


class TableModel:
    """An in-memory table with the paging and capacity rules of the two calls the readers make."""

    def __init__(self, items: list[dict[str, Any]], segments: int) -> None:
        self.items = items
        self.by_segment: dict[int, list[int]] = {}
        for position, item in enumerate(items):
            digest = hashlib.md5(item["celebrity_id"]["S"].encode(), usedforsecurity=False).digest()
            self.by_segment.setdefault(digest[0] % segments, []).append(position)
        self.by_source: dict[str, list[int]] = {}
        for position in sorted(range(len(items)), key=lambda p: items[p]["updated_at"]["S"], reverse=True):
            self.by_source.setdefault(items[position]["source"]["S"], []).append(position)

    def scan(self, **request: Any) -> dict[str, Any]:
        positions = self.by_segment.get(request["Segment"], [])
        start = int(request.get("ExclusiveStartKey", {}).get("offset", {}).get("N", "0"))
        names = request["ExpressionAttributeNames"]
        wanted = {names["#source"], names["#updated"]}
        page: list[dict[str, Any]] = []
        read = 0
        index = start
        while index < len(positions) and read + ITEM_BYTES <= PAGE_BYTES:
            item = self.items[positions[index]]
            page.append({key: value for key, value in item.items() if key in wanted})
            read += ITEM_BYTES
            index += 1
        response: dict[str, Any] = {
            "Items": page,
            "Count": len(page),
            "ScannedCount": len(page),
            "ConsumedCapacity": {"TableName": request["TableName"], "CapacityUnits": _rru(read)},
        }
        if index < len(positions):
            response["LastEvaluatedKey"] = {"offset": {"N": str(index)}}
        return response

    def query(self, **request: Any) -> dict[str, Any]:
        source = request["ExpressionAttributeValues"][":source"]["S"]
        positions = self.by_source.get(source, [])
        start = int(request.get("ExclusiveStartKey", {}).get("offset", {}).get("N", "0"))
        chosen = positions[start : start + request["Limit"]]
        page = [{key: self.items[p][key] for key in ("celebrity_id", "source", "updated_at")} for p in chosen]
        response: dict[str, Any] = {
            "Items": page,
            "Count": len(page),
            "ScannedCount": len(page),
            "ConsumedCapacity": {
                "TableName": request["TableName"],
                "CapacityUnits": _rru(INDEX_ITEM_BYTES * len(page)),
            },
        }
        if start + len(chosen) < len(positions):
            response["LastEvaluatedKey"] = {"offset": {"N": str(start + len(chosen))}}
        return response


def _items(now: datetime) -> list[dict[str, Any]]:
    rng = random.Random(100)  # noqa: S311 - synthetic data, not security
    items = []
    for index in range(ITEMS):
        written = now - timedelta(seconds=rng.uniform(3600, 60 * 86400))
        items.append(
            {
                "celebrity_id": {"S": f"cel-{index:08x}"},
                "source": {"S": SOURCES[index % len(SOURCES)]},
                "updated_at": {"S": written.strftime("%Y-%m-%dT%H:%M:%SZ")},
            }
        )
    return items


def _measure(
    reader: Any, model: TableModel, config: FreshnessConfig, now: datetime, repetitions: int
) -> dict[str, Any]:
    durations = []
    reading = None
    for _ in range(repetitions):
        started = time.perf_counter()
        reading = reader(model, config, now)
        durations.append(time.perf_counter() - started)
    assert reading is not None
    durations.sort()
    median = durations[len(durations) // 2]
    rru = reading.read_capacity_units or 0.0
    return {
        "items_read": reading.items_read,
        "requests": reading.requests,
        "read_request_units": rru,
        "cost_per_run_usd": rru * PRICE_PER_MILLION_RRU / 1_000_000,
        "client_seconds_median": round(median, 4),
        "estimated_wall_seconds": round(median + reading.requests * ASSUMED_LATENCY_SECONDS, 3),
        "repetitions": repetitions,
    }


def run() -> dict[str, Any]:
    """Measure both read modes at 100,000 items and return the figures (about 10 s)."""
    now = datetime.now(UTC)
    items = _items(now)
    env: Mapping[str, str] = {"TABLE_NAME": "celebrity-database"}
    index_config = FreshnessConfig.from_env({**env, "FRESHNESS_INDEX_NAME": "source-updated_at-index"})
    scan_config = FreshnessConfig.from_env({**env, "FRESHNESS_INDEX_NAME": ""})
    model = TableModel(items, scan_config.scan_segments)
    return {
        "items": ITEMS,
        "item_bytes": ITEM_BYTES,
        "scan_segments": scan_config.scan_segments,
        "assumed_latency_seconds_per_request": ASSUMED_LATENCY_SECONDS,
        "index": _measure(read_newest_by_index, model, index_config, now, repetitions=50),
        "scan": _measure(read_newest_by_scan, model, scan_config, now, repetitions=5),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
