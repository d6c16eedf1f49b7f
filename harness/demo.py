"""`make demo`: the suite end to end on the embedded AWS, summarised for an operator.

Steps: start the moto server and the local Slack and PagerDuty receivers; create a realistic
monitored system; deploy template.yaml; fire every EventBridge schedule of the template once, in
time order; after each job, turn its EMF lines into metrics, evaluate the alarms, and carry what
reached the alert topics through the queue to the alert router; then print a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from harness import alarms as alarm_emulation
from harness.deploy import composite_registry
from harness.environment import LocalEnvironment
from harness.paths import DELIVERIES
from harness.scheduler import firings_in_order, scheduled_event
from harness.sqs_delivery import deliver


@dataclass
class JobRun:
    function: str
    rule: str
    scheduled_for: str
    status: str
    duration_ms: float
    max_memory_mb: float | None = None
    result: Any = None
    error: str | None = None


@dataclass
class DemoSummary:
    started_at: str
    monitored_system: dict[str, Any] = field(default_factory=dict)
    jobs: list[JobRun] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, int] = field(default_factory=dict)
    alarm_transitions: list[dict[str, str]] = field(default_factory=list)
    slack_messages: list[str] = field(default_factory=list)
    pagerduty_events: list[dict[str, str]] = field(default_factory=list)
    dead_letter_messages: int = 0
    elapsed_seconds: float = 0.0

    @property
    def failed_jobs(self) -> list[JobRun]:
        return [job for job in self.jobs if job.status != "ok"]

    @property
    def failed_scenarios(self) -> list[dict[str, Any]]:
        return [scenario for scenario in self.scenarios if not scenario.get("passed")]


class Demo:
    def __init__(self, env: LocalEnvironment, summary: DemoSummary) -> None:
        self.env = env
        self.summary = summary
        self.cloudwatch = boto3.client("cloudwatch")
        self.sns = boto3.client("sns")
        self.sqs = boto3.client("sqs")
        self.emitted: Counter[str] = Counter()

    def invoke(self, logical_id: str, event: Any) -> Any:
        invocation = self.env.invoke(logical_id, event)
        for line in invocation.logs:
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(document, dict) and "_aws" in document:
                for directive in document["_aws"].get("CloudWatchMetrics", []):
                    for metric in directive.get("Metrics", []):
                        self.emitted[metric["Name"]] += 1
        return invocation

    def settle(self, now: datetime) -> None:
        """Evaluate alarms and deliver queued alerts until no alarm changes and no alert is left."""
        composites = composite_registry(self.env.deployment)
        for _ in range(5):
            transitions = alarm_emulation.evaluate_alarms(self.cloudwatch, self.sns, now=now)
            # Composite alarms follow their children's new states in the same round, as in CloudWatch.
            transitions += composites.evaluate(self.cloudwatch, self.sns, now)
            for transition in transitions:
                self.summary.alarm_transitions.append(
                    {
                        "alarm": transition.alarm_name,
                        "from": transition.old_state,
                        "to": transition.new_state,
                    }
                )
            delivered = self.deliver_alerts()
            if not transitions and not delivered:
                return

    def deliver_alerts(self) -> int:
        total = 0
        for mapping in self.env.deployment.queue_mappings:
            report = deliver(
                self.sqs,
                mapping,
                lambda event, fn=mapping.function: self.invoke(fn, event),
                self.env.deployment.region,
                cloudwatch=self.cloudwatch,
            )
            total += report.delivered + report.returned
        return total


def run_schedules(demo: Demo, now: datetime) -> None:
    deployment = demo.env.deployment
    for firing in firings_in_order(deployment, now):
        event = scheduled_event(firing, deployment)
        if firing.schedule.target_state_machine:
            # A state machine target starts an execution with the event as its input. Its Lambda
            # tasks run locally and its Wait states pass on a simulated clock (harness/stepfunctions.py).
            from harness.moto_restores import after_restore_task
            from harness.stepfunctions import run_deployed_state_machine

            dynamodb = boto3.client("dynamodb")
            execution = run_deployed_state_machine(
                deployment,
                firing.schedule.target_state_machine,
                demo.invoke,
                event,
                after_task=lambda result, dynamodb=dynamodb: after_restore_task(dynamodb, result),
            )
            demo.summary.jobs.append(
                JobRun(
                    function=firing.schedule.target_state_machine,
                    rule=firing.schedule.rule_name,
                    scheduled_for=firing.at.isoformat(),
                    status="ok" if execution.status == "SUCCEEDED" else "error",
                    duration_ms=round(execution.duration_ms, 1),
                    result=execution.summary(),
                    # The report task's summary names the failed step; the Fail state's cause does not.
                    error=None if execution.status == "SUCCEEDED" else execution.summary()["summary"],
                )
            )
            demo.settle(datetime.now(UTC))
            continue
        invocation = demo.invoke(firing.schedule.target_function, event)
        demo.summary.jobs.append(
            JobRun(
                function=firing.schedule.target_function,
                rule=firing.schedule.rule_name,
                scheduled_for=firing.at.isoformat(),
                status=invocation.status,
                duration_ms=round(invocation.duration_ms, 1),
                max_memory_mb=invocation.max_memory_mb,
                result=invocation.result,
                error=None if invocation.ok else (invocation.error or {}).get("errorMessage"),
            )
        )
        demo.settle(datetime.now(UTC))


def collect_deliveries(summary: DemoSummary, path: Path) -> None:
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        delivery = json.loads(line)
        payload = delivery.get("payload", {})
        if delivery.get("receiver") == "slack":
            summary.slack_messages.append(str(payload.get("text", "")))
        elif delivery.get("receiver") == "pagerduty":
            summary.pagerduty_events.append(
                {
                    "action": str(payload.get("event_action")),
                    "dedup_key": str(payload.get("dedup_key") or delivery.get("dedup_key")),
                    "summary": str(payload.get("payload", {}).get("summary", ""))[:120],
                }
            )


def count_dead_letters(demo: Demo) -> int:
    outputs = demo.env.deployment.resources
    queue = outputs.get("AlertDeadLetterQueue")
    if not queue:
        return 0
    attributes = demo.sqs.get_queue_attributes(
        QueueUrl=queue["Ref"], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def render(summary: DemoSummary) -> str:
    lines = [f"celebrity-database-ops demo ({summary.elapsed_seconds:.0f} s)", ""]
    system = summary.monitored_system
    if system:
        lines.append(
            f"Monitored system: table {system.get('table_name')} with {system.get('item_count')} items, "
            f"{system.get('access_log_lines')} access-log lines"
        )
        lines.append("")
    lines.append("Jobs fired from the template's schedules, in time order:")
    for job in summary.jobs:
        mark = "ok  " if job.status == "ok" else "FAIL"
        detail = job.error or _one_line(job.result)
        lines.append(f"  {mark} {job.function:<34} {job.scheduled_for[:16]}  {detail}")
    if summary.scenarios:
        lines.append("")
        lines.append("Scenarios:")
        for scenario in summary.scenarios:
            mark = "ok  " if scenario.get("passed") else "FAIL"
            lines.append(f"  {mark} {scenario['name']}: {scenario.get('detail', '')}")
    lines.append("")
    emitted = ", ".join(f"{name} x{count}" for name, count in sorted(summary.metrics.items())) or "none"
    lines.append(f"Metrics emitted: {emitted}")
    # A new alarm's first evaluation (INSUFFICIENT_DATA -> OK) is routine: count it, list the rest.
    first_ok = [t for t in summary.alarm_transitions if t["from"] == "INSUFFICIENT_DATA" and t["to"] == "OK"]
    changes = [t for t in summary.alarm_transitions if t not in first_ok]
    lines.append(
        f"Alarm state changes: {len(changes)}, besides {len(first_ok)} new alarms whose first evaluation was OK"
    )
    for transition in changes:
        lines.append(f"  {transition['alarm']}: {transition['from']} -> {transition['to']}")
    lines.append(f"Slack messages received: {len(summary.slack_messages)}")
    for text in summary.slack_messages:
        lines.append(f"  - {_shorten(text, 150)}")
    listed = pagerduty_events_that_act(summary.pagerduty_events)
    lines.append(
        f"PagerDuty events received: {len(summary.pagerduty_events)} "
        f"({len(summary.pagerduty_events) - len(listed)} unlisted resolves with no open incident to close)"
    )
    titles = {e["dedup_key"]: e["summary"] for e in summary.pagerduty_events if e["action"] == "trigger"}
    for event in listed:
        text = event["summary"] or f"(resolves: {titles.get(event['dedup_key'], event['dedup_key'])})"
        lines.append(f"  - {event['action']:<8} {_shorten(text, 140)}")
    lines.append(f"Alerts in the dead-letter queue: {summary.dead_letter_messages}")
    verdict = "all jobs succeeded" if not summary.failed_jobs and not summary.failed_scenarios else "FAILED"
    lines.append("")
    lines.append(f"Result: {verdict}")
    return "\n".join(lines)


def pagerduty_events_that_act(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Return the events in order, leaving out resolves that arrive while no incident of their key is open.

    PagerDuty ignores such a resolve, and every alarm's first OK evaluation sends one.
    """
    open_keys: set[str] = set()
    acting = []
    for event in events:
        key = event["dedup_key"]
        if event["action"] == "resolve":
            if key not in open_keys:
                continue
            open_keys.discard(key)
        elif event["action"] == "trigger":
            open_keys.add(key)
        acting.append(event)
    return acting


def _shorten(text: str, limit: int) -> str:
    """Cut `text` at a word boundary before `limit` characters and mark the cut with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _one_line(result: Any) -> str:
    if isinstance(result, dict) and isinstance(result.get("summary"), str):
        return _shorten(result["summary"], 150)
    if isinstance(result, dict) and isinstance(result.get("counts"), dict):
        counts = ", ".join(f"{name}={value}" for name, value in result["counts"].items() if value)
        return f"{counts or 'nothing to do'} (of {result.get('log_groups', '?')} log groups)"
    if isinstance(result, dict):
        parts = [f"{k}={v}" for k, v in result.items() if isinstance(v, (int, float, str, bool)) and k != "status"]
        return _shorten(", ".join(parts), 150)
    return _shorten(str(result), 150)


def run(report: Path | None = None, secrets: Mapping[str, str] | None = None, metrics_snapshot: bool = False) -> int:
    """Run the demo; `secrets` may set LocalEnvironment's `slack_token` and `routing_key` (for leak tests)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    summary = DemoSummary(started_at=now.isoformat())
    if DELIVERIES.exists():
        DELIVERIES.unlink()

    # The demo shows the jobs acting, so it turns off the dry run the `default` environment keeps.
    with LocalEnvironment(
        deliveries_path=DELIVERIES, overrides={"LogRetentionDryRun": "false"}, **dict(secrets or {})
    ) as env:
        from harness.monitored_system import create_monitored_system

        system = create_monitored_system(now)
        summary.monitored_system = system.to_dict()

        demo = Demo(env, summary)
        run_schedules(demo, now)

        from harness import demo_scenarios

        for scenario in demo_scenarios.SCENARIOS:
            summary.scenarios.append(scenario(demo))

        summary.metrics = dict(demo.emitted)
        summary.dead_letter_messages = count_dead_letters(demo)

        if metrics_snapshot:
            # The moto server stops with the environment, so `make dashboards` renders from this file.
            # Reading every dashboard series back from moto takes minutes, so only that target requests it.
            from harness.dashboards import METRICS_SNAPSHOT, save_metrics_snapshot

            save_metrics_snapshot(
                demo.cloudwatch, env.deployment, METRICS_SNAPSHOT, datetime.now(UTC), logs=boto3.client("logs")
            )

    collect_deliveries(summary, DELIVERIES)
    summary.elapsed_seconds = time.monotonic() - started
    print(render(summary))
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(asdict(summary), indent=2, default=str))
    return 1 if summary.failed_jobs or summary.failed_scenarios else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the suite end to end on the embedded AWS.")
    parser.add_argument("--report", type=Path, help="also write the summary as JSON to this path")
    parser.add_argument(
        "--metrics-snapshot", action="store_true", help="save the dashboards' metric data for `make dashboards`"
    )
    args = parser.parse_args(argv)
    return run(args.report, metrics_snapshot=args.metrics_snapshot)


if __name__ == "__main__":
    sys.exit(main())
