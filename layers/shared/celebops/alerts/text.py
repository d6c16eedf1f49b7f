"""Text helpers shared by the formatters: truncation with a visible marker, Slack escaping, times."""

from __future__ import annotations

import re
from datetime import UTC, datetime

TRUNCATED = "… (truncated)"

# `&`, `<` and `>` are Slack's control characters in mrkdwn and must be sent as entities.
_SLACK_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Slack has no escape for a backtick, so it becomes U+02CB MODIFIER LETTER GRAVE ACCENT, which
# looks alike but opens no code span.
_BACKTICK_LOOKALIKE = "ˋ"
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")

_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")


def truncate(text: str, limit: int, marker: str = TRUNCATED) -> str:
    """Cut `text` to at most `limit` characters, ending with `marker` when anything was cut."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return marker[:limit]
    return text[: limit - len(marker)] + marker


def escape_mrkdwn(text: str) -> str:
    """Neutralise user-supplied text for Slack mrkdwn: entities for `&<>`, no backtick code spans."""
    escaped = "".join(_SLACK_ENTITIES.get(char, char) for char in text)
    return escaped.replace("`", _BACKTICK_LOOKALIKE)


def escaped(text: str, limit: int) -> str:
    """Escape `text` and cut the result to `limit` characters without leaving half an entity."""
    result = escape_mrkdwn(text)
    if len(result) <= limit:
        return result
    head = result[: limit - len(TRUNCATED)]
    head = _PARTIAL_ENTITY.sub("", head)
    return head + TRUNCATED


def display_time(raw: str | None) -> str | None:
    """Render an AWS timestamp ("2026-11-29T02:41:07.254+0000", "...Z") as "2026-11-29 02:41:07 UTC"."""
    if not raw:
        return None
    candidate = raw.strip().replace("Z", "+0000") if raw.strip().endswith("Z") else raw.strip()
    for pattern in _TIME_FORMATS:
        try:
            moment = datetime.strptime(candidate, pattern)
        except ValueError:
            continue
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        return datetime.fromisoformat(raw.strip()).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return raw


def format_number(value: float) -> str:
    """Render a threshold without a trailing ".0" (5.0 -> "5", 0.25 -> "0.25")."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return str(int(value)) if value.is_integer() else repr(value)
