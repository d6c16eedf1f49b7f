"""Schedule expressions: next fire times as EventBridge computes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.scheduler import ScheduleError, next_fire_time

AFTER = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a Friday


def test_cron_daily_fires_next_day() -> None:
    assert next_fire_time("cron(15 3 * * ? *)", AFTER) == datetime(2026, 12, 5, 3, 15, tzinfo=UTC)


def test_cron_weekly_sunday() -> None:
    assert next_fire_time("cron(0 2 ? * SUN *)", AFTER) == datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def test_cron_quarterly_first_day() -> None:
    fire = next_fire_time("cron(0 3 1 1,4,7,10 ? *)", AFTER)

    assert fire == datetime(2027, 1, 1, 3, 0, tzinfo=UTC)


def test_rate_hour_adds_one_hour() -> None:
    assert next_fire_time("rate(1 hour)", AFTER) == datetime(2026, 12, 4, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize("expression", ["rate(1 hours)", "rate(2 hour)", "every day", "cron(0 2 * * * *)"])
def test_invalid_expression_rejected(expression: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        next_fire_time(expression, AFTER)

    assert expression.split("(")[0] in str(raised.value)


def test_parameter_overrides_keep_json_values() -> None:
    from harness.environment import parse_overrides

    parsed = parse_overrides('LogRetentionPolicy={"/aws/lambda/": 728} LogRetentionMode=enforce Email="a b"')

    assert parsed == {"LogRetentionPolicy": '{"/aws/lambda/": 728}', "LogRetentionMode": "enforce", "Email": "a b"}
