"""The restore test's report: one outcome per restore type, the finding, and the last-success record."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from celebops.findings import Finding, Severity, new_finding
from celebops.restore.config import RestoreTestConfig
from celebops.restore.steps import error_code
from celebops.restore.times import parse_iso, to_iso

RUNBOOK = "docs/runbooks/restore.md#reading-the-restore-test-report"

#: Steps in the order the state machine runs them; a Catch stores a step's error under `<step>_error`.
STEPS = ("start_restore", "check_status", "verify")

#: Emits one metric datapoint: (name, unit, value, dimensions).
MetricEmitter = Callable[[str, str, float, Mapping[str, str]], None]


@dataclass(frozen=True)
class TypeOutcome:
    restore_type: str
    passed: bool
    failed_step: str | None
    reason: str
    table_name: str | None
    cleanup: str
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    items_counted: int | None = None
    sample: dict[str, Any] = field(default_factory=dict)
    settings_to_reapply: list[str] = field(default_factory=list)


def _error_text(error: Mapping[str, Any]) -> str:
    cause = str(error.get("Cause", ""))
    try:
        decoded = json.loads(cause)
    except json.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict) and "errorMessage" in decoded:
        cause = str(decoded["errorMessage"])
    return f"{error.get('Error', 'unknown error')}: {cause}".strip().rstrip(":")


def outcome_of(state: Mapping[str, Any]) -> TypeOutcome:
    """Read one restore type's final state (the Map iteration's output) into an outcome."""
    restore_type = str(state.get("restore_type", "unknown"))
    restore = state.get("restore") or {}
    verification = state.get("verification") or {}
    if "cleanup_error" in state:
        cleanup = "failed: " + _error_text(state["cleanup_error"])
    else:
        cleanup = str((state.get("cleanup") or {}).get("outcome", "not run"))
    failed_step, reason = None, "restored and verified"
    for step in STEPS:
        if f"{step}_error" in state:
            failed_step, reason = step, _error_text(state[f"{step}_error"])
            break
    else:
        if not verification.get("passed"):
            failed_step, reason = "verify", "; ".join(verification.get("problems", [])) or "verification did not run"
        elif cleanup.startswith("failed"):
            failed_step, reason = "cleanup", cleanup
    counts = verification.get("counts") or {}
    return TypeOutcome(
        restore_type=restore_type,
        passed=failed_step is None,
        failed_step=failed_step,
        reason=reason,
        table_name=restore.get("table_name"),
        cleanup=cleanup,
        rto_seconds=verification.get("rto_seconds"),
        rpo_seconds=verification.get("rpo_seconds"),
        items_counted=counts.get("restored"),
        sample=verification.get("sample") or {},
        settings_to_reapply=verification.get("settings_to_reapply") or [],
    )


def load_last_success(ssm: Any, name: str) -> dict[str, str]:
    """Return {restore type: ISO time of its last successful test}; empty before the first success."""
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return {}
        raise
    loaded = json.loads(value)
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def save_last_success(ssm: Any, name: str, record: Mapping[str, str]) -> None:
    ssm.put_parameter(Name=name, Value=json.dumps(dict(record), sort_keys=True), Type="String", Overwrite=True)


def days_since_success(record: Mapping[str, str], types: Sequence[str], now: datetime) -> float | None:
    """Return the days since the oldest of the types' last successes; None when one never succeeded."""
    ages = []
    for restore_type in types:
        if restore_type not in record:
            return None
        ages.append((now - parse_iso(record[restore_type], restore_type)).total_seconds() / 86400)
    return round(max(ages), 3) if ages else None


def _figures(outcome: TypeOutcome) -> str:
    parts = [f"{outcome.restore_type}: {'passed' if outcome.passed else 'FAILED at ' + str(outcome.failed_step)}"]
    if outcome.rto_seconds is not None:
        parts.append(f"RTO {outcome.rto_seconds:.0f} s")
    if outcome.rpo_seconds is not None:
        parts.append(f"RPO {outcome.rpo_seconds:.0f} s")
    if outcome.items_counted is not None:
        parts.append(f"{outcome.items_counted} items")
    if outcome.sample:
        parts.append(f"sample {outcome.sample.get('matched', 0)}/{outcome.sample.get('compared', 0)} equal")
    parts.append(f"scratch table {outcome.cleanup}")
    return ", ".join(parts)


def build_report(
    config: RestoreTestConfig,
    run_id: str,
    states: Sequence[Mapping[str, Any]],
    record: Mapping[str, str],
    now: datetime,
) -> tuple[dict[str, Any], Finding, dict[str, str]]:
    """Return the report, its finding and the updated last-success record."""
    outcomes = [outcome_of(state) for state in states]
    updated = dict(record) | {o.restore_type: to_iso(now) for o in outcomes if o.passed}
    passed = bool(outcomes) and all(o.passed for o in outcomes)
    days = days_since_success(updated, [t.value for t in config.restore_types], now)
    overdue = days is None or days > config.critical_after_days
    if passed:
        severity = Severity.INFO
    elif overdue:
        severity = Severity.CRITICAL
    else:
        severity = Severity.WARNING
    summary = "; ".join(_figures(o) for o in outcomes) or "no restore type ran"
    failures = [o for o in outcomes if not o.passed]
    if passed:
        title = f"Restore test passed for {config.source_table}"
    else:
        title = f"Restore test failed for {config.source_table} at {failures[0].failed_step if failures else 'plan'}"
    text = summary
    for failure in failures:
        text += f". {failure.restore_type} failed at {failure.failed_step}: {failure.reason}"
    if not passed and overdue:
        since = "never" if days is None else f"{days:.0f} days ago"
        text += f". Last successful restore test: {since} (more than {config.critical_after_days} days allows)"
    report = {
        "run_id": run_id,
        "passed": passed,
        "severity": severity.value,
        "summary": summary,
        "days_since_success": days,
        "outcomes": [asdict(o) for o in outcomes],
    }
    finding = new_finding(
        finding_id=f"restore-test-{config.source_table}-{run_id}",
        source="RestoreTestStateMachine",
        kind="restore-test.report",
        severity=severity,
        title=title,
        summary=text,
        details=report,
        resource=config.source_table,
        runbook=RUNBOOK,
        now=now,
    )
    return report, finding, updated


def emit_report_metrics(emit: MetricEmitter, config: RestoreTestConfig, report: Mapping[str, Any]) -> None:
    """Emit RestoreTestSuccess, RestoreDurationSeconds and RestoreItemsVerified per RestoreType."""
    for outcome in report["outcomes"]:
        dimensions = {"RestoreType": outcome["restore_type"]}
        emit("RestoreTestSuccess", "Count", 1.0 if outcome["passed"] else 0.0, dimensions)
        if outcome["rto_seconds"] is not None:
            emit("RestoreDurationSeconds", "Seconds", float(outcome["rto_seconds"]), dimensions)
        if outcome["items_counted"] is not None:
            emit("RestoreItemsVerified", "Count", float(outcome["items_counted"]), dimensions)
    emit_days_since_success(emit, config, report["days_since_success"])


def emit_days_since_success(emit: MetricEmitter, config: RestoreTestConfig, days: float | None) -> None:
    # Nothing is emitted before the first success: the alarm treats missing data as breaching.
    if days is not None:
        emit("DaysSinceRestoreTestSuccess", "Count", days, {"TableName": config.source_table})
