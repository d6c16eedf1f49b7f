"""Names and tags of the restore test's scratch tables, and the delete guard that depends on them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum

from celebops.restore.errors import DeleteRejected, InvalidRestoreInput

#: Every scratch table name starts with this; the delete guard rejects any other table.
SCRATCH_PREFIX = "celebops-restore-test-"

#: Tag the suite puts on every scratch table; the delete guard also requires it.
SUITE_TAG_KEY = "celebrity-database-ops:purpose"
SUITE_TAG_VALUE = "restore-test"

# DynamoDB table names are 3 to 255 characters of [a-zA-Z0-9_.-].
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_RUN_ID = re.compile(r"\d{8}-\d{6}")


class RestoreType(StrEnum):
    BACKUP = "backup"
    PITR = "pitr"


def run_id_for(moment: datetime) -> str:
    """Return the run id, the UTC date and time of the run such as 20260101-030000."""
    return moment.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def parse_restore_type(value: object) -> RestoreType:
    try:
        return RestoreType(str(value))
    except ValueError:
        allowed = ", ".join(t.value for t in RestoreType)
        raise InvalidRestoreInput(f"restore type {value!r} is not one of {allowed}") from None


def scratch_table_name(restore_type: RestoreType, run_id: str) -> str:
    """Return the scratch table of one restore, for example celebops-restore-test-pitr-20260101-030000."""
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidRestoreInput(f"run id {run_id!r} is not YYYYMMDD-HHMMSS")
    return f"{SCRATCH_PREFIX}{restore_type.value}-{run_id}"


def check_deletable(table_name: str, tags: Mapping[str, str], protected: set[str] | frozenset[str]) -> None:
    """Raise DeleteRejected unless `table_name` is a scratch table: prefix, suite tag, and not protected.

    Each condition alone rejects the production table: it lacks the prefix, it lacks the tag, and
    its name is in `protected`. A bug or a bad input therefore needs all three to go wrong at once.
    """
    if table_name in protected:
        raise DeleteRejected(f"table {table_name!r} is protected (the restore source); it is never deleted")
    if not table_name.startswith(SCRATCH_PREFIX) or not _TABLE_NAME.fullmatch(table_name):
        raise DeleteRejected(
            f"table {table_name!r} does not start with {SCRATCH_PREFIX!r}; only scratch tables are deleted"
        )
    if tags.get(SUITE_TAG_KEY) != SUITE_TAG_VALUE:
        raise DeleteRejected(f"table {table_name!r} lacks the tag {SUITE_TAG_KEY}={SUITE_TAG_VALUE}; it is not deleted")
