"""A realistic copy of the production system the suite watches, created in the embedded AWS.

`create_monitored_system(now)` builds, through boto3 (endpoint from `AWS_ENDPOINT_URL`):

* the DynamoDB table `celebrity-database` with a `source-updated_at-index` GSI, point-in-time
  recovery, one on-demand backup and `items` items written by a weekly Sunday 02:00 UTC scrape;
* 24 hours of API Gateway access logs in the production format, with the attacks the 401 scanner
  must find and the near misses it must not report;
* the log groups of the monitored Lambda functions (no retention) and of other stacks;
* scraper and post-processor log lines, `AWS/Lambda` metrics and one EventBridge schedule per scraper,
  telling one story: tmdb and wikipedia succeeded, news failed, social missed (its rule is disabled);
* for the same 24 hours, the `AWS/Lambda`, `AWS/ApiGateway` and `AWS/DynamoDB` metrics that AWS
  publishes for the access log's requests and the scrapers' writes (no throttling), and the
  month-to-date `AWS/Billing` EstimatedCharges in us-east-1.

Everything is drawn from one seeded `random.Random` and the injected `now`, so the same inputs give
the same data. The target account must be empty (reset the moto server first). Run
`python -m harness.monitored_system` to create it on the server named by `AWS_ENDPOINT_URL`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import boto3
from botocore.config import Config

SOURCES: tuple[str, ...] = ("tmdb", "wikipedia", "news", "social")
#: Share of the valid items per source (malformed items are drawn separately).
SOURCE_SHARES: Mapping[str, float] = {"tmdb": 0.35, "wikipedia": 0.30, "news": 0.20, "social": 0.15}
#: The scrapers run every Sunday at 02:00 UTC (EventBridge `cron(0 2 ? * SUN *)`).
SCRAPE_SCHEDULE = "cron(0 2 ? * SUN *)"
SCRAPE_WEEKDAY = 6  # datetime.weekday() of Sunday
SCRAPE_HOUR = 2
#: A run counts as the latest one only once this long after 02:00 has passed, because a Lambda
#: invocation lasts at most 15 minutes and the post-processor scores the items right after.
RUN_SETTLE_TIME = timedelta(minutes=30)
#: Weekly runs of history per source; older items were last written by one of them.
HISTORY_WEEKS = 8
#: Share of a source's items that its latest run wrote (the news run failed part-way).
LATEST_RUN_SHARE: Mapping[str, float] = {"tmdb": 0.70, "wikipedia": 0.60, "news": 0.12, "social": 0.65}
#: Scrape duration range in seconds; Lambda stops an invocation after 900 s.
SCRAPE_SECONDS: Mapping[str, tuple[int, int]] = {
    "tmdb": (420, 600),
    "wikipedia": (600, 840),
    "news": (480, 720),
    "social": (480, 720),
}
#: Error of the failed source's latest run.
FAILED_RUN_ERROR = "HTTP 503 from newsapi"
MALFORMED_SHARE = 0.005

#: CloudWatch Logs rejects events older than 14 days (PutLogEvents API reference), and moto does
#: too, measured against its own clock. The hour of margin allows for a `now` slightly off that clock.
INGESTION_WINDOW = timedelta(days=14) - timedelta(hours=1)
#: PutLogEvents limits: 10,000 events, 1,048,576 bytes counted as UTF-8 message bytes plus 26 per
#: event, and no more than 24 hours between the first and last event of one request.
MAX_EVENTS_PER_PUT = 10_000
MAX_BYTES_PER_PUT = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_SPAN_PER_PUT = timedelta(hours=24) - timedelta(milliseconds=1)
#: BatchWriteItem takes at most 25 put or delete requests.
MAX_ITEMS_PER_BATCH = 25
MAX_BATCH_ATTEMPTS = 8

ACCESS_LOG_FORMAT = (
    '$context.requestId $context.identity.sourceIp $context.requestTime "$context.httpMethod $context.resourcePath" '
    "$context.status"
)
ACCESS_LOG_STREAMS = 4
ACCESS_LOG_WINDOW = timedelta(hours=24)
BURST_ADDRESS = "203.0.113.66"
BURST_FAILURES = 60
BURST_LENGTH = timedelta(minutes=8)
NEAR_MISS_ADDRESS = "2001:db8:cafe::19"
NEAR_MISS_FAILURES = 19  # one short of a 20-in-10-minutes rule
NEAR_MISS_LENGTH = timedelta(minutes=9, seconds=30)
SLOW_ATTACKER_ADDRESS = "203.0.113.77"
SLOW_ATTACKER_FAILURES = 36
SLOW_ATTACKER_LENGTH = timedelta(hours=5)
#: The API Gateway console's test button sends this instead of an address.
TEST_INVOKE_SOURCE = "test-invoke-source-ip"
#: The last hour of the access log has no ordinary 5xx. Each API function serves about one request
#: a minute, so one function error in a 15-minute period is above both error-rate thresholds (1%
#: and 5%). The quiet hour covers those alarms' 45-minute evaluation range plus the demo's run, so
#: the demo starts with a healthy API and only its scenarios fire the API alarms.
SERVER_ERROR_FREE_TIME = timedelta(hours=1)
_SPECIAL_ADDRESSES = frozenset({BURST_ADDRESS, NEAR_MISS_ADDRESS, SLOW_ATTACKER_ADDRESS})

# strftime's %b follows the locale; access logs always use these English abbreviations.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FIRST_NAMES = (
    "Ada", "Bruno", "Carla", "Dev", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemi", "Luca",
    "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yara", "Zoe",
)  # fmt: skip
_LAST_NAMES = (
    "Abara", "Becker", "Castillo", "Dubois", "Eriksen", "Fontaine", "Garcia", "Haddad", "Ishikawa", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Silva", "Tanaka",
    "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zimmermann",
)  # fmt: skip
_OCCUPATIONS = ("actor", "musician", "athlete", "author", "director", "presenter", "comedian", "model")
_COUNTRIES = ("US", "GB", "FR", "DE", "IN", "JP", "BR", "NG", "KR", "ES", "IT", "CA", "AU", "MX", "SE")


class ScraperOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSED = "missed"


@dataclass(frozen=True)
class SystemConfig:
    """Names of the monitored resources (the production names by default) and the demo's story."""

    table_name: str = "celebrity-database"
    index_name: str = "source-updated_at-index"
    api_name: str = "celebrity-database-api"
    stage: str = "prod"
    access_log_group: str = "/aws/api-gateway/celebrity-database-api"
    scraper_functions: Mapping[str, str] = field(
        default_factory=lambda: {source: f"scraper-{source}" for source in SOURCES}
    )
    post_processor_function: str = "post-processor"
    list_function: str = "list-celebrities"
    get_function: str = "get-celebrity"
    stale_source: str = "social"
    failed_source: str = "news"
    #: Log groups of other stacks, with their retention in days (None: never expire).
    other_log_groups: Mapping[str, int | None] = field(
        default_factory=lambda: {"/aws/lambda/other-stack-fn": 7, "/ecs/some-service": None}
    )
    #: Ordinary requests in the 24 hours of access logs, before the attacks are added.
    access_log_requests: int = 3000


@dataclass(frozen=True)
class ScraperRun:
    """One scheduled weekly run of one scraper."""

    source: str
    function_name: str
    scheduled_at: datetime
    started_at: datetime
    finished_at: datetime
    outcome: ScraperOutcome
    request_id: str
    items_written: int = 0
    error: str | None = None
    cold_start: bool = True


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class AddressWindow:
    """The 401 responses one address received, and the time from its first to its last."""

    address: str
    failures: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class AccessLog:
    streams: Mapping[str, Sequence[LogLine]]
    burst: AddressWindow
    near_miss: AddressWindow
    slow_attacker: AddressWindow
    malformed_lines: int

    @property
    def line_count(self) -> int:
        return sum(len(lines) for lines in self.streams.values())


@dataclass(frozen=True)
class Celebrity:
    """One table item; `updated_at` is None for an item without the attribute."""

    celebrity_id: str
    source: str
    updated_at: str | None
    name: str
    weight: float
    sentiment: float
    popularity: float
    birth_year: int
    occupation: str
    country: str
    external_id: str


@dataclass(frozen=True)
class SystemSummary:
    """Resources and facts of the created system, for the demo report and the tests."""

    now: datetime
    table_name: str
    index_name: str
    item_count: int
    items_per_source: Mapping[str, int]
    newest_update_per_source: Mapping[str, str]
    malformed_item_count: int
    backup_arn: str
    rest_api_id: str
    access_log_group: str
    access_log_streams: tuple[str, ...]
    access_log_lines: int
    malformed_access_log_lines: int
    burst: AddressWindow
    near_miss: AddressWindow
    slow_attacker: AddressWindow
    log_groups_without_retention: tuple[str, ...]
    log_groups_with_retention: Mapping[str, int]
    latest_scheduled_run: datetime
    scraper_outcomes: Mapping[str, ScraperOutcome]
    schedule_rules: Mapping[str, str]
    stale_source: str

    @property
    def stale_source_age(self) -> timedelta:
        return self.now - parse_iso(self.newest_update_per_source[self.stale_source])

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-compatible values (datetimes as ISO-8601 UTC strings)."""
        return {
            "now": format_iso(self.now),
            "table_name": self.table_name,
            "index_name": self.index_name,
            "item_count": self.item_count,
            "items_per_source": dict(self.items_per_source),
            "newest_update_per_source": dict(self.newest_update_per_source),
            "malformed_item_count": self.malformed_item_count,
            "backup_arn": self.backup_arn,
            "rest_api_id": self.rest_api_id,
            "access_log_group": self.access_log_group,
            "access_log_streams": list(self.access_log_streams),
            "access_log_lines": self.access_log_lines,
            "malformed_access_log_lines": self.malformed_access_log_lines,
            "burst": _window_to_dict(self.burst),
            "near_miss": _window_to_dict(self.near_miss),
            "slow_attacker": _window_to_dict(self.slow_attacker),
            "log_groups_without_retention": list(self.log_groups_without_retention),
            "log_groups_with_retention": dict(self.log_groups_with_retention),
            "latest_scheduled_run": format_iso(self.latest_scheduled_run),
            "scraper_outcomes": {source: str(outcome) for source, outcome in self.scraper_outcomes.items()},
            "schedule_rules": dict(self.schedule_rules),
            "stale_source": self.stale_source,
            "stale_source_age_days": round(self.stale_source_age.total_seconds() / 86_400, 2),
        }


def _window_to_dict(window: AddressWindow) -> dict[str, Any]:
    return {
        "address": window.address,
        "failures": window.failures,
        "start": format_iso(window.start),
        "end": format_iso(window.end),
    }


# --- Time helpers -----------------------------------------------------------------------------


def format_iso(moment: datetime) -> str:
    """Format as ISO-8601 UTC with seconds, e.g. `2026-12-01T02:14:09Z` (the table's format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def format_request_time(moment: datetime) -> str:
    """Format as API Gateway's `$context.requestTime`, e.g. `04/Dec/2026:01:02:03 +0000`."""
    utc = moment.astimezone(UTC)
    return f"{utc.day:02d}/{_MONTHS[utc.month - 1]}/{utc.year}:{utc.strftime('%H:%M:%S')} +0000"


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def latest_scheduled_run(now: datetime) -> datetime:
    """Return the latest Sunday 02:00 UTC run that has finished by `now` (see RUN_SETTLE_TIME)."""
    settled = now.astimezone(UTC) - RUN_SETTLE_TIME
    run = settled.replace(hour=SCRAPE_HOUR, minute=0, second=0, microsecond=0)
    run -= timedelta(days=(run.weekday() - SCRAPE_WEEKDAY) % 7)
    if run > settled:
        run -= timedelta(days=7)
    return run


def missed_runs(now: datetime) -> int:
    """Return how many latest runs the stale source missed so that its newest item is over 8 days old.

    One missed run is enough from Monday 03:00 on, but right after Sunday's run it takes two.
    """
    return 1 if now - latest_scheduled_run(now) >= timedelta(days=1, hours=1) else 2


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


# --- Scraper runs and table items (pure) ----------------------------------------------------------


def plan_scraper_runs(now: datetime, rng: random.Random, config: SystemConfig) -> dict[str, list[ScraperRun]]:
    """Plan HISTORY_WEEKS weekly runs per source, newest first, with the demo's outcomes.

    `items_written` is filled in later by `generate_items`.
    """
    latest = latest_scheduled_run(now)
    stale_missed = missed_runs(now)
    runs: dict[str, list[ScraperRun]] = {}
    for source in SOURCES:
        source_runs = []
        for week in range(HISTORY_WEEKS):
            scheduled = latest - timedelta(weeks=week)
            # EventBridge invokes within about a minute of the scheduled time.
            started = scheduled + timedelta(seconds=rng.randint(3, 50), milliseconds=rng.randint(0, 999))
            low, high = SCRAPE_SECONDS[source]
            finished = started + timedelta(seconds=rng.randint(low, high), milliseconds=rng.randint(0, 999))
            outcome = ScraperOutcome.SUCCEEDED
            error = None
            if source == config.stale_source and week < stale_missed:
                outcome = ScraperOutcome.MISSED
            elif source == config.failed_source and week == 0:
                outcome = ScraperOutcome.FAILED
                error = FAILED_RUN_ERROR
                finished = started + timedelta(seconds=rng.randint(150, 300), milliseconds=rng.randint(0, 999))
            source_runs.append(
                ScraperRun(
                    source=source,
                    function_name=config.scraper_functions[source],
                    scheduled_at=scheduled,
                    started_at=started,
                    finished_at=finished,
                    outcome=outcome,
                    request_id=_uuid(rng),
                    error=error,
                )
            )
        runs[source] = source_runs
    return runs


def source_counts(total: int) -> dict[str, int]:
    """Split `total` valid items across the sources by SOURCE_SHARES; the first source takes the rest."""
    counts = {source: int(total * SOURCE_SHARES[source]) for source in SOURCES}
    counts[SOURCES[0]] += total - sum(counts.values())
    return counts


def malformed_updated_at(now: datetime, kind: int) -> str | None:
    """Return one of four malformed `updated_at` values (None: attribute missing).

    All of them sort below every valid timestamp, so a descending query of the index still starts
    with a valid item. An empty string is not among them because DynamoDB rejects an empty string
    as the value of an index key attribute.
    """
    values = (
        None,
        "0000-00-00T00:00:00Z",
        # Epoch seconds as a string: below ISO dates while they start with "1", which lasts until 2033.
        str(int((now - timedelta(days=40)).timestamp())),
        f"{now.year - 1}-02-30T02:00:00Z",  # February has no 30th
    )
    return values[kind % len(values)]


def generate_items(
    now: datetime, rng: random.Random, runs: Mapping[str, Sequence[ScraperRun]], total: int
) -> tuple[list[Celebrity], dict[str, list[ScraperRun]]]:
    """Generate `total` items and return them with the runs' `items_written` filled in.

    Each valid item was last written during one run that wrote items: the latest such run wrote
    LATEST_RUN_SHARE of its source, older runs the rest, fewer the older they are. The latest run's
    `items_written` equals its items in the table; older runs also rewrote items that later runs
    overwrote again, so theirs is an estimate.
    """
    malformed = max(4, round(total * MALFORMED_SHARE))
    counts = source_counts(total - malformed)
    used_ids: set[str] = set()
    items: list[Celebrity] = []
    updated_runs: dict[str, list[ScraperRun]] = {}

    for source in SOURCES:
        writing_runs = [run for run in runs[source] if run.outcome is not ScraperOutcome.MISSED]
        share = LATEST_RUN_SHARE[source]
        older = len(writing_runs) - 1
        # Older runs split the remaining share with weights halving per week.
        older_weights = [0.5**week for week in range(older)]
        weights = [share] + [(1 - share) * weight / sum(older_weights) for weight in older_weights]
        per_run = Counter[int]()
        for index in rng.choices(range(len(writing_runs)), weights, k=counts[source]):
            per_run[index] += 1
            run = writing_runs[index]
            span = (run.finished_at - run.started_at).total_seconds()
            written = run.started_at + timedelta(seconds=rng.uniform(5, span - 1))
            items.append(_celebrity(rng, source, format_iso(written), used_ids))

        later = 0
        by_request = {}
        for index, run in enumerate(writing_runs):
            by_request[run.request_id] = replace(run, items_written=per_run[index] + round(later * 0.9))
            later += per_run[index]
        updated_runs[source] = [by_request.get(run.request_id, run) for run in runs[source]]

    for kind in range(malformed):
        items.append(_celebrity(rng, rng.choice(SOURCES), malformed_updated_at(now, kind), used_ids))
    rng.shuffle(items)
    return items, updated_runs


def _celebrity(rng: random.Random, source: str, updated_at: str | None, used_ids: set[str]) -> Celebrity:
    celebrity_id = f"cel-{_hex(rng, 12)}"
    while celebrity_id in used_ids:
        celebrity_id = f"cel-{_hex(rng, 12)}"
    used_ids.add(celebrity_id)
    return Celebrity(
        celebrity_id=celebrity_id,
        source=source,
        updated_at=updated_at,
        name=f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
        weight=round(rng.betavariate(2, 3) * 100, 1),
        sentiment=round(max(-1.0, min(1.0, rng.gauss(0.15, 0.35))), 2),
        popularity=round(rng.paretovariate(1.5) * 3, 2),
        birth_year=rng.randint(1935, 2007),
        occupation=rng.choice(_OCCUPATIONS),
        country=rng.choice(_COUNTRIES),
        external_id=f"{source}:{rng.randint(10_000, 9_999_999)}",
    )


def to_dynamodb_item(celebrity: Celebrity) -> dict[str, dict[str, str]]:
    """Return the item in DynamoDB's low-level attribute-value format."""
    item = {
        "celebrity_id": {"S": celebrity.celebrity_id},
        "source": {"S": celebrity.source},
        "name": {"S": celebrity.name},
        "weight": {"N": str(celebrity.weight)},
        "sentiment": {"N": str(celebrity.sentiment)},
        "popularity": {"N": str(celebrity.popularity)},
        "birth_year": {"N": str(celebrity.birth_year)},
        "occupation": {"S": celebrity.occupation},
        "country": {"S": celebrity.country},
        "external_id": {"S": celebrity.external_id},
    }
    if celebrity.updated_at is not None:
        item["updated_at"] = {"S": celebrity.updated_at}
    return item


def is_valid_timestamp(value: str | None) -> bool:
    if value is None:
        return False
    try:
        parse_iso(value)
    except ValueError:
        return False
    return True


# --- Lambda log lines (pure) ------------------------------------------------------------------


def lambda_stream_name(rng: random.Random, moment: datetime) -> str:
    """Return a log stream name in Lambda's `YYYY/MM/DD/[$LATEST]<32 hex>` form."""
    return f"{moment:%Y/%m/%d}/[$LATEST]{_hex(rng, 32)}"


def _json_line(moment: datetime, fields: Mapping[str, Any]) -> LogLine:
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return LogLine(to_millis(moment), json.dumps({**fields, "timestamp": stamp}, separators=(",", ":")))


def scraper_log_lines(run: ScraperRun) -> list[LogLine]:
    """Return the Lambda platform lines and the scraper's JSON status lines of one run (none if missed).

    The status lines have a fixed `message`: "scrape started", then "scrape finished" with `status`
    succeeded or failed.
    """
    if run.outcome is ScraperOutcome.MISSED:
        return []
    duration_ms = (run.finished_at - run.started_at) / timedelta(milliseconds=1)
    start = run.started_at
    lines = [
        LogLine(to_millis(start), f"START RequestId: {run.request_id} Version: $LATEST"),
        _json_line(
            start + timedelta(milliseconds=12),
            {"level": "INFO", "message": "scrape started", "source": run.source, "function_name": run.function_name},
        ),
    ]
    finished_fields: dict[str, Any] = {
        "level": "INFO",
        "message": "scrape finished",
        "source": run.source,
        "status": str(run.outcome),
        "items_written": run.items_written,
        "duration_ms": round(duration_ms),
    }
    end = run.finished_at
    if run.outcome is ScraperOutcome.FAILED:
        finished_fields["level"] = "ERROR"
        finished_fields["error"] = run.error
    lines.append(_json_line(end - timedelta(milliseconds=40), finished_fields))
    if run.outcome is ScraperOutcome.FAILED:
        # The Lambda runtime logs the unhandled exception in its own JSON shape.
        runtime_error = {
            "errorMessage": run.error,
            "errorType": "ScrapeError",
            "requestId": run.request_id,
            "stackTrace": ['  File "/var/task/app.py", line 58, in handler\n    raise ScrapeError(message)\n'],
        }
        lines.append(LogLine(to_millis(end - timedelta(milliseconds=5)), json.dumps(runtime_error)))
    lines.append(LogLine(to_millis(end), f"END RequestId: {run.request_id}"))
    report = (
        f"REPORT RequestId: {run.request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: 512 MB\tMax Memory Used: 187 MB"
    )
    if run.cold_start:
        report += "\tInit Duration: 412.55 ms"
    lines.append(LogLine(to_millis(end) + 1, report))
    return lines


def post_processor_lines(items: Sequence[Celebrity], since: datetime) -> list[LogLine]:
    """Return one "item scored" line per valid item written at or after `since`, a few seconds after it."""
    lines = []
    for item in items:
        if not is_valid_timestamp(item.updated_at):
            continue
        written = parse_iso(item.updated_at or "")
        if written < since:
            continue
        # Derived from the id, not drawn, so the lines do not depend on the order of the items.
        scored = written + timedelta(seconds=2, milliseconds=int(item.celebrity_id[-3:], 16) % 3000)
        fields = {
            "level": "INFO",
            "message": "item scored",
            "celebrity_id": item.celebrity_id,
            "source": item.source,
            "weight": item.weight,
            "sentiment": item.sentiment,
        }
        lines.append(_json_line(scored, fields))
    lines.sort(key=lambda line: line.timestamp_ms)
    return lines


# --- Access log lines (pure) ------------------------------------------------------------------


def format_access_log_line(
    request_id: str, source_ip: str, request_time: datetime, method: str, resource_path: str, status: int
) -> str:
    """Format one line of the production access log format.

    `$context.requestId $context.identity.sourceIp $context.requestTime "$context.httpMethod
    $context.resourcePath" $context.status`
    """
    return f'{request_id} {source_ip} {format_request_time(request_time)} "{method} {resource_path}" {status}'


@dataclass(frozen=True)
class _Request:
    moment: datetime
    source_ip: str
    method: str
    path: str
    status: int


def client_addresses(rng: random.Random) -> list[str]:
    """Return the ordinary clients: documentation-range IPv4 and IPv6 addresses, attackers excluded."""
    addresses = [f"198.51.100.{host}" for host in range(1, 255)]
    addresses += [f"203.0.113.{host}" for host in rng.sample(range(1, 255), 60)]
    addresses += [f"2001:db8::{rng.getrandbits(16):x}" for _ in range(40)]
    return [address for address in dict.fromkeys(addresses) if address not in _SPECIAL_ADDRESSES]


# (method, resource path, weight) of ordinary traffic.
_ROUTES = (
    ("GET", "/celebrities", 0.40),
    ("GET", "/celebrities/{id}", 0.54),
    ("POST", "/celebrities", 0.03),
    ("PUT", "/celebrities/{id}", 0.02),
    ("DELETE", "/celebrities/{id}", 0.01),
)
_ATTACK_ROUTES = tuple((method, path) for method, path, _ in _ROUTES)


def _ordinary_status(rng: random.Random, method: str, path: str) -> int:
    roll = rng.random()
    if roll < 0.015:
        return 401  # expired or missing token
    if roll < 0.022:
        return 429
    if roll < 0.030:
        return rng.choice((500, 502, 503, 504))
    if method == "GET" and path == "/celebrities/{id}" and roll < 0.12:
        return 404
    if method == "GET" and roll < 0.15:
        return 304
    if method == "POST":
        return 400 if roll < 0.10 else 201
    return 200


def _traffic_weight(moment: datetime) -> float:
    """Return the relative request rate at `moment`: 1.0 at 18:00 UTC, falling linearly to 0.25 at 06:00."""
    hour = moment.hour + moment.minute / 60
    hours_from_peak = abs((hour - 18 + 12) % 24 - 12)
    return 0.25 + 0.75 * (1 - hours_from_peak / 12)


def _ordinary_requests(rng: random.Random, start: datetime, count: int) -> list[_Request]:
    clients = client_addresses(rng)
    popular = clients[: len(clients) // 5]  # a fifth of the clients send most requests
    routes = [(method, path) for method, path, _ in _ROUTES]
    weights = [weight for _, _, weight in _ROUTES]
    requests = []
    seconds = ACCESS_LOG_WINDOW.total_seconds()
    healthy_from = start + ACCESS_LOG_WINDOW - SERVER_ERROR_FREE_TIME
    while len(requests) < count:
        moment = start + timedelta(seconds=rng.uniform(0, seconds))
        if rng.random() > _traffic_weight(moment):
            continue
        method, path = rng.choices(routes, weights)[0]
        address = rng.choice(popular) if rng.random() < 0.6 else rng.choice(clients)
        status = _ordinary_status(rng, method, path)
        # The status is still drawn, so the generator's sequence and every later value stay the same.
        if status >= 500 and moment >= healthy_from:
            status = 201 if method == "POST" else 200
        requests.append(_Request(moment, address, method, path, status))
    return requests


def _failures(
    rng: random.Random, address: str, start: datetime, length: timedelta, count: int
) -> tuple[list[_Request], AddressWindow]:
    """Spread `count` 401s from `address` over `length`, with the first at `start` and the last at its end."""
    offsets = sorted([0.0, length.total_seconds()] + [rng.uniform(0, length.total_seconds()) for _ in range(count - 2)])
    requests = []
    for offset in offsets:
        method, path = rng.choice(_ATTACK_ROUTES)
        requests.append(_Request(start + timedelta(seconds=int(offset)), address, method, path, 401))
    window = AddressWindow(address, count, requests[0].moment, requests[-1].moment)
    return requests, window


def _slow_attack(rng: random.Random, start: datetime) -> tuple[list[_Request], AddressWindow]:
    """Return 401s at even intervals with jitter, so no 10 minutes hold more than two, on every route."""
    step = SLOW_ATTACKER_LENGTH / (SLOW_ATTACKER_FAILURES - 1)
    requests = []
    for index in range(SLOW_ATTACKER_FAILURES):
        jitter = timedelta(seconds=rng.randint(-60, 60)) if 0 < index < SLOW_ATTACKER_FAILURES - 1 else timedelta()
        method, path = _ATTACK_ROUTES[index % len(_ATTACK_ROUTES)]
        moment = start + step * index + jitter
        requests.append(_Request(moment.replace(microsecond=0), SLOW_ATTACKER_ADDRESS, method, path, 401))
    window = AddressWindow(SLOW_ATTACKER_ADDRESS, SLOW_ATTACKER_FAILURES, requests[0].moment, requests[-1].moment)
    return requests, window


def night_start(now: datetime) -> datetime:
    """Return 00:30 UTC of the latest night whose 5-hour attack fits before `now`, clipped to the log window."""
    start = now.replace(hour=0, minute=30, second=0, microsecond=0)
    if start + SLOW_ATTACKER_LENGTH > now - timedelta(minutes=5):
        start -= timedelta(days=1)
    return max(start, (now - ACCESS_LOG_WINDOW + timedelta(minutes=15)).replace(microsecond=0))


def generate_access_log(now: datetime, rng: random.Random, requests: int) -> AccessLog:
    """Generate 24 hours of access log lines ending at `now`, split over ACCESS_LOG_STREAMS streams.

    The log contains `requests` ordinary requests, about 1.5% of them 401s from many clients. On top
    come the burst (BURST_FAILURES 401s from BURST_ADDRESS within BURST_LENGTH), the near miss
    (NEAR_MISS_FAILURES 401s within NEAR_MISS_LENGTH) and the slow attacker (36 401s over 5 hours of
    the night). One line has the source `-`, one comes from the console's test button, and one is malformed.
    """
    start = now - ACCESS_LOG_WINDOW
    all_requests = _ordinary_requests(rng, start, requests)

    burst_start = (now - timedelta(hours=6, minutes=rng.randint(0, 30))).replace(microsecond=0)
    burst, burst_window = _failures(rng, BURST_ADDRESS, burst_start, BURST_LENGTH, BURST_FAILURES)
    near_start = (now - timedelta(hours=15, minutes=rng.randint(0, 30))).replace(microsecond=0)
    near, near_window = _failures(rng, NEAR_MISS_ADDRESS, near_start, NEAR_MISS_LENGTH, NEAR_MISS_FAILURES)
    slow, slow_window = _slow_attack(rng, night_start(now))
    all_requests += burst + near + slow
    all_requests.append(_Request(start + timedelta(hours=7, seconds=17), "-", "GET", "/celebrities", 401))
    all_requests.append(
        _Request(start + timedelta(hours=9, seconds=42), TEST_INVOKE_SOURCE, "GET", "/celebrities", 200)
    )
    all_requests.sort(key=lambda request: request.moment)

    stream_names = [_hex(rng, 32) for _ in range(ACCESS_LOG_STREAMS)]
    streams: dict[str, list[LogLine]] = {name: [] for name in stream_names}
    for request in all_requests:
        # The event timestamp carries milliseconds that $context.requestTime truncates.
        moment = request.moment.replace(microsecond=0) + timedelta(milliseconds=rng.randint(0, 999))
        line = format_access_log_line(
            _uuid(rng), request.source_ip, moment, request.method, request.path, request.status
        )
        streams[rng.choice(stream_names)].append(LogLine(to_millis(moment), line))

    # A line cut short in transit: it must fail the production-format pattern, not crash the parser.
    malformed_moment = (start + timedelta(hours=11, minutes=3)).replace(microsecond=0)
    cut = format_access_log_line(_uuid(rng), "198.51.100.7", malformed_moment, "GET", "/celebrities", 200)
    streams[stream_names[0]].append(LogLine(to_millis(malformed_moment), cut[: cut.index('"') + 8]))
    for lines in streams.values():
        lines.sort(key=lambda line: line.timestamp_ms)
    return AccessLog(streams, burst_window, near_window, slow_window, malformed_lines=1)


def batch_log_events(lines: Sequence[LogLine]) -> Iterator[list[LogLine]]:
    """Split chronological lines into PutLogEvents requests within its count, size and 24-hour limits."""
    max_span_ms = MAX_SPAN_PER_PUT // timedelta(milliseconds=1)
    batch: list[LogLine] = []
    size = 0
    for line in lines:
        line_size = len(line.message.encode()) + EVENT_OVERHEAD_BYTES
        full = len(batch) >= MAX_EVENTS_PER_PUT or size + line_size > MAX_BYTES_PER_PUT
        too_long = bool(batch) and line.timestamp_ms - batch[0].timestamp_ms > max_span_ms
        if batch and (full or too_long):
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += line_size
    if batch:
        yield batch


# --- Service metrics of the ordinary traffic (pure) -------------------------------------------

#: Period of the simulated AWS/Lambda, AWS/ApiGateway and AWS/DynamoDB counts. AWS publishes them per
#: minute; five minutes is the period the dashboards and alarms read, in a fifth of the datapoints.
METRIC_PERIOD = timedelta(minutes=5)
#: Read units of one list request: a Scan page of 25 items of about 0.3 KB reads 2 blocks of 4 KB,
#: which an eventually consistent read bills at half a unit each.
LIST_READ_UNITS = 1.0
#: Read units of one GetItem of an item under 4 KB, eventually consistent; a miss costs the same.
GET_READ_UNITS = 0.5
#: Write units of one put, update or delete of an item under 1 KB.
ITEM_WRITE_UNITS = 1.0
#: No ordinary invocation lasts longer, so ordinary traffic never breaches the 1 s p95 duration alarm.
MAX_API_DURATION_MS = 900.0
#: The account's month-to-date charges grow by this much a day, close to the daily Lambda, DynamoDB,
#: CloudWatch and API Gateway costs of the demo's cost report. A 31-day month ends at 9.92 USD, below
#: the 15 USD default of the estimated-charges alarm.
DAILY_CHARGES_USD = 0.32
#: Billing publishes EstimatedCharges a few times a day; the simulation publishes every 6 hours.
BILLING_INTERVAL = timedelta(hours=6)
#: AWS publishes the AWS/Billing metrics in us-east-1 only.
BILLING_REGION = "us-east-1"

_ACCESS_LOG_LINE = re.compile(
    r"^\S+ \S+ \d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000 "
    r'"(?P<method>[A-Z]+) (?P<path>/\S*)" (?P<status>\d{3})$'
)
_WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})


@dataclass(frozen=True)
class ApiRequest:
    """One request of the access log, parsed back from its line; `moment` is the event time."""

    moment: datetime
    method: str
    path: str
    status: int


@dataclass(frozen=True)
class ServedRequest:
    """Cost of one request: the function it invoked (None: none ran), times in ms and capacity units."""

    request: ApiRequest
    function: str | None
    function_error: bool
    duration_ms: float | None
    latency_ms: float
    read_units: float
    write_units: float


def parse_access_log(access_log: AccessLog) -> list[ApiRequest]:
    """Parse every production-format line of the access log, oldest first; the cut line is skipped."""
    requests = []
    for lines in access_log.streams.values():
        for line in lines:
            match = _ACCESS_LOG_LINE.match(line.message)
            if match:
                moment = datetime.fromtimestamp(line.timestamp_ms / 1000, UTC)
                requests.append(ApiRequest(moment, match["method"], match["path"], int(match["status"])))
    requests.sort(key=lambda request: request.moment)
    return requests


def invoked_function(request: ApiRequest, config: SystemConfig) -> str | None:
    """Return the function that served the request, or None when API Gateway responded without one.

    API Gateway itself returns 401 (the authorizer rejected the token) and 429 (stage throttling).
    The write methods use API Gateway's direct DynamoDB integration, so only GETs reach a function.
    """
    if request.status in (401, 429) or request.method != "GET":
        return None
    return config.list_function if request.path == "/celebrities" else config.get_function


def _lognormal_ms(rng: random.Random, median_ms: float, spread: float) -> float:
    return rng.lognormvariate(math.log(median_ms), spread)


def serve_requests(requests: Sequence[ApiRequest], rng: random.Random, config: SystemConfig) -> list[ServedRequest]:
    """Draw the duration, latency and capacity of each request.

    A 502 is a function error: the function raised, so API Gateway returned Bad Gateway. Other 5xx
    are responses the function returned after a failed dependency call, which Lambda counts as
    successful invocations. They take longer. Latency adds API Gateway's own time to the duration.
    """
    served = []
    for request in requests:
        function = invoked_function(request, config)
        duration_ms = None
        read_units = 0.0
        write_units = 0.0
        if function is not None:
            if request.status >= 500:
                median_ms = 350.0
            elif function == config.list_function:
                median_ms = 110.0
            else:
                median_ms = 38.0
            duration_ms = round(min(MAX_API_DURATION_MS, _lognormal_ms(rng, median_ms, 0.35)), 2)
            latency_ms = duration_ms + _lognormal_ms(rng, 12.0, 0.3)
            read_units = LIST_READ_UNITS if function == config.list_function else GET_READ_UNITS
        elif request.status == 401:
            latency_ms = _lognormal_ms(rng, 6.0, 0.4)  # the authorizer's cached decision
        elif request.status == 429:
            latency_ms = _lognormal_ms(rng, 2.0, 0.3)
        else:
            latency_ms = _lognormal_ms(rng, 28.0, 0.35)
            if request.method in _WRITE_METHODS and 200 <= request.status < 300:
                write_units = ITEM_WRITE_UNITS
        served.append(
            ServedRequest(
                request=request,
                function=function,
                function_error=function is not None and request.status == 502,
                duration_ms=duration_ms,
                latency_ms=round(latency_ms, 2),
                read_units=read_units,
                write_units=write_units,
            )
        )
    return served


def period_start(moment: datetime, period: timedelta = METRIC_PERIOD) -> datetime:
    """Return the start of the clock-aligned period that contains `moment`, as CloudWatch aligns them."""
    seconds = int(period.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, UTC)


def _statistic_set(values: Sequence[float]) -> dict[str, float]:
    return {"SampleCount": float(len(values)), "Sum": sum(values), "Minimum": min(values), "Maximum": max(values)}


def _per_period(
    samples: Sequence[tuple[datetime, float]], name: str, dimensions: Sequence[Mapping[str, str]], unit: str
) -> list[dict[str, Any]]:
    """Return one statistic set per period with samples: the sum, count, minimum and maximum of its values."""
    periods: dict[datetime, list[float]] = {}
    for moment, value in samples:
        periods.setdefault(period_start(moment), []).append(value)
    return [
        {
            "MetricName": name,
            "Dimensions": list(dimensions),
            "Timestamp": start,
            "StatisticValues": _statistic_set(values),
            "Unit": unit,
        }
        for start, values in sorted(periods.items())
    ]


def _each_sample(
    samples: Sequence[tuple[datetime, float]], name: str, dimensions: Sequence[Mapping[str, str]], unit: str
) -> list[dict[str, Any]]:
    # Percentiles need single values. At their own request times they keep the harness's rebuild of
    # the samples from one-second buckets exact, as long as no second has more than three.
    return [
        {"MetricName": name, "Dimensions": list(dimensions), "Timestamp": moment, "Value": value, "Unit": unit}
        for moment, value in samples
    ]


def traffic_metrics(
    served: Sequence[ServedRequest], scraper_writes: Sequence[datetime], config: SystemConfig
) -> dict[str, list[dict[str, Any]]]:
    """Return the PutMetricData items, by namespace, that AWS publishes for the served requests.

    Lambda, API Gateway and DynamoDB publish counts only for periods with activity, and a zero
    Errors, 4XXError or 5XXError in a period with requests. DynamoDB publishes no throttle metric
    unless it throttles, so none is returned. `scraper_writes` contains one moment per item written.
    """
    lambda_data: list[dict[str, Any]] = []
    for function in (config.list_function, config.get_function):
        runs = [item for item in served if item.function == function]
        dimensions = [{"Name": "FunctionName", "Value": function}]
        lambda_data += _per_period([(item.request.moment, 1.0) for item in runs], "Invocations", dimensions, "Count")
        errors = [(item.request.moment, float(item.function_error)) for item in runs]
        lambda_data += _per_period(errors, "Errors", dimensions, "Count")
        durations = [(item.request.moment, item.duration_ms) for item in runs if item.duration_ms is not None]
        lambda_data += _each_sample(durations, "Duration", dimensions, "Milliseconds")

    stage = [{"Name": "ApiName", "Value": config.api_name}, {"Name": "Stage", "Value": config.stage}]
    statuses = [(item.request.moment, item.request.status) for item in served]
    api_data = _per_period([(moment, 1.0) for moment, _ in statuses], "Count", stage, "Count")
    api_data += _per_period([(m, float(400 <= s < 500)) for m, s in statuses], "4XXError", stage, "Count")
    api_data += _per_period([(m, float(s >= 500)) for m, s in statuses], "5XXError", stage, "Count")
    latencies = [(item.request.moment, item.latency_ms) for item in served]
    api_data += _each_sample(latencies, "Latency", stage, "Milliseconds")

    table = [{"Name": "TableName", "Value": config.table_name}]
    reads = [(item.request.moment, item.read_units) for item in served if item.read_units]
    writes = [(item.request.moment, item.write_units) for item in served if item.write_units]
    writes += [(moment, ITEM_WRITE_UNITS) for moment in scraper_writes]
    dynamodb_data = _per_period(reads, "ConsumedReadCapacityUnits", table, "Count")
    dynamodb_data += _per_period(writes, "ConsumedWriteCapacityUnits", table, "Count")
    return {"AWS/Lambda": lambda_data, "AWS/ApiGateway": api_data, "AWS/DynamoDB": dynamodb_data}


#: Items per post-processor invocation: the default batch size of a DynamoDB stream event source.
POST_PROCESSOR_BATCH = 100
#: Post-processor duration: a fixed part plus one UpdateItem per scored item (an estimate).
POST_PROCESSOR_BASE_MS = 120.0
POST_PROCESSOR_ITEM_MS = 3.0


def post_processor_metrics(scored: Sequence[LogLine], config: SystemConfig) -> list[dict[str, Any]]:
    """Return the AWS/Lambda items of the post-processor invocations that scored these lines.

    The lines are taken in time order in batches of POST_PROCESSOR_BATCH, one invocation per batch,
    starting at its first line. No invocation fails, because every scored line is a success.
    """
    ordered = sorted(line.timestamp_ms for line in scored)
    dimensions = [{"Name": "FunctionName", "Value": config.post_processor_function}]
    data: list[dict[str, Any]] = []
    for first in range(0, len(ordered), POST_PROCESSOR_BATCH):
        batch = ordered[first : first + POST_PROCESSOR_BATCH]
        moment = datetime.fromtimestamp(batch[0] / 1000, UTC)
        duration_ms = POST_PROCESSOR_BASE_MS + POST_PROCESSOR_ITEM_MS * len(batch)
        for name, value, unit in (
            ("Invocations", 1.0, "Count"),
            ("Errors", 0.0, "Count"),
            ("Duration", duration_ms, "Milliseconds"),
        ):
            data.append(
                {"MetricName": name, "Dimensions": dimensions, "Timestamp": moment, "Value": value, "Unit": unit}
            )
    return data


def scraper_write_times(celebrities: Sequence[Celebrity], start: datetime, end: datetime) -> list[datetime]:
    """Return when each item whose `updated_at` lies in [start, end) was written, oldest first.

    The scrapers write each item once per run with BatchWriteItem, so the table's `updated_at`
    values are the run's writes.
    """
    moments = []
    for item in celebrities:
        if is_valid_timestamp(item.updated_at):
            written = parse_iso(item.updated_at or "")
            if start <= written < end:
                moments.append(written)
    return sorted(moments)


def estimated_charges(now: datetime, window: timedelta = ACCESS_LOG_WINDOW) -> list[dict[str, Any]]:
    """Return the month-to-date EstimatedCharges (USD) that Billing published in the `window` before `now`.

    The value restarts from zero on the first of each month (UTC) and grows by DAILY_CHARGES_USD a day.
    """
    step = int(BILLING_INTERVAL.total_seconds())
    first = (int((now - window).timestamp()) // step + 1) * step
    data = []
    for stamp in range(first, int(now.timestamp()) + 1, step):
        moment = datetime.fromtimestamp(stamp, UTC)
        month_start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        days = (moment - month_start) / timedelta(days=1)
        data.append(
            {
                "MetricName": "EstimatedCharges",
                "Dimensions": [{"Name": "Currency", "Value": "USD"}],
                "Timestamp": moment,
                "Value": round(DAILY_CHARGES_USD * days, 2),
            }
        )
    return data


# --- AWS adapters -----------------------------------------------------------------------------


def create_table(dynamodb: Any, config: SystemConfig) -> None:
    """Create the on-demand table with its freshness index (KEYS_ONLY) and enable PITR."""
    dynamodb.create_table(
        TableName=config.table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "celebrity_id", "AttributeType": "S"},
            {"AttributeName": "source", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "celebrity_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": config.index_name,
                "KeySchema": [
                    {"AttributeName": "source", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=config.table_name, WaiterConfig={"Delay": 1})
    dynamodb.update_continuous_backups(
        TableName=config.table_name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )


def write_items(dynamodb: Any, table_name: str, items: Sequence[Celebrity]) -> None:
    """Write the items 25 per BatchWriteItem, retrying unprocessed items with backoff."""
    for first in range(0, len(items), MAX_ITEMS_PER_BATCH):
        chunk = items[first : first + MAX_ITEMS_PER_BATCH]
        pending = {table_name: [{"PutRequest": {"Item": to_dynamodb_item(item)}} for item in chunk]}
        for attempt in range(MAX_BATCH_ATTEMPTS):
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(min(2.0, 0.05 * 2**attempt))
        if pending:
            left = len(pending[table_name])
            raise RuntimeError(f"BatchWriteItem left {left} items unprocessed after {MAX_BATCH_ATTEMPTS} attempts")


def create_rest_api(apigateway: Any, config: SystemConfig, access_log_arn: str) -> str:
    """Create the REST API with its two resources (MOCK integrations) and a stage with access logging.

    Returns the REST API id. The methods have no authorizer, because only the access log shows 401s.
    """
    api_id: str = apigateway.create_rest_api(name=config.api_name, endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = next(item for item in apigateway.get_resources(restApiId=api_id)["items"] if item["path"] == "/")
    collection = apigateway.create_resource(restApiId=api_id, parentId=root["id"], pathPart="celebrities")
    single = apigateway.create_resource(restApiId=api_id, parentId=collection["id"], pathPart="{id}")
    for resource, methods in ((collection, ("GET", "POST")), (single, ("GET", "PUT", "DELETE"))):
        for method in methods:
            apigateway.put_method(
                restApiId=api_id, resourceId=resource["id"], httpMethod=method, authorizationType="NONE"
            )
            apigateway.put_integration(restApiId=api_id, resourceId=resource["id"], httpMethod=method, type="MOCK")
    deployment = apigateway.create_deployment(restApiId=api_id)
    apigateway.create_stage(restApiId=api_id, stageName=config.stage, deploymentId=deployment["id"])
    apigateway.update_stage(
        restApiId=api_id,
        stageName=config.stage,
        patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": access_log_arn},
            {"op": "replace", "path": "/accessLogSettings/format", "value": ACCESS_LOG_FORMAT},
        ],
    )
    return api_id


def create_log_group(logs: Any, name: str, retention_days: int | None) -> None:
    logs.create_log_group(logGroupName=name)
    if retention_days is not None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)


def put_log_lines(logs: Any, group: str, stream: str, lines: Sequence[LogLine]) -> None:
    """Create the stream and put the chronological lines, raising RuntimeError if the service rejected any.

    CloudWatch Logs and moto reject events older than 14 days or over 2 hours in the future,
    measured against the service's clock, so a `now` far from the real time fails here.
    """
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    for batch in batch_log_events(lines):
        response = logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": line.timestamp_ms, "message": line.message} for line in batch],
        )
        rejected = response.get("rejectedLogEventsInfo")
        if rejected:
            raise RuntimeError(
                f"PutLogEvents rejected events of {group}/{stream}: {rejected}; "
                "pass a `now` within a few hours of the server's clock"
            )


def put_lambda_metrics(cloudwatch: Any, runs: Sequence[ScraperRun]) -> None:
    """Put the AWS/Lambda metrics that Lambda publishes for each invocation (missed runs have none).

    Only the embedded AWS accepts this, because real PutMetricData rejects namespaces starting with
    "AWS/", which AWS reserves for its own services.
    """
    data = []
    for run in runs:
        if run.outcome is ScraperOutcome.MISSED:
            continue
        dimensions = [{"Name": "FunctionName", "Value": run.function_name}]
        minute = run.started_at.replace(second=0, microsecond=0)
        duration_ms = (run.finished_at - run.started_at) / timedelta(milliseconds=1)
        errors = 1.0 if run.outcome is ScraperOutcome.FAILED else 0.0
        for name, value, unit in (
            ("Invocations", 1.0, "Count"),
            ("Errors", errors, "Count"),
            ("Throttles", 0.0, "Count"),
            ("Duration", round(duration_ms, 2), "Milliseconds"),
        ):
            data.append(
                {"MetricName": name, "Dimensions": dimensions, "Timestamp": minute, "Value": value, "Unit": unit}
            )
    put_metric_items(cloudwatch, "AWS/Lambda", data)


def put_metric_items(cloudwatch: Any, namespace: str, data: Sequence[Mapping[str, Any]]) -> None:
    """Put the metric data items, 1,000 per PutMetricData request (its limit).

    Only the embedded AWS accepts namespaces starting with "AWS/"; real PutMetricData rejects them.
    """
    for first in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=list(data[first : first + 1000]))


def put_schedule_rules(
    events: Any, config: SystemConfig, enabled: Mapping[str, bool], region: str, account: str
) -> dict[str, str]:
    """Create one weekly EventBridge rule per scraper targeting its function; return rule name to state."""
    states = {}
    for source in SOURCES:
        function = config.scraper_functions[source]
        rule = f"{function}-weekly"
        state = "ENABLED" if enabled[source] else "DISABLED"
        events.put_rule(
            Name=rule,
            ScheduleExpression=SCRAPE_SCHEDULE,
            State=state,
            Description=f"Weekly scrape of {source}",
        )
        events.put_targets(
            Rule=rule,
            Targets=[{"Id": "scraper", "Arn": f"arn:aws:lambda:{region}:{account}:function:{function}"}],
        )
        states[rule] = state
    return states


# --- Entry point ------------------------------------------------------------------------------


def _clients() -> dict[str, Any]:
    session = boto3.session.Session()
    settings = Config(retries={"max_attempts": 5, "mode": "standard"}, parameter_validation=False)
    names = ("dynamodb", "logs", "cloudwatch", "events", "sts", "apigateway")
    clients = {name: session.client(name, config=settings) for name in names}
    clients["billing"] = session.client("cloudwatch", region_name=BILLING_REGION, config=settings)
    return clients


def create_monitored_system(
    now: datetime, *, seed: int = 7, items: int = 5000, config: SystemConfig = SystemConfig()
) -> SystemSummary:
    """Create the monitored system in the AWS account that boto3 reaches, as of `now`.

    `now` must be timezone-aware and close to the server's clock, because CloudWatch Logs rejects
    events older than 14 days. Raises RuntimeError if a write is rejected.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(UTC)")
    if items < 100:
        raise ValueError(f"items must be at least 100 so every source has items, got {items}")
    for role, source in (("stale_source", config.stale_source), ("failed_source", config.failed_source)):
        if source not in SOURCES:
            raise ValueError(f"invalid {role} {source!r}: expected one of {', '.join(SOURCES)}")
    missing = [source for source in SOURCES if source not in config.scraper_functions]
    if missing:
        raise ValueError(f"scraper_functions has no function for {', '.join(missing)}")
    now = now.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    aws = _clients()

    planned = plan_scraper_runs(now, rng, config)
    celebrities, runs = generate_items(now, rng, planned, items)
    create_table(aws["dynamodb"], config)
    write_items(aws["dynamodb"], config.table_name, celebrities)
    backup_name = f"{config.table_name}-demo-{now:%Y-%m-%d}"
    backup_arn = aws["dynamodb"].create_backup(TableName=config.table_name, BackupName=backup_name)["BackupDetails"][
        "BackupArn"
    ]

    region = aws["events"].meta.region_name
    account = aws["sts"].get_caller_identity()["Account"]
    access_log_arn = f"arn:aws:logs:{region}:{account}:log-group:{config.access_log_group}"
    api_id = create_rest_api(aws["apigateway"], config, access_log_arn)
    access_log = generate_access_log(now, rng, config.access_log_requests)
    without_retention, with_retention = _create_log_groups(aws["logs"], api_id, config)
    for stream, lines in access_log.streams.items():
        put_log_lines(aws["logs"], config.access_log_group, stream, lines)
    _put_function_logs(aws["logs"], rng, now, config, runs, celebrities)

    all_runs = [run for source in SOURCES for run in runs[source] if now - run.started_at < INGESTION_WINDOW]
    put_lambda_metrics(aws["cloudwatch"], all_runs)
    # A generator of its own leaves every value drawn above unchanged.
    served = serve_requests(parse_access_log(access_log), random.Random(f"service-metrics-{seed}"), config)
    writes = scraper_write_times(celebrities, now - ACCESS_LOG_WINDOW, now)
    for namespace, data in traffic_metrics(served, writes, config).items():
        put_metric_items(aws["cloudwatch"], namespace, data)
    scored = post_processor_lines(celebrities, latest_scheduled_run(now))
    put_metric_items(aws["cloudwatch"], "AWS/Lambda", post_processor_metrics(scored, config))
    put_metric_items(aws["billing"], "AWS/Billing", estimated_charges(now))
    enabled = {source: source != config.stale_source for source in SOURCES}
    rules = put_schedule_rules(aws["events"], config, enabled, region, account)

    return _summarise(
        now, config, celebrities, runs, backup_arn, api_id, access_log, without_retention, with_retention, rules
    )


def _create_log_groups(logs: Any, api_id: str, config: SystemConfig) -> tuple[list[str], dict[str, int]]:
    functions = [
        *config.scraper_functions.values(),
        config.post_processor_function,
        config.list_function,
        config.get_function,
    ]
    # API Gateway names the execution log group of a stage after the REST API id.
    groups: dict[str, int | None] = {f"/aws/lambda/{name}": None for name in functions}
    groups[config.access_log_group] = None
    groups[f"API-Gateway-Execution-Logs_{api_id}/{config.stage}"] = None
    groups.update(config.other_log_groups)
    for name, retention in groups.items():
        create_log_group(logs, name, retention)
    without = [name for name, retention in groups.items() if retention is None]
    with_retention = {name: retention for name, retention in groups.items() if retention is not None}
    return without, with_retention


def _put_function_logs(
    logs: Any,
    rng: random.Random,
    now: datetime,
    config: SystemConfig,
    runs: Mapping[str, Sequence[ScraperRun]],
    celebrities: Sequence[Celebrity],
) -> None:
    """Put each scraper run still inside the ingestion window in its own stream, then the post-processor's."""
    for source in SOURCES:
        for run in runs[source]:
            lines = scraper_log_lines(run)
            if lines and now - run.started_at < INGESTION_WINDOW:
                put_log_lines(logs, f"/aws/lambda/{run.function_name}", lambda_stream_name(rng, run.started_at), lines)
    latest = latest_scheduled_run(now)
    scored = post_processor_lines(celebrities, latest)
    if scored:
        stream = lambda_stream_name(rng, latest)
        put_log_lines(logs, f"/aws/lambda/{config.post_processor_function}", stream, scored)


def _summarise(
    now: datetime,
    config: SystemConfig,
    celebrities: Sequence[Celebrity],
    runs: Mapping[str, Sequence[ScraperRun]],
    backup_arn: str,
    api_id: str,
    access_log: AccessLog,
    without_retention: Sequence[str],
    with_retention: Mapping[str, int],
    rules: Mapping[str, str],
) -> SystemSummary:
    valid = [item for item in celebrities if is_valid_timestamp(item.updated_at)]
    newest: dict[str, str] = {}
    for item in valid:
        stamp = item.updated_at or ""
        if stamp > newest.get(item.source, ""):
            newest[item.source] = stamp
    per_source = Counter(item.source for item in celebrities)
    return SystemSummary(
        now=now,
        table_name=config.table_name,
        index_name=config.index_name,
        item_count=len(celebrities),
        items_per_source={source: per_source[source] for source in SOURCES},
        newest_update_per_source={source: newest[source] for source in SOURCES},
        malformed_item_count=len(celebrities) - len(valid),
        backup_arn=backup_arn,
        rest_api_id=api_id,
        access_log_group=config.access_log_group,
        access_log_streams=tuple(access_log.streams),
        access_log_lines=access_log.line_count,
        malformed_access_log_lines=access_log.malformed_lines,
        burst=access_log.burst,
        near_miss=access_log.near_miss,
        slow_attacker=access_log.slow_attacker,
        log_groups_without_retention=tuple(without_retention),
        log_groups_with_retention=dict(with_retention),
        latest_scheduled_run=latest_scheduled_run(now),
        scraper_outcomes={source: runs[source][0].outcome for source in SOURCES},
        schedule_rules=dict(rules),
        stale_source=config.stale_source,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=7, help="seed of the generator (default 7)")
    parser.add_argument("--items", type=int, default=5000, help="table items to create (default 5000)")
    args = parser.parse_args(argv)
    summary = create_monitored_system(datetime.now(UTC), seed=args.seed, items=args.items)
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
