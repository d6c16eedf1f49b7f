"""Logger and Metrics factories, configured by the POWERTOOLS_* variables the template sets."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics

from celebops.constants import METRICS_NAMESPACE

# boto's own DEBUG logs would echo request bodies (and with them secrets) into the function log.
for _noisy in ("boto3", "botocore", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


def get_logger(service: str | None = None) -> Logger:
    """Return a JSON logger; the service name comes from POWERTOOLS_SERVICE_NAME unless given."""
    return Logger(service=service)


def get_metrics() -> Metrics:
    """Return the EMF metrics buffer of the suite's namespace."""
    return Metrics(namespace=METRICS_NAMESPACE)
