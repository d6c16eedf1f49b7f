"""Run `harness.demo` once and record every function invocation it makes (used by `benchmarks.warm`).

`python -m benchmarks.demo_probe --report R.json --probe P.json` runs the demo exactly as
`python -m harness.demo --report R.json` does, and also writes, per invocation: the function,
its wall time, its peak RSS, the bytes of its log lines as CloudWatch Logs bills them, the number
of records in its event, and the identity of every EMF metric it emitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness import demo

# CloudWatch Logs bills each event's UTF-8 message plus 26 bytes of metadata (Logs pricing page, 2025).
LOG_EVENT_OVERHEAD_BYTES = 26


def emf_metrics(lines: list[str]) -> list[dict[str, Any]]:
    """Identity of each metric in the EMF lines: namespace, name and dimension values."""
    found: list[dict[str, Any]] = []
    for line in lines:
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"].get("CloudWatchMetrics", []):
            namespace = directive.get("Namespace", "")
            for dimension_set in directive.get("Dimensions", []) or [[]]:
                dimensions = {name: str(document.get(name, "")) for name in dimension_set}
                for metric in directive.get("Metrics", []):
                    found.append(
                        {
                            "namespace": namespace,
                            "name": metric.get("Name", ""),
                            "dimensions": dimensions,
                            "storage_resolution": int(metric.get("StorageResolution", 60)),
                        }
                    )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the demo and record each function invocation.")
    parser.add_argument("--report", type=Path, required=True, help="the demo's JSON report")
    parser.add_argument("--probe", type=Path, required=True, help="per-invocation records, as JSON")
    args = parser.parse_args(argv)

    records: list[dict[str, Any]] = []
    phase = {"name": "setup"}
    original_invoke = demo.Demo.invoke
    original_run_schedules = demo.run_schedules

    def recording_invoke(self: demo.Demo, logical_id: str, event: Any) -> Any:
        invocation = original_invoke(self, logical_id, event)
        lines = [line for line in invocation.logs if line.strip()]
        records.append(
            {
                "function": logical_id,
                "phase": phase["name"],
                "status": invocation.status,
                "duration_ms": invocation.duration_ms,
                "max_memory_mb": invocation.max_memory_mb,
                "log_events": len(lines),
                "log_bytes": sum(len(line.encode()) + LOG_EVENT_OVERHEAD_BYTES for line in lines),
                "event_records": len(event.get("Records", [])) if isinstance(event, dict) else 0,
                "metrics": emf_metrics(lines),
            }
        )
        return invocation

    def phased_run_schedules(instance: demo.Demo, now: Any) -> None:
        phase["name"] = "schedules"
        try:
            original_run_schedules(instance, now)
        finally:
            phase["name"] = "scenarios"

    demo.Demo.invoke = recording_invoke  # type: ignore[method-assign]
    demo.run_schedules = phased_run_schedules
    error = None
    try:
        code = demo.run(args.report)
    except Exception as exc:  # the demo's own failure is reported, and the probe keeps what it recorded
        code, error = 1, f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        demo.Demo.invoke = original_invoke  # type: ignore[method-assign]
        demo.run_schedules = original_run_schedules
    args.probe.parent.mkdir(parents=True, exist_ok=True)
    args.probe.write_text(json.dumps({"exit_code": code, "error": error, "invocations": records}, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(main())
