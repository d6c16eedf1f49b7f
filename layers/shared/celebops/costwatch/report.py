"""Pure cost arithmetic: query periods, Cost Explorer results to daily figures, forecast and budget."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

#: Cost Explorer metric every figure of the report uses: what AWS bills before credits and discounts.
COST_METRIC = "UnblendedCost"
FORECAST_METRIC = "UNBLENDED_COST"


class ForecastSource(StrEnum):
    COST_EXPLORER = "cost-explorer"
    #: Month-to-date cost extrapolated over the month, used when GetCostForecast returns no forecast.
    RUN_RATE = "run-rate"


class BudgetOutcome(StrEnum):
    WITHIN = "within_budget"
    ABOVE = "forecast_above_budget"


@dataclass(frozen=True)
class ReportPeriod:
    """Dates of one daily run; every `end` is exclusive, as Cost Explorer's TimePeriod is."""

    today: date
    yesterday: date
    month_start: date
    next_month_start: date
    #: First day the cost-and-usage query covers: the month's first day, or yesterday on the 1st.
    query_start: date

    @property
    def days_in_month(self) -> int:
        return calendar.monthrange(self.today.year, self.today.month)[1]

    @property
    def days_elapsed(self) -> int:
        """Whole days of this month already in the month-to-date figure (0 on the 1st)."""
        return (self.today - self.month_start).days


def period_for(today: date) -> ReportPeriod:
    """Return the dates of the run on `today` (UTC, the day Cost Explorer's daily buckets use)."""
    month_start = today.replace(day=1)
    next_month_start = (month_start + timedelta(days=32)).replace(day=1)
    yesterday = today - timedelta(days=1)
    return ReportPeriod(
        today=today,
        yesterday=yesterday,
        month_start=month_start,
        next_month_start=next_month_start,
        query_start=min(month_start, yesterday),
    )


@dataclass(frozen=True)
class ServiceCost:
    service: str
    amount: Decimal
    unit: str = "USD"


@dataclass(frozen=True)
class DailyCosts:
    """What one GetCostAndUsage query (daily, grouped by SERVICE) says about yesterday and the month."""

    day: date
    services: tuple[ServiceCost, ...]
    daily_total: Decimal
    month_to_date: Decimal
    #: True when Cost Explorer marks yesterday's figures as estimated (not final yet).
    estimated: bool


def summarise_cost_and_usage(pages: Iterable[Mapping[str, Any]], period: ReportPeriod) -> DailyCosts:
    """Sum GetCostAndUsage pages into yesterday's cost per service and the month-to-date total.

    With GroupBy, Cost Explorer leaves each day's `Total` empty and reports only `Groups`, so the
    totals are the sums of the groups. One service may appear on several pages for the same day
    (pagination splits groups), so amounts are added, never replaced.
    """
    per_service: dict[str, Decimal] = defaultdict(Decimal)
    units: dict[str, str] = {}
    month_to_date = Decimal(0)
    estimated = False
    for page in pages:
        for bucket in page.get("ResultsByTime", []):
            day = date.fromisoformat(bucket["TimePeriod"]["Start"])
            for group in bucket.get("Groups", []):
                cost = group.get("Metrics", {}).get(COST_METRIC, {})
                amount = Decimal(str(cost.get("Amount", "0")))
                if day >= period.month_start:
                    month_to_date += amount
                if day == period.yesterday:
                    service = group["Keys"][0]
                    per_service[service] += amount
                    units[service] = cost.get("Unit", "USD")
            if day == period.yesterday and bucket.get("Estimated"):
                estimated = True
    services = tuple(
        sorted(
            (ServiceCost(name, amount, units[name]) for name, amount in per_service.items()),
            key=lambda item: (-item.amount, item.service),
        )
    )
    return DailyCosts(
        day=period.yesterday,
        services=services,
        daily_total=sum((item.amount for item in services), Decimal(0)),
        month_to_date=month_to_date,
        estimated=estimated,
    )


@dataclass(frozen=True)
class MonthForecast:
    amount: Decimal
    source: ForecastSource
    #: The AWS error code of GetCostForecast when the run rate replaced its forecast.
    forecast_error: str | None = None


def forecast_from_cost_explorer(month_to_date: Decimal, remaining: Decimal) -> MonthForecast:
    """Add GetCostForecast's figure for today to the month's end to what the month already cost."""
    return MonthForecast(amount=month_to_date + remaining, source=ForecastSource.COST_EXPLORER)


def forecast_from_run_rate(costs: DailyCosts, period: ReportPeriod, error_code: str | None = None) -> MonthForecast:
    """Extrapolate the month from its average day so far, or from yesterday on the month's first day.

    This is an estimate: it ignores the weekly scrape peaks that GetCostForecast's model would see.
    """
    per_day = costs.month_to_date / period.days_elapsed if period.days_elapsed > 0 else costs.daily_total
    return MonthForecast(
        amount=per_day * period.days_in_month, source=ForecastSource.RUN_RATE, forecast_error=error_code
    )


def budget_outcome(forecast: MonthForecast, monthly_budget_usd: float) -> BudgetOutcome:
    if forecast.amount > Decimal(str(monthly_budget_usd)):
        return BudgetOutcome.ABOVE
    return BudgetOutcome.WITHIN


@dataclass(frozen=True)
class CostReport:
    period: ReportPeriod
    costs: DailyCosts
    forecast: MonthForecast
    monthly_budget_usd: float
    budget: BudgetOutcome
    table_item_count: int | None = None
    finding_message_id: str | None = None

    def summary(self) -> str:
        """Return the one line an operator reads in the demo output and the function's result."""
        top = ", ".join(f"{item.service} ${item.amount:.2f}" for item in self.costs.services[:3]) or "no charges"
        verdict = "ABOVE budget" if self.budget is BudgetOutcome.ABOVE else "within budget"
        return (
            f"{self.period.yesterday}: ${self.costs.daily_total:.2f} ({top}); month to date "
            f"${self.costs.month_to_date:.2f}; forecast ${self.forecast.amount:.2f} ({self.forecast.source}) "
            f"{verdict} ${self.monthly_budget_usd:.2f}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "day": self.period.yesterday.isoformat(),
            "daily_cost_usd": float(self.costs.daily_total),
            "month_to_date_usd": float(self.costs.month_to_date),
            "forecast_month_usd": float(self.forecast.amount),
            "forecast_source": self.forecast.source.value,
            "forecast_error": self.forecast.forecast_error,
            "monthly_budget_usd": self.monthly_budget_usd,
            "budget": self.budget.value,
            "estimated": self.costs.estimated,
            "services": [{"service": s.service, "amount_usd": float(s.amount)} for s in self.costs.services],
            "table_item_count": self.table_item_count,
            "finding_message_id": self.finding_message_id,
        }


def service_log_records(costs: DailyCosts) -> Sequence[dict[str, Any]]:
    """Return one structured record per service, the rows the cost dashboard's Logs Insights widget reads."""
    return [
        {
            "cost_day": costs.day.isoformat(),
            "cost_service": item.service,
            "cost_usd": float(item.amount),
            "cost_unit": item.unit,
            "estimated": costs.estimated,
        }
        for item in costs.services
    ]
