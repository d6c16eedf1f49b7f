"""Configuration of CostReporterFunction, read and validated once at cold start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from celebops.config import env_float, env_optional, env_str
from celebops.constants import ENV_ALERT_TOPIC_COST
from celebops.costwatch.report import ForecastSource
from celebops.errors import ConfigError

ENV_MONTHLY_BUDGET = "MONTHLY_BUDGET_USD"
ENV_COST_ALLOCATION_TAG = "COST_ALLOCATION_TAG"
ENV_TABLE_NAME = "TABLE_NAME"
ENV_COST_FORECAST = "COST_FORECAST"

#: The operators' monthly run rate in USD; a forecast above it publishes a cost finding.
DEFAULT_MONTHLY_BUDGET_USD = 7.50

# Cost Explorer tag keys: up to 128 characters, no "aws:" prefix for user-defined cost-allocation tags.
_TAG = re.compile(r"^(?P<key>[^=]{1,128})=(?P<value>[^=]{0,256})$")


@dataclass(frozen=True)
class CostAllocationTag:
    """A cost-allocation tag that limits every Cost Explorer query to the resources carrying it."""

    key: str
    value: str

    def to_filter(self) -> dict[str, object]:
        return {"Tags": {"Key": self.key, "Values": [self.value], "MatchOptions": ["EQUALS"]}}


@dataclass(frozen=True)
class CostReporterConfig:
    monthly_budget_usd: float
    cost_topic_arn: str
    table_name: str
    tag: CostAllocationTag | None = None
    #: `run-rate` skips GetCostForecast and saves one billed request ($0.01) a day.
    forecast_source: ForecastSource = ForecastSource.COST_EXPLORER

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CostReporterConfig:
        """Read the function's environment; raise ConfigError naming the first invalid variable."""
        budget = env_float(ENV_MONTHLY_BUDGET, DEFAULT_MONTHLY_BUDGET_USD, minimum=0.01, env=env)
        return cls(
            monthly_budget_usd=budget,
            cost_topic_arn=env_str(ENV_ALERT_TOPIC_COST, env=env),
            table_name=env_str(ENV_TABLE_NAME, env=env),
            tag=parse_tag(env_optional(ENV_COST_ALLOCATION_TAG, env=env)),
            forecast_source=parse_forecast_source(env_optional(ENV_COST_FORECAST, env=env)),
        )


def parse_tag(raw: str | None) -> CostAllocationTag | None:
    """Parse `key=value`; None or blank means the whole account's costs."""
    if raw is None or not raw.strip():
        return None
    match = _TAG.match(raw.strip())
    if not match or not match.group("key").strip():
        raise ConfigError(ENV_COST_ALLOCATION_TAG, f"{raw!r} is not key=value, for example project=celebrity-database")
    return CostAllocationTag(key=match.group("key").strip(), value=match.group("value").strip())


def parse_forecast_source(raw: str | None) -> ForecastSource:
    """Parse `cost-explorer` or `run-rate`; unset means cost-explorer."""
    if raw is None or not raw.strip():
        return ForecastSource.COST_EXPLORER
    try:
        return ForecastSource(raw.strip())
    except ValueError:
        allowed = ", ".join(item.value for item in ForecastSource)
        raise ConfigError(ENV_COST_FORECAST, f"{raw!r} is not one of {allowed}") from None
