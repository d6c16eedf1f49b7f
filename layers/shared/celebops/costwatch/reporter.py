"""One daily cost run: query Cost Explorer, forecast the month, check the budget, publish a finding."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from celebops.costwatch.config import CostReporterConfig
from celebops.costwatch.explorer import cost_and_usage_pages, remaining_month_forecast, table_item_count
from celebops.costwatch.report import (
    BudgetOutcome,
    CostReport,
    ForecastSource,
    budget_outcome,
    forecast_from_cost_explorer,
    forecast_from_run_rate,
    period_for,
    summarise_cost_and_usage,
)
from celebops.findings import Finding, Severity, new_finding
from celebops.publish import publish_finding

SOURCE = "CostReporterFunction"
RUNBOOK = "docs/runbooks/cost.md#forecast-above-budget"


def build_cost_report(ce: Any, config: CostReporterConfig, today: date) -> CostReport:
    """Make the run's Cost Explorer requests: one GetCostAndUsage page in practice, and one forecast
    unless the configuration selects the run rate instead."""
    period = period_for(today)
    costs = summarise_cost_and_usage(cost_and_usage_pages(ce, period, config.tag), period)

    if config.forecast_source is ForecastSource.RUN_RATE:
        forecast = forecast_from_run_rate(costs, period)
    else:
        remaining = remaining_month_forecast(ce, period, config.tag)
        if remaining.amount is not None:
            forecast = forecast_from_cost_explorer(costs.month_to_date, remaining.amount)
        else:
            forecast = forecast_from_run_rate(costs, period, remaining.error_code or "unknown")
    return CostReport(
        period=period,
        costs=costs,
        forecast=forecast,
        monthly_budget_usd=config.monthly_budget_usd,
        budget=budget_outcome(forecast, config.monthly_budget_usd),
    )


def budget_finding(report: CostReport, config: CostReporterConfig) -> Finding:
    """Build the warning that the month's forecast exceeds the budget; one dedup key per month."""
    month = report.period.month_start.strftime("%Y-%m")
    top = ", ".join(f"{item.service} ${item.amount:.2f}" for item in report.costs.services[:5]) or "no charges"
    scope = f" for tag {config.tag.key}={config.tag.value}" if config.tag else ""
    return new_finding(
        finding_id=f"cost-forecast-{report.period.today.isoformat()}",
        source=SOURCE,
        kind="cost.forecast-above-budget",
        severity=Severity.WARNING,
        title=f"Cost forecast ${report.forecast.amount:.2f} is above the ${config.monthly_budget_usd:.2f} budget",
        summary=(
            f"The {month} forecast{scope} is ${report.forecast.amount:.2f} ({report.forecast.source}), above the "
            f"monthly budget of ${config.monthly_budget_usd:.2f}. Month to date ${report.costs.month_to_date:.2f}; "
            f"yesterday ${report.costs.daily_total:.2f}: {top}."
        ),
        details=report.to_dict(),
        runbook=RUNBOOK,
        dedup_key=f"cost-forecast-{month}",
    )


def run_cost_report(ce: Any, dynamodb: Any, sns: Any, config: CostReporterConfig, today: date) -> CostReport:
    """Build the day's report, read the table's item count, and publish a finding above budget."""
    report = build_cost_report(ce, config, today)
    item_count = table_item_count(dynamodb, config.table_name)
    message_id = None
    if report.budget is BudgetOutcome.ABOVE:
        message_id = publish_finding(sns, config.cost_topic_arn, budget_finding(report, config))
    return replace(report, table_item_count=item_count, finding_message_id=message_id)
