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

#: Fields of one production-format line: source as logged, request time in Unix seconds, method, path, status.
ProductionFields = tuple[str, int, str, str, int]

# The request time split at the seconds, checked the way _PRODUCTION checks it (ASCII digits only,
# because split_production takes ASCII lines only).
_MINUTE = re.compile(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}", re.ASCII)
_ZONE = re.compile(r"[+-]\d{4}", re.ASCII)
# `\d{3}` and `\d{2}` of ASCII text: one lookup both checks and converts a status or the seconds.
_STATUS_CODES = {f"{code:03d}": code for code in range(1000)}
_TWO_DIGITS = {f"{value:02d}": value for value in range(100)}

_MONTHS = {name: index for index, name in enumerate(calendar.month_abbr) if name}
# Unix seconds of midnight UTC per "dd/Mon/yyyy", of the minute start per "dd/Mon/yyyy:HH:MM" and
# of the UTC offset per "+hhmm". A scan touches a few days, so their 1,440 minutes each fit. Once a
# cache is full, new keys are computed each time and not stored, so memory stays bounded.
_DAY_CACHE: dict[str, int] = {}
_MINUTE_CACHE: dict[str, int] = {}
_ZONE_CACHE: dict[str, int] = {}
_DAY_CACHE_LIMIT = 4096
_MINUTE_CACHE_LIMIT = 16_384
_ZONE_CACHE_LIMIT = 64


def _midnight(day_text: str) -> int:
    """Convert "dd/Mon/yyyy" to the Unix seconds of its midnight UTC, or raise ValueError."""
    midnight = _DAY_CACHE.get(day_text)
    if midnight is not None:
        return midnight
    month = _MONTHS.get(day_text[3:6])
    if month is None or day_text[2] != "/" or day_text[6] != "/":
        raise ValueError(f"invalid request date {day_text!r}")
    midnight = calendar.timegm((int(day_text[7:11]), month, int(day_text[0:2]), 0, 0, 0))
    if len(_DAY_CACHE) < _DAY_CACHE_LIMIT:
        _DAY_CACHE[day_text] = midnight
    return midnight


def parse_request_time(text: str) -> int:
    """Convert `$context.requestTime` (`04/Mar/2025:01:02:03 +0000`) to Unix seconds; raise ValueError."""
    # Length first: the slicing below must never index past a short or cut-off value.
    if len(text) != 26:
        raise ValueError(f"invalid request time {text!r}")
    try:
        midnight = _midnight(text[:11])
    except ValueError:
        raise ValueError(f"invalid request time {text!r}") from None
    if text[11] != ":" or text[20] != " ":
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


def split_production(text: str) -> ProductionFields | None:
    """Split a plain production-format line without the regex, or return None when only the regex can decide.

    Only printable-ASCII lines with exactly seven space-separated fields take this path. For them,
    splitting at spaces yields the same groups as the `_PRODUCTION` regex, because no field other
    than the path may contain a space and the only ASCII whitespace left is the space. Every other
    line returns None, valid or not, and goes through the regex.
    """
    if not (text.isascii() and text.isprintable()):
        return None
    fields = text.split(" ")
    if len(fields) != 7:
        return None
    request_id, source, clock, zone, quoted_method, quoted_path, status_text = fields

    path = quoted_path[:-1]
    status = _STATUS_CODES.get(status_text)
    if (
        status is None
        or not request_id
        or not source
        or len(quoted_method) < 2
        or quoted_method[0] != '"'
        or quoted_path[-1:] != '"'
        or '"' in path
        or len(clock) != 20
        or clock[17] != ":"
    ):
        return None

    # The request time: minute and zone from caches that hold only keys the regex would accept.
    second = _TWO_DIGITS.get(clock[18:])
    minute_text = clock[:17]
    minute = _MINUTE_CACHE.get(minute_text)
    if minute is None:
        minute = _minute_start(minute_text)
    offset = _ZONE_CACHE.get(zone)
    if offset is None:
        offset = _zone_offset(zone)
    if second is None or minute is None or offset is None:
        return None
    return source, minute + second - offset, quoted_method[1:], path, status


def _zone_offset(zone: str) -> int | None:
    """Convert "+hhmm" to seconds east of UTC as parse_request_time would, or None when invalid."""
    if _ZONE.fullmatch(zone) is None:
        return None
    sign = -1 if zone[0] == "-" else 1
    offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    if len(_ZONE_CACHE) < _ZONE_CACHE_LIMIT:
        _ZONE_CACHE[zone] = offset
    return offset


def _minute_start(minute_text: str) -> int | None:
    """Convert "dd/Mon/yyyy:HH:MM" to Unix seconds as parse_request_time would, or None when invalid."""
    if _MINUTE.fullmatch(minute_text) is None:
        return None
    try:
        midnight = _midnight(minute_text[:11])
    except ValueError:
        return None
    minute = midnight + int(minute_text[12:14]) * 3600 + int(minute_text[15:17]) * 60
    if len(_MINUTE_CACHE) < _MINUTE_CACHE_LIMIT:
        _MINUTE_CACHE[minute_text] = minute
    return minute


def _parse_production(text: str) -> ParseOutcome:
    fields = split_production(text)
    if fields is not None:
        return AccessRecord(*fields)
    return _parse_production_regex(text)


def _parse_production_regex(text: str) -> ParseOutcome:
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
