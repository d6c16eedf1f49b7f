"""Local Slack incoming-webhook and PagerDuty Events API v2 receivers on 127.0.0.1.

Tests and the demo point the alert router at these receivers instead of Slack and PagerDuty. They
accept and reject what the real services do, with the same status codes and bodies. Every accepted
delivery is appended to a JSON Lines file. Failures (outage, rate limit, revoked webhook, scripted
responses) can be injected in process or over HTTP on `/_control/...`, so another process can be
steered.

Two listeners share one state: plain HTTP, and HTTPS with a throwaway CA. HTTPS exists because
pagerduty 7.2.0 rejects any base URL that is not https:// (`ApiClient.url` raises `UrlError`). A
client trusts the CA through `Receivers.ssl_context()` or the `SSL_CERT_FILE` variable, which
httpx2 (used by pagerduty) and Python's default SSL context (used by slack_sdk) both read.

Control API, on both listeners:
  POST /_control/slack and POST /_control/pagerduty, with a JSON object:
    {"mode": "outage", "count": 3, "seconds": 5, "status": 503}   respond 5xx (default 500)
    {"mode": "rate_limit", "count": 2, "retry_after": 2}          respond 429 with Retry-After
    {"mode": "revoked"}                                           Slack only: 404 no_service
    {"mode": "script", "responses": [{"status": 429, "headers": {"Retry-After": "2"}, "text": "rate_limited"}]}
    {"mode": "reset"}                                             clear the fault and the script
    A fault without `count` or `seconds` lasts until reset; with both, it ends when either runs out.
  POST /_control/reset        clear faults and scripts of both receivers and the request log
  GET  /_control/requests     the request log as a JSON list (`?receiver=slack` filters)
  GET  /_control/health       200 {"status": "ok"}
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import ipaddress
import json
import logging
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.paths import DELIVERIES

logger = logging.getLogger(__name__)

SLACK = "slack"
PAGERDUTY = "pagerduty"
RECEIVER_NAMES = (SLACK, PAGERDUTY)

SLACK_PATH_PREFIX = "/services/"
PAGERDUTY_PATH = "/v2/enqueue"
CONTROL_PREFIX = "/_control/"
# Any token is accepted, so this placeholder is no secret.
DEFAULT_SLACK_TOKEN = "XXXXXXXX"  # noqa: S105

# Block Kit limits, from Slack's block reference (api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_BLOCK_ID = 255
MAX_HEADER_TEXT = 150
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
KNOWN_BLOCK_TYPES = frozenset(
    {"header", "section", "context", "divider", "actions", "image", "rich_text", "input", "file", "video", "markdown"}
)
TEXT_OBJECT_TYPES = frozenset({"mrkdwn", "plain_text"})
# The suite's own cap on top-level `text`. Slack itself accepts longer text and cuts it after 40,000
# characters, so this check is stricter than Slack on purpose and returns `invalid_payload`.
DEFAULT_MAX_TEXT = 4000

# Events API v2 limits, from PagerDuty's developer docs (Send an Alert Event, Events API v2 Overview).
ROUTING_KEY_LENGTH = 32
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_EVENT_BYTES = 512 * 1024
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
# Bodies above this are not read at all, so a runaway client cannot fill the test process's memory.
MAX_READ_BYTES = 8 * 1024 * 1024
MAX_REQUEST_LOG = 10_000
# How often serve_forever checks for shutdown. The default of 0.5 s adds up to a second to every stop().
SHUTDOWN_POLL_SECONDS = 0.05


class FaultMode(StrEnum):
    OUTAGE = "outage"
    RATE_LIMIT = "rate_limit"
    REVOKED = "revoked"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAULT = "fault"
    SCRIPTED = "scripted"


@dataclass(frozen=True)
class Reply:
    """An HTTP response: status, extra headers and body bytes."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, text: str, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(status, text.encode("utf-8"), headers=tuple((headers or {}).items()))

    @classmethod
    def json(cls, status: int, document: object, headers: Mapping[str, str] | None = None) -> Reply:
        body = json.dumps(document).encode("utf-8")
        return cls(status, body, "application/json", tuple((headers or {}).items()))


@dataclass(frozen=True)
class ScriptedResponse:
    """One canned response. A `str` body is sent as text, `bytes` as is, anything else as JSON."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: object = ""

    def to_reply(self) -> Reply:
        if isinstance(self.body, bytes):
            return Reply(self.status, self.body, headers=tuple(self.headers.items()))
        if isinstance(self.body, str):
            return Reply.text(self.status, self.body, self.headers)
        return Reply.json(self.status, self.body, self.headers)


@dataclass(frozen=True)
class Fault:
    """An injected failure. `remaining` counts requests, `until` is a deadline on the injected clock."""

    mode: FaultMode
    remaining: int | None
    until: float | None
    retry_after: int
    status: int

    def expired(self, now: float) -> bool:
        return (self.remaining is not None and self.remaining <= 0) or (self.until is not None and now >= self.until)

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "remaining": self.remaining,
            "seconds_left": None if self.until is None else max(0.0, self.until - now),
            "retry_after": self.retry_after,
            "status": self.status,
        }


@dataclass(frozen=True)
class SlackRules:
    """Switches of the Slack checks that go beyond what Slack itself enforces.

    `require_text_fallback`: reject with `no_text` when top-level `text` is missing or empty even if
    blocks are present. Slack accepts such a message but recommends `text` as the notification
    fallback. `max_text`: the suite's own cap on top-level `text`, rejected with `invalid_payload`.
    None disables it.
    """

    require_text_fallback: bool = True
    max_text: int | None = DEFAULT_MAX_TEXT


@dataclass(frozen=True)
class SlackRejection:
    """A Slack error code (the response body) and the reason, kept only in the request log."""

    error: str
    detail: str


@dataclass(frozen=True)
class RequestRecord:
    """One request as the receivers saw it, with secrets redacted."""

    receiver: str
    received_at: str
    method: str
    path: str
    status: int
    outcome: Outcome
    error: str | None
    detail: tuple[str, ...]
    payload: Any

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["outcome"] = self.outcome.value
        record["detail"] = list(self.detail)
        return record


# --- Slack checks -----------------------------------------------------------------------------------


def check_slack_message(message: object, rules: SlackRules = SlackRules()) -> SlackRejection | None:
    """Return why Slack would reject this webhook message, or None when it would be posted.

    The checks run in this order: the body shape (`invalid_payload`), the blocks (`invalid_blocks`),
    the text fallback (`no_text`) and last the suite's `max_text` cap (`invalid_payload`).
    """
    if not isinstance(message, dict):
        return SlackRejection("invalid_payload", "the message is not a JSON object")
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        return SlackRejection("invalid_payload", "top-level text is not a string")

    blocks = message.get("blocks")
    if blocks is not None:
        problem = _blocks_problem(blocks)
        if problem is not None:
            return SlackRejection("invalid_blocks", problem)

    has_text = isinstance(text, str) and text.strip() != ""
    attachments = message.get("attachments")
    has_other_content = bool(blocks) or (isinstance(attachments, list) and bool(attachments))
    if not has_text and (rules.require_text_fallback or not has_other_content):
        return SlackRejection("no_text", "top-level text is missing or empty")

    if rules.max_text is not None and isinstance(text, str) and len(text) > rules.max_text:
        return SlackRejection(
            "invalid_payload",
            f"top-level text is {len(text)} characters, above the suite's max_text of {rules.max_text}",
        )
    return None


def _blocks_problem(blocks: object) -> str | None:
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > MAX_BLOCKS:
        return f"{len(blocks)} blocks, above the maximum of {MAX_BLOCKS}"
    for index, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem is not None:
            return f"blocks[{index}]: {problem}"
    return None


def _block_problem(block: object) -> str | None:
    if not isinstance(block, dict):
        return "block is not an object"
    block_type = block.get("type")
    if not isinstance(block_type, str) or block_type not in KNOWN_BLOCK_TYPES:
        return f"unknown block type {block_type!r}"
    if "block_id" in block:
        block_id = block["block_id"]
        if not isinstance(block_id, str):
            return "block_id is not a string"
        if len(block_id) > MAX_BLOCK_ID:
            return f"block_id is {len(block_id)} characters, above the maximum of {MAX_BLOCK_ID}"

    checks: dict[str, Callable[[dict[str, Any]], str | None]] = {
        "header": _header_problem,
        "section": _section_problem,
        "context": _context_problem,
        "actions": _actions_problem,
        "image": _image_problem,
        "rich_text": _rich_text_problem,
    }
    check = checks.get(block_type)
    return None if check is None else check(block)


def _text_object_problem(obj: object, where: str, max_length: int, *, plain_text_only: bool = False) -> str | None:
    allowed = {"plain_text"} if plain_text_only else TEXT_OBJECT_TYPES
    if not isinstance(obj, dict):
        return f"{where} is not a text object"
    if obj.get("type") not in allowed:
        return f"{where} type is {obj.get('type')!r}, expected one of {sorted(allowed)}"
    text = obj.get("text")
    if not isinstance(text, str):
        return f"{where} text is not a string"
    if text == "":
        return f"{where} text is empty"
    if len(text) > max_length:
        return f"{where} text is {len(text)} characters, above the maximum of {max_length}"
    return None


def _header_problem(block: dict[str, Any]) -> str | None:
    return _text_object_problem(block.get("text"), "header", MAX_HEADER_TEXT, plain_text_only=True)


def _section_problem(block: dict[str, Any]) -> str | None:
    if "text" not in block and "fields" not in block:
        return "section has neither text nor fields"
    if "text" in block:
        problem = _text_object_problem(block["text"], "section", MAX_SECTION_TEXT)
        if problem is not None:
            return problem
    if "fields" in block:
        fields = block["fields"]
        if not isinstance(fields, list) or not fields:
            return "section fields is not a non-empty list"
        if len(fields) > MAX_SECTION_FIELDS:
            return f"section has {len(fields)} fields, above the maximum of {MAX_SECTION_FIELDS}"
        for index, item in enumerate(fields):
            problem = _text_object_problem(item, f"section fields[{index}]", MAX_FIELD_TEXT)
            if problem is not None:
                return problem
    return None


def _context_problem(block: dict[str, Any]) -> str | None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return "context elements is not a non-empty list"
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        return f"context has {len(elements)} elements, above the maximum of {MAX_CONTEXT_ELEMENTS}"
    for index, element in enumerate(elements):
        where = f"context elements[{index}]"
        if isinstance(element, dict) and element.get("type") == "image":
            problem = _image_problem(element)
        else:
            # NOTE: Slack documents no length limit for context text, so this borrows the section limit.
            problem = _text_object_problem(element, where, MAX_SECTION_TEXT)
        if problem is not None:
            return problem
    return None


def _actions_problem(block: dict[str, Any]) -> str | None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return "actions elements is not a non-empty list"
    if len(elements) > MAX_ACTIONS_ELEMENTS:
        return f"actions has {len(elements)} elements, above the maximum of {MAX_ACTIONS_ELEMENTS}"
    if not all(isinstance(element, dict) and isinstance(element.get("type"), str) for element in elements):
        return "actions element without a string type"
    return None


def _image_problem(block: dict[str, Any]) -> str | None:
    if not isinstance(block.get("image_url"), str) and not isinstance(block.get("slack_file"), dict):
        return "image has neither image_url nor slack_file"
    if not isinstance(block.get("alt_text"), str):
        return "image alt_text is not a string"
    return None


def _rich_text_problem(block: dict[str, Any]) -> str | None:
    elements = block.get("elements")
    if not isinstance(elements, list):
        return "rich_text elements is not a list"
    return None


# --- PagerDuty checks -------------------------------------------------------------------------------

# These three messages are PagerDuty's own words. The first is the documented 400 example. The
# second was returned by events.pagerduty.com in blockpane/tenderduty#10, and the third, with its
# misspelling "maiximum", in dagster-io/dagster#19567. The other messages are this receiver's
# wording, because PagerDuty does not document them.
ROUTING_KEY_LENGTH_ERROR = "Length of 'routing_key' is incorrect (should be 32 characters)"
ROUTING_KEY_CHARACTERS_ERROR = "'routing_key' cannot contain non-alphanumeric characters."
SUMMARY_TOO_LONG_ERROR = "'summary' is too long (maiximum is 1024 characters)"
INVALID_EVENT_MESSAGE = "Event object is invalid"
THROTTLE_BODY = {
    "status": "throttle event",
    "message": "Requests for this service are arriving too quickly. Please retry later.",
}


def check_pagerduty_event(event: object) -> list[str]:
    """Return every reason PagerDuty would reject this Events API v2 event, or an empty list when it is valid."""
    if not isinstance(event, dict):
        return ["Event is not a JSON object"]
    errors = _routing_key_errors(event.get("routing_key"))

    action = event.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append(f"'event_action' must be one of: {', '.join(EVENT_ACTIONS)}")

    dedup_key = event.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' is not a string")
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"'dedup_key' is too long (maximum is {MAX_DEDUP_KEY} characters)")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is required for acknowledge and resolve events")

    if action == "trigger":
        errors.extend(_trigger_payload_errors(event.get("payload")))
    return errors


def _routing_key_errors(routing_key: object) -> list[str]:
    if not isinstance(routing_key, str):
        return ["'routing_key' is missing or is not a string"]
    errors = []
    if len(routing_key) != ROUTING_KEY_LENGTH:
        errors.append(ROUTING_KEY_LENGTH_ERROR)
    if not (routing_key.isascii() and routing_key.isalnum()):
        errors.append(ROUTING_KEY_CHARACTERS_ERROR)
    return errors


def _trigger_payload_errors(payload: object) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or is not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or summary == "":
        errors.append("'summary' is missing or empty")
    elif len(summary) > MAX_SUMMARY:
        errors.append(SUMMARY_TOO_LONG_ERROR)

    source = payload.get("source")
    if not isinstance(source, str) or source.strip() == "":
        errors.append("'source' is missing or empty")

    if payload.get("severity") not in SEVERITIES:
        errors.append(f"'severity' must be one of: {', '.join(SEVERITIES)}")

    if "timestamp" in payload and not _is_iso_8601(payload["timestamp"]):
        errors.append("'timestamp' is not an ISO 8601 date-time")
    return errors


def _is_iso_8601(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def invalid_event_reply(errors: Sequence[str]) -> Reply:
    return Reply.json(400, {"status": "invalid event", "message": INVALID_EVENT_MESSAGE, "errors": list(errors)})


# --- Redaction ----------------------------------------------------------------------------------------


def redact(secret: str) -> str:
    """Replace a secret with `<redacted:LAST4>`, or `<redacted>` when it is too short to show any of it."""
    if len(secret) < 16:
        return "<redacted>"
    return f"<redacted:{secret[-4:]}>"


def redact_path(path: str) -> str:
    """Redact the token of a Slack webhook path `/services/T…/B…/<token>`. Other paths are returned unchanged."""
    if not path.startswith(SLACK_PATH_PREFIX):
        return path
    parts = path[len(SLACK_PATH_PREFIX) :].split("/", 2)
    if len(parts) < 3:
        return SLACK_PATH_PREFIX + redact(path[len(SLACK_PATH_PREFIX) :])
    return SLACK_PATH_PREFIX + "/".join([parts[0], parts[1], redact(parts[2])])


def redact_event(event: object) -> object:
    """Return a copy of a PagerDuty event with `routing_key` redacted."""
    if not isinstance(event, dict) or "routing_key" not in event:
        return event
    redacted = copy.deepcopy(event)
    key = redacted["routing_key"]
    redacted["routing_key"] = redact(key) if isinstance(key, str) else "<redacted>"
    return redacted


# --- Shared state -------------------------------------------------------------------------------------


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ReceiverHub:
    """State shared by both listeners: faults, scripts, the request log and the deliveries file.

    `clock` returns monotonic seconds and times the faults. `now` returns the time stamped on records.
    """

    def __init__(
        self,
        deliveries_path: Path,
        slack_rules: SlackRules,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.deliveries_path = deliveries_path
        self.slack_rules = slack_rules
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._faults: dict[str, Fault | None] = dict.fromkeys(RECEIVER_NAMES)
        self._scripts: dict[str, deque[Reply]] = {name: deque() for name in RECEIVER_NAMES}
        self._records: deque[RequestRecord] = deque(maxlen=MAX_REQUEST_LOG)

    # Fault control.

    def set_fault(
        self,
        receiver: str,
        mode: FaultMode | str,
        *,
        count: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
        status: int | None = None,
    ) -> None:
        """Make the next `count` requests, or those in the next `seconds`, fail. With neither, fail until reset."""
        _require_receiver(receiver)
        fault_mode = FaultMode(mode)
        if fault_mode is FaultMode.REVOKED and receiver != SLACK:
            raise ValueError("mode 'revoked' exists only for the slack receiver")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"count must be a positive integer, got {count!r}")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0):
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError(f"retry_after must be a non-negative integer of seconds, got {retry_after!r}")
        chosen_status = _fault_status(fault_mode, status)
        with self._lock:
            until = None if seconds is None else self._clock() + seconds
            self._faults[receiver] = Fault(fault_mode, count, until, retry_after, chosen_status)
        logger.info("fault set: receiver=%s mode=%s count=%s seconds=%s", receiver, fault_mode.value, count, seconds)

    def script(
        self, receiver: str, responses: Iterable[ScriptedResponse | tuple[int, Mapping[str, str], object]]
    ) -> None:
        """Queue canned responses. They are sent before any fault applies and are never deliveries."""
        _require_receiver(receiver)
        replies = [
            item.to_reply() if isinstance(item, ScriptedResponse) else ScriptedResponse(*item).to_reply()
            for item in responses
        ]
        with self._lock:
            self._scripts[receiver].extend(replies)

    def reset(self, receiver: str | None = None) -> None:
        """Clear faults and scripts of one receiver, or of both."""
        names = RECEIVER_NAMES if receiver is None else (_require_receiver(receiver),)
        with self._lock:
            for name in names:
                self._faults[name] = None
                self._scripts[name].clear()

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def requests(self, receiver: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [record for record in self._records if receiver is None or record.receiver == receiver]

    def state(self, receiver: str) -> dict[str, Any]:
        with self._lock:
            fault = self._faults[receiver]
            now = self._clock()
            return {
                "receiver": receiver,
                "fault": None if fault is None or fault.expired(now) else fault.describe(now),
                "scripted": len(self._scripts[receiver]),
            }

    def _take_override(self, receiver: str) -> tuple[Reply, Outcome] | None:
        with self._lock:
            script = self._scripts[receiver]
            if script:
                return script.popleft(), Outcome.SCRIPTED
            fault = self._faults[receiver]
            if fault is None:
                return None
            if fault.expired(self._clock()):
                self._faults[receiver] = None
                return None
            if fault.remaining is not None:
                self._faults[receiver] = Fault(
                    fault.mode, fault.remaining - 1, fault.until, fault.retry_after, fault.status
                )
        return _fault_reply(receiver, fault), Outcome.FAULT

    # Request handling.

    def handle_slack(self, path: str, body: bytes) -> Reply:
        override = self._take_override(SLACK)
        message = _decode_json(body)
        if override is not None:
            reply, outcome = override
            self._record(SLACK, path, reply.status, outcome, reply.body.decode("utf-8", "replace"), (), message)
            return reply

        if message is _NOT_JSON:
            reply = Reply.text(400, "invalid_payload")
            self._record(SLACK, path, 400, Outcome.REJECTED, "invalid_payload", ("body is not UTF-8 JSON",), None)
            return reply

        rejection = check_slack_message(message, self.slack_rules)
        if rejection is not None:
            self._record(SLACK, path, 400, Outcome.REJECTED, rejection.error, (rejection.detail,), message)
            return Reply.text(400, rejection.error)

        received_at = self._record(SLACK, path, 200, Outcome.ACCEPTED, None, (), message)
        self._append_delivery(
            {"receiver": SLACK, "received_at": received_at, "path": redact_path(path), "payload": message}
        )
        return Reply.text(200, "ok")

    def handle_pagerduty(self, path: str, body: bytes) -> Reply:
        override = self._take_override(PAGERDUTY)
        event = _decode_json(body)
        logged_event = None if event is _NOT_JSON else redact_event(event)
        if override is not None:
            reply, outcome = override
            self._record(PAGERDUTY, path, reply.status, outcome, _status_field(reply), (), logged_event)
            return reply

        if len(body) > MAX_EVENT_BYTES:
            errors = [f"Event payload is {len(body)} bytes, above the maximum of {MAX_EVENT_BYTES} bytes (512 KB)"]
        elif event is _NOT_JSON:
            errors = ["Event is not valid UTF-8 JSON"]
        else:
            errors = check_pagerduty_event(event)
        if errors:
            self._record(PAGERDUTY, path, 400, Outcome.REJECTED, "invalid event", tuple(errors), logged_event)
            return invalid_event_reply(errors)

        assert isinstance(event, dict)  # check_pagerduty_event rejects everything else
        # PagerDuty generates a key when the trigger has none, as 32 hexadecimal digits.
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        received_at = self._record(PAGERDUTY, path, 202, Outcome.ACCEPTED, None, (), logged_event)
        self._append_delivery(
            {
                "receiver": PAGERDUTY,
                "received_at": received_at,
                "path": path,
                "payload": logged_event,
                "dedup_key": dedup_key,
            }
        )
        return Reply.json(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})

    def handle_control(self, method: str, path: str, query: str, body: bytes) -> Reply:
        """Serve the `/_control/...` API described in the module docstring."""
        name = path[len(CONTROL_PREFIX) :].strip("/")
        if method == "GET" and name == "health":
            return Reply.json(200, {"status": "ok"})
        if method == "GET" and name == "requests":
            receiver = parse_qs(query).get("receiver", [None])[0]
            if receiver is not None and receiver not in RECEIVER_NAMES:
                return Reply.json(400, {"error": f"unknown receiver {receiver!r}, expected slack or pagerduty"})
            return Reply.json(200, [record.to_dict() for record in self.requests(receiver)])
        if method == "POST" and name == "reset":
            self.reset()
            self.clear_requests()
            return Reply.json(200, {"status": "reset"})
        if method == "POST" and name in RECEIVER_NAMES:
            return self._apply_control(name, body)
        return Reply.json(404, {"error": f"no control endpoint {method} {path}"})

    def _apply_control(self, receiver: str, body: bytes) -> Reply:
        command = _decode_json(body)
        if not isinstance(command, dict):
            return Reply.json(400, {"error": "the control body must be a JSON object with a 'mode'"})
        mode = command.get("mode")
        try:
            if mode == "reset":
                self.reset(receiver)
            elif mode == "script":
                self.script(receiver, _scripted_from_json(command.get("responses")))
            elif mode in {fault_mode.value for fault_mode in FaultMode}:
                self.set_fault(
                    receiver,
                    mode,
                    count=command.get("count"),
                    seconds=command.get("seconds"),
                    retry_after=command.get("retry_after", 1),
                    status=command.get("status"),
                )
            else:
                modes = ", ".join([*(fault_mode.value for fault_mode in FaultMode), "script", "reset"])
                return Reply.json(400, {"error": f"unknown mode {mode!r}; use one of {modes}"})
        except ValueError as error:
            return Reply.json(400, {"error": str(error)})
        return Reply.json(200, self.state(receiver))

    def _record(
        self,
        receiver: str,
        path: str,
        status: int,
        outcome: Outcome,
        error: str | None,
        detail: tuple[str, ...],
        payload: object,
    ) -> str:
        received_at = _iso(self._now())
        record = RequestRecord(
            receiver=receiver,
            received_at=received_at,
            method="POST",
            path=redact_path(path),
            status=status,
            outcome=outcome,
            error=error,
            detail=detail,
            payload=None if payload is _NOT_JSON else payload,
        )
        with self._lock:
            self._records.append(record)
        if outcome is not Outcome.ACCEPTED:
            logger.info(
                "request not accepted: receiver=%s status=%d outcome=%s error=%s",
                receiver,
                status,
                outcome.value,
                error,
            )
        return received_at

    def _append_delivery(self, delivery: dict[str, Any]) -> None:
        line = json.dumps(delivery, ensure_ascii=False) + "\n"
        with self._lock:
            self.deliveries_path.parent.mkdir(parents=True, exist_ok=True)
            with self.deliveries_path.open("a", encoding="utf-8") as file:
                file.write(line)


_NOT_JSON = object()


def _decode_json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NOT_JSON


def _status_field(reply: Reply) -> str:
    """Return the `status` of a JSON body, else the text body, for the request log."""
    text = reply.body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text
    return str(document.get("status")) if isinstance(document, dict) else text


def _require_receiver(receiver: str) -> str:
    if receiver not in RECEIVER_NAMES:
        raise ValueError(f"unknown receiver {receiver!r}, expected slack or pagerduty")
    return receiver


def _fault_status(mode: FaultMode, status: int | None) -> int:
    defaults = {FaultMode.OUTAGE: 500, FaultMode.RATE_LIMIT: 429, FaultMode.REVOKED: 404}
    if status is None:
        return defaults[mode]
    if mode is FaultMode.OUTAGE and isinstance(status, int) and 500 <= status <= 599:
        return status
    if status == defaults[mode]:
        return status
    raise ValueError(f"status {status!r} does not fit mode {mode.value!r}: only outage takes a status, from 500 to 599")


def _fault_reply(receiver: str, fault: Fault) -> Reply:
    if fault.mode is FaultMode.RATE_LIMIT:
        headers = {"Retry-After": str(fault.retry_after)}
        if receiver == SLACK:
            return Reply.text(429, "rate_limited", headers)
        return Reply.json(429, THROTTLE_BODY, headers)
    if fault.mode is FaultMode.REVOKED:
        return Reply.text(404, "no_service")
    # Slack returns `rollup_error` with its 500s. The bodies of its other 5xx and of PagerDuty's 5xx
    # are undocumented, so these bodies are this receiver's own.
    if receiver == SLACK:
        return Reply.text(fault.status, "rollup_error" if fault.status == 500 else "service_unavailable")
    return Reply.json(fault.status, {"status": "error", "message": "Injected outage: the service is unavailable"})


def _scripted_from_json(responses: object) -> list[ScriptedResponse]:
    """Read `[{"status": 429, "headers": {...}, "body" or "text": ...}]`, the Slack scenario fixtures' shape."""
    if not isinstance(responses, list) or not responses:
        raise ValueError("'responses' must be a non-empty list of {status, headers, body} objects")
    scripted = []
    for index, item in enumerate(responses):
        if not isinstance(item, dict) or not isinstance(item.get("status"), int):
            raise ValueError(f"responses[{index}] must be an object with an integer 'status'")
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
            raise ValueError(f"responses[{index}].headers must map names to string values")
        body = item["body"] if "body" in item else item.get("text", "")
        scripted.append(ScriptedResponse(item["status"], headers, body))
    return scripted


# --- HTTP ---------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP layer: read the request, let the hub decide, write the reply."""

    server_version = "local-receivers"
    protocol_version = "HTTP/1.1"
    hub: ReceiverHub  # set on the subclass made per listener

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        body = self._read_body()
        if body is None:
            return
        if path.startswith(CONTROL_PREFIX):
            reply = self.hub.handle_control(method, path, url.query, body)
        elif path.startswith(SLACK_PATH_PREFIX) or path == PAGERDUTY_PATH:
            reply = self._deliver(method, path, body)
        else:
            reply = Reply.text(404, "not_found")
        self._send(reply)

    def _deliver(self, method: str, path: str, body: bytes) -> Reply:
        if method != "POST":
            return Reply.text(405, "method_not_allowed", {"Allow": "POST"})
        if path == PAGERDUTY_PATH:
            return self.hub.handle_pagerduty(path, body)
        return self.hub.handle_slack(path, body)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Reply.text(411, "length_required"))
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_READ_BYTES:
            self._send(Reply.text(413, "request_too_large"))
            return None
        return self.rfile.read(length)

    def _send(self, reply: Reply) -> None:
        # Close after each response, so no idle keep-alive connection keeps a handler thread alive after stop().
        self.close_connection = True
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The default access log prints the request line, and with it the webhook token.
        logger.debug("request served: path=%s status=%s", redact_path(urlsplit(self.path).path), code)

    def log_message(self, format: str, *args: Any) -> None:
        # The base class passes the raw request line in some messages, so only the redacted path is logged.
        logger.debug("http server message: path=%s", redact_path(urlsplit(getattr(self, "path", "")).path))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _make_server(hub: ReceiverHub, port: int, tls_context: ssl.SSLContext | None) -> _Server:
    handler = type("ReceiverHandler", (_Handler,), {"hub": hub})
    server = _Server(("127.0.0.1", port), handler)
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    return server


# --- TLS ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls_files(directory: Path, now: dt.datetime | None = None) -> TlsFiles:
    """Write a throwaway CA and a server certificate for 127.0.0.1 and localhost, valid for two days.

    A separate CA, and a leaf with SAN, key identifiers and serverAuth, pass the VERIFY_X509_STRICT
    checks that Python 3.13's `ssl.create_default_context()` turns on.
    """
    moment = now or _utc_now()
    not_before = moment - dt.timedelta(hours=1)
    not_after = moment + dt.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "celebrity-database-ops local receivers CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.touch(mode=0o600)
    files.key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def read_deliveries(path: Path, receiver: str | None = None) -> list[dict[str, Any]]:
    """Read a deliveries file, for example from the demo process. A missing file has no deliveries."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [record for record in records if receiver is None or record["receiver"] == receiver]


# --- Public API ---------------------------------------------------------------------------------------


class Receivers:
    """Running receivers: the URLs to give clients, fault control and what was received."""

    def __init__(
        self,
        hub: ReceiverHub,
        http_server: _Server,
        https_server: _Server,
        tls_files: TlsFiles,
        tls_directory: Path | None,
    ) -> None:
        self.hub = hub
        self._servers = (http_server, https_server)
        self._tls_files = tls_files
        self._tls_directory = tls_directory
        self._threads = [
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                name=f"receivers-{index}",
                daemon=True,
            )
            for index, server in enumerate(self._servers)
        ]
        for thread in self._threads:
            thread.start()
        self._stopped = False

    # URLs.

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self._servers[1].server_address[1]}"

    def slack_url(self, token: str = DEFAULT_SLACK_TOKEN, *, https: bool = False) -> str:
        """Return a webhook URL `<base>/services/T000/B000/<token>`. Any token is accepted."""
        base = self.https_url if https else self.http_url
        return f"{base}/services/T000/B000/{token}"

    @property
    def pagerduty_url(self) -> str:
        """The base URL for `pagerduty.EventsApiV2Client(key, base_url=...)`, which posts to `<base>/v2/enqueue`.

        It is HTTPS because pagerduty 7.2.0 raises `UrlError` for any other scheme.
        """
        return self.https_url

    @property
    def pagerduty_enqueue_url(self) -> str:
        return self.https_url + PAGERDUTY_PATH

    @property
    def control_url(self) -> str:
        return self.http_url + CONTROL_PREFIX.rstrip("/")

    @property
    def ca_file(self) -> Path:
        """The PEM CA certificate that signed the HTTPS listener's certificate."""
        return self._tls_files.ca_file

    @property
    def deliveries_path(self) -> Path:
        return self.hub.deliveries_path

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client SSL context that trusts only the receivers' CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client_environment(self) -> dict[str, str]:
        """Return the variables that make a child process trust the HTTPS listener.

        httpx2 (pagerduty's HTTP client) and `ssl.create_default_context()` (slack_sdk, urllib) read
        SSL_CERT_FILE. It replaces the system trust store in that process, which suits a process that
        only talks to 127.0.0.1.
        """
        return {"SSL_CERT_FILE": str(self.ca_file)}

    def describe(self) -> dict[str, str]:
        """Return the URLs and files as one JSON-ready object, as the command line prints them."""
        return {
            "slack_url": self.slack_url(),
            "pagerduty_url": self.pagerduty_url,
            "pagerduty_enqueue_url": self.pagerduty_enqueue_url,
            "http_url": self.http_url,
            "https_url": self.https_url,
            "control_url": self.control_url,
            "ca_file": str(self.ca_file),
            "deliveries": str(self.deliveries_path),
        }

    # Fault control, see ReceiverHub.

    def set_fault(
        self,
        receiver: str,
        mode: FaultMode | str,
        *,
        count: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
        status: int | None = None,
    ) -> None:
        self.hub.set_fault(receiver, mode, count=count, seconds=seconds, retry_after=retry_after, status=status)

    def outage(
        self, receiver: str, *, count: int | None = None, seconds: float | None = None, status: int = 500
    ) -> None:
        self.hub.set_fault(receiver, FaultMode.OUTAGE, count=count, seconds=seconds, status=status)

    def rate_limit(
        self, receiver: str, *, count: int | None = None, seconds: float | None = None, retry_after: int = 1
    ) -> None:
        self.hub.set_fault(receiver, FaultMode.RATE_LIMIT, count=count, seconds=seconds, retry_after=retry_after)

    def revoke_slack(self, *, count: int | None = None, seconds: float | None = None) -> None:
        self.hub.set_fault(SLACK, FaultMode.REVOKED, count=count, seconds=seconds)

    def script(
        self, receiver: str, responses: Iterable[ScriptedResponse | tuple[int, Mapping[str, str], object]]
    ) -> None:
        self.hub.script(receiver, responses)

    def reset(self, receiver: str | None = None) -> None:
        self.hub.reset(receiver)

    def set_slack_rules(self, rules: SlackRules) -> None:
        self.hub.slack_rules = rules

    # What was received.

    def requests(self, receiver: str | None = None) -> list[RequestRecord]:
        return self.hub.requests(receiver)

    def clear_requests(self) -> None:
        self.hub.clear_requests()

    def deliveries(self, receiver: str | None = None) -> list[dict[str, Any]]:
        """Read the deliveries file, including lines written before these receivers started."""
        return read_deliveries(self.deliveries_path, receiver)

    # Lifecycle.

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # shutdown() blocks until the serve loop notices, so both listeners are stopped in parallel.
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in self._servers:
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._tls_directory is not None:
            shutil.rmtree(self._tls_directory, ignore_errors=True)
        logger.info("receivers stopped")

    def __enter__(self) -> Receivers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_receivers(
    deliveries_path: Path | None = None,
    port: int = 0,
    tls_port: int = 0,
    *,
    slack_rules: SlackRules | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], dt.datetime] = _utc_now,
    tls_directory: Path | None = None,
) -> Receivers:
    """Start the HTTP listener on `port` and the HTTPS listener on `tls_port` of 127.0.0.1 (0 picks a free port).

    Deliveries are appended to `deliveries_path` (default `.local/deliveries.jsonl`), never truncated.
    The TLS files go to `tls_directory`, or to a temporary directory removed by `stop()`.
    """
    hub = ReceiverHub(deliveries_path or DELIVERIES, slack_rules or SlackRules(), clock, now)
    owned_directory = None
    if tls_directory is None:
        owned_directory = Path(tempfile.mkdtemp(prefix="receivers-tls-"))
    tls_files = make_tls_files(tls_directory or owned_directory or Path())
    tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_context.load_cert_chain(tls_files.cert_file, tls_files.key_file)

    http_server = _make_server(hub, port, None)
    try:
        https_server = _make_server(hub, tls_port, tls_context)
    except OSError:
        http_server.server_close()
        raise
    receivers = Receivers(hub, http_server, https_server, tls_files, owned_directory)
    logger.info("receivers started: http_url=%s https_url=%s", receivers.http_url, receivers.https_url)
    return receivers


@dataclass
class _StopSignal:
    event: threading.Event = field(default_factory=threading.Event)

    def __call__(self, signum: int, frame: object) -> None:
        self.event.set()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.receivers",
        description="Run the local Slack and PagerDuty receivers until SIGINT or SIGTERM. "
        "Prints the URLs as one JSON line on stdout when ready.",
    )
    parser.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1 (default: a free port)")
    parser.add_argument("--tls-port", type=int, default=0, help="HTTPS port on 127.0.0.1 (default: a free port)")
    parser.add_argument("--deliveries", type=Path, default=DELIVERIES, help=f"JSON Lines file (default: {DELIVERIES})")
    parser.add_argument(
        "--allow-blocks-without-text",
        action="store_true",
        help="accept Slack messages with blocks and no top-level text, as Slack itself does",
    )
    parser.add_argument(
        "--max-text",
        type=int,
        default=DEFAULT_MAX_TEXT,
        help=f"the suite's cap on Slack top-level text in characters, 0 to disable (default: {DEFAULT_MAX_TEXT})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    rules = SlackRules(require_text_fallback=not args.allow_blocks_without_text, max_text=args.max_text or None)
    stop = _StopSignal()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with start_receivers(args.deliveries, args.port, args.tls_port, slack_rules=rules) as receivers:
        print(json.dumps(receivers.describe()), flush=True)
        stop.event.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
