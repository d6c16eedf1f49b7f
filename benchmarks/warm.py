"""Per-job handling time, peak memory, log bytes and metrics from repeated runs of the demo.

Each run is `python -m benchmarks.demo_probe` (the demo plus a record of each invocation) in its
own process. Figures are medians over the runs. An invocation's time is the wall time of the
isolated handler process that `harness.invoke` starts: interpreter start, handler import and the
handler's work against the moto server on 127.0.0.1, so it is a cold invocation with no network
latency. Peak memory is the process's maximum RSS, as Lambda's "Max Memory Used".
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_RUNS = 3
DEMO_TIMEOUT_S = 300
MEMORY_SIZES_MB = (128, 256, 512, 1024)
MEMORY_HEADROOM = 2.0


@dataclass
class FunctionWarm:
    function: str
    invocations_per_run: float
    duration_ms: float  # median over every invocation of every run
    max_memory_mb: float  # median over runs of the run's highest peak
    log_bytes_per_invocation: float
    records_per_invocation: float
    statuses: dict[str, int] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # distinct EMF metric identities

    @property
    def recommended_memory_mb(self) -> int | None:
        return recommend_memory(self.max_memory_mb)


@dataclass
class WarmResult:
    runs: int
    failed_runs: list[str]
    functions: dict[str, FunctionWarm]
    demo_seconds: list[float]


def recommend_memory(
    peak_mb: float, sizes: tuple[int, ...] = MEMORY_SIZES_MB, headroom: float = MEMORY_HEADROOM
) -> int | None:
    """Return the smallest size with `headroom` times the peak, or None when none of `sizes` has it."""
    for size in sizes:
        if size >= peak_mb * headroom:
            return size
    return None


def _run_probe(scratch: Path, index: int) -> tuple[dict[str, Any] | None, str | None, float]:
    report, probe = scratch / f"demo-{index}.json", scratch / f"probe-{index}.json"
    command = [sys.executable, "-m", "benchmarks.demo_probe", "--report", str(report), "--probe", str(probe)]
    started = time.monotonic()
    try:
        completed = subprocess.run(  # noqa: S603 - fixed interpreter and module
            command, cwd=ROOT, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"run {index + 1} timed out after {DEMO_TIMEOUT_S} s", time.monotonic() - started
    seconds = time.monotonic() - started
    if not probe.exists():
        return None, f"run {index + 1} exited {completed.returncode}: {completed.stderr.strip()[-300:]}", seconds
    data = json.loads(probe.read_text())
    problem = None
    if data.get("exit_code"):
        problem = f"run {index + 1}: demo exited {data['exit_code']}" + (
            f" ({data['error']})" if data.get("error") else ""
        )
    return data, problem, seconds


def aggregate(probes: list[dict[str, Any]]) -> dict[str, FunctionWarm]:
    """Combine the invocation records of several demo runs into per-function medians."""
    names = sorted({r["function"] for probe in probes for r in probe["invocations"]})
    result: dict[str, FunctionWarm] = {}
    for name in names:
        per_run = [[r for r in probe["invocations"] if r["function"] == name] for probe in probes]
        every = [r for run in per_run for r in run]
        peaks = [max(r["max_memory_mb"] or 0.0 for r in run) for run in per_run if run]
        statuses: dict[str, int] = {}
        for r in every:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        identities: dict[str, dict[str, Any]] = {}
        for r in every:
            for metric in r["metrics"]:
                identities[json.dumps(metric, sort_keys=True)] = metric
        result[name] = FunctionWarm(
            function=name,
            invocations_per_run=statistics.median(len(run) for run in per_run),
            duration_ms=statistics.median(r["duration_ms"] for r in every),
            max_memory_mb=statistics.median(peaks),
            log_bytes_per_invocation=statistics.median(r["log_bytes"] for r in every),
            records_per_invocation=statistics.median(r["event_records"] for r in every),
            statuses=statuses,
            metrics=list(identities.values()),
        )
    return result


def measure(runs: int = DEMO_RUNS) -> WarmResult:
    probes: list[dict[str, Any]] = []
    failures: list[str] = []
    seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
        for index in range(runs):
            data, problem, elapsed = _run_probe(Path(scratch), index)
            seconds.append(elapsed)
            if problem:
                failures.append(problem)
            if data and data["invocations"]:
                probes.append(data)
    return WarmResult(runs=len(probes), failed_runs=failures, functions=aggregate(probes), demo_seconds=seconds)
