"""Parse one API Gateway access-log line of any format the operators use, without I/O.

Formats (API Gateway `accessLogSettings.format`):

* production: `$context.requestId $context.identity.sourceIp $context.requestTime
  "$context.httpMethod $context.resourcePath" $context.status`
* clf, API Gateway's CLF preset: `$context.identity.sourceIp $context.identity.caller
  $context.identity.user [$context.requestTime] "$context.httpMethod $context.resourcePath
  $context.protocol" $context.status $context.responseLength $context.requestId`
* json, API Gateway's JSON preset: an object with `requestId`, `ip`, `requestTime`, `httpMethod`,
  `resourcePath`, `status`, `protocol` and `responseLength` (string values).

`$context.requestTime` is always in CLF form, `04/Mar/2025:01:02:03 +0000`.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from enum import StrEnum


class LogFormat(StrEnum):
    PRODUCTION = "production"
    CLF = "clf"
    JSON = "json"


class FormatSetting(StrEnum):
    """The configured format: one of LogFormat, or `auto` to detect it line by line."""

    AUTO = "auto"
    PRODUCTION = "production"
    CLF = "clf"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    #: `$context.identity.sourceIp` as logged, before canonicalisation.
    source: str
    #: `$context.requestTime` as Unix seconds (the variable has a resolution of one second).
    time: int
    method: str
    path: str
    status: int


@dataclass(frozen=True, slots=True)
class MalformedLine:
    reason: str


ParseOutcome = AccessRecord | MalformedLine

_REQUEST_TIME = r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"
_PRODUCTION = re.compile(rf'(\S+) (\S+) ({_REQUEST_TIME}) "(\S+) ([^"]*)" (\d{{3}})')
_CLF = re.compile(rf'(\S+) (\S+) (\S+) \[({_REQUEST_TIME})\] "(\S+) (\S+)(?: [^"]*)?" (\d{{3}}) (\S+) (\S+)')

_MONTHS = {name: index for index, name in enumerate(calendar.month_abbr) if name}
# Unix seconds of midnight UTC per "dd/Mon/yyyy"; a scan touches only a few distinct days.
_DAY_CACHE: dict[str, int] = {}
_DAY_CACHE_LIMIT = 4096


def parse_request_time(text: str) -> int:
    """Convert `$context.requestTime` (`04/Mar/2025:01:02:03 +0000`) to Unix seconds; raise ValueError."""
    # Length first: the slicing below must never index past a short or cut-off value.
    if len(text) != 26:
        raise ValueError(f"invalid request time {text!r}")
    day_text = text[:11]
    midnight = _DAY_CACHE.get(day_text)
    if midnight is None:
        month = _MONTHS.get(text[3:6])
        if month is None or text[2] != "/" or text[6] != "/":
            raise ValueError(f"invalid request time {text!r}")
        midnight = calendar.timegm((int(text[7:11]), month, int(text[0:2]), 0, 0, 0))
        if len(_DAY_CACHE) < _DAY_CACHE_LIMIT:
            _DAY_CACHE[day_text] = midnight
    if len(text) != 26 or text[11] != ":" or text[20] != " ":
        raise ValueError(f"invalid request time {text!r}")
    seconds = int(text[12:14]) * 3600 + int(text[15:17]) * 60 + int(text[18:20])
    sign = -1 if text[21] == "-" else 1
    offset = sign * (int(text[22:24]) * 3600 + int(text[24:26]) * 60)
    return midnight + seconds - offset


def detect_format(line: str) -> LogFormat | None:
    """Return the format one line is written in, or None when it matches none of them."""
    text = line.strip()
    if text.startswith("{"):
        return LogFormat.JSON
    if _CLF.fullmatch(text):
        return LogFormat.CLF
    if _PRODUCTION.fullmatch(text):
        return LogFormat.PRODUCTION
    return None


def parse_line(line: str, log_format: LogFormat | FormatSetting) -> ParseOutcome:
    """Parse one line; a line that does not fit the format returns MalformedLine with the reason."""
    text = line.strip()
    if not text:
        return MalformedLine("empty line")
    chosen = log_format.value
    if chosen == FormatSetting.AUTO.value:
        detected = detect_format(text)
        if detected is None:
            return MalformedLine("matches no known access-log format")
        chosen = detected.value
    if chosen == LogFormat.PRODUCTION.value:
        return _parse_production(text)
    if chosen == LogFormat.CLF.value:
        return _parse_clf(text)
    return _parse_json(text)


def _parse_production(text: str) -> ParseOutcome:
    match = _PRODUCTION.fullmatch(text)
    if match is None:
        return MalformedLine("does not match the production format")
    _request_id, source, request_time, method, path, status = match.groups()
    return _record(source, request_time, method, path, status)


def _parse_clf(text: str) -> ParseOutcome:
    match = _CLF.fullmatch(text)
    if match is None:
        return MalformedLine("does not match the CLF format")
    source, _caller, _user, request_time, method, path, status, _length, _request_id = match.groups()
    return _record(source, request_time, method, path, status)


def _parse_json(text: str) -> ParseOutcome:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return MalformedLine(f"invalid JSON ({exc.msg})")
    if not isinstance(document, dict):
        return MalformedLine("JSON line is not an object")
    fields = {}
    for name in ("ip", "requestTime", "httpMethod", "resourcePath", "status"):
        value = document.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return MalformedLine(f"JSON field {name!r} is missing or not a string")
        fields[name] = value
    return _record(fields["ip"], fields["requestTime"], fields["httpMethod"], fields["resourcePath"], fields["status"])


def _record(source: str, request_time: str, method: str, path: str, status: str) -> ParseOutcome:
    try:
        moment = parse_request_time(request_time)
    except ValueError:
        return MalformedLine(f"invalid request time {request_time[:40]!r}")
    if not status.isdigit() or len(status) != 3:
        return MalformedLine(f"invalid status {status[:10]!r}")
    return AccessRecord(source=source, time=moment, method=method, path=path, status=int(status))
