"""Thin adapters for Cost Explorer and DynamoDB; each takes its boto3 client as an argument."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from celebops.clients import new_client
from celebops.costwatch.config import CostAllocationTag
from celebops.costwatch.report import COST_METRIC, FORECAST_METRIC, ReportPeriod

# Each Cost Explorer request is billed (USD 0.01 in 2025) and the job runs once a day, so a failing
# request is retried twice, not ten times as the shared clients do; the next day's run catches up.
_CE_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="celebrity-database-ops",
)


def cost_explorer_client() -> Any:
    """Return a Cost Explorer client; botocore sends it to the global endpoint in us-east-1 from any region."""
    return new_client("ce", _CE_CONFIG)


def _filter(tag: CostAllocationTag | None) -> dict[str, Any]:
    return {"Filter": tag.to_filter()} if tag else {}


def cost_and_usage_pages(ce: Any, period: ReportPeriod, tag: CostAllocationTag | None) -> Iterator[Mapping[str, Any]]:
    """Yield GetCostAndUsage pages: daily unblended cost per SERVICE from `query_start` to today.

    GetCostAndUsage has no boto3 paginator, so NextPageToken is followed here.
    """
    arguments: dict[str, Any] = {
        "TimePeriod": {"Start": period.query_start.isoformat(), "End": period.today.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [COST_METRIC],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        **_filter(tag),
    }
    while True:
        page = ce.get_cost_and_usage(**arguments)
        yield page
        token = page.get("NextPageToken")
        if not token:
            return
        arguments["NextPageToken"] = token


@dataclass(frozen=True)
class ForecastResult:
    """GetCostForecast's total for today to the month's end, or the error code that prevented it."""

    amount: Decimal | None
    error_code: str | None = None


def remaining_month_forecast(ce: Any, period: ReportPeriod, tag: CostAllocationTag | None) -> ForecastResult:
    """Ask GetCostForecast for today to the first of next month (its start may not lie in the past).

    Any ClientError becomes a ForecastResult with the error code, because the run still has daily
    and month-to-date figures to report and the caller replaces the forecast with the run rate.
    New accounts and the first days of a month get DataUnavailableException.
    """
    try:
        response = ce.get_cost_forecast(
            TimePeriod={"Start": period.today.isoformat(), "End": period.next_month_start.isoformat()},
            Metric=FORECAST_METRIC,
            Granularity="MONTHLY",
            **_filter(tag),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code") or "unknown"
        return ForecastResult(amount=None, error_code=code)
    return ForecastResult(amount=Decimal(str(response["Total"]["Amount"])))


def table_item_count(dynamodb: Any, table_name: str) -> int:
    """Return DescribeTable's ItemCount, which DynamoDB refreshes about every six hours; it costs no reads."""
    return int(dynamodb.describe_table(TableName=table_name)["Table"]["ItemCount"])
