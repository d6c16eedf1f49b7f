"""EventBridge schedules of template.yaml: next fire times and the events they deliver."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_croniter import AwsCroniter

from harness.deploy import Deployment, Schedule

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")


class ScheduleError(ValueError):
    """A schedule expression EventBridge would reject."""


def next_fire_time(expression: str, after: datetime) -> datetime:
    """Return the first time after `after` (UTC) at which `expression` fires."""
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2)
        if amount < 1:
            raise ScheduleError(f"{expression}: the rate value must be at least 1")
        if (amount == 1) != (not unit.endswith("s")):
            raise ScheduleError(f"{expression}: EventBridge wants the singular unit for 1 and plural otherwise")
        step = timedelta(**{unit.rstrip("s") + "s": amount})
        return after + step
    cron = _CRON.match(expression)
    if not cron:
        raise ScheduleError(f"{expression!r} is neither cron(...) nor rate(...)")
    try:
        iterator = AwsCroniter(cron.group(1))
        upcoming = iterator.get_next(from_date=after.astimezone(UTC))
    except Exception as exc:  # aws-croniter raises its own error types for bad fields
        raise ScheduleError(f"{expression}: {exc}") from exc
    first = upcoming[0] if isinstance(upcoming, list) else upcoming
    return first if first.tzinfo else first.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Firing:
    at: datetime
    schedule: Schedule


def firings_in_order(deployment: Deployment, after: datetime) -> list[Firing]:
    """Each enabled schedule's next firing after `after`, earliest first."""
    firings = [
        Firing(at=next_fire_time(schedule.expression, after), schedule=schedule)
        for schedule in deployment.schedules
        if schedule.enabled
    ]
    return sorted(firings, key=lambda firing: (firing.at, firing.schedule.rule_name))


def scheduled_event(firing: Firing, deployment: Deployment) -> Any:
    """The event EventBridge delivers for this firing: the target's Input, or a Scheduled Event."""
    if firing.schedule.input:
        return json.loads(firing.schedule.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": deployment.account_id,
        "time": firing.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": deployment.region,
        "resources": [f"arn:aws:events:{deployment.region}:{deployment.account_id}:rule/{firing.schedule.rule_name}"],
        "detail": {},
    }
