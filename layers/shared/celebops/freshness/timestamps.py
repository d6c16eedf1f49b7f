"""Update-time attributes in the formats the table may store: ISO-8601, epoch seconds, epoch milliseconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

#: A timestamp further in the future than this is treated as invalid, not as fresh data; closer
#: ones (clock skew between writers) count as age zero.
MAX_FUTURE_SKEW = timedelta(hours=1)


class TimestampFormat(StrEnum):
    ISO8601 = "iso8601"
    EPOCH_SECONDS = "epoch-seconds"
    EPOCH_MILLISECONDS = "epoch-milliseconds"


def attribute_scalar(value: Any) -> str | None:
    """Return the text of a DynamoDB low-level `S` or `N` attribute value, or None for any other type."""
    if not isinstance(value, dict):
        return None
    for type_key in ("S", "N"):
        text = value.get(type_key)
        if isinstance(text, str):
            return text
    return None


def parse_timestamp(text: str | None, timestamp_format: TimestampFormat) -> datetime | None:
    """Parse an update time to an aware UTC datetime; return None when it is missing or invalid.

    ISO-8601 values without an offset are read as UTC, because the scrapers write UTC.
    """
    if text is None or not text.strip():
        return None
    raw = text.strip()
    if timestamp_format is TimestampFormat.ISO8601:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    try:
        number = float(raw)
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    seconds = number / 1000 if timestamp_format is TimestampFormat.EPOCH_MILLISECONDS else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def is_plausible(moment: datetime, now: datetime) -> bool:
    """Tell whether an update time is not too far in the future to be real."""
    return moment - now <= MAX_FUTURE_SKEW
