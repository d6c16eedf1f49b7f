"""The cost watch's metrics and their dimension sets, which the dashboards and alarms name exactly."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from celebops.constants import METRICS_NAMESPACE
from celebops.costwatch.report import CostReport

DAILY_COST = "DailyCost"
MONTH_TO_DATE_COST = "MonthToDateCost"
FORECAST_MONTH_COST = "ForecastMonthCost"
TABLE_ITEM_COUNT = "TableItemCount"

#: Dimension keys of each metric as emitted. Powertools adds `service` (POWERTOOLS_SERVICE_NAME,
#: "cost-reporter" in the template) to every metric, single_metric included, so dashboards and
#: alarms name it too.
DIMENSION_SETS: dict[str, tuple[str, ...]] = {
    DAILY_COST: ("service",),
    MONTH_TO_DATE_COST: ("service",),
    FORECAST_MONTH_COST: ("service",),
    TABLE_ITEM_COUNT: ("TableName", "service"),
}


def add_cost_metrics(metrics: Metrics, report: CostReport) -> None:
    """Add the three cost figures in USD; CloudWatch has no currency unit, so the unit is None."""
    metrics.add_metric(name=DAILY_COST, unit=MetricUnit.NoUnit, value=float(report.costs.daily_total))
    metrics.add_metric(name=MONTH_TO_DATE_COST, unit=MetricUnit.NoUnit, value=float(report.costs.month_to_date))
    metrics.add_metric(name=FORECAST_MONTH_COST, unit=MetricUnit.NoUnit, value=float(report.forecast.amount))


def emit_table_item_count(table_name: str, item_count: int) -> None:
    """Write TableItemCount at once as its own EMF document, dimensioned by TableName and service."""
    with single_metric(
        name=TABLE_ITEM_COUNT, unit=MetricUnit.Count, value=item_count, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="TableName", value=table_name)
