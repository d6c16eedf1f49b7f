"""AWS adapters of the scraper monitor: Lambda metrics, status log lines, schedule rules, past results."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from celebops.constants import METRICS_NAMESPACE
from celebops.freshness.emf import SCRAPER_SUCCESS, SOURCE_DIMENSION
from celebops.freshness.scrapers import LambdaCounts, RuleState, RunWindow, StatusLine

logger = Logger(child=True)

_LAMBDA_METRICS = (("invocations", "Invocations"), ("errors", "Errors"), ("throttles", "Throttles"))
#: GetMetricData accepts at most 500 queries per request.
MAX_QUERIES = 500
#: Pages of FilterLogEvents read per function; a scraper logs a handful of status lines per run.
MAX_LOG_PAGES = 50


class EvidenceError(RuntimeError):
    """Metrics the decision depends on could not be read; `error_code` is the AWS error code."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


def error_code_of(exc: Exception) -> str:
    """Return the AWS error code of a ClientError, or the exception type of any other error."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def _get_metric_data(cloudwatch: Any, queries: list[dict[str, Any]], start: Any, end: Any) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    for first in range(0, len(queries), MAX_QUERIES):
        request: dict[str, Any] = {
            "MetricDataQueries": queries[first : first + MAX_QUERIES],
            "StartTime": start,
            "EndTime": end,
        }
        while True:
            try:
                response = cloudwatch.get_metric_data(**request)
            except (ClientError, BotoCoreError) as exc:
                code = error_code_of(exc)
                raise EvidenceError(code, f"GetMetricData failed: {code}") from exc
            for result in response.get("MetricDataResults", []):
                values.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    return values


def read_lambda_counts(cloudwatch: Any, function_names: Sequence[str], window: RunWindow) -> dict[str, LambdaCounts]:
    """Sum Invocations, Errors and Throttles of each function over the window (one request)."""
    seconds = int((window.end - window.start).total_seconds())
    # One period covering the whole window; GetMetricData wants a multiple of 60 seconds.
    period = max(60, seconds - seconds % 60)
    queries = []
    for index, name in enumerate(function_names):
        for key, metric in _LAMBDA_METRICS:
            queries.append(
                {
                    "Id": f"{key}{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Lambda",
                            "MetricName": metric,
                            "Dimensions": [{"Name": "FunctionName", "Value": name}],
                        },
                        "Period": period,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            )
    values = _get_metric_data(cloudwatch, queries, window.start, window.end)
    return {
        name: LambdaCounts(**{key: sum(values.get(f"{key}{index}", [])) for key, _ in _LAMBDA_METRICS})
        for index, name in enumerate(function_names)
    }


def read_success_history(
    cloudwatch: Any, sources: Sequence[str], window: RunWindow, runs: int
) -> dict[str, list[bool]]:
    """Read this monitor's own ScraperSuccess per source for the `runs` weekly runs before `window`.

    A week without a datapoint (the monitor did not run) is left out, and a week with a failure
    counts as failed even when a later result succeeded (Minimum).
    """
    if runs <= 0:
        return {source: [] for source in sources}
    week = timedelta(days=7)
    queries = [
        {
            "Id": f"history{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": METRICS_NAMESPACE,
                    "MetricName": SCRAPER_SUCCESS,
                    "Dimensions": [{"Name": SOURCE_DIMENSION, "Value": source}],
                },
                "Period": int(week.total_seconds()),
                "Stat": "Minimum",
            },
            "ReturnData": True,
        }
        for index, source in enumerate(sources)
    ]
    values = _get_metric_data(cloudwatch, queries, window.start - week * runs, window.start)
    return {source: [value >= 1 for value in values.get(f"history{index}", [])] for index, source in enumerate(sources)}


def _status_line(message: str, timestamp_ms: int, status_message: str) -> StatusLine | None:
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        return None
    if not isinstance(document, dict) or document.get("message") != status_message:
        return None
    status = document.get("status")
    if not isinstance(status, str) or not status:
        return None
    error = document.get("error")
    return StatusLine(timestamp_ms, status, str(error) if error else None)


def read_status_lines(
    logs: Any, function_name: str, window: RunWindow, status_message: str
) -> tuple[tuple[StatusLine, ...], str | None]:
    """Return the status lines of the function's log group in the window, and why none could be read."""
    group = f"/aws/lambda/{function_name}"
    request: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(window.start.timestamp() * 1000),
        "endTime": int(window.end.timestamp() * 1000),
        # The JSON filter keeps the transfer small; the lines are checked again below.
        "filterPattern": f'{{ $.message = "{status_message}" }}',
    }
    lines: list[StatusLine] = []
    seen_tokens: set[str] = set()
    for _ in range(MAX_LOG_PAGES):
        try:
            response = logs.filter_log_events(**request)
        except (ClientError, BotoCoreError) as exc:
            code = error_code_of(exc)
            if code == "ResourceNotFoundException":
                return (), f"log group {group} not found"
            logger.warning("status lines unreadable", extra={"log_group": group, "error_code": code})
            return tuple(lines), f"FilterLogEvents on {group} failed: {code}"
        for event in response.get("events", []):
            line = _status_line(str(event.get("message", "")), int(event.get("timestamp", 0)), status_message)
            if line is not None:
                lines.append(line)
        # FilterLogEvents can return empty pages that still carry a token; a repeated token would
        # loop forever (boto/boto3#1584).
        token = response.get("nextToken")
        if not token or token in seen_tokens:
            return tuple(lines), None
        seen_tokens.add(token)
        request["nextToken"] = token
    return tuple(lines), f"stopped after {MAX_LOG_PAGES} pages of {group}"


def read_rules(events: Any, function_arn: str) -> tuple[tuple[RuleState, ...] | None, str | None]:
    """Return the EventBridge rules that target the function with their state, or None and why."""
    names: list[str] = []
    request: dict[str, Any] = {"TargetArn": function_arn}
    try:
        while True:
            response = events.list_rule_names_by_target(**request)
            names.extend(response.get("RuleNames", []))
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        rules = tuple(RuleState(name, events.describe_rule(Name=name).get("State") == "ENABLED") for name in names)
    except (ClientError, BotoCoreError) as exc:
        code = error_code_of(exc)
        logger.warning("schedule rules unreadable", extra={"function_arn": function_arn, "error_code": code})
        return None, f"rules targeting {function_arn} unreadable: {code}"
    return rules, None


def function_arn(arn_prefix: str, function_name: str) -> str:
    return f"{arn_prefix}{function_name}"


def arn_prefix_of(invoked_function_arn: str) -> str:
    """Return `arn:PARTITION:lambda:REGION:ACCOUNT:function:` from the monitor's own ARN."""
    parts = invoked_function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        raise ValueError(f"{invoked_function_arn!r} is not a Lambda function ARN")
    return ":".join(parts[:6]) + ":"


def counts_by_source(counts: Mapping[str, LambdaCounts], functions: Mapping[str, str]) -> dict[str, LambdaCounts]:
    return {source: counts[name] for source, name in functions.items()}
