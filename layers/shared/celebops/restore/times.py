"""ISO 8601 timestamps in the state machine's state, which is JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from celebops.restore.errors import InvalidRestoreInput


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: object, field: str) -> datetime:
    """Parse an ISO 8601 time from the state (Step Functions writes `$$.State.EnteredTime` with a Z)."""
    if not isinstance(value, str):
        raise InvalidRestoreInput(f"{field} must be an ISO 8601 time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRestoreInput(f"{field} {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
