"""`make bench`: every benchmark of the project, written to docs/benchmarks.md and docs/benchmarks.json.

1. Cold import of every function of template.yaml against boto3 plus its clients (`benchmarks.coldstart`).
2. Time, peak memory and log bytes per job from three runs of the demo (`benchmarks.warm`).
3. The alert router's handling time per alert, below.
4. The `run()` figures of benchmarks/freshness.py, restore.py and access_scan.py where they exist.

Alert router handling time per alert without network: envelope parse, alert parse, routing, and the Slack
   and PagerDuty payloads, built with the shared layer's pure functions for every
   `events/alert_router_*.json` record. The baseline is `json.loads` of the SQS body and of its
   SNS `Message`, the decoding every router needs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from benchmarks import coldstart, warm  # noqa: E402
from benchmarks.coldstart import ColdStart  # noqa: E402
from benchmarks.template_model import SuiteModel, load_model  # noqa: E402
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
LAYER_DIR = BUILD / "SharedLayer" / "python"

HANDLING_REPETITIONS = 200
JSON_OUTPUT = ROOT / "docs" / "benchmarks.json"
OTHER_MODULES = ("freshness", "restore", "access_scan")

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
    """Run `sam build --cached` when the shared layer is missing from .aws-sam/build."""
    if (LAYER_DIR / "celebops").is_dir():
        return
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("SAM_CLI_TELEMETRY", "0")
    subprocess.run(["sam", "build", "--cached"], check=True, cwd=ROOT, env=env)  # noqa: S607


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
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def machine() -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": COMMAND,
        "platform": platform.platform(),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical CPUs",
        "memory": _memory(),
        "python": f"{platform.python_version()} ({sys.implementation.name})",
        "child_interpreter": sys._base_executable,
    }


def measure_cold_starts(model: SuiteModel) -> tuple[list[ColdStart], list[str]]:
    results: list[ColdStart] = []
    skipped: list[str] = []
    for function in model.functions.values():
        if not coldstart.built(function):
            skipped.append(f"{function.logical_id}: not in .aws-sam/build (run `make build`)")
            continue
        try:
            results.append(coldstart.measure(model, function))
        except RuntimeError as exc:
            skipped.append(f"{function.logical_id}: {str(exc).splitlines()[0]}")
    return results, skipped


def other_benchmarks() -> dict[str, Any]:
    """Call `run()` of each other benchmark module that exists; record why one is absent or failed."""
    found: dict[str, Any] = {}
    for name in OTHER_MODULES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"benchmarks.{name}":
                found[name] = {"error": f"import failed: {exc}"}
            else:
                found[name] = {"absent": f"benchmarks/{name}.py does not exist yet"}
            continue
        try:
            found[name] = {"figures": module.run()}
        except Exception as exc:  # another team's benchmark failing must not lose this page
            found[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return found


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value).replace("|", "/").replace("\n", " ")


def _flatten(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested figures as dotted keys, so every value gets its own row."""
    items: list[tuple[str, Any]] = []
    for key, value in figures.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _access_scan_goal(figures: dict[str, Any]) -> list[str]:
    """State the goal beside the measured ratio: beat the shell pipeline's throughput."""
    ratio = figures.get("python_vs_shell_throughput")
    if not isinstance(ratio, int | float):
        return []
    verdict = "met" if ratio > 1 else "**not met**"
    return [
        f"Goal: the parser and detector process the file faster than `{figures['shell']['command']}` "
        f"while also computing windows. Python's throughput is {ratio:.2f}× the pipeline's: {verdict}.",
        "",
    ]


def render_page(results: dict[str, Any], model: SuiteModel) -> str:
    info = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{COMMAND}` (`benchmarks/run.py`), which overwrites this page and `docs/benchmarks.json`.",
        "",
        "## Machine",
        "",
        *(f"- {key.replace('_', ' ').capitalize()}: {value}" for key, value in info.items()),
        f"- Total benchmark time: {results['seconds']:.0f} s",
        f"- Functions in template.yaml at this run: {', '.join(model.functions)}",
        "",
        "## Cold start: handler import against boto3 and its clients",
        "",
        f"Median of {coldstart.IMPORT_PROCESSES} fresh processes of each kind (after one uncounted warm-up of each),",
        "alternating floor and handler. Each child is the base interpreter with `-I -S -B` and `sys.path` set to",
        "`.aws-sam/build/<LogicalId>` and `.aws-sam/build/SharedLayer/python`, and times its own import, so",
        "interpreter start-up is excluded. The floor is `import boto3` plus a client for each service of the",
        "function's IAM policy that some code of the suite creates a client for (some are created on first use,",
        "not at import). The environment is the function's own from template.yaml with stand-in ARNs; no",
        f"request is sent. Goal: handler ≤ {coldstart.IMPORT_GOAL:.2f}× floor.",
        "",
        "| Function | Floor clients | Floor ms | Handler ms | Handler min–max ms | Ratio | Goal |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for cold in results["cold_start"]:
        lines.append(
            f"| {cold['function']} | {', '.join(cold['services']) or 'none'} | {cold['floor_ms']:.0f} "
            f"| {cold['handler_ms']:.0f} | {cold['handler_min_ms']:.0f}–{cold['handler_max_ms']:.0f} "
            f"| {cold['ratio']:.2f}× | {'met' if cold['ratio'] <= coldstart.IMPORT_GOAL else '**not met**'} |"
        )
    for skipped in results["cold_start_skipped"]:
        lines.append(f"\nNot measured: {skipped}")
    over = [c for c in results["cold_start"] if c["top_imports"]]
    if over:
        lines += ["", "Packages imported beyond the floor (self time from `-X importtime`, one process):", ""]
        for cold in over:
            heavy = ", ".join(f"{name} {ms:.0f} ms" for name, ms in cold["top_imports"])
            lines.append(f"- {cold['function']}: {heavy}")
    warm = results["warm"]
    lines += [
        "",
        "## Per job: time, peak memory and recommended MemorySize",
        "",
        f"From {warm['runs']} runs of the demo (`python -m benchmarks.demo_probe`, the demo plus a record of each",
        "invocation; demo wall times " + ", ".join(f"{s:.0f} s" for s in warm["demo_seconds"]) + ").",
        "Time is the median wall time of the isolated handler process: interpreter start, import and the work",
        "against the moto server on 127.0.0.1, so a cold invocation without network latency. Peak memory is the",
        "median over runs of the process's maximum RSS. The recommendation is the smallest of",
        "128/256/512/1024 MB with at least 2× the peak; Lambda gives CPU in proportion to memory, so a smaller",
        "size also runs slower (1,769 MB is one full vCPU).",
        "",
        "| Function | Invocations per demo | Median ms | Peak MB | MemorySize now | Recommended "
        "| Log bytes/invocation | Status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, figures in warm["functions"].items():
        current = model.functions[name].memory_mb if name in model.functions else "?"
        recommended = figures["recommended_memory_mb"] or "above 1024"
        statuses = ", ".join(f"{k} {v}" for k, v in figures["statuses"].items())
        lines.append(
            f"| {name} | {figures['invocations_per_run']:g} | {figures['duration_ms']:.0f} "
            f"| {figures['max_memory_mb']:.0f} "
            f"| {current} | {recommended} | {figures['log_bytes_per_invocation']:.0f} | {statuses} |"
        )
    not_run = [n for n in model.functions if n not in warm["functions"]]
    if not_run:
        lines.append(f"\nNot invoked by the demo: {', '.join(not_run)}.")
    for failure in warm["failed_runs"]:
        lines.append(f"\nDemo run problem: {failure}")
    handling = results["router_handling"]
    lines += [
        "",
        "## Alert router: handling time per alert, without network",
        "",
        "Each record of each `events/alert_router_*.json` file goes through `parse_record`, `parse_alert`",
        "(or `unreadable_alert` for a bad envelope), `route`, then `format_pagerduty` and `format_slack`",
        f"where the route includes them, {HANDLING_REPETITIONS} times per record. The baseline, timed just before",
        "each sample, is `json.loads` of the SQS body and of its SNS `Message`. Delivery is not included.",
        "",
        "| Event file | Records | Samples | Median µs | p95 µs | Baseline median µs | Ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in handling["events"]:
        lines.append(
            f"| `{t['event']}` | {t['records']} | {t['samples']} | {t['median_us']:.1f} | {t['p95_us']:.1f} "
            f"| {t['baseline_median_us']:.1f} | {t['median_us'] / t['baseline_median_us']:.1f}× |"
        )
    lines += [
        "",
        f"Median over the files: **{handling['median_us']:.1f} µs** per alert, baseline "
        f"{handling['baseline_median_us']:.1f} µs.",
        "",
        "## Other benchmarks",
        "",
    ]
    for name, outcome in results["other"].items():
        if "figures" in outcome:
            lines += [f"### benchmarks/{name}.py", ""]
            figures = outcome["figures"]
            if name == "access_scan" and isinstance(figures, dict):
                lines += _access_scan_goal(figures)
            lines += ["| Figure | Value |", "|---|---|"]
            items = _flatten(figures) if isinstance(figures, dict) else [("result", figures)]
            lines += [f"| {key} | {_cell(value)} |" for key, value in items]
            lines.append("")
        else:
            lines += [f"- benchmarks/{name}.py: {outcome.get('absent') or outcome.get('error')}", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    started = time.perf_counter()
    ensure_build()
    model = load_model("prod")
    cold, skipped = measure_cold_starts(model)
    handling = [measure_handling(path) for path in sorted(EVENTS.glob("alert_router_*.json"))]
    warm_result = warm.measure()
    results: dict[str, Any] = {
        "machine": machine(),
        "functions": list(model.functions),
        "cold_start": [{**asdict(c), "ratio": c.ratio} for c in cold],
        "cold_start_skipped": skipped,
        "warm": {
            "runs": warm_result.runs,
            "failed_runs": warm_result.failed_runs,
            "demo_seconds": warm_result.demo_seconds,
            "functions": {
                name: {**asdict(f), "recommended_memory_mb": f.recommended_memory_mb}
                for name, f in warm_result.functions.items()
            },
        },
        "router_handling": {
            "events": [asdict(t) for t in handling],
            "median_us": statistics.median(t.median_us for t in handling),
            "baseline_median_us": statistics.median(t.baseline_median_us for t in handling),
        },
        "other": other_benchmarks(),
    }
    results["seconds"] = time.perf_counter() - started
    text = render_page(results, model)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    JSON_OUTPUT.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    print(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)} and {JSON_OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
