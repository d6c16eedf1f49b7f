"""Product metrics with exact dimension sets, one EMF document per metric and dimension value.

The alarms name these dimension sets exactly, so the documents carry no `service` dimension.
One dimension has one value per EMF document, which is why each source gets its own document:
re-adding `Source` in one buffer would publish every value under the last source
(powertools-lambda-python#5361). One value per document also stays below the EMF limit of 100
values per metric. An empty dimension value makes CloudWatch drop all the metric's dimensions
(powertools-lambda-python#5526), so a blank source name is replaced by UNKNOWN_SOURCE.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric

from celebops.constants import METRICS_NAMESPACE

logger = Logger(child=True)

SOURCE_DIMENSION = "Source"
#: Dimension value of a metric whose source name is missing or blank.
UNKNOWN_SOURCE = "unknown"

# Metric names: the alarms in template.yaml and the README refer to these.
DATA_FRESHNESS = "DataFreshness"
FRESHNESS_CHECK_FAILED = "FreshnessCheckFailed"
SCRAPER_SUCCESS = "ScraperSuccess"
SCRAPER_SUCCESS_RATE = "ScraperSuccessRate"

Writer = Callable[[str], None]


def source_dimension_value(source: str | None) -> str:
    """Return the `Source` dimension value of `source`, UNKNOWN_SOURCE when it is missing or blank."""
    if source is None or not str(source).strip():
        logger.warning("blank source name replaced", extra={"source": repr(source), "replacement": UNKNOWN_SOURCE})
        return UNKNOWN_SOURCE
    return str(source).strip()


def emit_metric(
    name: str, unit: MetricUnit, value: float, dimensions: Mapping[str, str], write: Writer = print
) -> dict[str, object]:
    """Write one EMF document with exactly `dimensions` (none for an overall value) and return it."""
    for key, dimension_value in dimensions.items():
        if not dimension_value.strip():
            raise ValueError(f"dimension {key} of {name} is blank; CloudWatch would drop every dimension")
    # An empty service keeps Powertools from adding its `service` dimension to this document.
    metric = SingleMetric(namespace=METRICS_NAMESPACE, service="")
    metric.add_metric(name=name, unit=unit, value=value)
    for key, dimension_value in dimensions.items():
        metric.add_dimension(name=key, value=dimension_value)
    document = metric.serialize_metric_set()
    write(json.dumps(document, separators=(",", ":")))
    return dict(document)


def emit_per_source(
    name: str, unit: MetricUnit, values: Sequence[tuple[str | None, float]], write: Writer = print
) -> list[dict[str, object]]:
    """Write one document per (source, value), with the source as its only dimension."""
    return [
        emit_metric(name, unit, value, {SOURCE_DIMENSION: source_dimension_value(source)}, write)
        for source, value in values
    ]
