"""Fire drill: push a chosen alarm through the whole alert path, then back to OK.

Operators run it after every deploy to see Slack and PagerDuty still receive:

    make fire-drill TARGET=aws ALARM=celebrity-database-ops-suite-alert-dlq-not-empty

In AWS it calls CloudWatch's SetAlarmState, so CloudWatch itself notifies the alarm's topics
(the next evaluation sets the real state again). Locally it deploys the suite into the embedded
AWS, publishes exactly what CloudWatch would publish, delivers the queue to the alert router, and
prints what the Slack and PagerDuty receivers got.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime

import boto3

DRILL_REASON = "Fire drill: state set by hand to test the alert path"


def drill_in_aws(alarm: str, pause: float) -> int:
    cloudwatch = boto3.client("cloudwatch")
    if not cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]:
        print(f"error: alarm {alarm!r} not found in {cloudwatch.meta.region_name}", file=sys.stderr)
        return 2
    for state in ("ALARM", "OK"):
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue=state, StateReason=DRILL_REASON)
        print(f"set {alarm} to {state}; check Slack and PagerDuty")
        if state == "ALARM":
            time.sleep(pause)
    return 0


def drill_locally(alarm: str | None) -> int:
    from harness import alarms
    from harness.environment import LocalEnvironment
    from harness.paths import LOCAL
    from harness.sqs_delivery import deliver

    deliveries = LOCAL / "fire-drill-deliveries.jsonl"
    deliveries.unlink(missing_ok=True)
    with LocalEnvironment(deliveries_path=deliveries) as env:
        cloudwatch, sns, sqs = boto3.client("cloudwatch"), boto3.client("sns"), boto3.client("sqs")
        name = alarm or f"{env.deployment.stack_name}-suite-alert-dlq-not-empty"
        for state in ("ALARM", "OK"):
            transition = alarms.set_alarm_state(cloudwatch, sns, name, state, DRILL_REASON, datetime.now(UTC))
            print(f"set {name} to {state}; notified {len(transition.notified_topics)} topic(s)")
            for mapping in env.deployment.queue_mappings:
                deliver(sqs, mapping, lambda event, fn=mapping.function: env.invoke(fn, event), env.deployment.region)
        received = env.receivers.deliveries()
    for delivery in received:
        payload = delivery["payload"]
        if delivery["receiver"] == "slack":
            print(f"slack:     {str(payload.get('text', ''))[:120]}")
        else:
            print(f"pagerduty: {payload.get('event_action')} {json.dumps(payload.get('dedup_key'))}")
    pages = [d for d in received if d["receiver"] == "pagerduty"]
    chats = [d for d in received if d["receiver"] == "slack"]
    if not chats:
        print("error: Slack received nothing", file=sys.stderr)
        return 1
    if not pages:
        print("note: PagerDuty received nothing; only alarms on the critical topic page", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Push an alarm through the alert path and back to OK.")
    parser.add_argument("--target", choices=["local", "aws"], default="local", help="embedded AWS or your AWS account")
    parser.add_argument("--alarm", help="alarm name (local default: the dead-letter queue alarm)")
    parser.add_argument("--pause", type=float, default=60.0, help="seconds in ALARM before OK, in AWS")
    args = parser.parse_args(argv)
    if args.target == "aws":
        if not args.alarm:
            parser.error("--alarm is required with --target aws")
        return drill_in_aws(args.alarm, args.pause)
    return drill_locally(args.alarm)


if __name__ == "__main__":
    sys.exit(main())
