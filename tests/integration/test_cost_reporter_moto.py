"""CostReporterFunction against the moto server: Cost Explorer results, EMF metrics, the budget finding.

moto 5.2.5 returns an empty GetCostAndUsage unless results are queued through its
`/moto-api/static/ce/cost-and-usage-results` endpoint, which these tests do with a real response.
It does not implement GetCostForecast (HTTP 500), so the tests wrap the moto-backed client and
answer that one operation with a recorded response or a DataUnavailableException.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.moto_server import MotoServer
from tests.conftest import FakeLambdaContext, load_event, load_handler

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures" / "costwatch"
COST_AND_USAGE = json.loads((FIXTURES / "cost_and_usage_daily_by_service_2026-12-04.json").read_text())
FORECAST = json.loads((FIXTURES / "cost_forecast_rest_of_december.json").read_text())
TABLE = "celebrity-database"


class ForecastingCostExplorer:
    """The moto-backed Cost Explorer client, with GetCostForecast answered by the test."""

    def __init__(self, inner: Any, forecast: dict[str, Any] | None) -> None:
        self.inner = inner
        self.forecast = forecast
        self.forecast_requests: list[dict[str, Any]] = []

    def get_cost_forecast(self, **arguments: Any) -> dict[str, Any]:
        self.forecast_requests.append(arguments)
        if self.forecast is None:
            error = {"Error": {"Code": "DataUnavailableException", "Message": "Insufficient amount of historical data"}}
            raise ClientError(error, "GetCostForecast")
        return self.forecast

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _queue_cost_results(server: MotoServer, *results: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback moto server
        f"{server.endpoint}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": list(results)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for index in range(12):
        dynamodb.put_item(TableName=TABLE, Item={"id": {"S": f"celebrity-{index}"}})
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic = sns.create_topic(Name="cost")["TopicArn"]
    queue = sqs.create_queue(QueueName="cost-findings")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    for name, value in {
        "COST_TOPIC_ARN": topic,
        "TABLE_NAME": TABLE,
        "MONTHLY_BUDGET_USD": "7.50",
        "POWERTOOLS_SERVICE_NAME": "cost-reporter",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("COST_ALLOCATION_TAG", raising=False)
    _queue_cost_results(moto, COST_AND_USAGE)
    return {"queue": queue}


def _handler(monkeypatch: pytest.MonkeyPatch, forecast: dict[str, Any] | None) -> tuple[ModuleType, Any]:
    module = load_handler("cost_reporter")
    wrapped = ForecastingCostExplorer(module.cost_explorer_client(), forecast)
    monkeypatch.setattr(module, "cost_explorer_client", lambda: wrapped)
    return module, wrapped


def _emf(output: str) -> list[dict[str, Any]]:
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def _findings(queue: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_report_forecast_above_budget_publishes_finding(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module, _ = _handler(monkeypatch, FORECAST)

    result = module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    assert result["daily_cost_usd"] == pytest.approx(0.3709736)
    assert result["month_to_date_usd"] == pytest.approx(0.7789122)
    assert result["forecast_month_usd"] == pytest.approx(0.7789122 + 7.9146227191)
    assert result["budget"] == "forecast_above_budget"
    findings = _findings(aws["queue"])
    assert len(findings) == 1
    assert findings[0]["kind"] == "cost.forecast-above-budget"
    assert findings[0]["dedup_key"] == "cost-forecast-2026-12"
    assert findings[0]["runbook"] == "docs/runbooks/cost.md#forecast-above-budget"


def test_report_asks_forecast_from_today_to_month_end(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    module, wrapped = _handler(monkeypatch, FORECAST)

    module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    assert wrapped.forecast_requests == [
        {
            "TimePeriod": {"Start": "2026-12-04", "End": "2027-01-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
        }
    ]


def test_report_emits_cost_metrics_exactly(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module, _ = _handler(monkeypatch, FORECAST)

    module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    documents = _emf(capsys.readouterr().out)
    by_metric = {
        metric["Name"]: (document, directive)
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert set(by_metric) == {"DailyCost", "MonthToDateCost", "ForecastMonthCost", "TableItemCount"}
    cost_document, cost_directive = by_metric["DailyCost"]
    assert cost_directive["Namespace"] == "custom/celebrity-database"
    assert cost_directive["Dimensions"] == [["service"]]
    assert cost_document["service"] == "cost-reporter"
    assert cost_document["DailyCost"] == [pytest.approx(0.3709736)]
    count_document, count_directive = by_metric["TableItemCount"]
    assert count_directive["Dimensions"] == [["TableName", "service"]]
    assert count_document["TableName"] == TABLE
    assert count_document["TableItemCount"] == [12.0]


def test_report_logs_one_line_per_service(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    module, _ = _handler(monkeypatch, FORECAST)

    module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    records = [record for record in caplog.records if record.getMessage() == "service cost"]
    assert len(records) == 7
    assert getattr(records[0], "cost_service", None) == "AWS Lambda"
    assert getattr(records[0], "cost_usd", None) == pytest.approx(0.1733005)


def test_report_without_forecast_uses_run_rate(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    module, _ = _handler(monkeypatch, None)

    result = module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    assert result["forecast_source"] == "run-rate"
    assert result["forecast_error"] == "DataUnavailableException"
    assert result["forecast_month_usd"] == pytest.approx(0.7789122 / 3 * 31)


def test_run_rate_forecast_above_budget_names_source(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    module, _ = _handler(monkeypatch, None)

    module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    findings = _findings(aws["queue"])
    assert len(findings) == 1
    assert findings[0]["details"]["forecast_source"] == "run-rate"
    assert "(run-rate)" in findings[0]["summary"]


def test_report_filters_by_cost_allocation_tag(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COST_ALLOCATION_TAG", "project=celebrity-database")
    module, wrapped = _handler(monkeypatch, FORECAST)

    module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    assert wrapped.forecast_requests[0]["Filter"] == {
        "Tags": {"Key": "project", "Values": ["celebrity-database"], "MatchOptions": ["EQUALS"]}
    }


def test_run_rate_setting_skips_the_billed_forecast_request(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COST_FORECAST", "run-rate")
    module, wrapped = _handler(monkeypatch, FORECAST)

    result = module.lambda_handler(load_event("cost_reporter_scheduled"), FakeLambdaContext())

    assert wrapped.forecast_requests == []
    assert result["forecast_source"] == "run-rate"
    assert result["forecast_error"] is None
    assert result["forecast_month_usd"] == pytest.approx(0.7789122 / 3 * 31)
