"""Alert enrichment against the moto server: log lines from a metric filter, routing from alarm tags.

moto 5.2.5 evaluates only single-term and quoted-term filter patterns, so the metric filter here
uses the single term ERROR; JSON and space-delimited patterns are not exercised.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError

from celebops.alerts.delivery_policy import RetryPolicy
from celebops.alerts.enrichment import Enricher, EnrichmentConfig
from celebops.alerts.idempotency import NoDeduplication
from celebops.alerts.model import AlarmState, Alert
from celebops.alerts.router import AlertRouter, RouterConfig
from celebops.alerts.routing import Destination, route
from celebops.clients import client
from harness.moto_server import REGION, MotoServer
from tests.conftest import load_event
from tests.unit.alerts.conftest import TOPICS, alert_of, routing_config

pytestmark = pytest.mark.integration

NAMESPACE = "custom/celebrity-database"
METRIC = "ScraperErrors"
LOG_GROUP = "/aws/lambda/celebrity-scraper"
ALARM = "scraper-errors"
ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{ALARM}"


class RecordingLogger:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []
        self.infos: list[tuple[str, dict[str, Any]]] = []

    def info(self, message: str, extra: dict[str, Any] | None = None) -> None:
        self.infos.append((message, extra or {}))

    def warning(self, message: str, extra: dict[str, Any] | None = None) -> None:
        self.warnings.append((message, extra or {}))


class FailingClient:
    """A moto-backed client whose `operation` raises the given AWS error code."""

    def __init__(self, inner: Any, operation: str, code: str) -> None:
        self.inner = inner
        self.operation = operation
        self.code = code
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        if name != self.operation:
            return getattr(self.inner, name)

        def fail(**_: Any) -> Any:
            self.calls += 1
            raise ClientError({"Error": {"Code": self.code, "Message": "denied"}}, self.operation)

        return fail


def _scraper_alert(state_change_ms: int, arn: str | None = None) -> Alert:
    base = alert_of("metric_alarm")
    assert base.condition is not None
    assert base.condition.metric is not None
    metric = dataclasses.replace(base.condition.metric, namespace=NAMESPACE, name=METRIC, dimensions=())
    condition = dataclasses.replace(base.condition, metric=metric, period=300, evaluation_periods=1)
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(state_change_ms / 1000))
    return dataclasses.replace(
        base,
        alarm_name=ALARM,
        alarm_arn=arn or ALARM_ARN,
        condition=condition,
        time=f"{when}.{state_change_ms % 1000:03d}+0000",
    )


def _log_group_with_filter(now_ms: int) -> None:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="stream-a")
    messages = [
        (now_ms - 900_000, "ERROR too old for the window"),
        *((now_ms - 240_000 + i * 10_000, f"ERROR scrape failed page={i}") for i in range(8)),
        (now_ms - 60_000, "INFO scrape ok"),
        (now_ms + 60_000, "ERROR after the state change"),
    ]
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName="stream-a",
        logEvents=[{"timestamp": ts, "message": message} for ts, message in messages],
    )
    logs.put_metric_filter(
        logGroupName=LOG_GROUP,
        filterName="scraper-errors",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": METRIC, "metricNamespace": NAMESPACE, "metricValue": "1"}],
    )


def _tagged_alarm(tags: list[dict[str, str]]) -> str:
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        Namespace=NAMESPACE,
        MetricName=METRIC,
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=tags,
    )
    return str(cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["AlarmArn"])


def test_log_lines_newest_matching_in_window(moto: MotoServer) -> None:
    now_ms = int(time.time() * 1000) // 1000 * 1000
    _log_group_with_filter(now_ms)
    enricher = Enricher(EnrichmentConfig(alarm_tags=False), client, RecordingLogger())

    enriched = enricher.with_log_lines(_scraper_alert(now_ms))

    assert enriched.log_lines == tuple(f"ERROR scrape failed page={i}" for i in range(3, 8))


def test_log_lines_ok_state_not_looked_up(moto: MotoServer) -> None:
    now_ms = int(time.time() * 1000) // 1000 * 1000
    _log_group_with_filter(now_ms)
    alert = dataclasses.replace(_scraper_alert(now_ms), state=AlarmState.OK)

    enriched = Enricher(EnrichmentConfig(), client, RecordingLogger()).with_log_lines(alert)

    assert enriched == alert


def test_log_lines_metric_without_filter_unchanged(moto: MotoServer) -> None:
    alert = _scraper_alert(int(time.time() * 1000))
    logger = RecordingLogger()

    enriched = Enricher(EnrichmentConfig(), client, logger).with_log_lines(alert)

    assert enriched == alert
    assert logger.warnings == []


def test_alarm_in_other_region_makes_no_call(moto: MotoServer) -> None:
    now_ms = int(time.time() * 1000) // 1000 * 1000
    _log_group_with_filter(now_ms)
    failing = FailingClient(client("logs"), "describe_metric_filters", "AccessDeniedException")
    logger = RecordingLogger()
    alert = _scraper_alert(now_ms, arn="arn:aws:cloudwatch:eu-west-1:123456789012:alarm:scraper-errors")

    enriched = Enricher(EnrichmentConfig(), lambda _service: failing, logger).with_log_lines(alert)

    assert enriched == alert
    assert failing.calls == 0
    assert [message for message, _ in logger.infos] == ["alert enrichment skipped for alarm in another region"]


def test_log_lines_access_denied_logs_warning(moto: MotoServer) -> None:
    now_ms = int(time.time() * 1000) // 1000 * 1000
    _log_group_with_filter(now_ms)
    failing = FailingClient(client("logs"), "filter_log_events", "AccessDeniedException")
    logger = RecordingLogger()
    alert = _scraper_alert(now_ms)

    enriched = Enricher(EnrichmentConfig(), lambda _service: failing, logger).with_log_lines(alert)

    assert enriched == alert
    assert failing.calls == 1
    assert logger.warnings == [
        (
            "alert enrichment failed, alert sent without it",
            {"step": "log_lines", "alarm": ALARM, "error_code": "AccessDeniedException"},
        )
    ]


def test_alarm_tags_override_routing(moto: MotoServer) -> None:
    arn = _tagged_alarm(
        [
            {"Key": "team", "Value": "data"},
            {"Key": "slack-channel", "Value": "#data-alerts"},
            {"Key": "alert-destinations", "Value": "slack"},
        ]
    )
    alert = _scraper_alert(int(time.time() * 1000), arn=arn)
    enricher = Enricher(EnrichmentConfig(log_lines=False), client, RecordingLogger())

    decided = route(alert, routing_config(), enricher.tag_override(alert))

    # The critical topic would page; the tag limits this alarm to Slack.
    assert decided.destinations == (Destination.SLACK,)
    assert decided.team == "data"
    assert decided.channel == "#data-alerts"


def test_alarm_tags_cached_per_arn(moto: MotoServer) -> None:
    arn = _tagged_alarm([{"Key": "team", "Value": "data"}])
    alert = _scraper_alert(int(time.time() * 1000), arn=arn)
    enricher = Enricher(EnrichmentConfig(log_lines=False), client, RecordingLogger())
    first = enricher.tag_override(alert)
    boto3.client("cloudwatch").tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "web"}])

    cached = enricher.tag_override(alert)
    enricher.begin_batch()
    fresh = enricher.tag_override(alert)

    assert first is not None
    assert cached == first
    assert fresh is not None
    assert fresh.team == "web"


def test_alarm_tags_access_denied_no_override(moto: MotoServer) -> None:
    arn = _tagged_alarm([{"Key": "alert-destinations", "Value": "slack"}])
    failing = FailingClient(client("cloudwatch"), "list_tags_for_resource", "AccessDenied")
    logger = RecordingLogger()
    alert = _scraper_alert(int(time.time() * 1000), arn=arn)

    override = Enricher(EnrichmentConfig(), lambda _service: failing, logger).tag_override(alert)

    assert override is None
    assert logger.warnings == [
        (
            "alert enrichment failed, alert sent without it",
            {"step": "alarm_tags", "alarm": ALARM, "error_code": "AccessDenied"},
        )
    ]


def test_alarm_tags_invalid_destination_ignored(moto: MotoServer) -> None:
    arn = _tagged_alarm([{"Key": "alert-destinations", "Value": "email"}])
    logger = RecordingLogger()
    alert = _scraper_alert(int(time.time() * 1000), arn=arn)

    override = Enricher(EnrichmentConfig(), client, logger).tag_override(alert)

    assert override is None
    assert [message for message, _ in logger.warnings] == ["alarm routing tags invalid, tags ignored"]


def _scraper_record(alarm_arn: str, state_change_ms: int) -> dict[str, Any]:
    record = load_event("alert_router_metric_alarm")["Records"][0]
    body = json.loads(record["body"])
    message = json.loads(body["Message"])
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(state_change_ms / 1000))
    message.update(AlarmName=ALARM, AlarmArn=alarm_arn, StateChangeTime=f"{when}.000+0000")
    message["Trigger"].update(MetricName=METRIC, Namespace=NAMESPACE, Dimensions=[], Period=300)
    body["Message"] = json.dumps(message)
    return {**record, "body": json.dumps(body)}


def test_router_adds_log_lines_and_tag_route(moto: MotoServer) -> None:
    now_ms = int(time.time() * 1000) // 1000 * 1000
    _log_group_with_filter(now_ms)
    arn = _tagged_alarm([{"Key": "alert-destinations", "Value": "slack"}, {"Key": "slack-channel", "Value": "#data"}])
    config = RouterConfig.from_env(TOPICS)
    logger = RecordingLogger()
    enricher = Enricher(EnrichmentConfig(), client, logger)
    router = AlertRouter(
        config, cast(Any, None), NoDeduplication(), logger, lambda *_: None, RetryPolicy(), enricher=enricher
    )

    jobs = router.plan(router._read([_scraper_record(arn, now_ms)]))

    # The critical topic would page too; the alarm's tag routes it to Slack only.
    assert [job.destination for job in jobs] == [Destination.SLACK]
    assert "ERROR scrape failed page=7" in json.dumps(jobs[0].body)
    assert "#data" in json.dumps(jobs[0].body)
    assert logger.warnings == []
