"""Alarm evaluation and EMF publishing against the moto server, notifications read back from SQS."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from harness.alarms import (
    AlarmState,
    CompositeAlarm,
    CompositeAlarmRegistry,
    Outcome,
    evaluate_alarms,
    evaluate_all,
    format_timestamp,
)
from harness.emf import MetricRecord, emf_to_cloudwatch, put_emf_metrics

pytestmark = pytest.mark.integration

NAMESPACE = "custom/celebrity-database"
NOW = datetime(2026, 11, 29, 2, 40, tzinfo=UTC)


@pytest.fixture
def aws(moto: Any) -> dict[str, Any]:
    return {"cloudwatch": boto3.client("cloudwatch"), "sns": boto3.client("sns"), "sqs": boto3.client("sqs")}


@pytest.fixture
def topic(aws: dict[str, Any]) -> tuple[str, Callable[[], list[dict[str, Any]]]]:
    """An SNS topic with an SQS subscription, and a reader of the SNS envelopes in the queue."""
    topic_arn = aws["sns"].create_topic(Name="celebrity-database-ops-warnings")["TopicArn"]
    queue_url = aws["sqs"].create_queue(QueueName="alarm-notifications")["QueueUrl"]
    queue_arn = aws["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def received() -> list[dict[str, Any]]:
        response = aws["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in response.get("Messages", [])]

    return topic_arn, received


def put_values(cloudwatch: Any, name: str, points: list[tuple[datetime, float]], dimensions: dict[str, str]) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
                "Timestamp": moment,
                "Value": value,
            }
            for moment, value in points
        ],
    )


def alarm_state(cloudwatch: Any, name: str) -> str:
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def test_metric_alarm_fires_with_exact_message(aws: dict[str, Any], topic: Any) -> None:
    topic_arn, received = topic
    cloudwatch = aws["cloudwatch"]
    cloudwatch.put_metric_alarm(
        AlarmName="scraper-data-stale",
        Namespace=NAMESPACE,
        MetricName="DataFreshness",
        Dimensions=[{"Name": "Source", "Value": "tmdb"}],
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=192.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic_arn],
    )
    put_values(cloudwatch, "DataFreshness", [(NOW - timedelta(seconds=200), 200.0)], {"Source": "tmdb"})

    transitions = evaluate_alarms(cloudwatch, aws["sns"], NOW)

    assert [(t.alarm_name, t.old_state, t.new_state) for t in transitions] == [
        ("scraper-data-stale", AlarmState.INSUFFICIENT_DATA, AlarmState.ALARM)
    ]
    assert alarm_state(cloudwatch, "scraper-data-stale") == "ALARM"
    alarm = cloudwatch.describe_alarms(AlarmNames=["scraper-data-stale"])["MetricAlarms"][0]
    reason = (
        "Threshold Crossed: 1 out of the last 1 datapoints [200.0 (29/11/26 02:35:00)] was greater than the "
        "threshold (192.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition)."
    )
    assert alarm["StateReason"] == reason
    envelopes = received()
    assert len(envelopes) == 1
    assert envelopes[0]["Subject"] == 'ALARM: "scraper-data-stale" in US East (N. Virginia)'
    assert json.loads(envelopes[0]["Message"]) == {
        "AlarmName": "scraper-data-stale",
        "AlarmDescription": None,
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": format_timestamp(alarm["AlarmConfigurationUpdatedTimestamp"]),
        "NewStateValue": "ALARM",
        "NewStateReason": reason,
        "StateChangeTime": "2026-11-29T02:40:00.000+0000",
        "Region": "US East (N. Virginia)",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:scraper-data-stale",
        "OldStateValue": "INSUFFICIENT_DATA",
        "OKActions": [],
        "AlarmActions": [topic_arn],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "DataFreshness",
            "Namespace": NAMESPACE,
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Unit": None,
            "Dimensions": [{"value": "tmdb", "name": "Source"}],
            "Period": 300,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 192.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def test_missing_data_breaching_fires_without_data(aws: dict[str, Any], topic: Any) -> None:
    topic_arn, received = topic
    aws["cloudwatch"].put_metric_alarm(
        AlarmName="scraper-data-stale",
        Namespace=NAMESPACE,
        MetricName="DataFreshness",
        Statistic="Maximum",
        Period=86400,
        EvaluationPeriods=1,
        Threshold=192.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",
        AlarmActions=[topic_arn],
    )

    transitions = evaluate_alarms(aws["cloudwatch"], aws["sns"], NOW)

    assert [t.new_state for t in transitions] == [AlarmState.ALARM]
    message = json.loads(received()[0]["Message"])
    assert message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["NewStateReason"] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was "
        "treated as [Breaching]."
    )


def test_alarm_returns_to_ok_with_ok_actions(aws: dict[str, Any], topic: Any) -> None:
    topic_arn, received = topic
    cloudwatch = aws["cloudwatch"]
    cloudwatch.put_metric_alarm(
        AlarmName="api-errors",
        Namespace=NAMESPACE,
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic_arn],
        OKActions=[topic_arn],
    )
    put_values(cloudwatch, "Errors", [(NOW - timedelta(seconds=30), 3.0), (NOW - timedelta(seconds=20), 4.0)], {})
    first = evaluate_alarms(cloudwatch, aws["sns"], NOW)
    put_values(cloudwatch, "Errors", [(NOW + timedelta(seconds=30), 1.0)], {})

    second = evaluate_alarms(cloudwatch, aws["sns"], NOW + timedelta(minutes=1))

    assert [t.new_state for t in first] == [AlarmState.ALARM]
    assert [(t.old_state, t.new_state) for t in second] == [(AlarmState.ALARM, AlarmState.OK)]
    subjects = [envelope["Subject"] for envelope in received()]
    assert sorted(subjects) == [
        'ALARM: "api-errors" in US East (N. Virginia)',
        'OK: "api-errors" in US East (N. Virginia)',
    ]


def test_unchanged_state_publishes_nothing(aws: dict[str, Any], topic: Any) -> None:
    topic_arn, received = topic
    aws["cloudwatch"].put_metric_alarm(
        AlarmName="quiet",
        Namespace=NAMESPACE,
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        InsufficientDataActions=[topic_arn],
    )

    report = evaluate_all(aws["cloudwatch"], aws["sns"], NOW)

    assert report.transitions == []
    assert [e.outcome for e in report.evaluations] == [Outcome.UNCHANGED]
    assert received() == []


def test_actions_disabled_changes_state_silently(aws: dict[str, Any], topic: Any) -> None:
    topic_arn, received = topic
    aws["cloudwatch"].put_metric_alarm(
        AlarmName="muted",
        Namespace=NAMESPACE,
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",
        ActionsEnabled=False,
        AlarmActions=[topic_arn],
    )

    transitions = evaluate_alarms(aws["cloudwatch"], aws["sns"], NOW)

    assert [t.notified_topics for t in transitions] == [()]
    assert alarm_state(aws["cloudwatch"], "muted") == "ALARM"
    assert received() == []


def test_metric_math_alarm_error_rate(aws: dict[str, Any], topic: Any) -> None:
    topic_arn, received = topic
    cloudwatch = aws["cloudwatch"]
    function = [{"Name": "FunctionName", "Value": "scraper-tmdb"}]
    cloudwatch.put_metric_alarm(
        AlarmName="scraper-tmdb-error-rate-critical",
        Metrics=[
            {"Id": "error_rate", "Expression": "100 * errors / MAX([errors, invocations])", "ReturnData": True},
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": function},
                    "Period": 300,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "invocations",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations", "Dimensions": function},
                    "Period": 300,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
        ],
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic_arn],
    )
    for offset, errors, invocations in ((600, 1.0, 12.0), (300, 3.0, 24.0)):
        moment = NOW - timedelta(seconds=offset - 10)
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {"MetricName": "Errors", "Dimensions": function, "Timestamp": moment, "Value": errors},
                {"MetricName": "Invocations", "Dimensions": function, "Timestamp": moment, "Value": invocations},
            ],
        )

    transitions = evaluate_alarms(cloudwatch, aws["sns"], NOW)

    assert [t.new_state for t in transitions] == [AlarmState.ALARM]
    message = json.loads(received()[0]["Message"])
    assert message["NewStateReason"] == (
        "Threshold Crossed: 2 out of the last 2 datapoints [12.5 (29/11/26 02:35:00), 8.333333333333334 "
        "(29/11/26 02:30:00)] were greater than the threshold (5.0) (minimum 2 datapoints for "
        "INSUFFICIENT_DATA -> ALARM transition)."
    )
    assert "MetricName" not in message["Trigger"]
    assert [query["Id"] for query in message["Trigger"]["Metrics"]] == ["error_rate", "errors", "invocations"]


def test_percentile_alarm_p95(aws: dict[str, Any]) -> None:
    cloudwatch = aws["cloudwatch"]
    dimensions = [{"Name": "ApiName", "Value": "celebrity-database-api"}, {"Name": "Stage", "Value": "prod"}]
    cloudwatch.put_metric_alarm(
        AlarmName="api-high-latency",
        Namespace="AWS/ApiGateway",
        MetricName="Latency",
        Dimensions=dimensions,
        ExtendedStatistic="p95",
        Period=300,
        EvaluationPeriods=1,
        Threshold=2000.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    # 20 requests, one per second: p95 is the 19th smallest (2100 ms), the maximum is 9000 ms.
    latencies = [100.0] * 17 + [1900.0, 2100.0, 9000.0]
    cloudwatch.put_metric_data(
        Namespace="AWS/ApiGateway",
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": dimensions,
                "Timestamp": NOW - timedelta(seconds=100 - i),
                "Value": v,
            }
            for i, v in enumerate(latencies)
        ],
    )

    transitions = evaluate_alarms(cloudwatch, aws["sns"], NOW)

    assert [t.new_state for t in transitions] == [AlarmState.ALARM]
    assert "[2100.0 (29/11/26 02:35:00)]" in transitions[0].reason


def test_dimensionless_alarm_ignores_dimensioned_series(aws: dict[str, Any]) -> None:
    cloudwatch = aws["cloudwatch"]
    cloudwatch.put_metric_alarm(
        AlarmName="freshness-without-source",
        Namespace=NAMESPACE,
        MetricName="DataFreshness",
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=192.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    put_values(cloudwatch, "DataFreshness", [(NOW - timedelta(seconds=100), 500.0)], {"Source": "tmdb"})
    put_values(cloudwatch, "DataFreshness", [(NOW - timedelta(seconds=90), 3.0)], {})

    transitions = evaluate_alarms(cloudwatch, aws["sns"], NOW)

    assert [t.new_state for t in transitions] == [AlarmState.OK]
    assert "[3.0 (29/11/26 02:35:00)]" in transitions[0].reason


def test_anomaly_band_alarm_skipped(aws: dict[str, Any]) -> None:
    aws["cloudwatch"].put_metric_alarm(
        AlarmName="latency-anomaly",
        Metrics=[
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "Latency"},
                    "Period": 60,
                    "Stat": "Average",
                },
                "ReturnData": True,
            },
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "ReturnData": True},
        ],
        ThresholdMetricId="ad1",
        EvaluationPeriods=3,
        ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold",
    )

    report = evaluate_all(aws["cloudwatch"], aws["sns"], NOW)

    assert [e.outcome for e in report.evaluations] == [Outcome.SKIPPED]
    assert "anomaly detection band" in report.evaluations[0].reason


def test_composite_alarm_fires_over_children(aws: dict[str, Any], topic: Any) -> None:
    topic_arn, received = topic
    cloudwatch = aws["cloudwatch"]
    for name in ("api-gateway-5xx-errors", "api-high-latency"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace=NAMESPACE,
            MetricName=name,
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName="api-gateway-5xx-errors", StateValue="ALARM", StateReason="test")
    cloudwatch.set_alarm_state(AlarmName="api-high-latency", StateValue="OK", StateReason="test")
    registry = CompositeAlarmRegistry()
    registry.register(
        CompositeAlarm(
            name="api-degraded",
            rule='ALARM("api-gateway-5xx-errors") OR ALARM("api-high-latency")',
            description="API 5XX errors or p95 latency breaching",
            alarm_actions=(topic_arn,),
        )
    )

    transitions = registry.evaluate(cloudwatch, aws["sns"], NOW)

    assert [(t.old_state, t.new_state) for t in transitions] == [(AlarmState.INSUFFICIENT_DATA, AlarmState.ALARM)]
    envelope = received()[0]
    message = json.loads(envelope["Message"])
    assert envelope["Subject"] == 'ALARM: "api-degraded" in US East (N. Virginia)'
    assert "Trigger" not in message
    assert message["AlarmRule"] == 'ALARM("api-gateway-5xx-errors") OR ALARM("api-high-latency")'
    assert [child["Arn"] for child in message["TriggeringChildren"]] == [
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-gateway-5xx-errors"
    ]
    assert message["NewStateReason"].startswith(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-gateway-5xx-errors transitioned to ALARM at "
    )


def test_powertools_single_metric_round_trip(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with single_metric(
        name="DataFreshness",
        unit=MetricUnit.Seconds,
        value=300,
        namespace=NAMESPACE,
        default_dimensions={"Source": "tmdb"},
    ):
        pass
    lines = capsys.readouterr().out.splitlines()

    result = emf_to_cloudwatch(lines, aws["cloudwatch"])

    now = datetime.now(UTC)
    statistics = aws["cloudwatch"].get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="DataFreshness",
        Dimensions=[{"Name": "Source", "Value": "tmdb"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )
    assert result.datums == 1
    assert [(p["Maximum"], p["SampleCount"], p["Unit"]) for p in statistics["Datapoints"]] == [(300.0, 1.0, "Seconds")]


def test_powertools_flush_metrics_round_trip(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    metrics = Metrics(namespace=NAMESPACE)
    metrics.add_dimension(name="Scraper", value="alpha")
    metrics.add_metric(name="ScraperSuccess", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ScraperSuccess", unit=MetricUnit.Count, value=0)
    metrics.flush_metrics()
    lines = capsys.readouterr().out.splitlines()

    emf_to_cloudwatch(lines, aws["cloudwatch"])

    now = datetime.now(UTC)
    statistics = aws["cloudwatch"].get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="ScraperSuccess",
        Dimensions=[{"Name": "Scraper", "Value": "alpha"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )
    assert [(p["Sum"], p["SampleCount"]) for p in statistics["Datapoints"]] == [(1.0, 2.0)]


def test_put_emf_metrics_batches_by_1000(aws: dict[str, Any]) -> None:
    records = [
        MetricRecord(NAMESPACE, "ScraperSuccess", (("Scraper", f"s{i:04d}"),), (1.0,), NOW - timedelta(seconds=30))
        for i in range(1001)
    ]

    result = put_emf_metrics(aws["cloudwatch"], records)

    listed = aws["cloudwatch"].get_paginator("list_metrics").paginate(Namespace=NAMESPACE).build_full_result()
    assert result.requests == 2
    assert result.datums == 1001
    assert len({m["Dimensions"][0]["Value"] for m in listed["Metrics"]}) == 1001
