"""The scan report: its JSON document, the one-line summary, the finding and the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from celebops.access_scan.blocking import BanChange
from celebops.access_scan.detector import AddressFinding, Detection, DetectionRules
from celebops.access_scan.log_reader import ReadResult
from celebops.findings import Finding, Severity, new_finding

RUNBOOK = "docs/runbooks/unauthorized-access.md"
SOURCE = "UnauthorizedAccessScanFunction"
#: Offenders listed in the finding and the one-line summary; the report lists them all.
TOP_IN_FINDING = 10
#: Offenders in the report logged to CloudWatch Logs, whose events are limited to 256 KB.
MAX_OFFENDERS_IN_LOG = 200


class RunStatus(StrEnum):
    OK = "ok"
    #: The page cap or the deadline stopped the paging; counts cover only what was read.
    PARTIAL = "partial"
    ERROR = "error"


@dataclass(frozen=True)
class LineStats:
    read: int
    failures_by_status: dict[int, int]
    other_status: int
    malformed: int
    malformed_samples: tuple[str, ...]
    formats: dict[str, int]


@dataclass(frozen=True)
class ScanReport:
    window_start: datetime
    window_end: datetime
    log_group: str
    log_format: str
    filter_pattern: str
    paging: ReadResult
    lines: LineStats
    detection: Detection
    rules: DetectionRules
    repeat_offenders: frozenset[str]
    history_errors: tuple[str, ...] = ()
    block_mode: str = "report-only"
    ban_changes: tuple[BanChange, ...] = ()
    report_object: str | None = None
    report_object_error: str | None = None

    @property
    def status(self) -> RunStatus:
        if self.paging.stop_reason.value == "error":
            return RunStatus.ERROR
        if not self.paging.complete:
            return RunStatus.PARTIAL
        return RunStatus.OK

    @property
    def count_401(self) -> int:
        return self.lines.failures_by_status.get(401, 0)

    @property
    def night(self) -> str:
        return self.window_end.astimezone(UTC).date().isoformat()

    def summary(self) -> str:
        detection = self.detection
        head = f"{self.count_401} 401s from {detection.distinct_sources} addresses"
        if self.status is not RunStatus.OK:
            head += f" ({self.status.value}: {self.paging.stop_reason.value})"
        if not detection.offenders:
            return f"{head}; no offenders"
        shown = "; ".join(_short(item, item.address in self.repeat_offenders) for item in detection.offenders[:3])
        more = len(detection.offenders) - 3
        tail = f"; and {more} more" if more > 0 else ""
        noun = "offender" if len(detection.offenders) == 1 else "offenders"
        return f"{head}; {len(detection.offenders)} {noun}: {shown}{tail}"

    def to_dict(self, max_offenders: int | None = None) -> dict[str, Any]:
        detection = self.detection
        offenders = detection.offenders if max_offenders is None else detection.offenders[:max_offenders]
        return {
            "summary": self.summary(),
            "status": self.status.value,
            "window": {"start": _iso(self.window_start), "end": _iso(self.window_end)},
            "log_group": self.log_group,
            "format": self.log_format,
            "filter_pattern": self.filter_pattern,
            "paging": {
                "pages": self.paging.pages,
                "events": self.paging.events,
                "stop_reason": self.paging.stop_reason.value,
                "repeated_tokens": self.paging.repeated_tokens,
                "error_code": self.paging.error_code,
            },
            "lines": {
                "read": self.lines.read,
                "failures_by_status": {str(k): v for k, v in sorted(self.lines.failures_by_status.items())},
                "other_status": self.lines.other_status,
                "malformed": self.lines.malformed,
                "malformed_samples": list(self.lines.malformed_samples),
                "formats": self.lines.formats,
            },
            "rules": {
                "max_retry": self.rules.max_retry,
                "find_time_seconds": self.rules.find_time_seconds,
                "daily_ceiling": self.rules.daily_ceiling,
                "path_spread_threshold": self.rules.path_spread_threshold,
                "allowlist": [str(network) for network in self.rules.allowlist.networks],
            },
            "unauthorized_401": self.count_401,
            "distinct_sources": detection.distinct_sources,
            "offender_count": len(detection.offenders),
            "repeat_offender_count": len(self.repeat_offenders),
            "offenders": [self._address(item) for item in offenders],
            "offenders_truncated": len(detection.offenders) - len(offenders),
            "spreaders": [self._address(item) for item in detection.spreaders[:50]],
            "top_sources": [self._address(item) for item in detection.top_sources],
            "non_ip_sources": {"failures": detection.non_ip_failures, "samples": detection.non_ip_samples},
            "allowlisted": {"failures": detection.allowlisted_failures, "sources": detection.allowlisted_sources},
            "history_errors": list(self.history_errors),
            "blocking": {
                "mode": self.block_mode,
                "changes": [
                    {
                        "address": c.address,
                        "outcome": c.outcome.value,
                        "ip_set": c.ip_set_arn,
                        "error_code": c.error_code,
                    }
                    for c in self.ban_changes
                ],
            },
            "report_object": self.report_object,
            "report_object_error": self.report_object_error,
        }

    def _address(self, item: AddressFinding) -> dict[str, Any]:
        return {
            "address": item.address,
            "failures": item.failures,
            "densest_window": {
                "failures": item.densest.count,
                "start": _iso_seconds(item.densest.start),
                "end": _iso_seconds(item.densest.end),
            },
            "first_seen": _iso_seconds(item.first_seen),
            "last_seen": _iso_seconds(item.last_seen),
            "rules": [rule.value for rule in item.rules],
            "repeat_offender": item.address in self.repeat_offenders,
            "distinct_routes": item.distinct_routes,
            "spreads_paths": item.spreads_paths,
            "routes": [{"method": m, "path": p, "failures": n} for m, p, n in item.routes],
            "statuses": {str(k): v for k, v in sorted(item.statuses.items())},
            "spellings": list(item.spellings),
        }

    def finding(self, now: datetime | None = None) -> Finding:
        """Build the warning finding when offenders exist, the info summary otherwise."""
        offenders = self.detection.offenders
        finding_id = f"unauthorized-access-{self.night}"
        if not offenders:
            return new_finding(
                finding_id=finding_id,
                source=SOURCE,
                kind="unauthorized-access.summary",
                severity=Severity.INFO,
                title=f"Unauthorized access: no offenders ({self.count_401} 401s)",
                summary=self.summary(),
                details=self.to_dict(max_offenders=0),
                resource=self.log_group,
                runbook=RUNBOOK,
                dedup_key=finding_id,
                now=now,
            )
        repeats = sum(1 for item in offenders if item.address in self.repeat_offenders)
        repeat_text = f", {repeats} repeat" if repeats else ""
        top = offenders[0]
        lines = [describe_offender(item, item.address in self.repeat_offenders) for item in offenders[:TOP_IN_FINDING]]
        if len(offenders) > TOP_IN_FINDING:
            lines.append(f"and {len(offenders) - TOP_IN_FINDING} more (see the report)")
        details = self.to_dict(max_offenders=TOP_IN_FINDING)
        details.pop("top_sources", None)
        return new_finding(
            finding_id=finding_id,
            source=SOURCE,
            kind="unauthorized-access.offenders",
            severity=Severity.WARNING,
            title=(
                f"Unauthorized access: {len(offenders)} offender{'s' if len(offenders) != 1 else ''}{repeat_text}, "
                f"top {top.address} with {top.densest.count} 401s in {_minutes(top)}"
            ),
            summary="\n".join(lines),
            details=details,
            resource=self.log_group,
            runbook=RUNBOOK,
            dedup_key=finding_id,
            now=now,
        )


def describe_offender(item: AddressFinding, repeat: bool) -> str:
    """Describe one offender on one line: address, densest window, total and why it offends."""
    start = datetime.fromtimestamp(item.densest.start, UTC).strftime("%H:%M:%S")
    end = datetime.fromtimestamp(item.densest.end, UTC).strftime("%H:%M:%S")
    rules = ", ".join(rule.value for rule in item.rules)
    label = " (repeat offender)" if repeat else ""
    return (
        f"{item.address}{label}: {item.densest.count} failures in {_minutes(item)} ({start}-{end} UTC), "
        f"{item.failures} in total on {item.distinct_routes} routes [{rules}]"
    )


def _short(item: AddressFinding, repeat: bool) -> str:
    start = datetime.fromtimestamp(item.densest.start, UTC).strftime("%H:%M")
    end = datetime.fromtimestamp(item.densest.end, UTC).strftime("%H:%M")
    label = " repeat" if repeat else ""
    return f"{item.address}{label} {item.densest.count} in {_minutes(item)} ({start}-{end} UTC), {item.failures} total"


def _minutes(item: AddressFinding) -> str:
    seconds = item.densest.end - item.densest.start
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds / 60:.1f} min"


def add_report_metrics(metrics: Metrics, report: ScanReport) -> None:
    """Add the scan's metrics to the function's buffer (dimension `service` only, as the alarms expect)."""
    metrics.add_metric(name="Unauthorized401Count", unit=MetricUnit.Count, value=report.count_401)
    metrics.add_metric(
        name="UnauthorizedDistinctSources", unit=MetricUnit.Count, value=report.detection.distinct_sources
    )
    metrics.add_metric(name="UnauthorizedOffenders", unit=MetricUnit.Count, value=len(report.detection.offenders))
    metrics.add_metric(name="UnauthorizedRepeatOffenders", unit=MetricUnit.Count, value=len(report.repeat_offenders))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _iso_seconds(seconds: int) -> str:
    return _iso(datetime.fromtimestamp(seconds, UTC))
