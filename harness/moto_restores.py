"""What moto's DynamoDB restores lack compared with AWS, applied after each restore in local runs.

moto 5.2.5 creates a restored table (RestoreTableFromBackup, RestoreTableToPointInTime) in
PROVISIONED billing mode whatever the source's mode and ignores BillingModeOverride, while AWS
keeps the source's billing mode ("Restoring a DynamoDB table from a backup", AWS DynamoDB
developer guide). Without this step, local verification would report a billing-mode difference
that AWS never produces.
"""

from __future__ import annotations

from typing import Any


def keep_source_billing_mode(dynamodb: Any, source_table: str, restored_table: str) -> None:
    """Give the restored table its source's billing mode, as AWS does during the restore."""
    source = dynamodb.describe_table(TableName=source_table)["Table"]
    restored = dynamodb.describe_table(TableName=restored_table)["Table"]
    wanted = source.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    current = restored.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if wanted != current and wanted == "PAY_PER_REQUEST":
        dynamodb.update_table(TableName=restored_table, BillingMode="PAY_PER_REQUEST")


def after_restore_task(dynamodb: Any, task_result: Any) -> None:
    """Apply the fix after a task whose result names a freshly restored table (the start_restore task)."""
    if isinstance(task_result, dict) and {"table_name", "source_table", "restore_point"} <= task_result.keys():
        keep_source_billing_mode(dynamodb, task_result["source_table"], task_result["table_name"])
