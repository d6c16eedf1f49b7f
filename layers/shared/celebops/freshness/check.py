"""Entry point of FreshnessMonitorFunction: read the table, assess each source, report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from celebops.freshness.assess import FreshnessReport, FreshnessStatus, RunOutcome, assess_sources
from celebops.freshness.config import FreshnessConfig
from celebops.freshness.table import TableReadError, read_newest

logger = Logger(child=True)


def check_freshness(dynamodb: Any, config: FreshnessConfig, now: datetime) -> FreshnessReport:
    """Return the freshness of every source; a table that cannot be read gives a CHECK_FAILED report."""
    try:
        reading = read_newest(dynamodb, config, now)
    except TableReadError as exc:
        logger.exception("freshness check failed", extra={"table": config.table_name, "error_code": exc.error_code})
        return FreshnessReport(outcome=RunOutcome.CHECK_FAILED, error_code=exc.error_code, error=str(exc))

    sources = tuple(assess_sources(reading.newest, config, now))
    for source in sources:
        extra = source.to_dict()
        if source.status in (FreshnessStatus.ERROR, FreshnessStatus.NO_DATA):
            logger.error("source data stale", extra=extra)
        elif source.status is FreshnessStatus.WARN:
            logger.warning("source data late", extra=extra)
    if reading.invalid_timestamps:
        logger.warning(
            "items without a valid timestamp",
            extra={"count": reading.invalid_timestamps, "attribute": config.updated_at_attribute},
        )
    return FreshnessReport(outcome=RunOutcome.OK, sources=sources, reading=reading)
