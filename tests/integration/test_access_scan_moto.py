"""The unauthorized-access scan against the moto server: paging over streams, history, blocking, handler."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from celebops.access_scan.log_reader import ReadLimits
from celebops.access_scan.scan import ScanClients, run_scan
from celebops.access_scan.settings import ScanConfig
from harness.monitored_system import format_access_log_line
from tests.conftest import FakeLambdaContext, load_event, load_handler

LOG_GROUP = "/aws/api-gateway/celebrity-database-api"
TABLE = "access-scan-history"
END = datetime(2026, 12, 4, 2, 30, tzinfo=UTC)
BURST_START = END - timedelta(hours=6)


def _env(**overrides: str) -> dict[str, str]:
    return {"ACCESS_LOG_GROUP_NAME": LOG_GROUP, "HISTORY_TABLE": TABLE, **overrides}


def _setup(night_end: datetime = END) -> None:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "address", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "address", "KeyType": "HASH"}],
    )


def _put_night(night_end: datetime) -> None:
    """Write a burst of 60 401s in 8 minutes spread over three streams, a near miss and ordinary lines."""
    logs = boto3.client("logs")
    streams: dict[str, list[tuple[datetime, str]]] = {f"stream-{i}": [] for i in range(3)}
    burst_start = night_end - timedelta(hours=6)
    for index in range(60):
        moment = burst_start + timedelta(seconds=index * 8)
        line = format_access_log_line(f"b-{index}", "203.0.113.66", moment, "POST", "/celebrities", 401)
        streams[f"stream-{index % 3}"].append((moment, line))
    near_start = night_end - timedelta(hours=15)
    for index in range(19):
        moment = near_start + timedelta(seconds=index * 30)
        line = format_access_log_line(f"n-{index}", "2001:db8:cafe::19", moment, "GET", "/celebrities/{id}", 401)
        streams[f"stream-{index % 3}"].append((moment, line))
    for index in range(30):
        moment = night_end - timedelta(hours=20, seconds=-index * 60)
        line = format_access_log_line(f"o-{index}", "198.51.100.7", moment, "GET", "/celebrities", 200)
        streams["stream-0"].append((moment, line))
    streams["stream-1"].append(
        (night_end - timedelta(hours=3), 'cut-short 198.51.100.7 01/Dec/2026:02:31:28 +0000 "GE')
    )
    for name, lines in streams.items():
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
        lines.sort()
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=name,
            logEvents=[{"timestamp": int(moment.timestamp() * 1000), "message": line} for moment, line in lines],
        )


def _clients(**extra: Any) -> ScanClients:
    return ScanClients(logs=boto3.client("logs"), dynamodb=boto3.client("dynamodb"), **extra)


@pytest.fixture
def night(moto: Any) -> None:
    _setup()
    _put_night(END)


def test_scan_finds_burst_across_streams_and_pages(night: None) -> None:
    config = ScanConfig.from_env(_env())

    report = run_scan(config, _clients(), END, ReadLimits(page_size=7), now=END)

    assert report.paging.complete
    assert report.paging.pages > 10
    assert [item.address for item in report.detection.offenders] == ["203.0.113.66"]
    burst = report.detection.offenders[0]
    assert burst.densest.count == 60
    assert burst.densest.end - burst.densest.start == 472
    assert report.count_401 == 79
    assert report.lines.malformed == 1


def test_scan_near_miss_is_not_offender(night: None) -> None:
    report = run_scan(ScanConfig.from_env(_env()), _clients(), END, ReadLimits(), now=END)

    top = {item.address: item for item in report.detection.top_sources}
    assert top["2001:db8:cafe::19"].densest.count == 19
    assert "2001:db8:cafe::19" not in {item.address for item in report.detection.offenders}


def test_scan_allowlist_drops_burst(night: None) -> None:
    config = ScanConfig.from_env(_env(ALLOWLIST="203.0.113.64/28"))

    report = run_scan(config, _clients(), END, ReadLimits(), now=END)

    assert report.detection.offenders == ()
    assert report.detection.allowlisted_failures == 60


def test_scan_empty_night_reports_info(moto: Any) -> None:
    _setup()

    report = run_scan(ScanConfig.from_env(_env()), _clients(), END, ReadLimits(), now=END)

    assert report.count_401 == 0
    assert report.finding(now=END).severity.value == "info"


def test_second_night_marks_repeat_offender(moto: Any) -> None:
    _setup()
    config = ScanConfig.from_env(_env())
    _put_night(END - timedelta(days=1))
    first = run_scan(config, _clients(), END - timedelta(days=1), ReadLimits(), now=END - timedelta(days=1))
    _put_night(END)

    second = run_scan(config, _clients(), END, ReadLimits(), now=END)
    rerun = run_scan(config, _clients(), END, ReadLimits(), now=END)

    assert first.repeat_offenders == frozenset()
    assert second.repeat_offenders == frozenset({"203.0.113.66"})
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"address": {"S": "203.0.113.66"}})["Item"]
    assert item["nights"]["N"] == "2"
    assert rerun.repeat_offenders == frozenset({"203.0.113.66"})


def test_block_mode_bans_then_unbans(night: None) -> None:
    wafv2 = boto3.client("wafv2")
    ip_set = wafv2.create_ip_set(
        Name="offenders-v4", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=["192.0.2.1/32"]
    )["Summary"]
    config = ScanConfig.from_env(_env(BLOCK_MODE="block", WAF_IPV4_SET_ARN=ip_set["ARN"], BAN_HOURS="24"))

    report = run_scan(config, _clients(wafv2=wafv2), END, ReadLimits(), now=END)
    blocked = set(wafv2.get_ip_set(Name="offenders-v4", Scope="REGIONAL", Id=ip_set["Id"])["IPSet"]["Addresses"])
    later = END + timedelta(days=2)
    after = run_scan(config, _clients(wafv2=wafv2), later, ReadLimits(), now=later)
    remaining = set(wafv2.get_ip_set(Name="offenders-v4", Scope="REGIONAL", Id=ip_set["Id"])["IPSet"]["Addresses"])

    assert [(c.address, c.outcome.value) for c in report.ban_changes] == [("203.0.113.66", "blocked")]
    assert blocked == {"192.0.2.1/32", "203.0.113.66/32"}
    assert [(c.address, c.outcome.value) for c in after.ban_changes] == [("203.0.113.66", "unblocked")]
    assert remaining == {"192.0.2.1/32"}


def test_report_stored_in_bucket(night: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="scan-reports")
    config = ScanConfig.from_env(_env(REPORT_BUCKET="scan-reports"))

    report = run_scan(config, _clients(s3=s3), END, ReadLimits(), now=END)

    key = "unauthorized-access/2026/12/04/report-20261204T023000Z.json"
    assert report.report_object == f"s3://scan-reports/{key}"
    stored = json.loads(s3.get_object(Bucket="scan-reports", Key=key)["Body"].read())
    assert stored["offenders"][0]["address"] == "203.0.113.66"


def _capture_topic(name: str) -> tuple[str, str]:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-capture")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return topic, queue_url


def test_handler_publishes_warning_and_metrics(
    night: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    warnings, warnings_queue = _capture_topic("warnings")
    info, _ = _capture_topic("info")
    for name, value in {**_env(), "WARNINGS_TOPIC_ARN": warnings, "INFO_TOPIC_ARN": info}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "unauthorized-access-scan")
    handler = load_handler("unauthorized_access_scan")

    result = handler.lambda_handler(load_event("unauthorized_access_scan_scheduled"), FakeLambdaContext())

    assert result["offender_count"] == 1
    assert "203.0.113.66" in result["summary"]
    messages = boto3.client("sqs").receive_message(QueueUrl=warnings_queue)["Messages"]
    finding = json.loads(messages[0]["Body"])
    assert finding["severity"] == "warning"
    assert finding["details"]["offenders"][0]["densest_window"]["failures"] == 60
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emf = [blob for blob in blobs if "UnauthorizedOffenders" in blob]
    assert len(emf) == 1
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert emf[0]["service"] == "unauthorized-access-scan"
    assert emf[0]["UnauthorizedOffenders"] == [1.0]
    assert emf[0]["Unauthorized401Count"] == [79.0]
    assert emf[0]["UnauthorizedDistinctSources"] == [2.0]
