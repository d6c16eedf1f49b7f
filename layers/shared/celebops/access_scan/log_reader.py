"""Page through FilterLogEvents until the API stops returning a nextToken, within a page cap and deadline.

FilterLogEvents returns empty pages that still carry a nextToken while it searches further, and on
busy log groups it can return the same token again (boto/boto3#1584, aws/aws-cli#3191), which makes
botocore's paginator raise "The same next token was received twice". So the pages are read by hand:
an empty page or a repeated token never stops the scan, only a missing token does, and the page cap
and the deadline stop a token that never ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(child=True)

#: The maximum `limit` of FilterLogEvents (CloudWatch Logs API reference).
MAX_EVENTS_PER_PAGE = 10_000


class StopReason(StrEnum):
    COMPLETE = "complete"
    PAGE_CAP = "page_cap"
    DEADLINE = "deadline"
    ERROR = "error"


@dataclass(frozen=True)
class ReadResult:
    pages: int
    events: int
    stop_reason: StopReason
    #: Times a page carried the same nextToken as the page before it.
    repeated_tokens: int
    #: The AWS error code when stop_reason is ERROR.
    error_code: str | None = None
    last_token: str | None = None

    @property
    def complete(self) -> bool:
        return self.stop_reason is StopReason.COMPLETE


@dataclass(frozen=True)
class ReadLimits:
    max_pages: int = 5_000
    #: FilterLogEvents `limit`; None lets the API choose (up to MAX_EVENTS_PER_PAGE or 1 MB).
    page_size: int | None = None
    #: Monotonic-clock time after which no further page is requested.
    deadline: float = float("inf")
    clock: Callable[[], float] = time.monotonic


def read_log_events(
    logs: Any,
    request: dict[str, Any],
    on_message: Callable[[str], None],
    limits: ReadLimits,
) -> ReadResult:
    """Call FilterLogEvents with `request` page after page, passing every event's message to `on_message`.

    Messages are handed over page by page and not kept, so memory does not grow with the events read.
    """
    pages = 0
    events = 0
    repeated = 0
    token: str | None = None
    while True:
        if pages >= limits.max_pages:
            return _stopped(StopReason.PAGE_CAP, pages, events, repeated, token)
        if limits.clock() >= limits.deadline:
            return _stopped(StopReason.DEADLINE, pages, events, repeated, token)

        call = dict(request)
        if limits.page_size is not None:
            call["limit"] = limits.page_size
        if token is not None:
            call["nextToken"] = token
        try:
            response = logs.filter_log_events(**call)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            logger.exception("filter log events failed", extra={"error_code": code, "pages": pages})
            return ReadResult(pages, events, StopReason.ERROR, repeated, error_code=code, last_token=token)
        except BotoCoreError as exc:
            logger.exception("filter log events failed", extra={"error_code": type(exc).__name__, "pages": pages})
            return ReadResult(pages, events, StopReason.ERROR, repeated, error_code=type(exc).__name__)
        pages += 1

        for event in response.get("events", ()):
            events += 1
            on_message(str(event.get("message", "")))

        next_token = response.get("nextToken") or None
        if next_token is None:
            return ReadResult(pages, events, StopReason.COMPLETE, repeated)
        if next_token == token:
            repeated += 1
        token = next_token


def _stopped(reason: StopReason, pages: int, events: int, repeated: int, token: str | None) -> ReadResult:
    logger.warning(
        "log event paging stopped before the last page",
        extra={"reason": reason.value, "pages": pages, "events": events, "next_token": token},
    )
    return ReadResult(pages, events, reason, repeated, last_token=token)
