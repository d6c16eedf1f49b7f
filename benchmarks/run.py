"""Benchmarks of the alert router, written to docs/benchmarks.md (run by `make bench`).

1. Handling time per alert without network: envelope parse, alert parse, routing, and the Slack
   and PagerDuty payloads, built with the shared layer's pure functions for every
   `events/alert_router_*.json` record. The baseline is `json.loads` of the SQS body and of its
   SNS `Message`, the decoding every router needs.
2. Cold import time of the built handler module against a floor of `import boto3` plus the two
   clients the router creates (secretsmanager, dynamodb), each in a fresh isolated interpreter
   whose sys.path has only the `sam build` output, like Lambda's /var/task and /opt/python.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from celebops.alerts.envelope import parse_record  # noqa: E402
from celebops.alerts.errors import EnvelopeError  # noqa: E402
from celebops.alerts.model import Alert  # noqa: E402
from celebops.alerts.pagerduty_format import PagerDutyOptions, format_pagerduty  # noqa: E402
from celebops.alerts.parse import parse_alert  # noqa: E402
from celebops.alerts.router import unreadable_alert  # noqa: E402
from celebops.alerts.routing import RoutingConfig, route  # noqa: E402
from celebops.alerts.slack_format import SlackOptions, format_slack  # noqa: E402

COMMAND = "make bench"
OUTPUT = ROOT / "docs" / "benchmarks.md"
EVENTS = ROOT / "events"
BUILD = ROOT / ".aws-sam" / "build"
FUNCTION_DIR = BUILD / "AlertRouterFunction"
LAYER_DIR = BUILD / "SharedLayer" / "python"

HANDLING_REPETITIONS = 200
IMPORT_PROCESSES = 15
IMPORT_GOAL = 1.25

_TOPIC_PREFIX = "arn:aws:sns:us-east-1:123456789012:celebrity-database-ops-"
_DASHBOARD = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/bench"

# The AlertRouterFunction environment from template.yaml, with dummy values. No request leaves the
# machine: clients are only created at import, and the endpoint is the discard port on 127.0.0.1.
ROUTER_ENV: dict[str, str] = {
    "CRITICAL_TOPIC_ARN": f"{_TOPIC_PREFIX}critical",
    "WARNINGS_TOPIC_ARN": f"{_TOPIC_PREFIX}warnings",
    "INFO_TOPIC_ARN": f"{_TOPIC_PREFIX}info",
    "COST_TOPIC_ARN": f"{_TOPIC_PREFIX}cost",
    "DASHBOARD_URL": _DASHBOARD,
    "RUNBOOK_BASE_URL": "docs/runbooks/",
    "SLACK_MENTION_CRITICAL": "true",
    "STORM_THRESHOLD": "5",
    "ROUTING_CONFIG": "{}",
    "IDEMPOTENCY_TABLE": "bench-idempotency",
    "SLACK_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-slack",
    "PAGERDUTY_ROUTING_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-pd",
    "POWERTOOLS_SERVICE_NAME": "alert-router",
    "POWERTOOLS_METRICS_NAMESPACE": "custom/celebrity-database",
    "LOG_LEVEL": "INFO",
}

CHILD_ENV: dict[str, str] = {
    **ROUTER_ENV,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

# Runs in the child: argv is function dir, layer dir, mode. `-I -S` leaves only the stdlib on
# sys.path, so the two build directories are the only other import sources.
_CHILD_CODE = """
import importlib, json, sys, time
sys.path[0:0] = sys.argv[1:3]
start = time.perf_counter()
if sys.argv[3] == "handler":
    importlib.import_module("app")
else:
    import boto3
    boto3.client("secretsmanager")
    boto3.client("dynamodb")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


@dataclass(frozen=True)
class HandlingTiming:
    """Per-alert handling time for one event file, in microseconds."""

    event: str
    records: int
    samples: int
    median_us: float
    p95_us: float
    baseline_median_us: float

    @property
    def ratio(self) -> float:
        return self.median_us / self.baseline_median_us


@dataclass(frozen=True)
class ImportTiming:
    """Cold import wall time, in milliseconds, over fresh processes."""

    label: str
    processes: int
    median_ms: float
    min_ms: float
    max_ms: float


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values` (fraction in 0..1)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def handle_record(
    record: Any, index: int, routing: RoutingConfig, slack: SlackOptions, pagerduty: PagerDutyOptions
) -> None:
    """Run the router's per-record pure steps: parse, route, build each payload the route needs."""
    alert: Alert
    try:
        alert = parse_alert(parse_record(record))
    except EnvelopeError as exc:
        item_id = record.get("messageId", f"record-{index}") if isinstance(record, Mapping) else f"record-{index}"
        alert = unreadable_alert(record, item_id, exc)
    decided = route(alert, routing)
    if decided.pagerduty:
        format_pagerduty(alert, decided, pagerduty)
    if decided.slack:
        format_slack(alert, decided, slack)


def decode_record(record: Any) -> None:
    """Decode the SQS body and its SNS Message as JSON where they are JSON (the baseline)."""
    if not isinstance(record, Mapping) or not isinstance(record.get("body"), str):
        return
    try:
        document = json.loads(record["body"])
    except json.JSONDecodeError:
        return
    message = document.get("Message") if isinstance(document, Mapping) else None
    if isinstance(message, str):
        with contextlib.suppress(json.JSONDecodeError):
            json.loads(message)


def measure_handling(event_path: Path, repetitions: int = HANDLING_REPETITIONS) -> HandlingTiming:
    """Time each record of an event file `repetitions` times; one sample is one alert."""
    records = json.loads(event_path.read_text(encoding="utf-8"))["Records"]
    routing = RoutingConfig.from_env(env=ROUTER_ENV)
    slack = SlackOptions(dashboard_url=_DASHBOARD, runbook_base_url="docs/runbooks/", mention_critical=True)
    pagerduty = PagerDutyOptions(client_url=_DASHBOARD, runbook_base_url="docs/runbooks/")
    clock = time.perf_counter_ns

    handled: list[float] = []
    decoded: list[float] = []
    for _ in range(repetitions):
        for index, record in enumerate(records):
            start = clock()
            decode_record(record)
            middle = clock()
            handle_record(record, index, routing, slack, pagerduty)
            end = clock()
            decoded.append((middle - start) / 1000)
            handled.append((end - middle) / 1000)

    return HandlingTiming(
        event=event_path.name,
        records=len(records),
        samples=len(handled),
        median_us=statistics.median(handled),
        p95_us=percentile(handled, 0.95),
        baseline_median_us=statistics.median(decoded),
    )


def ensure_build() -> None:
    """Run `sam build --cached` when the handler or the layer is missing from .aws-sam/build."""
    if (FUNCTION_DIR / "app.py").is_file() and (LAYER_DIR / "celebops").is_dir():
        return
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("SAM_CLI_TELEMETRY", "0")
    subprocess.run(["sam", "build", "--cached"], check=True, cwd=ROOT, env=env)  # noqa: S607


def import_once(mode: str) -> float:
    """Return the import wall time in seconds measured inside one fresh base interpreter."""
    # -B: Lambda's code directories are read-only, so the child writes no .pyc files either.
    command = [sys._base_executable, "-I", "-S", "-B", "-c", _CHILD_CODE, str(FUNCTION_DIR), str(LAYER_DIR), mode]
    completed = subprocess.run(command, capture_output=True, text=True, env=CHILD_ENV, cwd=ROOT, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise RuntimeError(
            f"import benchmark child ({mode}) failed with exit code {completed.returncode}; "
            f"run `make package-check` to see why the built handler does not import:\n{completed.stderr[-2000:]}"
        )
    return float(json.loads(completed.stdout.strip().splitlines()[-1])["seconds"])


def measure_import(mode: str, label: str, processes: int = IMPORT_PROCESSES) -> ImportTiming:
    import_once(mode)  # warms the OS file cache; not counted
    samples = [import_once(mode) * 1000 for _ in range(processes)]
    return ImportTiming(label, processes, statistics.median(samples), min(samples), max(samples))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def render(handling: list[HandlingTiming], floor: ImportTiming, handler: ImportTiming, seconds: float) -> str:
    all_median = statistics.median(t.median_us for t in handling)
    all_baseline = statistics.median(t.baseline_median_us for t in handling)
    ratio = handler.median_ms / floor.median_ms
    met = "met" if ratio <= IMPORT_GOAL else "not met"
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{COMMAND}` (`benchmarks/run.py`), which overwrites this page on each run.",
        "",
        "## Machine",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `{COMMAND}`",
        f"- Platform: {platform.platform()}",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical CPUs",
        f"- Memory: {_memory()}",
        f"- Python: {platform.python_version()} ({sys.implementation.name})",
        f"- Child interpreter for the import figures: `{sys._base_executable}`",
        f"- Total benchmark time: {seconds:.1f} s",
        "",
        "## Alert handling time per alert, without network",
        "",
        "Each record of each `events/alert_router_*.json` file goes through `parse_record`, `parse_alert`",
        "(or `unreadable_alert` for a bad envelope), `route`, then `format_pagerduty` and `format_slack`",
        f"where the route includes them, timed with `time.perf_counter_ns`, {HANDLING_REPETITIONS} times per record.",
        "The baseline, timed just before each sample, is `json.loads` of the SQS body and of its SNS `Message`.",
        "Storm grouping (`format_slack_group`), delivery and logging are not included.",
        "",
        "| Event file | Records | Samples | Median µs | p95 µs | Baseline median µs | Ratio to baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in handling:
        lines.append(
            f"| `{t.event}` | {t.records} | {t.samples} | {t.median_us:.1f} | {t.p95_us:.1f} "
            f"| {t.baseline_median_us:.1f} | {t.ratio:.1f}× |"
        )
    lines += [
        "",
        f"Median over the event files' medians: **{all_median:.1f} µs** per alert, "
        f"baseline {all_baseline:.1f} µs ({all_median / all_baseline:.1f}×).",
        "",
        "## Cold import of the handler",
        "",
        f"Each figure is the median of {IMPORT_PROCESSES} fresh processes (after one uncounted warm-up process) of",
        "the base interpreter run with `-I -S -B`, with `sys.path` set to `.aws-sam/build/AlertRouterFunction`,",
        "`.aws-sam/build/SharedLayer/python` and the standard library only. The child times its own import",
        "with `time.perf_counter()`, so interpreter start-up is excluded. The environment has dummy topic ARNs,",
        "secret ARNs, credentials and `AWS_ENDPOINT_URL=http://127.0.0.1:9`, and no request is sent.",
        "`.pyc` files already in the build output are used, and the child writes none.",
        "",
        "| Import | Median ms | Min ms | Max ms |",
        "|---|---:|---:|---:|",
        f"| {floor.label} (floor) | {floor.median_ms:.1f} | {floor.min_ms:.1f} | {floor.max_ms:.1f} |",
        f"| {handler.label} | {handler.median_ms:.1f} | {handler.min_ms:.1f} | {handler.max_ms:.1f} |",
        "",
        f"Handler / floor: **{ratio:.2f}×**. Goal: ≤ {IMPORT_GOAL:.2f}× floor, **{met}**.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    started = time.perf_counter()
    ensure_build()
    handling = [measure_handling(path) for path in sorted(EVENTS.glob("alert_router_*.json"))]
    floor = measure_import("floor", "`import boto3` + secretsmanager and dynamodb clients")
    handler = measure_import("handler", "`import app` (AlertRouterFunction)")
    text = render(handling, floor, handler, time.perf_counter() - started)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
