"""Benchmark of the unauthorized-access scan's parser and detector against the operators' shell pipeline.

Both read the same 1,000,000-line production-format access log under `.local/bench/`:

* shell: `grep ' 401$' | awk '{print $2}' | sort | uniq -c | sort -rn`, which counts 401s per address
  as logged (no windows, no canonical addresses);
* Python: the same ` 401` line-end filter FilterLogEvents applies server-side, then `parse_line` and the
  `Detector` on every matching line, which also computes each address's densest 10-minute window.

Each side runs 3 times and the median is reported, with lines per second over the whole file. Peak
memory is `ru_maxrss` of the largest pipeline process (getrusage of children) and the tracemalloc peak
of one extra Python run (tracemalloc slows Python, so that run is not timed).
"""

from __future__ import annotations

import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from celebops.access_scan.detector import Detection, DetectionRules, Detector  # noqa: E402
from celebops.access_scan.parse import AccessRecord, LogFormat, parse_line  # noqa: E402

LINES = 1_000_000
RUNS = 3
LOG_FILE = ROOT / ".local" / "bench" / "access-1m.log"
PIPELINE = "grep ' 401$' {path} | awk '{{print $2}}' | sort | uniq -c | sort -rn"
CHUNK_BYTES = 8 * 1024 * 1024
NEEDLE = b" 401\n"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _request_time(moment: datetime) -> str:
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def generate_log(path: Path = LOG_FILE, lines: int = LINES, seed: int = 6) -> Path:
    """Write `lines` production-format lines over 24 hours (about 2% 401s, plus a 60-in-8-minutes burst)."""
    if path.exists() and sum(1 for _ in path.open("rb")) == lines:
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


def scan_file(path: Path) -> Detection:
    """Filter ` 401` line ends as FilterLogEvents would, parse each match and detect offenders."""
    detector = Detector(DetectionRules())
    tail = b""
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            _scan_chunk(data[:cut], detector)
    _scan_chunk(tail + b"\n" if tail else b"", detector)
    return detector.finish()


def _scan_chunk(data: bytes, detector: Detector) -> None:
    position = data.find(NEEDLE)
    while position >= 0:
        end = position + len(NEEDLE)
        start = data.rfind(b"\n", 0, position) + 1
        outcome = parse_line(data[start : end - 1].decode(), LogFormat.PRODUCTION)
        if isinstance(outcome, AccessRecord):
            detector.add(outcome)
        position = data.find(NEEDLE, end)


def _run_pipeline(path: Path) -> tuple[float, str]:
    began = time.perf_counter()
    # The command is this module's constant with a path it generated; bash is looked up on PATH on purpose.
    completed = subprocess.run(  # noqa: S603
        ["bash", "-c", PIPELINE.format(path=path)],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    return time.perf_counter() - began, completed.stdout


def run() -> dict[str, Any]:
    """Generate (or reuse) the log file, time both sides, and return the figures."""
    path = generate_log()
    size = path.stat().st_size

    shell_times = []
    shell_output = ""
    for _ in range(RUNS):
        elapsed, shell_output = _run_pipeline(path)
        shell_times.append(elapsed)
    shell_peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    python_times = []
    detection: Detection | None = None
    for _ in range(RUNS):
        began = time.perf_counter()
        detection = scan_file(path)
        python_times.append(time.perf_counter() - began)
    assert detection is not None

    tracemalloc.start()
    scan_file(path)
    _current, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    shell_median = statistics.median(shell_times)
    python_median = statistics.median(python_times)
    top_shell = shell_output.split("\n", 1)[0].split()
    burst = next(item for item in detection.offenders if item.address == "203.0.113.66")
    return {
        "lines": LINES,
        "file_bytes": size,
        "runs": RUNS,
        "shell": {
            "command": PIPELINE.format(path="FILE"),
            "median_seconds": round(shell_median, 3),
            "lines_per_second": round(LINES / shell_median),
            "peak_rss_kib_largest_process": shell_peak_kib,
            "top_line": " ".join(top_shell),
        },
        "python": {
            "median_seconds": round(python_median, 3),
            "lines_per_second": round(LINES / python_median),
            "tracemalloc_peak_kib": python_peak // 1024,
            "failures": detection.failures,
            "distinct_sources": detection.distinct_sources,
            "offenders": len(detection.offenders),
            "burst_window": {"failures": burst.densest.count, "seconds": burst.densest.end - burst.densest.start},
        },
        "python_vs_shell_throughput": round(shell_median / python_median, 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
