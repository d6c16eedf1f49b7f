"""Logger and Metrics factories, configured by the POWERTOOLS_* variables the template sets."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

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


#: The message the suite-health dashboard's "last successful run" widget looks for.
JOB_SUCCEEDED = "job succeeded"

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def log_job_succeeded(logger: Logger) -> Callable[[Callable[_Params, _Result]], Callable[_Params, _Result]]:
    """Log one `job succeeded` line, named by the job's service, each time the handler returns.

    A failed run raises instead, which Lambda counts in its Errors metric, so the newest of these
    lines is the last run that worked.
    """

    def decorate(handler: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
        @functools.wraps(handler)
        def wrapper(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
            result = handler(*args, **kwargs)
            logger.info(JOB_SUCCEEDED, extra={"job": logger.service})
            return result

        return wrapper

    return decorate
