"""The suite's finding schema: one JSON document every job publishes to the alert topics.

A finding is what a job concludes (a report, an offender list, a failed restore test). The alert
router recognises it by `schema` and `version`, so a change of shape bumps `version` and the
router keeps reading the old one. Example (version 1)::

    {"schema": "celebrity-database-ops/finding", "version": 1,
     "finding_id": "log-retention-2026-12-04", "source": "LogRetentionFunction",
     "kind": "log-retention.report", "severity": "info",
     "title": "Log retention: 3 log groups changed", "summary": "...",
     "created_at": "2026-12-04T03:00:00+00:00", "details": {...},
     "resource": "arn:...", "runbook": "docs/runbooks/suite-health.md", "dedup_key": null}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SCHEMA = "celebrity-database-ops/finding"
VERSION = 1

# SNS rejects a message over 256 KiB; a finding stays well below so the envelope fits too.
MAX_FINDING_BYTES = 200 * 1024


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class FindingError(ValueError):
    """A document claims to be a finding but breaks the schema; the message names the field."""


@dataclass(frozen=True)
class Finding:
    finding_id: str
    source: str
    kind: str
    severity: Severity
    title: str
    summary: str
    created_at: str
    details: dict[str, Any] = field(default_factory=dict)
    resource: str | None = None
    runbook: str | None = None
    dedup_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["severity"] = self.severity.value
        return {"schema": SCHEMA, "version": VERSION, **body}

    def to_json(self) -> str:
        text = json.dumps(self.to_dict(), ensure_ascii=False, default=str, sort_keys=True)
        if len(text.encode()) > MAX_FINDING_BYTES:
            raise FindingError(f"finding {self.finding_id} is {len(text.encode())} bytes, above {MAX_FINDING_BYTES}")
        return text


def new_finding(
    *,
    finding_id: str,
    source: str,
    kind: str,
    severity: Severity,
    title: str,
    summary: str,
    details: dict[str, Any] | None = None,
    resource: str | None = None,
    runbook: str | None = None,
    dedup_key: str | None = None,
    now: datetime | None = None,
) -> Finding:
    """Build a finding stamped with the current UTC time (or `now`, for tests)."""
    moment = now or datetime.now(UTC)
    return Finding(
        finding_id=finding_id,
        source=source,
        kind=kind,
        severity=severity,
        title=title,
        summary=summary,
        created_at=moment.astimezone(UTC).isoformat(),
        details=details or {},
        resource=resource,
        runbook=runbook,
        dedup_key=dedup_key,
    )


def is_finding(document: Any) -> bool:
    """Tell whether a decoded JSON document claims to be a finding (of any version)."""
    return isinstance(document, dict) and document.get("schema") == SCHEMA


def parse_finding(document: dict[str, Any]) -> Finding:
    """Validate a decoded finding and return it; raise FindingError naming the bad field."""
    version = document.get("version")
    if version != VERSION:
        raise FindingError(f"unsupported finding version {version!r}; this router reads version {VERSION}")

    def text(name: str, required: bool = True) -> str | None:
        value = document.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise FindingError(f"finding field {name!r} must be a non-empty string, got {value!r}")
        return value

    raw_severity = text("severity") or ""
    try:
        severity = Severity(raw_severity)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise FindingError(f"finding severity {raw_severity!r} is not one of {allowed}") from None

    details = document.get("details", {})
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise FindingError(f"finding field 'details' must be an object, got {type(details).__name__}")

    return Finding(
        finding_id=text("finding_id") or "",
        source=text("source") or "",
        kind=text("kind") or "",
        severity=severity,
        title=text("title") or "",
        summary=text("summary") or "",
        created_at=text("created_at") or "",
        details=details,
        resource=text("resource", required=False),
        runbook=text("runbook", required=False),
        dedup_key=text("dedup_key", required=False),
    )
