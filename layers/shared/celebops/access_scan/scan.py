"""Run one scan: read the access log, detect offenders, update the history, block, and build the report."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from celebops.access_scan import history
from celebops.access_scan.blocking import BanChange, BanOutcome, change_bans
from celebops.access_scan.detector import Detector
from celebops.access_scan.log_reader import ReadLimits, read_log_events
from celebops.access_scan.parse import AccessRecord, FormatSetting, LogFormat, detect_format, parse_line
from celebops.access_scan.report import MAX_OFFENDERS_IN_LOG, LineStats, ScanReport
from celebops.access_scan.settings import BlockMode, ScanConfig, filter_pattern

logger = Logger(child=True)

MAX_MALFORMED_SAMPLES = 5
MAX_SAMPLE_LENGTH = 300


@dataclass(frozen=True)
class ScanClients:
    logs: Any
    dynamodb: Any
    s3: Any | None = None
    wafv2: Any | None = None


class LineSink:
    """Parse each message and feed failures to the detector; keep counts and a few malformed samples."""

    def __init__(self, detector: Detector, log_format: FormatSetting) -> None:
        self.detector = detector
        self.log_format = log_format
        self.read = 0
        self.failures_by_status: Counter[int] = Counter()
        self.other_status = 0
        self.malformed = 0
        self.malformed_samples: list[str] = []
        self.formats: Counter[str] = Counter()

    def __call__(self, message: str) -> None:
        self.read += 1
        chosen: LogFormat | FormatSetting = self.log_format
        if self.log_format is FormatSetting.AUTO:
            detected = detect_format(message)
            if detected is not None:
                chosen = detected
                self.formats[detected.value] += 1
        outcome = parse_line(message, chosen)
        if not isinstance(outcome, AccessRecord):
            self.malformed += 1
            if len(self.malformed_samples) < MAX_MALFORMED_SAMPLES:
                self.malformed_samples.append(f"{outcome.reason}: {message[:MAX_SAMPLE_LENGTH]}")
            return
        if self.detector.add(outcome):
            self.failures_by_status[outcome.status] += 1
        else:
            self.other_status += 1

    def stats(self) -> LineStats:
        return LineStats(
            read=self.read,
            failures_by_status=dict(self.failures_by_status),
            other_status=self.other_status,
            malformed=self.malformed,
            malformed_samples=tuple(self.malformed_samples),
            formats=dict(self.formats),
        )


def scan_window(end: datetime, hours: int) -> tuple[datetime, datetime]:
    """Return the scan window ending at `end`, cut to whole seconds."""
    end = end.astimezone(UTC).replace(microsecond=0)
    return end - timedelta(hours=hours), end


def run_scan(
    config: ScanConfig, clients: ScanClients, window_end: datetime, limits: ReadLimits, now: datetime
) -> ScanReport:
    """Scan the access log for the window ending at `window_end` and act on the offenders."""
    start, end = scan_window(window_end, config.window_hours)
    pattern = filter_pattern(config.log_format, config.failure_statuses)
    detector = Detector(config.rules, config.failure_statuses)
    sink = LineSink(detector, config.log_format)
    request = {
        "logGroupName": config.log_group,
        "startTime": int(start.timestamp() * 1000),
        # endTime is inclusive in FilterLogEvents, so the next night's window never repeats this millisecond.
        "endTime": int(end.timestamp() * 1000) - 1,
        "filterPattern": pattern,
    }
    paging = read_log_events(clients.logs, request, sink, limits)
    detection = detector.finish()

    offenders = [item.address for item in detection.offenders]
    night = end.date().isoformat()
    repeat_offenders, history_errors = _update_history(config, clients.dynamodb, offenders, night, now)

    ban_changes: tuple[BanChange, ...] = ()
    if config.block_mode is BlockMode.BLOCK and clients.wafv2 is not None:
        ban_changes = _apply_bans(config, clients, offenders, repeat_offenders, now)

    report = ScanReport(
        window_start=start,
        window_end=end,
        log_group=config.log_group,
        log_format=config.log_format.value,
        filter_pattern=pattern,
        paging=paging,
        lines=sink.stats(),
        detection=detection,
        rules=config.rules,
        repeat_offenders=frozenset(repeat_offenders),
        history_errors=tuple(history_errors),
        block_mode=config.block_mode.value,
        ban_changes=ban_changes,
    )
    if config.report_bucket and clients.s3 is not None:
        report = _store_report(clients.s3, config.report_bucket, report)
    logger.info("unauthorized access report", extra={"report": report.to_dict(max_offenders=MAX_OFFENDERS_IN_LOG)})
    return report


def _update_history(
    config: ScanConfig, dynamodb: Any, offenders: list[str], night: str, now: datetime
) -> tuple[set[str], list[str]]:
    """Mark offenders flagged on an earlier night within the history period, and record tonight."""
    errors: list[str] = []
    if not offenders:
        return set(), errors
    oldest = (now - timedelta(days=config.history_days)).date().isoformat()
    repeats: set[str] = set()
    try:
        known = history.load_history(dynamodb, config.history_table, offenders)
    except history.HistoryError as exc:
        logger.exception("offender history read failed", extra={"table": config.history_table})
        errors.append(str(exc))
        known = {}
    for address, record in known.items():
        # TTL deletes expired items up to a few days late, so the history period is checked here too.
        if record.flagged_before(night, oldest):
            repeats.add(address)

    expires_at = int((now + timedelta(days=config.history_days)).timestamp())
    for address in offenders:
        try:
            history.record_night(dynamodb, config.history_table, address, night, expires_at)
        except history.HistoryError as exc:
            logger.exception("offender history write failed", extra={"address": address})
            errors.append(str(exc))
    return repeats, errors


def _apply_bans(
    config: ScanConfig, clients: ScanClients, offenders: list[str], repeats: set[str], now: datetime
) -> tuple[BanChange, ...]:
    """Unblock bans that ended, block new offenders, and record both in the history."""
    now_seconds = int(now.timestamp())
    try:
        bans = history.list_bans(clients.dynamodb, config.history_table)
    except history.HistoryError as exc:
        logger.exception("ban list read failed", extra={"table": config.history_table})
        return tuple(BanChange(address, BanOutcome.FAILED, error_code=str(exc)) for address in offenders)
    active = {ban.address for ban in bans if ban.banned_until is not None and ban.banned_until > now_seconds}
    expired = {ban.address for ban in bans if ban.address not in active} - set(offenders)
    block = set(offenders)

    changes = change_bans(clients.wafv2, config.ip_sets, block, expired, already=active)
    for change in changes:
        try:
            if change.outcome is BanOutcome.UNBLOCKED:
                history.clear_ban(clients.dynamodb, config.history_table, change.address)
            elif change.outcome in (BanOutcome.BLOCKED, BanOutcome.ALREADY_BLOCKED) and change.ip_set_arn:
                hours = config.recidive_ban_hours if change.address in repeats else config.ban_hours
                until = now_seconds + hours * 3600
                expires = max(until, int((now + timedelta(days=config.history_days)).timestamp()))
                history.set_ban(
                    clients.dynamodb, config.history_table, change.address, until, change.ip_set_arn, expires
                )
        except history.HistoryError:
            logger.exception("ban record write failed", extra={"address": change.address})
    for change in changes:
        logger.info("ban changed", extra={"address": change.address, "outcome": change.outcome.value})
    return tuple(changes)


def _store_report(s3: Any, bucket: str, report: ScanReport) -> ScanReport:
    key = f"unauthorized-access/{report.window_end:%Y/%m/%d}/report-{report.window_end:%Y%m%dT%H%M%SZ}.json"
    location = f"s3://{bucket}/{key}"
    stored = replace(report, report_object=location)
    body = json.dumps(stored.to_dict(), ensure_ascii=False, indent=1).encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except (ClientError, BotoCoreError) as exc:
        logger.exception("report upload failed", extra={"bucket": bucket, "key": key})
        return replace(report, report_object_error=type(exc).__name__ if isinstance(exc, BotoCoreError) else str(exc))
    return stored
