"""Restore-test verification throughput on a 100,000-item table served by the moto server.

`run()` starts a moto server on 127.0.0.1, writes 100,000 celebrity-sized items (BatchWriteItem),
restores the table from an on-demand backup (moto restores at once), then times the two parts of
`verify_restore` that grow with the table: the parallel Scan with Select=COUNT of both tables
(`count_items`, 8 segments) and the by-key comparison of a random sample (`sample_keys` plus
`compare_sample`, BatchGetItem of 100 keys per request on both tables). The figures are moto's
speed on this machine, not DynamoDB's: they show the client-side cost and catch regressions.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(ROOT / "layers" / "shared")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

ITEMS = 100_000
SAMPLE = 5_000
SEGMENTS = 8
TABLE = "bench-celebrity-database"
RESTORED = "celebops-restore-test-backup-20270101-030000"


def _write_items(dynamodb: Any, count: int) -> None:
    import boto3

    table = boto3.resource("dynamodb").Table(TABLE)
    with table.batch_writer() as batch:
        for index in range(count):
            batch.put_item(
                Item={
                    "celebrity_id": f"c{index:07d}",
                    "source": ("tmdb", "wikipedia", "news", "social")[index % 4],
                    "name": f"Celebrity {index}",
                    "weight": index % 1000,
                    "updated_at": "2026-11-29T02:00:00Z",
                }
            )


def run() -> dict[str, Any]:
    import boto3

    from celebops.restore.verify import compare_sample, count_items, sample_keys
    from harness import moto_server

    server = moto_server.start()
    saved = {name: os.environ.get(name) for name in server.environment()}
    os.environ.update(server.environment())
    try:
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "celebrity_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "celebrity_id", "KeyType": "HASH"}],
        )
        started = time.perf_counter()
        _write_items(dynamodb, ITEMS)
        load_seconds = time.perf_counter() - started
        backup = dynamodb.create_backup(TableName=TABLE, BackupName="bench-backup")["BackupDetails"]["BackupArn"]
        dynamodb.restore_table_from_backup(TargetTableName=RESTORED, BackupArn=backup)

        started = time.perf_counter()
        counted = count_items(dynamodb, TABLE, SEGMENTS) + count_items(dynamodb, RESTORED, SEGMENTS)
        count_seconds = time.perf_counter() - started

        started = time.perf_counter()
        keys = sample_keys(dynamodb, TABLE, ["celebrity_id"], SAMPLE, ITEMS, random.Random(7))  # noqa: S311
        from datetime import UTC, datetime

        result = compare_sample(dynamodb, TABLE, RESTORED, keys, "updated_at", datetime.now(UTC))
        compare_seconds = time.perf_counter() - started
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return {
        "items_per_table": ITEMS,
        "load_seconds": round(load_seconds, 1),
        "count_items_both_tables": counted,
        "count_seconds": round(count_seconds, 2),
        "items_counted_per_second": round(counted / count_seconds),
        "sample_compared": result.compared,
        "sample_matched": result.matched,
        "compare_seconds": round(compare_seconds, 2),
        "items_compared_per_second": round(result.compared / compare_seconds) if compare_seconds else None,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
