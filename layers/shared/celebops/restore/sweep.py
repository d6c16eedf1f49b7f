"""Daily sweep: delete the restore test's scratch tables that outlived a run, through the delete guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from celebops.restore.errors import DeleteRejected, TableInUse
from celebops.restore.naming import SCRATCH_PREFIX
from celebops.restore.steps import delete_scratch_table, error_code


class SweepOutcome(StrEnum):
    DELETED = "deleted"
    KEPT_RECENT = "kept-recent"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True)
class SweptTable:
    table_name: str
    outcome: SweepOutcome
    detail: str = ""


@dataclass(frozen=True)
class SweepReport:
    tables: list[SweptTable] = field(default_factory=list)

    def count(self, outcome: SweepOutcome) -> int:
        return sum(1 for table in self.tables if table.outcome is outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {outcome.value: self.count(outcome) for outcome in SweepOutcome},
            "tables": [
                {"table_name": t.table_name, "outcome": t.outcome.value, "detail": t.detail} for t in self.tables
            ],
        }


def scratch_tables(dynamodb: Any) -> list[str]:
    names: list[str] = []
    arguments: dict[str, Any] = {}
    while True:
        page = dynamodb.list_tables(**arguments)
        names.extend(name for name in page.get("TableNames", []) if name.startswith(SCRATCH_PREFIX))
        if not page.get("LastEvaluatedTableName"):
            return names
        arguments["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]


def sweep_scratch_tables(dynamodb: Any, source_table: str, max_age: timedelta, now: datetime) -> SweepReport:
    """Delete scratch tables created more than `max_age` ago; each table's outcome is reported."""
    results = []
    for name in scratch_tables(dynamodb):
        try:
            created = dynamodb.describe_table(TableName=name)["Table"]["CreationDateTime"]
            if now - created <= max_age:
                results.append(SweptTable(name, SweepOutcome.KEPT_RECENT))
                continue
            outcome = delete_scratch_table(dynamodb, name, frozenset({source_table}))
            results.append(SweptTable(name, SweepOutcome.DELETED, outcome))
        except DeleteRejected as exc:
            results.append(SweptTable(name, SweepOutcome.REJECTED, str(exc)))
        except TableInUse as exc:
            results.append(SweptTable(name, SweepOutcome.FAILED, str(exc)))
        except ClientError as exc:
            results.append(SweptTable(name, SweepOutcome.FAILED, error_code(exc)))
    return SweepReport(results)
