"""Restore-test verification throughput on a 100,000-item table served by the moto server.

`run()` starts a moto server on 127.0.0.1, loads 100,000 celebrity-sized items (ImportTable from S3),
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
SAMPLE = 2_000
SEGMENTS = 8
TABLE = "bench-celebrity-database"
RESTORED = "celebops-restore-test-backup-20270101-030000"


def _import_items(count: int) -> None:
    """Create the table through ImportTable from an S3 export in DynamoDB JSON, as a bulk load does in AWS.

    moto runs the import inside the server, which loads 100,000 items in a fraction of the time
    100,000 items take through BatchWriteItem over HTTP.
    """
    import gzip
    import json

    import boto3

    lines = []
    for index in range(count):
        item = {
            "celebrity_id": {"S": f"c{index:07d}"},
            "source": {"S": ("tmdb", "wikipedia", "news", "social")[index % 4]},
            "name": {"S": f"Celebrity {index}"},
            "weight": {"N": str(index % 1000)},
            "updated_at": {"S": "2026-11-29T02:00:00Z"},
        }
        lines.append(json.dumps({"Item": item}))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bench-export")
    s3.put_object(Bucket="bench-export", Key="export/data.json.gz", Body=gzip.compress("\n".join(lines).encode()))
    dynamodb = boto3.client("dynamodb")
    arn = dynamodb.import_table(
        S3BucketSource={"S3Bucket": "bench-export", "S3KeyPrefix": "export/"},
        InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP",
        TableCreationParameters={
            "TableName": TABLE,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "celebrity_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "celebrity_id", "KeyType": "HASH"}],
        },
    )["ImportTableDescription"]["ImportArn"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = dynamodb.describe_import(ImportArn=arn)["ImportTableDescription"]
        if status["ImportStatus"] != "IN_PROGRESS":
            break
        time.sleep(0.5)
    if status["ImportStatus"] != "COMPLETED":
        raise RuntimeError(f"ImportTable ended {status['ImportStatus']}: {status.get('FailureMessage')}")


def run() -> dict[str, Any]:
    import boto3

    from celebops.restore.verify import compare_sample, count_items, sample_keys
    from harness import moto_server

    server = moto_server.start()
    saved = {name: os.environ.get(name) for name in server.environment()}
    os.environ.update(server.environment())
    try:
        dynamodb = boto3.client("dynamodb")
        started = time.perf_counter()
        _import_items(ITEMS)
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
