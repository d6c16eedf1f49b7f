"""Freshness and scraper monitors against the moto server: index vs scan on 20,000 items, and the handlers."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from celebops.freshness.assess import RunOutcome
from celebops.freshness.check import check_freshness
from celebops.freshness.config import FreshnessConfig
from celebops.freshness.table import ReadMode, read_newest_by_index, read_newest_by_scan
from tests.conftest import load_event, load_handler

SOURCES = ("tmdb", "wikipedia", "news", "social")
INDEX = "source-updated_at-index"


class RecordingClient:
    """Pass calls to the moto-backed client and keep each request and response."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(**kwargs: Any) -> Any:
            response = method(**kwargs)
            self.calls.append((name, kwargs, response))
            return response

        return call


def create_table(dynamodb: Any, name: str = "celebrity-database") -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "celebrity_id", "AttributeType": "S"},
            {"AttributeName": "source", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "celebrity_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "source", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def write_items(dynamodb: Any, items: list[dict[str, Any]], table: str = "celebrity-database") -> None:
    def write_batch(first: int) -> None:
        pending = {table: [{"PutRequest": {"Item": item}} for item in items[first : first + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    # BatchWriteItem takes at most 25 items; threads overlap the HTTP round trips to the moto server.
    with ThreadPoolExecutor(max_workers=8) as executor:
        list(executor.map(write_batch, range(0, len(items), 25)))


def generated_items(count: int, now: datetime) -> tuple[list[dict[str, Any]], dict[str, datetime]]:
    rng = random.Random(4)
    newest: dict[str, datetime] = {}
    items = []
    for index in range(count):
        source = SOURCES[index % len(SOURCES)]
        age_days = rng.uniform(0.5, 40) + (9 if source == "social" else 0)
        written = (now - timedelta(days=age_days)).replace(microsecond=0)
        newest[source] = max(newest.get(source, written), written)
        items.append(
            {
                "celebrity_id": {"S": f"cel-{index:06d}"},
                "source": {"S": source},
                "updated_at": {"S": written.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "name": {"S": f"Celebrity {index}"},
                "biography": {"S": "x" * 300},
            }
        )
    return items, newest


@pytest.fixture
def config() -> FreshnessConfig:
    return FreshnessConfig.from_env({"TABLE_NAME": "celebrity-database", "FRESHNESS_INDEX_NAME": INDEX})


def test_index_reads_one_item_per_source_scan_projects_two_attributes(moto: Any, config: FreshnessConfig) -> None:
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb)
    now = datetime.now(UTC).replace(microsecond=0)
    items, newest = generated_items(20_000, now)
    write_items(dynamodb, items)

    index_client = RecordingClient(dynamodb)
    by_index = read_newest_by_index(index_client, config, now)
    scan_client = RecordingClient(dynamodb)
    scan_config = FreshnessConfig.from_env({"TABLE_NAME": "celebrity-database", "FRESHNESS_INDEX_NAME": ""})
    by_scan = read_newest_by_scan(scan_client, scan_config, now)

    assert by_index.mode is ReadMode.INDEX
    assert by_index.newest == newest
    assert by_index.items_read == 4
    assert [call[0] for call in index_client.calls] == ["query"] * 4
    assert all(call[1]["Limit"] == 1 for call in index_client.calls)
    assert by_index.read_capacity_units is not None

    assert by_scan.mode is ReadMode.SCAN
    assert by_scan.newest == newest
    assert by_scan.items_read == 20_000
    assert {call[1]["Segment"] for call in scan_client.calls} == {0, 1, 2, 3}
    returned = [item for call in scan_client.calls for item in call[2]["Items"]]
    assert len(returned) == 20_000
    assert all(set(item) == {"source", "updated_at"} for item in returned)


def test_index_skips_invalid_newest_item(moto: Any, config: FreshnessConfig) -> None:
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb)
    now = datetime.now(UTC).replace(microsecond=0)
    items = [
        {"celebrity_id": {"S": f"a{i}"}, "source": {"S": s}, "updated_at": {"S": "2026-01-01T00:00:00Z"}}
        for i, s in enumerate(SOURCES)
    ]
    # Sorts above every valid ISO date, so a descending query meets it first.
    items.append({"celebrity_id": {"S": "bad"}, "source": {"S": "news"}, "updated_at": {"S": "garbage"}})
    items.append({"celebrity_id": {"S": "none"}, "source": {"S": "news"}})
    write_items(dynamodb, items)

    reading = read_newest_by_index(dynamodb, config, now)

    assert reading.newest["news"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert reading.invalid_timestamps == 1


def test_empty_table_reports_no_data(moto: Any, config: FreshnessConfig) -> None:
    create_table(boto3.client("dynamodb"))

    report = check_freshness(boto3.client("dynamodb"), config, datetime.now(UTC))

    assert report.outcome is RunOutcome.OK
    assert report.to_dict()["stale_sources"] == list(SOURCES)
    assert report.overall_age_hours is None


def test_missing_table_is_check_failure(moto: Any, config: FreshnessConfig) -> None:
    report = check_freshness(boto3.client("dynamodb"), config, datetime.now(UTC))

    assert report.outcome is RunOutcome.CHECK_FAILED
    assert report.error_code == "ResourceNotFoundException"


def test_throttled_scan_is_check_failure(moto: Any) -> None:
    from botocore.stub import Stubber

    dynamodb = boto3.client("dynamodb")
    config = FreshnessConfig.from_env(
        {"TABLE_NAME": "celebrity-database", "FRESHNESS_INDEX_NAME": "", "SCAN_SEGMENTS": "1"}
    )
    with Stubber(dynamodb) as stubber:
        stubber.add_client_error("scan", "ProvisionedThroughputExceededException")
        report = check_freshness(dynamodb, config, datetime.now(UTC))

    assert report.outcome is RunOutcome.CHECK_FAILED
    assert report.error_code == "ProvisionedThroughputExceededException"


def _set_env(monkeypatch: pytest.MonkeyPatch, topics: dict[str, str]) -> None:
    monkeypatch.setenv("TABLE_NAME", "celebrity-database")
    monkeypatch.setenv("FRESHNESS_INDEX_NAME", INDEX)
    monkeypatch.setenv("SCRAPER_FUNCTION_NAMES", "scraper-tmdb,scraper-wikipedia,scraper-news,scraper-social")
    for name, arn in topics.items():
        monkeypatch.setenv(name, arn)


def _topics() -> dict[str, str]:
    sns = boto3.client("sns")
    return {
        f"{name.upper()}_TOPIC_ARN": sns.create_topic(Name=f"test-{name}")["TopicArn"]
        for name in ("critical", "warnings", "info", "cost")
    }


def test_freshness_handler_flags_stale_source(
    moto: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_env(monkeypatch, _topics())
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb)
    now = datetime.now(UTC)
    ages = {"tmdb": 20, "wikipedia": 30, "news": 40, "social": 200}
    write_items(
        dynamodb,
        [
            {"celebrity_id": {"S": s}, "source": {"S": s}, "updated_at": {"S": (now - timedelta(hours=h)).isoformat()}}
            for s, h in ages.items()
        ],
    )
    handler = load_handler("freshness_monitor")

    result = handler.lambda_handler(load_event("freshness_monitor_scheduled"), lambda_context)

    assert result["stale_sources"] == ["social"]
    assert "social 200.0 h (STALE)" in result["summary"]
    assert result["items_read"] == 4


def _put_scraper_world(now: datetime) -> None:
    cloudwatch = boto3.client("cloudwatch")
    logs = boto3.client("logs")
    events = boto3.client("events")
    scheduled = now - timedelta(hours=1)
    for source, outcome in (("tmdb", "succeeded"), ("wikipedia", "succeeded"), ("news", "failed")):
        name = f"scraper-{source}"
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": name}],
                    "Timestamp": scheduled,
                    "Value": value,
                }
                for metric, value in (
                    ("Invocations", 1.0),
                    ("Errors", 1.0 if outcome == "failed" else 0.0),
                    ("Throttles", 0.0),
                )
            ],
        )
        logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
        logs.create_log_stream(logGroupName=f"/aws/lambda/{name}", logStreamName="s")
        line = {"message": "scrape finished", "status": outcome, "source": source}
        if outcome == "failed":
            line["error"] = "HTTP 503 from newsapi"
        logs.put_log_events(
            logGroupName=f"/aws/lambda/{name}",
            logStreamName="s",
            logEvents=[
                {"timestamp": int((scheduled + timedelta(minutes=5)).timestamp() * 1000), "message": json.dumps(line)}
            ],
        )
    for source in SOURCES:
        rule = f"scraper-{source}-weekly"
        events.put_rule(
            Name=rule, ScheduleExpression="cron(0 2 ? * SUN *)", State="DISABLED" if source == "social" else "ENABLED"
        )
        events.put_targets(
            Rule=rule, Targets=[{"Id": "s", "Arn": f"arn:aws:lambda:us-east-1:123456789012:function:scraper-{source}"}]
        )


def test_scraper_handler_sweep_reports_failed_and_missed(
    moto: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    topics = _topics()
    _set_env(monkeypatch, topics)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # The run window is the latest scheduled time 30 minutes or more before now.
    monkeypatch.setenv(
        "SCRAPE_DAY", ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[(now - timedelta(hours=1)).weekday()]
    )
    monkeypatch.setenv("SCRAPE_TIME_UTC", (now - timedelta(hours=1)).strftime("%H:%M"))
    _put_scraper_world(now)
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="warnings-copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topics["WARNINGS_TOPIC_ARN"], Protocol="sqs", Endpoint=queue_arn)
    handler = load_handler("scraper_monitor")

    result = handler.lambda_handler(load_event("scraper_monitor_scheduled"), lambda_context)

    outcomes = {r["source"]: r["outcome"] for r in result["results"]}
    assert outcomes == {"tmdb": "succeeded", "wikipedia": "succeeded", "news": "failed", "social": "missed"}
    reasons = {r["source"]: r.get("error") or r["reason"] for r in result["results"]}
    assert reasons["news"] == "HTTP 503 from newsapi"
    assert reasons["social"] == "schedule rule scraper-social-weekly is disabled"
    assert result["severity"] == "warning"
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    assert "news failed, social missed" in messages[0]["Body"]


def test_scraper_handler_result_event_failure_warns(
    moto: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_env(monkeypatch, _topics())
    handler = load_handler("scraper_monitor")

    result = handler.lambda_handler(load_event("scraper_monitor_scraper_result"), lambda_context)

    assert result["summary"] == "scraper news failed: HTTP 503 from newsapi; warning sent"
    assert "message_id" in result
