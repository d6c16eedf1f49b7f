"""Arithmetic of the cost model, with expected numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchmarks import costmodel as cm
from benchmarks.template_model import AlarmSpec
from benchmarks.warm import recommend_memory

START = datetime(2025, 1, 1, tzinfo=UTC)


def test_daily_cron_invocations_per_month() -> None:
    # 365 firings in 2025; 365 × 730 / 8760 = 30.4166...
    assert cm.invocations_per_month("cron(15 3 * * ? *)", START) == pytest.approx(365 * 730 / 8760)


def test_weekly_cron_invocations_per_month() -> None:
    # 52 Sundays in 2025 (5 January to 28 December): 52 × 730 / 8760 = 4.3333...
    assert cm.invocations_per_month("cron(0 4 ? * SUN *)", START) == pytest.approx(52 / 12)


def test_quarterly_cron_invocations_per_month() -> None:
    assert cm.invocations_per_month("cron(0 4 1 1,4,7,10 ? *)", START) == pytest.approx(4 / 12)


def test_hourly_rate_invocations_per_month() -> None:
    # 8,760 hours in 2025; the first firing is one hour after the start, the last at the window's end is excluded.
    assert cm.invocations_per_month("rate(1 hour)", START) == pytest.approx(8759 * 730 / 8760)


def test_thirty_day_window_daily_cron() -> None:
    assert cm.invocations_per_month("cron(0 0 * * ? *)", START, days=30) == pytest.approx(30 * 730 / 720)


def test_invalid_expression_raises() -> None:
    with pytest.raises(ValueError, match="invalid schedule expression") as caught:
        cm.invocations_per_month("every day", START)

    assert "every day" in str(caught.value)


def test_five_minute_rate_hours_with_data() -> None:
    # Every clock hour has a firing, so a metric emitted each run is billed for all 730 hours.
    assert cm.hours_with_data_per_month("rate(5 minutes)", START) == pytest.approx(730)


def test_weekly_cron_hours_with_data() -> None:
    assert cm.hours_with_data_per_month("cron(0 4 ? * SUN *)", START) == pytest.approx(52 / 12)


def test_prorated_metric_weekly() -> None:
    # 52/12 hours × $0.30 / 730 = $0.0017808...
    assert cm.prorated_metric_cost(52 / 12, 0.30) == pytest.approx(0.30 * 52 / 12 / 730)


def test_prorated_metric_caps_at_full_month() -> None:
    assert cm.prorated_metric_cost(1000, 0.30) == pytest.approx(0.30)


def test_prorated_metric_daily() -> None:
    # 30.4166 hours: 30.4166 × 0.30 / 730 = $0.0125
    assert cm.prorated_metric_cost(365 * 730 / 8760, 0.30) == pytest.approx(0.0125)


def test_metric_math_alarm_counts_each_metric() -> None:
    alarm = AlarmSpec("AlertDeliveryFailedAlarm", "metric-math", 4, False)

    assert cm.alarm_billed_metrics(alarm) == 4
    assert cm.alarm_cost(alarm, 0.10, 0.30, 0.50) == pytest.approx(0.40)


def test_high_resolution_alarm_cost() -> None:
    alarm = AlarmSpec("Fast", "metric", 1, True)

    assert cm.alarm_cost(alarm, 0.10, 0.30, 0.50) == pytest.approx(0.30)


def test_composite_alarm_cost() -> None:
    alarm = AlarmSpec("Composite", "composite", 0, False)

    assert cm.alarm_cost(alarm, 0.10, 0.30, 0.50) == pytest.approx(0.50)


@pytest.mark.parametrize(("count", "expected"), [(0, 0.0), (3, 0.0), (4, 3.0), (6, 9.0)])
def test_dashboards_beyond_three_free(count: int, expected: float) -> None:
    assert cm.dashboards_cost(count, 3.0) == pytest.approx(expected)


def test_gb_seconds_rounds_duration_up() -> None:
    # 30 × 1.001 s (1000.2 ms rounds up to 1001 ms) × 0.25 GB = 7.5075 GB-s
    assert cm.gb_seconds(30, 1000.2, 256) == pytest.approx(7.5075)


def test_gb_seconds_one_gigabyte() -> None:
    assert cm.gb_seconds(1000, 100, 1024) == pytest.approx(100.0)


RESTORE_DEFINITION = {
    "StartAt": "StartRestore",
    "States": {
        "StartRestore": {"Type": "Task", "Next": "WaitForRestore"},
        "WaitForRestore": {"Type": "Wait", "Seconds": 60, "Next": "CheckRestore"},
        "CheckRestore": {"Type": "Task", "Next": "RestoreDone"},
        "RestoreDone": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.status", "StringEquals": "ACTIVE", "Next": "Verify"}],
            "Default": "WaitForRestore",
        },
        "Verify": {"Type": "Task", "Next": "Cleanup"},
        "Cleanup": {"Type": "Task", "End": True},
        "Failed": {"Type": "Fail"},
    },
}


def test_happy_path_states() -> None:
    assert cm.happy_path(RESTORE_DEFINITION) == [
        "StartRestore",
        "WaitForRestore",
        "CheckRestore",
        "RestoreDone",
        "Verify",
        "Cleanup",
    ]


def test_polling_loop_states() -> None:
    assert cm.polling_loop(RESTORE_DEFINITION) == ["WaitForRestore", "CheckRestore", "RestoreDone"]


def test_transitions_with_polls() -> None:
    # 6 states on the happy path + 20 extra rounds × 3 states = 66
    assert cm.count_transitions(RESTORE_DEFINITION, 20) == 66


def test_memory_recommendation_double_headroom() -> None:
    assert recommend_memory(100.0) == 256


def test_memory_recommendation_small_peak() -> None:
    assert recommend_memory(64.0) == 128


def test_memory_recommendation_none_fits() -> None:
    assert recommend_memory(600.0) is None
