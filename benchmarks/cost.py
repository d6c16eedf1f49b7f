"""`make cost`: the suite's own monthly AWS bill at us-east-1 list prices, written to docs/cost.md.

Reads template.yaml (functions, schedules, alarms, dashboards, keys, secrets, state machines),
the measured figures of the latest `make bench` (docs/benchmarks.json) and the prices in
benchmarks/prices.json. Every assumption about the production load is in `Load` and on the page.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import costmodel as cm
from benchmarks.template_model import AlarmSpec, SuiteModel, load_model

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "benchmarks" / "prices.json"
BENCH_JSON = ROOT / "docs" / "benchmarks.json"
FRESHNESS_DOC = ROOT / "docs" / "freshness-cost.md"
OUTPUT = ROOT / "docs" / "cost.md"
README = ROOT / "README.md"
README_START, README_END = "<!-- cost:start -->", "<!-- cost:end -->"
GOAL_USD = 3.50

#: Alarm families shown as one line each, with the parameter that makes them cheaper.
GROUPED_ALARMS = {
    "LambdaErrorRateWarning": "ErrorRateAlarmLevels=critical drops these warnings (1%) and keeps the 5% pages",
    "LambdaErrorRateCritical": "Errors divided by Invocations: two billed metrics per function",
}
#: Alarms whose cost a template parameter lowers.
ALARM_OPTIONS = {
    "DynamoDbThrottlingAlarm": "ThrottlingAlarmMetrics=events bills 2 metrics (misses requests throttled by an index)",
}
BUDGET_USD = 7.50


@dataclass(frozen=True)
class Load:
    """The production load the bill is computed for (assumptions, stated on the page)."""

    scrapers_weekly: int = 4
    api_requests_per_month: int = 300_000  # about 7 requests a minute
    access_log_bytes_per_request: int = 450
    table_items: int = 100_000
    item_kb: float = 1.0
    alerts_per_month: int = 60  # alarm transitions and findings together
    alert_destinations: int = 2  # Slack and PagerDuty
    restore_runs_per_year: int = 4
    restore_minutes: int = 20  # time of one restore of the table, which the poll loop waits out
    sqs_idle_pollers: int = 5  # Lambda's SQS event source polls with 5 long polls while idle
    sqs_wait_seconds: int = 20
    platform_log_bytes: int = 600  # Lambda's own start and report lines per invocation
    dynamodb_rru_per_run_estimate: float = 4.0
    get_metric_data_metrics_per_run: int = 12
    fallback_duration_ms: float = 1500.0  # for a function the demo did not run

    @property
    def table_gb(self) -> float:
        return self.table_items * self.item_kb / 1_000_000


@dataclass
class Line:
    item: str
    usd: float
    detail: str
    option: str = ""
    in_total: bool = True


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _price(prices: dict[str, Any], name: str) -> float:
    return float(prices["prices"][name]["usd"])


def documented_rcu_per_run(path: Path = FRESHNESS_DOC) -> float | None:
    """The freshness monitor's read request units per run, from its cost page when it states them."""
    if not path.exists():
        return None
    match = re.search(r"([\d][\d,]*(?:\.\d+)?)\s*(?:RCU|RRU|read (?:request|capacity) units?)", path.read_text())
    return float(match.group(1).replace(",", "")) if match else None


class CostModel:
    def __init__(self, model: SuiteModel, bench: dict[str, Any], prices: dict[str, Any], load: Load) -> None:
        self.model = model
        self.bench = bench
        self.prices = prices
        self.load = load
        self.lines: list[Line] = []
        self.invocations: dict[str, float] = {}
        self.hours: dict[str, float] = {}
        self.notes: list[str] = []

    def p(self, name: str) -> float:
        return _price(self.prices, name)

    def warm(self, function: str) -> dict[str, Any]:
        return self.bench.get("warm", {}).get("functions", {}).get(function, {})

    # -- how often each function runs
    def schedule_counts(self) -> None:
        for schedule in self.model.schedules:
            if not schedule.enabled:
                continue
            runs = cm.invocations_per_month(schedule.expression)
            hours = cm.hours_with_data_per_month(schedule.expression)
            self.invocations[schedule.target] = self.invocations.get(schedule.target, 0.0) + runs
            self.hours[schedule.target] = min(cm.HOURS_PER_MONTH, self.hours.get(schedule.target, 0.0) + hours)
        for source in self.model.queue_sources:
            records = self.warm(source.function).get("records_per_invocation") or 1
            runs = self.load.alerts_per_month / max(1.0, float(records))
            self.invocations[source.function] = runs
            self.hours[source.function] = min(cm.HOURS_PER_MONTH, runs)
        for logical_id, machine in self.model.state_machines.items():
            runs = self.invocations.get(logical_id, self.load.restore_runs_per_year / 12)
            self.invocations[logical_id] = runs
            text = json.dumps(machine.definition or {})
            for function in self.model.functions:
                if function not in self.invocations and function in text:
                    self.invocations[function] = runs * max(1, text.count(function))
                    self.hours[function] = runs

    # -- lines
    def lambda_lines(self) -> None:
        for name, function in self.model.functions.items():
            runs = self.invocations.get(name, 0.0)
            warm = self.warm(name)
            duration = float(warm.get("duration_ms") or self.load.fallback_duration_ms)
            measured = "demo median" if warm else "NOT MEASURED, assumed"
            seconds = cm.gb_seconds(runs, duration, function.memory_mb)
            gb_price = self.p(f"lambda_gb_second_{function.architecture.replace('-', '_')}")
            usd = runs * self.p("lambda_request") + seconds * gb_price
            option = ""
            recommended = warm.get("recommended_memory_mb")
            if recommended and recommended < function.memory_mb:
                option = f"MemorySize {recommended} MB saves {(1 - recommended / function.memory_mb):.0%} of GB-s"
            how = self._trigger(name)
            self.lines.append(
                Line(
                    f"Lambda {name}",
                    usd,
                    f"{runs:.1f} invocations/month ({how}) × {duration:.0f} ms ({measured}) × {function.memory_mb} MB "
                    f"= {seconds:.1f} GB-s",
                    option,
                )
            )
            if function.tracing:
                self.lines.append(
                    Line(
                        f"X-Ray traces {name}",
                        runs * self.p("xray_trace_recorded"),
                        f"{runs:.1f} traces/month (Tracing: Active)",
                        "Tracing PassThrough (needs a parameter)",
                    )
                )

    def _trigger(self, name: str) -> str:
        expressions = [s.expression for s in self.model.schedules_for(name)]
        if expressions:
            return ", ".join(expressions)
        if any(s.function == name for s in self.model.queue_sources):
            return f"{self.load.alerts_per_month} alerts/month"
        return "state machine task"

    def step_functions_lines(self) -> None:
        for name, machine in self.model.state_machines.items():
            runs = self.invocations.get(name, 0.0)
            if machine.definition is None:
                self.lines.append(Line(f"Step Functions {name}", 0.0, "definition not readable; not priced"))
                continue
            loop = cm.polling_loop(machine.definition)
            wait = next(
                (
                    machine.definition["States"][s].get("Seconds", 60)
                    for s in loop
                    if machine.definition["States"][s].get("Type") == "Wait"
                ),
                60,
            )
            polls = math.ceil(self.load.restore_minutes * 60 / int(wait)) if loop else 0
            transitions = cm.count_transitions(machine.definition, polls)
            usd = runs * transitions * self.p("stepfunctions_standard_transition")
            self.lines.append(
                Line(
                    f"Step Functions {name}",
                    usd,
                    f"{runs:.2f} runs/month × {transitions} transitions (happy path + {polls} polls of a "
                    f"{len(loop)}-state loop every {wait} s)",
                )
            )

    def metric_lines(self) -> None:
        price = self.p("cloudwatch_custom_metric_month")
        seen: set[tuple[str, str]] = set()
        for name in self.model.functions:
            metrics = self.warm(name).get("metrics", [])
            if not metrics:
                continue
            hours = self.hours.get(name, 0.0)
            high_res = sum(1 for m in metrics if m.get("storage_resolution", 60) < 60)
            usd = len(metrics) * cm.prorated_metric_cost(hours, price)
            by_name: dict[str, int] = {}
            for metric in metrics:
                seen.add((metric["namespace"], metric["name"]))
                by_name[metric["name"]] = by_name.get(metric["name"], 0) + 1
            fanned = {n: c for n, c in by_name.items() if c > 1}
            option = ""
            if fanned:
                option = "per-dimension metrics: " + ", ".join(f"{n} ×{c}" for n, c in sorted(fanned.items()))
            if name == "FreshnessMonitorFunction" and hours > cm.HOURS_PER_MONTH / 2:
                option = "FreshnessCheckSchedule=cron(0 */6 * * ? *) bills a sixth of the hours"
            self.lines.append(
                Line(
                    f"Custom metrics {name}",
                    usd,
                    f"{len(metrics)} metrics × {hours:.1f} hours with data/month × ${price}/730 per hour"
                    + (f" ({high_res} high-resolution)" if high_res else ""),
                    option,
                )
            )
        for alarm in self.model.alarms:
            for namespace, metric in alarm.custom_metrics:
                note = (
                    f"Alarm {alarm.logical_id} watches {namespace}/{metric}, which the demo did not emit; "
                    "it costs only in hours when it is emitted."
                )
                if (namespace, metric) not in seen and note not in self.notes:
                    self.notes.append(note)
        for metric_filter in self.model.metric_filters:
            owner = next((f for f in self.model.functions if f in metric_filter.log_group), None)
            hours = self.hours.get(owner, 0.0) if owner else cm.HOURS_PER_MONTH
            self.lines.append(
                Line(
                    f"Metric filter {metric_filter.logical_id}",
                    cm.prorated_metric_cost(hours, price),
                    f"{metric_filter.metric_name} on {metric_filter.log_group}: {hours:.0f} hours with data/month "
                    "(upper bound: every hour with log events)",
                )
            )

    def alarm_lines(self) -> None:
        standard = self.p("cloudwatch_alarm_standard_metric")
        high = self.p("cloudwatch_alarm_high_resolution_metric")
        composite = self.p("cloudwatch_alarm_composite")
        single = [a for a in self.model.alarms if a.kind == "metric" and not a.high_resolution]
        if single:
            usd = sum(cm.alarm_cost(a, standard, high, composite) for a in single)
            self.lines.append(Line("CloudWatch alarms, single metric", usd, f"{len(single)} alarms × ${standard}"))
        families: dict[str, list[AlarmSpec]] = {}
        for alarm in self.model.alarms:
            if alarm in single:
                continue
            family = next((prefix for prefix in GROUPED_ALARMS if alarm.logical_id.startswith(prefix)), None)
            if family is not None:
                families.setdefault(family, []).append(alarm)
                continue
            usd = cm.alarm_cost(alarm, standard, high, composite)
            option = ALARM_OPTIONS.get(alarm.logical_id, "")
            if not option and alarm.kind in ("metric-math", "anomaly") and alarm.metrics > 1:
                option = f"{alarm.kind} alarm billed for {alarm.metrics} metrics"
            if alarm.high_resolution:
                option = "high-resolution period; a 60 s period costs a third"
            if alarm.logical_id in ALARM_OPTIONS and alarm.metrics <= 2:
                option = ""
            self.lines.append(
                Line(f"Alarm {alarm.logical_id}", usd, f"{alarm.kind}, {alarm.metrics} billed metrics", option)
            )
        for family, alarms in families.items():
            usd = sum(cm.alarm_cost(a, standard, high, composite) for a in alarms)
            metrics = sum(a.metrics for a in alarms)
            self.lines.append(
                Line(
                    f"Alarms {family}*",
                    usd,
                    f"{len(alarms)} metric-math alarms (one per monitored function), {metrics} billed metrics",
                    GROUPED_ALARMS[family],
                )
            )

    def dashboard_lines(self) -> None:
        count = len(self.model.dashboards)
        price = self.p("cloudwatch_dashboard_month")
        usd = cm.dashboards_cost(count, price)
        option = ""
        if count > 3:
            option = "CreateSuiteHealthDashboard=false saves $3; the suite's health is then watched by its alarms alone"
        self.lines.append(
            Line(
                "CloudWatch dashboards", usd, f"{count} dashboards, first 3 free (if the account has no others)", option
            )
        )

    def logs_lines(self) -> None:
        ingestion, storage = self.p("logs_ingestion_gb"), self.p("logs_storage_gb_month")
        for name in self.model.functions:
            runs = self.invocations.get(name, 0.0)
            per_run = float(self.warm(name).get("log_bytes_per_invocation") or 0) + self.load.platform_log_bytes
            gb = runs * per_run / 1e9
            retention = self.model.log_group_retention.get(name, 30)
            stored = gb * retention / (cm.HOURS_PER_MONTH / 24)
            self.lines.append(
                Line(
                    f"Logs {name}",
                    gb * ingestion + stored * storage,
                    f"{runs:.1f} × {per_run:.0f} B = {gb * 1000:.2f} MB ingested/month; "
                    f"{stored * 1000:.2f} MB stored at {retention} days",
                )
            )
            if any(a == "logs:StartQuery" for a in self.model.functions[name].iam_actions):
                scanned = runs * self.load.api_requests_per_month / 30.4 * self.load.access_log_bytes_per_request / 1e9
                self.lines.append(
                    Line(
                        f"Logs Insights {name}",
                        scanned * self.p("logs_insights_gb_scanned"),
                        f"{runs:.1f} queries × one day of access logs = {scanned:.3f} GB scanned/month",
                    )
                )

    def api_call_lines(self) -> None:
        for name, function in self.model.functions.items():
            runs = self.invocations.get(name, 0.0)
            ce_calls = sorted({a for a in function.iam_actions if a.startswith("ce:")})
            if function.environment.get("COST_FORECAST") == "run-rate":
                ce_calls = [call for call in ce_calls if call != "ce:GetCostForecast"]
            if ce_calls:
                option = "every Cost Explorer request costs $0.01"
                if "ce:GetCostForecast" in ce_calls:
                    option = "CostForecast=run-rate skips GetCostForecast: one request a day"
                self.lines.append(
                    Line(
                        f"Cost Explorer {name}",
                        runs * len(ce_calls) * self.p("cost_explorer_request"),
                        f"{runs:.1f} runs × {len(ce_calls)} requests ({', '.join(ce_calls)}, one each per run)",
                        option,
                    )
                )
            if "cloudwatch:GetMetricData" in function.iam_actions:
                metrics = runs * self.load.get_metric_data_metrics_per_run
                self.lines.append(
                    Line(
                        f"GetMetricData {name}",
                        metrics * self.p("cloudwatch_get_metric_data"),
                        f"{runs:.1f} runs × {self.load.get_metric_data_metrics_per_run} metrics requested (estimate)",
                    )
                )

    def messaging_lines(self) -> None:
        alerts = self.load.alerts_per_month
        self.lines.append(
            Line("SNS publishes", alerts * self.p("sns_publish"), f"{alerts} alerts/month, one publish each")
        )
        if self.model.queue_sources:
            minutes = cm.HOURS_PER_MONTH * 60
            idle = self.load.sqs_idle_pollers * minutes * 60 / self.load.sqs_wait_seconds
            requests = idle + alerts * 3
            self.lines.append(
                Line(
                    "SQS requests",
                    requests * self.p("sqs_request"),
                    f"{self.load.sqs_idle_pollers} idle long polls of {self.load.sqs_wait_seconds} s by Lambda's "
                    f"event source = {idle:,.0f} empty receives, + {alerts} × (send, receive, delete)",
                    "empty receives dominate; they are inside SQS's 1 million free requests",
                )
            )
        secrets = self.model.secrets
        if secrets:
            router_runs = sum(self.invocations.get(s.function, 0.0) for s in self.model.queue_sources)
            calls = router_runs * len(secrets)  # worst case: every invocation is a cold start, cache empty
            self.lines.append(
                Line(
                    "Secrets Manager",
                    len(secrets) * self.p("secretsmanager_secret_month") + calls * self.p("secretsmanager_api_call"),
                    f"{len(secrets)} secrets ({', '.join(secrets)}) + {calls:.0f} GetSecretValue (cached 300 s)",
                    "one JSON secret named by both parameters saves $0.40 (README, Deploying)"
                    if len(secrets) > 1
                    else "",
                )
            )
        if self.model.kms_keys:
            requests = alerts * 4  # SNS and SQS data keys: generate and decrypt, reused for up to 5 minutes
            self.lines.append(
                Line(
                    "KMS customer managed key",
                    len(self.model.kms_keys) * self.p("kms_customer_key_month") + requests * self.p("kms_request"),
                    f"{len(self.model.kms_keys)} keys ({', '.join(self.model.kms_keys)}) + {requests} requests",
                    "kept in every profile: the topics need a customer-managed key whose policy admits CloudWatch "
                    "and EventBridge (they cannot publish to topics under the aws/sns key)",
                )
            )

    def dynamodb_lines(self) -> None:
        rru_price, wru_price = self.p("dynamodb_read_request_unit"), self.p("dynamodb_write_request_unit")
        documented = documented_rcu_per_run()
        for name, function in self.model.functions.items():
            reads = [a for a in function.iam_actions if a in ("dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem")]
            if not reads or any(s.function == name for s in self.model.queue_sources):
                continue
            runs = self.invocations.get(name, 0.0)
            per_run = self.load.dynamodb_rru_per_run_estimate
            source = "estimate"
            if documented is not None and "Freshness" in name:
                per_run, source = documented, "docs/freshness-cost.md"
            self.lines.append(
                Line(
                    f"DynamoDB reads {name}",
                    runs * per_run * rru_price,
                    f"{runs:.1f} runs × {per_run:g} RRU ({source})",
                )
            )
        for source_spec in self.model.queue_sources:
            writes = self.load.alerts_per_month * self.load.alert_destinations * 2
            self.lines.append(
                Line(
                    "DynamoDB idempotency writes",
                    writes * wru_price,
                    f"{self.load.alerts_per_month} alerts × {self.load.alert_destinations} destinations × 2 writes "
                    f"(in progress, completed) by {source_spec.function}",
                )
            )
        restores = [
            n for n, f in self.model.functions.items() if any(a.startswith("dynamodb:Restore") for a in f.iam_actions)
        ]
        if restores or self.model.state_machines:
            runs = self.load.restore_runs_per_year / 12
            gb = self.load.table_gb
            self.lines.append(
                Line(
                    "DynamoDB restore test",
                    runs * gb * self.p("dynamodb_restore_gb"),
                    f"{runs:.2f} restores/month × {gb:.2f} GB × ${self.p('dynamodb_restore_gb')}/GB",
                )
            )
        self.lines.append(
            Line(
                "DynamoDB PITR of the monitored table (reference)",
                self.load.table_gb * self.p("dynamodb_pitr_gb_month"),
                f"{self.load.table_gb:.2f} GB × ${self.p('dynamodb_pitr_gb_month')}; paid by the monitored system",
                in_total=False,
            )
        )

    def compute(self) -> list[Line]:
        self.schedule_counts()
        self.lambda_lines()
        self.step_functions_lines()
        self.metric_lines()
        self.alarm_lines()
        self.dashboard_lines()
        self.logs_lines()
        self.api_call_lines()
        self.messaging_lines()
        self.dynamodb_lines()
        return sorted(self.lines, key=lambda line: (not line.in_total, -line.usd, line.item))


@dataclass(frozen=True)
class Profile:
    """One way to deploy the suite: a samconfig.toml environment and how its secrets are stored."""

    name: str
    config_env: str
    one_secret: bool
    summary: str


PROFILES = (
    Profile("defaults", "prod", one_secret=False, summary="every parameter at its default; two secrets"),
    Profile(
        "economy",
        "economy",
        one_secret=True,
        summary="the cheaper option of each parameter (samconfig.toml `economy`); one JSON secret for both",
    ),
)


@dataclass
class ProfileResult:
    profile: Profile
    lines: list[Line]
    notes: list[str]

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines if line.in_total)

    def total_of(self, prefix: str) -> float:
        return sum(line.usd for line in self.lines if line.in_total and line.item.startswith(prefix))


def compute_profile(profile: Profile, bench: dict[str, Any], prices: dict[str, Any], load: Load) -> ProfileResult:
    model = load_model(profile.config_env, one_secret=profile.one_secret)
    cost = CostModel(model, bench, prices, load)
    lines = cost.compute()
    if not bench:
        cost.notes.append("docs/benchmarks.json is missing: run `make bench` first; durations are assumed.")
    return ProfileResult(profile, lines, cost.notes)


def _verdict(total: float) -> str:
    return "met" if total < GOAL_USD else "NOT met"


def summary(results: list[ProfileResult], top: int = 0) -> list[str]:
    """Return the totals per profile and why the goal is or is not met; with `top`, the first one's largest lines."""
    out = ["| Profile | Parameters | USD/month | Alarms | Goal |", "|---|---|---:|---:|---|"]
    for result in results:
        alarms = result.total_of("Alarm") + result.total_of("CloudWatch alarms")
        out.append(
            f"| {result.profile.name} | {result.profile.summary} | {result.total:.2f} | {alarms:.2f} | "
            f"{_verdict(result.total)} |"
        )
    cheapest = min(results, key=lambda result: result.total)
    alarms = cheapest.total_of("Alarm") + cheapest.total_of("CloudWatch alarms")
    fixed = cheapest.total_of("KMS") + cheapest.total_of("Secrets Manager")
    out += [
        "",
        f"Goal under ${GOAL_USD:.2f} a month: **{_verdict(cheapest.total)}**. In the cheapest profile the alarms",
        f"alone cost ${alarms:.2f}, and the customer-managed key and the secret ${fixed:.2f}. Every alarm belongs",
        "to the monitoring plan (error rate per monitored function, API, throttling, cost, freshness,",
        "scrapers, restore, backup, access scan, the suite's own failures), and each is billed per metric it",
        "reads. Under $3.50 needs fewer alarms: a decision for the operators, not a parameter default.",
    ]
    if top:
        first = results[0]
        out += [
            "",
            f"Largest lines of the `{first.profile.name}` profile:",
            "",
            "| Line | USD/month | Cheaper option |",
            "|---|---:|---|",
        ]
        out += [f"| {line.item} | {line.usd:.2f} | {line.option} |" for line in first.lines[:top] if line.in_total]
    return out


def update_readme(results: list[ProfileResult], path: Path = README) -> None:
    """Replace the block between the cost markers in the README with this run's summary."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    block = "\n".join(summary(results, top=10))
    path.write_text(text[:start] + "\n" + block + "\n" + text[end:], encoding="utf-8")


def render(results: list[ProfileResult], load: Load, prices: dict[str, Any], bench: dict[str, Any]) -> str:
    bench_date = bench.get("machine", {}).get("date", "no benchmark results: durations assumed")
    out = [
        "# Monthly cost of the suite",
        "",
        "Written by `make cost` (`benchmarks/cost.py`) from template.yaml with the parameters of each profile's",
        "samconfig.toml environment (alert secrets assumed set), the measured durations of `make bench`",
        f"(docs/benchmarks.json, {bench_date}) and the prices in `benchmarks/prices.json`",
        f"({prices['source']}).",
        "",
        "## Production load (assumptions)",
        "",
        f"- {load.scrapers_weekly} scrapers run weekly; the table holds {load.table_items:,} items × "
        f"{load.item_kb:g} KB ≈ {load.table_gb:.2f} GB.",
        f"- The API serves {load.api_requests_per_month:,} requests a month, {load.access_log_bytes_per_request} bytes "
        "of access log each.",
        f"- {load.alerts_per_month} alerts a month reach the alert topics (alarm transitions and findings), "
        f"each to {load.alert_destinations} destinations.",
        f"- The restore test runs {load.restore_runs_per_year} times a year; a restore takes "
        f"{load.restore_minutes} minutes of polling.",
        f"- Lambda's SQS event source keeps {load.sqs_idle_pollers} long polls of {load.sqs_wait_seconds} s "
        "open while the queue is empty (an estimate; AWS does not publish the poller count).",
        "- Durations are the demo's cold invocations against a local moto server: no network latency, so real",
        "  durations are longer. Lambda bills the init phase of managed runtimes since August 2025, so the",
        "  import is billed too. Free tiers are not applied, except that an account's first three dashboards",
        "  are free (part of CloudWatch's list price).",
        "- Schedules are counted over the year 2025 and scaled to a 730-hour month.",
        "",
        f"## Totals; goal under ${GOAL_USD:.2f} a month (half the ${BUDGET_USD:.2f} run-rate budget)",
        "",
        *summary(results),
    ]
    for result in results:
        out += [
            "",
            f"## Profile `{result.profile.name}`: **${result.total:.2f} per month** ({_verdict(result.total)})",
            "",
            "| Line | USD/month | How it is computed | Costs more because / cheaper option |",
            "|---|---:|---|---|",
        ]
        for line in result.lines:
            amount = f"{line.usd:.4f}" if line.in_total else f"({line.usd:.4f})"
            out.append(f"| {line.item} | {amount} | {line.detail} | {line.option} |")
    out += [
        "",
        f"Prices as listed in {prices['as_of']}; confirm before quoting. Amounts in brackets are not in the total.",
    ]
    notes = list(dict.fromkeys(note for result in results for note in result.notes))
    if notes:
        out += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(out) + "\n"


def main() -> int:
    load = Load()
    prices = load_prices()
    bench = json.loads(BENCH_JSON.read_text()) if BENCH_JSON.exists() else {}
    results = [compute_profile(profile, bench, prices, load) for profile in PROFILES]
    text = render(results, load, prices, bench)
    OUTPUT.write_text(text, encoding="utf-8")
    update_readme(results)
    print(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)} and the cost summary in README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
