"""Benchmark of the unauthorized-access scan's parser and detector against the operators' shell pipeline.

Both read the same 1,000,000-line production-format access log under `.local/bench/`:

* shell: `grep ' 401$' | awk '{print $2}' | sort | uniq -c | sort -rn`, which counts 401s per address
  as logged (no windows, no canonical addresses). Its five processes run at the same time.
* Python: `celebops.access_scan.file_scan.scan_file`, which keeps the lines ending in ` 401` (the test
  grep and the FilterLogEvents pattern apply), parses them and feeds the `Detector`, which also finds
  each address's densest 10-minute window. It runs with one process per available CPU, forked inside
  the timed call, and with one process for comparison.

The sides alternate, 3 runs each, and the medians are reported with lines per second over the whole
file. Each Python run is a fresh interpreter, so no cache of an earlier run helps it. Its time is
taken around the `scan_file` call, forks included. The process's wall time with interpreter start
and imports is listed too. Both sides run under GNU time (`/usr/bin/time -f %M`), whose figure is
the peak resident set size of the largest process: bash or a pipeline stage, or the interpreter or
one of its workers. A bare interpreter's figure is given for comparison, and the tracemalloc peak
of one single-process scan gives the Python heap alone.

The run checks its results and raises RuntimeError on a mismatch: the line count equals
`grep -c ' 401$'`, the distinct addresses equal the pipeline's output lines (each address in this
file has one spelling), the burst address is an offender with 60 failures in its window, and the
parallel Detection equals the single-process one.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from celebops.access_scan.detector import DetectionRules  # noqa: E402
from celebops.access_scan.file_scan import scan_file  # noqa: E402

LINES = 1_000_000
RUNS = 3
LOG_FILE = ROOT / ".local" / "bench" / "access-1m.log"
PIPELINE = "grep ' 401$' {path} | awk '{{print $2}}' | sort | uniq -c | sort -rn"
GREP_COUNT = "grep -c ' 401$' {path}"
SHELL_ENV = {"LC_ALL": "C", "PATH": "/usr/bin:/bin"}
GNU_TIME = "/usr/bin/time"
BURST_ADDRESS = "203.0.113.66"
BURST_FAILURES = 60
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# One timed Python run in a fresh interpreter: it prints the scan's seconds and a summary as JSON.
_SCAN_SCRIPT = """
import dataclasses, hashlib, json, sys, time
sys.path.insert(0, {layer!r})
from pathlib import Path
from celebops.access_scan.detector import DetectionRules
from celebops.access_scan.file_scan import scan_file

if {workers} > 0:
    began = time.perf_counter()
    result = scan_file(Path({path!r}), DetectionRules(), workers={workers})
    seconds = time.perf_counter() - began
    detection = result.detection
    burst = [item for item in detection.offenders if item.address == {burst!r}]
    canonical = json.dumps(dataclasses.asdict(detection), sort_keys=True, default=str)
    print(json.dumps({{
        "seconds": seconds,
        "workers": result.workers,
        "matched_lines": result.matched_lines,
        "malformed_lines": result.malformed_lines,
        "failures": detection.failures,
        "distinct_sources": detection.distinct_sources,
        "offenders": len(detection.offenders),
        "burst": [burst[0].failures, burst[0].densest.count, burst[0].densest.end - burst[0].densest.start]
        if burst else None,
        "detection_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
    }}))
"""


def _request_time(moment: datetime) -> str:
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def generate_log(path: Path = LOG_FILE, lines: int = LINES, seed: int = 6) -> Path:
    """Write `lines` production-format lines over 24 hours (about 2% 401s, plus a 60-in-8-minutes burst)."""
    if path.exists():
        with path.open("rb") as existing:
            if sum(1 for _ in existing) == lines:
                return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # noqa: S311 - synthetic traffic, not security
    start = datetime(2026, 12, 3, 2, 30, tzinfo=UTC)
    clients = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(4000)] + [f"2001:db8::{i:x}" for i in range(1000)]
    routes = ('"GET /celebrities"', '"GET /celebrities/{id}"', '"POST /celebrities"', '"PUT /celebrities/{id}"')
    burst_at = {int(LINES * 0.6) + i * 40: i for i in range(60)}
    step = 86_400 / lines
    with path.open("w") as out:
        for index in range(lines):
            moment = start + timedelta(seconds=index * step)
            if index in burst_at:
                address, status = "203.0.113.66", 401
            else:
                address = rng.choice(clients)
                status = 401 if rng.random() < 0.02 else rng.choice((200, 200, 200, 304, 404))
            out.write(f"{rng.getrandbits(64):016x} {address} {_request_time(moment)} {rng.choice(routes)} {status}\n")
    return path


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str, int | None]:
    """Run a command under GNU time and return its wall seconds, its output and its peak RSS in KiB.

    The peak is GNU time's %M, the ru_maxrss that wait4 reports for the command and every process
    it waited for, so it is that of the largest process. A small launcher is needed because on
    Linux the peak RSS reported for a child started by this process includes this process's own:
    exec records the peak of the memory it replaces. Without GNU time the peak is None.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as report:
        timed = [GNU_TIME, "-f", "%M", "-o", report.name, *command] if Path(GNU_TIME).exists() else command
        began = time.perf_counter()
        # The commands are this module's constants with a path it generated; bash is looked up on PATH on purpose.
        completed = subprocess.run(timed, capture_output=True, text=True, check=True, env=env)  # noqa: S603
        elapsed = time.perf_counter() - began
        peak = report.read().split()
    return elapsed, completed.stdout, int(peak[-1]) if peak else None


def _run_shell(command: str) -> tuple[float, str, int | None]:
    return _measure(["bash", "-c", command], env=SHELL_ENV)


def _run_python(path: Path, workers: int) -> tuple[float, dict[str, Any], int | None]:
    """Scan the file in a fresh interpreter and return its wall seconds, its summary and its peak RSS."""
    script = _SCAN_SCRIPT.format(
        layer=str(ROOT / "layers" / "shared"), path=str(path), workers=workers, burst=BURST_ADDRESS
    )
    elapsed, output, peak = _measure([sys.executable, "-c", script])
    return elapsed, json.loads(output) if output.strip() else {}, peak


def _check(parallel: dict[str, Any], serial: dict[str, Any], grep_count: int, shell_output: str) -> list[str]:
    """Return the failed checks of the Python summaries against grep, the pipeline and each other."""
    shell_lines = shell_output.splitlines()
    top_line = shell_lines[0].split() if shell_lines else []
    failed = []
    if parallel["matched_lines"] != grep_count:
        failed.append(f"matched lines {parallel['matched_lines']} != grep -c {grep_count}")
    if parallel["failures"] != grep_count:
        failed.append(f"failures {parallel['failures']} != grep -c {grep_count}")
    if parallel["distinct_sources"] != len(shell_lines):
        failed.append(f"distinct sources {parallel['distinct_sources']} != pipeline lines {len(shell_lines)}")
    if parallel["burst"] is None or parallel["burst"][:2] != [BURST_FAILURES, BURST_FAILURES]:
        failed.append(f"burst address {BURST_ADDRESS} not found with {BURST_FAILURES} failures in its window")
    if top_line != [str(BURST_FAILURES), BURST_ADDRESS]:
        failed.append(f"pipeline's top line is {top_line}")
    if parallel["detection_sha256"] != serial["detection_sha256"]:
        failed.append("the parallel Detection differs from the single-process one")
    return failed


def _largest(peaks: list[int | None]) -> int | None:
    known = [peak for peak in peaks if peak is not None]
    return max(known) if known else None


def run() -> dict[str, Any]:
    """Generate (or reuse) the log file, time both sides alternately, check the results, return the figures."""
    path = generate_log()
    size = path.stat().st_size
    workers = _cpu_count()
    _elapsed, grep_output, _peak = _run_shell(GREP_COUNT.format(path=path))
    grep_count = int(grep_output)

    shell_times: list[float] = []
    shell_peaks: list[int | None] = []
    runs: dict[int, list[tuple[float, dict[str, Any], int | None]]] = {workers: [], 1: []}
    shell_output = ""
    for _ in range(RUNS):
        elapsed, shell_output, peak = _run_shell(PIPELINE.format(path=path))
        shell_times.append(elapsed)
        shell_peaks.append(peak)
        for count in runs:
            runs[count].append(_run_python(path, count))

    parallel = runs[workers][-1][1]
    serial = runs[1][-1][1]
    failed = _check(parallel, serial, grep_count, shell_output)
    if failed:
        raise RuntimeError("access-scan benchmark results are wrong: " + "; ".join(failed))

    tracemalloc.start()
    scan_file(path, DetectionRules(), workers=1)
    _current, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _elapsed, _output, bare_peak = _run_python(path, 0)

    shell_median = statistics.median(shell_times)
    python: dict[str, Any] = {}
    for count, results in runs.items():
        seconds = [summary["seconds"] for _wall, summary, _peak in results]
        median = statistics.median(seconds)
        label = "parallel" if count == workers else "single_process"
        python[label] = {
            "workers": results[-1][1]["workers"],
            "median_seconds": round(median, 3),
            "seconds": [round(value, 3) for value in seconds],
            "lines_per_second": round(LINES / median),
            "vs_shell_throughput": round(shell_median / median, 2),
            "process_wall_seconds_with_startup": [round(wall, 3) for wall, _summary, _peak in results],
            "peak_rss_kib_largest_process": _largest([peak for _wall, _summary, peak in results]),
        }
    python["bare_interpreter_peak_rss_kib"] = bare_peak
    python["single_process_tracemalloc_peak_kib"] = heap_peak // 1024
    python["failures"] = parallel["failures"]
    python["distinct_sources"] = parallel["distinct_sources"]
    python["offenders"] = parallel["offenders"]
    python["burst_window"] = {"failures": parallel["burst"][1], "seconds": parallel["burst"][2]}
    return {
        "lines": LINES,
        "file_bytes": size,
        "runs": RUNS,
        "lines_ending_401": grep_count,
        "shell": {
            "command": PIPELINE.format(path="FILE"),
            "median_seconds": round(shell_median, 3),
            "seconds": [round(value, 3) for value in shell_times],
            "lines_per_second": round(LINES / shell_median),
            "peak_rss_kib_largest_process": _largest(shell_peaks),
            "output_lines": len(shell_output.splitlines()),
            "top_line": " ".join(shell_output.split("\n", 1)[0].split()),
        },
        "python": python,
        "python_vs_shell_throughput": python["parallel"]["vs_shell_throughput"],
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
