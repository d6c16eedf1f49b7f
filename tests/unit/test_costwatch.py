"""Cost watch arithmetic and configuration: periods, Cost Explorer sums, forecasts, budget."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from celebops.costwatch.config import CostAllocationTag, CostReporterConfig, parse_tag
from celebops.costwatch.report import (
    BudgetOutcome,
    ForecastSource,
    budget_outcome,
    forecast_from_cost_explorer,
    forecast_from_run_rate,
    period_for,
    service_log_records,
    summarise_cost_and_usage,
)
from celebops.errors import ConfigError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "costwatch"
COST_AND_USAGE = json.loads((FIXTURES / "cost_and_usage_daily_by_service_2026-12-04.json").read_text())
BASE_ENV = {"COST_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:cost", "TABLE_NAME": "celebrity-database"}


def test_period_mid_month_starts_at_first() -> None:
    period = period_for(date(2026, 12, 4))

    assert period.query_start == date(2026, 12, 1)
    assert period.yesterday == date(2026, 12, 3)
    assert period.next_month_start == date(2027, 1, 1)
    assert period.days_elapsed == 3


def test_period_first_of_month_queries_yesterday() -> None:
    period = period_for(date(2026, 3, 1))

    assert period.query_start == date(2026, 2, 28)
    assert period.month_start == date(2026, 3, 1)
    assert period.days_elapsed == 0
    assert period.days_in_month == 31


def test_summary_sums_groups_of_yesterday() -> None:
    costs = summarise_cost_and_usage([COST_AND_USAGE], period_for(date(2026, 12, 4)))

    assert costs.daily_total == Decimal("0.3709736")
    assert costs.services[0].service == "AWS Lambda"
    assert costs.services[0].amount == Decimal("0.1733005")
    assert len(costs.services) == 7
    assert costs.estimated is True


def test_summary_month_to_date_covers_three_days() -> None:
    costs = summarise_cost_and_usage([COST_AND_USAGE], period_for(date(2026, 12, 4)))

    assert costs.month_to_date == Decimal("0.7789122")


def test_summary_adds_service_split_across_pages() -> None:
    period = period_for(date(2026, 12, 4))
    bucket = {"TimePeriod": {"Start": "2026-12-03", "End": "2026-12-04"}, "Total": {}, "Estimated": False}
    first = {"ResultsByTime": [{**bucket, "Groups": [_group("AWS Lambda", "0.10")]}], "NextPageToken": "t"}
    second = {"ResultsByTime": [{**bucket, "Groups": [_group("AWS Lambda", "0.05")]}]}

    costs = summarise_cost_and_usage([first, second], period)

    assert costs.services[0].amount == Decimal("0.15")
    assert costs.daily_total == Decimal("0.15")


def test_summary_first_of_month_excludes_last_month() -> None:
    period = period_for(date(2026, 12, 1))
    page = {
        "ResultsByTime": [
            {"TimePeriod": {"Start": "2026-11-30", "End": "2026-12-01"}, "Groups": [_group("AWS Lambda", "0.20")]}
        ]
    }

    costs = summarise_cost_and_usage([page], period)

    assert costs.daily_total == Decimal("0.20")
    assert costs.month_to_date == Decimal(0)


def test_summary_without_results_is_zero() -> None:
    costs = summarise_cost_and_usage([{"ResultsByTime": []}], period_for(date(2026, 12, 4)))

    assert costs.daily_total == Decimal(0)
    assert costs.services == ()


def test_forecast_adds_remaining_to_month_to_date() -> None:
    forecast = forecast_from_cost_explorer(Decimal("0.92"), Decimal("7.91"))

    assert forecast.amount == Decimal("8.83")
    assert forecast.source is ForecastSource.COST_EXPLORER


def test_run_rate_extrapolates_average_day() -> None:
    period = period_for(date(2026, 12, 4))
    costs = summarise_cost_and_usage([COST_AND_USAGE], period)

    forecast = forecast_from_run_rate(costs, period, "DataUnavailableException")

    assert forecast.amount == costs.month_to_date / 3 * 31
    assert forecast.source is ForecastSource.RUN_RATE
    assert forecast.forecast_error == "DataUnavailableException"


def test_run_rate_on_first_uses_yesterday() -> None:
    period = period_for(date(2026, 12, 1))
    page = {
        "ResultsByTime": [
            {"TimePeriod": {"Start": "2026-11-30", "End": "2026-12-01"}, "Groups": [_group("AWS Lambda", "0.25")]}
        ]
    }
    costs = summarise_cost_and_usage([page], period)

    forecast = forecast_from_run_rate(costs, period, "DataUnavailableException")

    assert forecast.amount == Decimal("7.75")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("7.50", BudgetOutcome.WITHIN), ("7.51", BudgetOutcome.ABOVE), ("0", BudgetOutcome.WITHIN)],
)
def test_budget_compares_strictly_above(amount: str, expected: BudgetOutcome) -> None:
    forecast = forecast_from_cost_explorer(Decimal(0), Decimal(amount))

    assert budget_outcome(forecast, 7.50) is expected


def test_service_log_records_one_per_service() -> None:
    costs = summarise_cost_and_usage([COST_AND_USAGE], period_for(date(2026, 12, 4)))

    records = service_log_records(costs)

    assert [record["cost_service"] for record in records] == [item.service for item in costs.services]
    assert records[0] == {
        "cost_day": "2026-12-03",
        "cost_service": "AWS Lambda",
        "cost_usd": 0.1733005,
        "cost_unit": "USD",
        "estimated": True,
    }


def test_config_defaults_budget_and_no_tag() -> None:
    config = CostReporterConfig.from_env(BASE_ENV)

    assert config.monthly_budget_usd == 7.50
    assert config.tag is None


def test_config_reads_tag_filter() -> None:
    config = CostReporterConfig.from_env({**BASE_ENV, "COST_ALLOCATION_TAG": "project=celebrity-database"})

    assert config.tag == CostAllocationTag("project", "celebrity-database")
    assert config.tag.to_filter() == {
        "Tags": {"Key": "project", "Values": ["celebrity-database"], "MatchOptions": ["EQUALS"]}
    }


@pytest.mark.parametrize("raw", ["project", "=value", "a=b=c"])
def test_tag_without_key_value_is_rejected(raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_tag(raw)

    assert raised.value.variable == "COST_ALLOCATION_TAG"


def test_config_rejects_zero_budget() -> None:
    with pytest.raises(ConfigError) as raised:
        CostReporterConfig.from_env({**BASE_ENV, "MONTHLY_BUDGET_USD": "0"})

    assert raised.value.variable == "MONTHLY_BUDGET_USD"


def _group(service: str, amount: str) -> dict[str, object]:
    return {"Keys": [service], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


def test_config_reads_forecast_source() -> None:
    env = {**BASE_ENV, "COST_FORECAST": "run-rate"}

    assert CostReporterConfig.from_env(env).forecast_source is ForecastSource.RUN_RATE


def test_config_rejects_unknown_forecast_source() -> None:
    env = {**BASE_ENV, "COST_FORECAST": "guess"}

    with pytest.raises(ConfigError) as raised:
        CostReporterConfig.from_env(env)

    assert "COST_FORECAST" in str(raised.value)
