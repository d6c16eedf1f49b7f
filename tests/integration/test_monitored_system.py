"""The monitored system as created in the moto server: table, index, access logs, log groups, schedules."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from harness import monitored_system as ms
from harness.moto_server import MotoServer

pytestmark = pytest.mark.integration

ITEMS = 600
PRODUCTION_LINE = re.compile(
    r"^(?P<request_id>[0-9a-f-]{36}) (?P<source>\S+) (?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000) "
    r'"(?P<method>[A-Z]+) (?P<path>/\S*)" (?P<status>\d{3})$'
)


def _now() -> datetime:
    """Return the wall clock, which the server needs because it rejects log events over 14 days old.

    During the Sunday 02:00 hour the latest run is still settling and the previous run's items are
    just over 7 days old, so the test then goes back one hour to keep its age bounds exact.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    if now.weekday() == ms.SCRAPE_WEEKDAY and now.hour == ms.SCRAPE_HOUR:
        now -= timedelta(hours=1)
    return now


@pytest.fixture
def system(moto: MotoServer) -> ms.SystemSummary:
    return ms.create_monitored_system(_now(), seed=11, items=ITEMS)


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _events(logs: Any, group: str) -> list[dict[str, Any]]:
    """Return every event of the group, paging until nextToken is absent and stopping on a repeat."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    seen: set[str] = set()
    while True:
        page = logs.filter_log_events(**kwargs)
        events.extend(page["events"])
        token = page.get("nextToken")
        if token is None or token in seen:
            return events
        seen.add(token)
        kwargs["nextToken"] = token


def _max_in_window(times: list[datetime], window: timedelta) -> int:
    best = 0
    first = 0
    for last, moment in enumerate(times):
        while moment - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


def test_table_items_settings_and_backup(system: ms.SystemSummary) -> None:
    dynamodb = boto3.client("dynamodb")
    items = _scan(dynamodb, "celebrity-database")
    per_source = Counter(item["source"]["S"] for item in items)
    malformed = [item for item in items if not ms.is_valid_timestamp(item.get("updated_at", {}).get("S"))]
    table = dynamodb.describe_table(TableName="celebrity-database")["Table"]
    index = table["GlobalSecondaryIndexes"][0]
    backups = dynamodb.list_backups(TableName="celebrity-database")["BackupSummaries"]
    pitr = dynamodb.describe_continuous_backups(TableName="celebrity-database")["ContinuousBackupsDescription"]

    assert len(items) == ITEMS
    assert system.item_count == ITEMS
    assert dict(per_source) == dict(system.items_per_source)
    assert set(per_source) == {"tmdb", "wikipedia", "news", "social"}
    assert len(malformed) == system.malformed_item_count
    assert len(malformed) >= 4
    assert any("updated_at" not in item for item in malformed)
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "celebrity_id", "KeyType": "HASH"}]
    assert index["IndexName"] == "source-updated_at-index"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["source", "updated_at"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert [backup["BackupArn"] for backup in backups] == [system.backup_arn]
    assert backups[0]["BackupName"] == f"celebrity-database-demo-{system.now:%Y-%m-%d}"


def test_freshness_stale_source_and_index_order(system: ms.SystemSummary) -> None:
    dynamodb = boto3.client("dynamodb")
    ages = {source: system.now - ms.parse_iso(newest) for source, newest in system.newest_update_per_source.items()}

    assert ages["social"] > timedelta(days=8)
    assert ages["tmdb"] < timedelta(days=7)
    assert ages["wikipedia"] < timedelta(days=7)
    assert ages["news"] < timedelta(days=7)
    for source in ms.SOURCES:
        page = dynamodb.query(
            TableName="celebrity-database",
            IndexName="source-updated_at-index",
            KeyConditionExpression="#source = :source",
            ExpressionAttributeNames={"#source": "source"},
            ExpressionAttributeValues={":source": {"S": source}},
            ScanIndexForward=False,
            Limit=1,
        )
        assert page["Items"][0]["updated_at"]["S"] == system.newest_update_per_source[source]


def test_access_log_parses_and_shows_burst(system: ms.SystemSummary) -> None:
    logs = boto3.client("logs")
    events = _events(logs, "/aws/api-gateway/celebrity-database-api")
    streams = logs.describe_log_streams(logGroupName="/aws/api-gateway/celebrity-database-api")["logStreams"]
    matches = [PRODUCTION_LINE.match(event["message"]) for event in events]
    burst_times = sorted(
        datetime.strptime(match["time"], "%d/%b/%Y:%H:%M:%S %z")
        for match in matches
        if match and match["source"] == "203.0.113.66" and match["status"] == "401"
    )

    assert len(events) == system.access_log_lines
    assert len(streams) == 4
    assert sum(match is None for match in matches) == 1
    assert system.burst.address == "203.0.113.66"
    assert len(burst_times) == 60
    assert _max_in_window(burst_times, timedelta(minutes=10)) >= 20
    assert burst_times[0] == system.burst.start
    for event, match in zip(events, matches, strict=True):
        if match:
            request_time = datetime.strptime(match["time"], "%d/%b/%Y:%H:%M:%S %z")
            assert event["timestamp"] // 1000 == int(request_time.timestamp())


def _latest_finished(logs: Any, function: str) -> tuple[int, dict[str, Any]] | None:
    finished = [
        (event["timestamp"], json.loads(event["message"]))
        for event in _events(logs, f"/aws/lambda/{function}")
        if '"message":"scrape finished"' in event["message"]
    ]
    return max(finished, key=lambda pair: pair[0]) if finished else None


def test_log_groups_stage_and_scraper_lines(system: ms.SystemSummary) -> None:
    logs = boto3.client("logs")
    groups = {group["logGroupName"]: group.get("retentionInDays") for group in logs.describe_log_groups()["logGroups"]}
    expected_without = [
        "/aws/lambda/scraper-tmdb",
        "/aws/lambda/scraper-wikipedia",
        "/aws/lambda/scraper-news",
        "/aws/lambda/scraper-social",
        "/aws/lambda/post-processor",
        "/aws/lambda/list-celebrities",
        "/aws/lambda/get-celebrity",
        "/aws/api-gateway/celebrity-database-api",
        "/ecs/some-service",
    ]
    latest_ms = ms.to_millis(system.latest_scheduled_run)
    tmdb = _latest_finished(logs, "scraper-tmdb")
    news = _latest_finished(logs, "scraper-news")
    social = _latest_finished(logs, "scraper-social")
    scored = _events(logs, "/aws/lambda/post-processor")
    stage = boto3.client("apigateway").get_stage(restApiId=system.rest_api_id, stageName="prod")

    for name in expected_without:
        assert groups[name] is None
    assert groups["/aws/lambda/other-stack-fn"] == 7
    assert groups[f"API-Gateway-Execution-Logs_{system.rest_api_id}/prod"] is None
    assert stage["accessLogSettings"]["format"] == ms.ACCESS_LOG_FORMAT
    assert stage["accessLogSettings"]["destinationArn"].endswith(":log-group:/aws/api-gateway/celebrity-database-api")
    assert sorted(groups) == sorted([*system.log_groups_without_retention, *system.log_groups_with_retention])
    assert tmdb is not None
    assert tmdb[0] > latest_ms
    assert tmdb[1]["status"] == "succeeded"
    assert news is not None
    assert news[1]["status"] == "failed"
    assert news[1]["error"] == "HTTP 503 from newsapi"
    assert social is None or social[0] < latest_ms
    assert json.loads(scored[0]["message"])["message"] == "item scored"
    assert dict(system.scraper_outcomes) == {
        "tmdb": ms.ScraperOutcome.SUCCEEDED,
        "wikipedia": ms.ScraperOutcome.SUCCEEDED,
        "news": ms.ScraperOutcome.FAILED,
        "social": ms.ScraperOutcome.MISSED,
    }


def test_metrics_rules_and_summary_match_outcomes(system: ms.SystemSummary) -> None:
    cloudwatch = boto3.client("cloudwatch")
    events = boto3.client("events")
    start = system.latest_scheduled_run

    def total(function: str, metric: str) -> float:
        datapoints = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=[{"Name": "FunctionName", "Value": function}],
            StartTime=start,
            EndTime=start + timedelta(hours=1),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(point["Sum"] for point in datapoints)

    rules = {rule["Name"]: rule for rule in events.list_rules()["Rules"]}
    data = json.loads(json.dumps(system.to_dict()))

    assert total("scraper-tmdb", "Invocations") == 1
    assert total("scraper-tmdb", "Errors") == 0
    assert total("scraper-news", "Invocations") == 1
    assert total("scraper-news", "Errors") == 1
    assert total("scraper-social", "Invocations") == 0
    assert rules["scraper-social-weekly"]["State"] == "DISABLED"
    assert rules["scraper-tmdb-weekly"]["State"] == "ENABLED"
    assert rules["scraper-tmdb-weekly"]["ScheduleExpression"] == "cron(0 2 ? * SUN *)"
    assert data["burst"]["address"] == "203.0.113.66"
    assert data["stale_source"] == "social"
    assert data["stale_source_age_days"] > 8
    assert data["access_log_lines"] == system.access_log_lines


def _sum_over_window(system: ms.SystemSummary, namespace: str, metric: str, dimensions: dict[str, str]) -> float:
    datapoints = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": name, "Value": value} for name, value in dimensions.items()],
        StartTime=system.now - ms.ACCESS_LOG_WINDOW - timedelta(minutes=5),
        EndTime=system.now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


def test_service_metrics_match_stored_access_log(system: ms.SystemSummary) -> None:
    events = _events(boto3.client("logs"), "/aws/api-gateway/celebrity-database-api")
    matches = [match for match in (PRODUCTION_LINE.match(event["message"]) for event in events) if match]
    reached = Counter(
        match["path"] for match in matches if match["method"] == "GET" and match["status"] not in ("401", "429")
    )
    stage = {"ApiName": "celebrity-database-api", "Stage": "prod"}
    table = {"TableName": "celebrity-database"}

    list_calls = _sum_over_window(system, "AWS/Lambda", "Invocations", {"FunctionName": "list-celebrities"})
    get_calls = _sum_over_window(system, "AWS/Lambda", "Invocations", {"FunctionName": "get-celebrity"})
    reads = _sum_over_window(system, "AWS/DynamoDB", "ConsumedReadCapacityUnits", table)
    server_errors = sum(int(match["status"]) >= 500 for match in matches)

    assert list_calls == reached["/celebrities"]
    assert get_calls == reached["/celebrities/{id}"]
    assert _sum_over_window(system, "AWS/ApiGateway", "Count", stage) == len(matches)
    assert _sum_over_window(system, "AWS/ApiGateway", "5XXError", stage) == server_errors
    assert reads == ms.LIST_READ_UNITS * list_calls + ms.GET_READ_UNITS * get_calls


def test_no_throttle_metrics_published(system: ms.SystemSummary) -> None:
    cloudwatch = boto3.client("cloudwatch")

    names = {metric["MetricName"] for metric in cloudwatch.list_metrics(Namespace="AWS/DynamoDB")["Metrics"]}

    assert names == {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"}
    assert _sum_over_window(system, "AWS/DynamoDB", "ConsumedWriteCapacityUnits", {"TableName": "celebrity-database"})


def test_estimated_charges_only_in_us_east_1(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    ms.create_monitored_system(_now(), seed=11, items=ITEMS)

    home = boto3.client("cloudwatch", region_name="eu-west-1")
    billing = boto3.client("cloudwatch", region_name="us-east-1")
    charges = billing.list_metrics(Namespace="AWS/Billing")["Metrics"]
    assert home.list_metrics(Namespace="AWS/Billing")["Metrics"] == []
    assert [metric["MetricName"] for metric in charges] == ["EstimatedCharges"]
    assert charges[0]["Dimensions"] == [{"Name": "Currency", "Value": "USD"}]
    assert home.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations")["Metrics"]
    assert billing.list_metrics(Namespace="AWS/Lambda")["Metrics"] == []


def test_post_processor_invocations_match_scored_lines(system: ms.SystemSummary) -> None:
    scored = _events(boto3.client("logs"), "/aws/lambda/post-processor")

    datapoints = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": "post-processor"}],
        StartTime=system.latest_scheduled_run,
        EndTime=system.now,
        Period=86400,
        Statistics=["Sum"],
    )["Datapoints"]

    assert scored
    assert sum(point["Sum"] for point in datapoints) == -(-len(scored) // ms.POST_PROCESSOR_BATCH)
