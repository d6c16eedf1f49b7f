"""template.yaml: structure, parameters, schedules, alarms and events that every function needs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.paths import EVENTS, ROOT
from harness.scheduler import next_fire_time
from harness.template import load_sam_template, resolve_parameters, samconfig_overrides, to_cloudformation

EXPECTED_FUNCTIONS = {
    "AlertRouterFunction",
    "LogRetentionFunction",
    "FreshnessMonitorFunction",
    "ScraperMonitorFunction",
    "UnauthorizedAccessScanFunction",
    "BackupGuardFunction",
    "RestoreTestFunction",
    "CostReporterFunction",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_sam_template()


@pytest.fixture(scope="module")
def cloudformation(sam: dict[str, Any]) -> dict[str, Any]:
    translated, _ = to_cloudformation(sam, "us-east-1")
    return translated


def _functions(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in sam["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_globals_pin_runtime_architecture_and_json_logs(sam: dict[str, Any]) -> None:
    function_globals = sam["Globals"]["Function"]

    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert function_globals["LoggingConfig"]["LogFormat"] == "JSON"
    assert function_globals["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "custom/celebrity-database"


def test_functions_have_stable_logical_ids(sam: dict[str, Any]) -> None:
    assert set(_functions(sam)) >= EXPECTED_FUNCTIONS


def test_every_function_sets_service_name(sam: dict[str, Any]) -> None:
    for logical_id, function in _functions(sam).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert variables.get("POWERTOOLS_SERVICE_NAME"), f"{logical_id} has no POWERTOOLS_SERVICE_NAME"


def test_every_function_has_log_group_with_retention(sam: dict[str, Any]) -> None:
    groups = [r for r in sam["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    named = {json.dumps(g["Properties"]["LogGroupName"]) for g in groups}

    for logical_id in _functions(sam):
        expected = json.dumps({"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"})
        assert expected in named, f"{logical_id} has no explicit log group"
    for group in groups:
        assert "RetentionInDays" in group["Properties"]


def test_every_function_has_sample_event(sam: dict[str, Any]) -> None:
    for logical_id, function in _functions(sam).items():
        folder = function["Properties"]["CodeUri"].rstrip("/").split("/")[-1]
        events = sorted(EVENTS.glob(f"{folder}_*.json"))
        assert events, f"{logical_id} has no events/{folder}_*.json"
        for path in events:
            json.loads(path.read_text())


def test_function_folders_hold_thin_handler(sam: dict[str, Any]) -> None:
    for logical_id, function in _functions(sam).items():
        module, _, attribute = function["Properties"]["Handler"].rpartition(".")
        source = ROOT / function["Properties"]["CodeUri"] / f"{module}.py"
        assert source.exists(), f"{logical_id}: {source} is missing"
        assert f"def {attribute}(" in source.read_text()


def _schedule_expressions(sam: dict[str, Any], environment: str | None = None) -> list[tuple[str, str]]:
    """Each scheduled function's expression, with a parameter reference resolved for `environment`."""
    parameters = resolve_parameters(sam, samconfig_overrides(environment) if environment else {})
    found = []
    for logical_id, function in _functions(sam).items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] in ("Schedule", "ScheduleV2"):
                expression = event["Properties"].get("Schedule") or event["Properties"].get("ScheduleExpression")
                if isinstance(expression, dict):
                    expression = parameters[expression["Ref"]]
                found.append((logical_id, expression))
    return found


@pytest.mark.parametrize("environment", [None, "prod", "economy"])
def test_schedule_expressions_parse(sam: dict[str, Any], environment: str | None) -> None:
    expressions = _schedule_expressions(sam, environment)
    assert expressions
    after = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    for logical_id, expression in expressions:
        fire = next_fire_time(expression, after)
        assert fire > after, f"{logical_id}: {expression} does not fire after {after}"


def test_economy_checks_freshness_every_six_hours(sam: dict[str, Any]) -> None:
    expression = dict(_schedule_expressions(sam, "economy"))["FreshnessMonitorFunction"]
    first = next_fire_time(expression, datetime(2026, 12, 4, 12, 30, tzinfo=UTC))

    assert (next_fire_time(expression, first) - first).total_seconds() == 6 * 3600


def test_log_retention_runs_daily(sam: dict[str, Any]) -> None:
    expression = dict(_schedule_expressions(sam))["LogRetentionFunction"]
    first = next_fire_time(expression, datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    second = next_fire_time(expression, first)

    assert (second - first).total_seconds() == 86400


def test_samconfig_environments_resolve(sam: dict[str, Any]) -> None:
    for environment in ("default", "prod", "economy"):
        parameters = resolve_parameters(sam, samconfig_overrides(environment))
        assert parameters["TableName"] == "celebrity-database"


def test_production_names_are_defaults(sam: dict[str, Any]) -> None:
    parameters = resolve_parameters(sam, {})

    assert parameters["ApiName"] == "celebrity-database-api"
    assert parameters["ApiStage"] == "prod"
    assert parameters["AccessLogGroupName"] == "/aws/api-gateway/celebrity-database-api"
    assert parameters["ScraperFunctionNames"] == [
        "scraper-tmdb",
        "scraper-wikipedia",
        "scraper-news",
        "scraper-social",
    ]
    assert parameters["PostProcessorFunctionName"] == "post-processor"


def test_pagerduty_url_rejects_other_hosts(sam: dict[str, Any]) -> None:
    from harness.template import TemplateError

    with pytest.raises(TemplateError) as raised:
        resolve_parameters(sam, {"PagerDutyEventsUrl": "https://attacker.example.com"})

    assert "PagerDutyEventsUrl" in str(raised.value)


def test_topics_use_customer_managed_key(cloudformation: dict[str, Any]) -> None:
    topics = [r for r in cloudformation["Resources"].values() if r["Type"] == "AWS::SNS::Topic"]

    assert len(topics) == 4
    for topic in topics:
        assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertsKey"}


def test_alert_queue_keeps_messages_four_days(cloudformation: dict[str, Any]) -> None:
    queue = cloudformation["Resources"]["AlertQueue"]["Properties"]

    assert queue["MessageRetentionPeriod"] >= 4 * 86400
    assert queue["RedrivePolicy"]["maxReceiveCount"] <= 10
    router_timeout = cloudformation["Resources"]["AlertRouterFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * router_timeout


def test_queue_subscriptions_keep_sns_envelope(cloudformation: dict[str, Any]) -> None:
    subscriptions = [
        r["Properties"]
        for r in cloudformation["Resources"].values()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["Protocol"] == "sqs"
    ]

    assert len(subscriptions) == 4
    assert all(s["RawMessageDelivery"] is False for s in subscriptions)


def test_router_reports_partial_batch_failures(cloudformation: dict[str, Any]) -> None:
    mappings = [r for r in cloudformation["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]

    assert len(mappings) == 1
    assert mappings[0]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_alarm_descriptions_name_existing_runbooks(sam: dict[str, Any]) -> None:
    alarms = {
        k: v for k, v in sam["Resources"].items() if v["Type"].startswith("AWS::CloudWatch::") and "Alarm" in v["Type"]
    }
    assert alarms

    for logical_id, alarm in alarms.items():
        description = alarm["Properties"].get("AlarmDescription", "")
        match = re.search(r"runbook: (docs/runbooks/[\w.-]+\.md)(#[\w-]+)?", description)
        assert match, f"{logical_id} names no runbook"
        runbook = ROOT / match.group(1)
        assert runbook.exists(), f"{logical_id}: {runbook} does not exist"
        if match.group(2):
            anchors = {_anchor(line) for line in runbook.read_text().splitlines() if line.startswith("#")}
            assert match.group(2)[1:] in anchors, f"{logical_id}: {match.group(0)} has no such heading"


def _anchor(heading: str) -> str:
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_no_wildcard_managed_policies(cloudformation: dict[str, Any]) -> None:
    for logical_id, resource in cloudformation["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            assert "FullAccess" not in json.dumps(arn), f"{logical_id} attaches {arn}"


# Metrics AWS publishes that alarms of this template may watch, with the dimensions AWS sets.
AWS_METRICS = {
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent"},
    "AWS/SNS": {"NumberOfNotificationsFailed", "NumberOfMessagesPublished", "NumberOfNotificationsDelivered"},
    "AWS/Lambda": {"Errors", "Invocations", "Throttles", "Duration"},
    "AWS/DynamoDB": {"ThrottledRequests", "ReadThrottleEvents", "WriteThrottleEvents", "ConsumedReadCapacityUnits"},
    "AWS/ApiGateway": {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"},
    "AWS/States": {"ExecutionsFailed", "ExecutionsSucceeded", "ExecutionsTimedOut"},
    "AWS/Billing": {"EstimatedCharges"},
}


def _source_text() -> str:
    files = [*(ROOT / "layers" / "shared" / "celebops").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    return "\n".join(path.read_text() for path in files)


def test_alarms_watch_emitted_metrics(sam: dict[str, Any]) -> None:
    source = _source_text()
    alarms = {k: v["Properties"] for k, v in sam["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}

    for logical_id, alarm in alarms.items():
        metrics = (
            [alarm]
            if "MetricName" in alarm
            else [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
        )
        for metric in metrics:
            namespace, name = metric["Namespace"], metric["MetricName"]
            if namespace in AWS_METRICS:
                assert name in AWS_METRICS[namespace], f"{logical_id}: AWS publishes no {namespace} {name}"
            else:
                assert namespace == "custom/celebrity-database", f"{logical_id}: unknown namespace {namespace}"
                assert f'"{name}"' in source, f"{logical_id}: no code emits {name}"


def test_readme_documents_every_parameter(sam: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()

    for name in sam["Parameters"]:
        assert f"| `{name}` |" in readme, f"README's configuration table lacks {name}"


def test_restore_state_machine_is_defined(sam: dict[str, Any]) -> None:
    machine = sam["Resources"]["RestoreTestStateMachine"]

    assert machine["Type"] == "AWS::Serverless::StateMachine"
    assert machine["Properties"]["DefinitionUri"].endswith(".asl.json")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_layer_pins_match_the_tested_environment() -> None:
    layer = _pins(ROOT / "layers" / "shared" / "requirements.txt")
    tested = _pins(ROOT / "constraints.txt")

    assert {name: tested.get(name) for name in layer} == layer
