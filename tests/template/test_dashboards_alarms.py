"""Dashboards and alarms of template.yaml: body structure, emitted metrics and dimensions, runbooks, conditions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from celebops.costwatch.metrics import DIMENSION_SETS as COST_DIMENSION_SETS
from harness.dashboards import widget_queries
from harness.paths import ROOT
from harness.template import Resolver, load_sam_template, resolve_parameters, to_cloudformation

REGION = "eu-west-1"
CUSTOM_NAMESPACE = "custom/celebrity-database"

#: Metrics AWS publishes, with each dimension set it publishes them under (sorted keys).
AWS_METRIC_DIMENSIONS: dict[tuple[str, str], set[tuple[str, ...]]] = {
    **{("AWS/Lambda", name): {("FunctionName",)} for name in ("Invocations", "Errors", "Duration", "Throttles")},
    **{
        ("AWS/ApiGateway", name): {("ApiName",), ("ApiName", "Stage")}
        for name in ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency")
    },
    **{
        ("AWS/DynamoDB", name): {("TableName",), ("GlobalSecondaryIndexName", "TableName")}
        for name in (
            "ConsumedReadCapacityUnits",
            "ConsumedWriteCapacityUnits",
            "ReadThrottleEvents",
            "WriteThrottleEvents",
        )
    },
    # ThrottledRequests is published per operation only.
    ("AWS/DynamoDB", "ThrottledRequests"): {("Operation", "TableName")},
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): {("QueueName",)},
    **{
        ("AWS/States", name): {("StateMachineArn",)}
        for name in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
    },
    ("AWS/SNS", "NumberOfNotificationsFailed"): {("TopicName",)},
    ("AWS/Billing", "EstimatedCharges"): {("Currency",), ("Currency", "ServiceName")},
}

#: Custom metrics, with the dimension keys their emitters write. The cost metrics come from the
#: module their EMF test checks; the others are read from their emitters: the freshness metrics
#: carry no `service` (SingleMetric with service=""), the restore, backup and access-scan metrics
#: carry Powertools' `service`.
CUSTOM_METRIC_DIMENSIONS: dict[str, set[tuple[str, ...]]] = {
    **{name: {tuple(sorted(keys))} for name, keys in COST_DIMENSION_SETS.items()},
    "DataFreshness": {(), ("Source",)},
    "FreshnessCheckFailed": {()},
    "ScraperSuccess": {(), ("Source",)},
    "ScraperSuccessRate": {()},
    **{
        name: {("RestoreType", "service")}
        for name in ("RestoreTestSuccess", "RestoreDurationSeconds", "RestoreItemsVerified")
    },
    "DaysSinceRestoreTestSuccess": {("TableName", "service")},
    **{name: {("TableName", "service")} for name in ("NewestBackupAgeSeconds", "PitrEnabled", "PitrWindowSeconds")},
    **{
        name: {("service",)}
        for name in (
            "Unauthorized401Count",
            "UnauthorizedDistinctSources",
            "UnauthorizedOffenders",
            "UnauthorizedRepeatOffenders",
        )
    },
}

DASHBOARDS = {"OperationsDashboard", "DataQualityDashboard", "CostDashboard", "SuiteHealthDashboard"}
LOGS_INSIGHTS_COMMANDS = {"fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", "unmask"}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_sam_template()


@pytest.fixture(scope="module")
def resolved(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dashboard and alarm properties with every intrinsic function resolved, as deployed in REGION."""
    cloudformation, _ = to_cloudformation(sam, REGION)
    parameters = resolve_parameters(sam, {})
    resources = cloudformation["Resources"]

    def resource_value(logical_id: str, attribute: str | None) -> Any:
        kind = resources[logical_id]["Type"]
        if attribute == "QueueName" or kind == "AWS::Lambda::Function":
            return f"physical-{logical_id}"
        if kind == "AWS::CloudWatch::Alarm":
            return f"alarm-{logical_id}"
        return f"arn:aws:local:{REGION}:123456789012:{logical_id}"

    resolver = Resolver(
        parameters=parameters,
        pseudo={
            "AWS::Region": REGION,
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::StackName": "celebrity-database-ops",
            "AWS::URLSuffix": "amazonaws.com",
        },
        conditions_source=cloudformation.get("Conditions", {}),
        resource_value=resource_value,
    )
    kinds = ("AWS::CloudWatch::Dashboard", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    return {
        logical_id: {"Type": resource["Type"], **resolver.resolve(resource["Properties"])}
        for logical_id, resource in resources.items()
        if resource["Type"] in kinds and logical_id not in _conditional(resources, resolver)
    }


def _conditional(resources: dict[str, Any], resolver: Resolver) -> set[str]:
    return {k for k, v in resources.items() if "Condition" in v and not resolver.condition(v["Condition"])}


def _bodies(resolved: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: json.loads(v["DashboardBody"]) for k, v in resolved.items() if v["Type"] == "AWS::CloudWatch::Dashboard"}


def _widgets(resolved: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, body in _bodies(resolved).items():
        for widget in body["widgets"]:
            yield logical_id, widget


def test_four_dashboards_exist(resolved: dict[str, dict[str, Any]]) -> None:
    assert set(_bodies(resolved)) == DASHBOARDS


def test_dashboard_names_follow_stack(resolved: dict[str, dict[str, Any]]) -> None:
    names = {resolved[k]["DashboardName"] for k in DASHBOARDS}

    assert "celebrity-database-ops-operations" in names
    assert all(name.startswith("celebrity-database-ops-") for name in names)


def test_widgets_have_position_and_properties(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, widget in _widgets(resolved):
        assert widget["type"] in {"metric", "log", "text", "alarm"}, logical_id
        for key in ("x", "y", "width", "height"):
            assert isinstance(widget[key], int), f"{logical_id}: {key} of {widget.get('properties', {}).get('title')}"
        assert widget["x"] >= 0, logical_id
        assert widget["x"] + widget["width"] <= 24, logical_id
        assert isinstance(widget["properties"], dict), logical_id


def test_metric_and_log_widgets_name_region(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, widget in _widgets(resolved):
        if widget["type"] in ("metric", "log"):
            assert widget["properties"]["region"] in {REGION, "us-east-1"}, logical_id


def test_only_billing_widgets_leave_stack_region(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, widget in _widgets(resolved):
        if widget["type"] == "metric" and widget["properties"]["region"] != REGION:
            namespaces = {entry[0] for entry in widget["properties"]["metrics"]}
            assert namespaces == {"AWS/Billing"}, logical_id


def test_metric_arrays_are_well_formed(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, widget in _widgets(resolved):
        if widget["type"] != "metric":
            continue
        for entry in widget["properties"]["metrics"]:
            assert isinstance(entry, list), logical_id
            strings = [part for part in entry if not isinstance(part, dict)]
            if strings:
                assert len(strings) % 2 == 0, f"{logical_id}: {entry} has an odd dimension list"
                assert all(isinstance(part, str) and part for part in strings), f"{logical_id}: {entry}"
            else:
                assert "expression" in entry[0], f"{logical_id}: {entry}"


def test_no_substitution_left_in_bodies(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id in DASHBOARDS:
        assert "${" not in resolved[logical_id]["DashboardBody"], logical_id


def test_expressions_name_defined_ids(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, widget in _widgets(resolved):
        if widget["type"] != "metric":
            continue
        queries = widget_queries(widget, REGION)
        ids = {query.id for query in queries}
        for query in queries:
            if query.expression:
                names = set(re.findall(r"\b[a-z][a-zA-Z0-9_]*\b", query.expression))
                assert names <= ids, f"{logical_id}: {query.expression} names {names - ids}"


def test_logs_insights_queries_use_known_commands(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, widget in _widgets(resolved):
        if widget["type"] != "log":
            continue
        stages = [stage.strip() for stage in widget["properties"]["query"].split(" | ")]
        sources = [stage for stage in stages if stage.startswith("SOURCE ")]
        commands = [stage.split()[0] for stage in stages if not stage.startswith("SOURCE ")]

        assert sources, f"{logical_id}: no SOURCE log group"
        assert all(re.fullmatch(r"SOURCE '[^']+'", source) for source in sources), logical_id
        assert set(commands) <= LOGS_INSIGHTS_COMMANDS, f"{logical_id}: {commands}"
        assert stages.index(sources[-1]) < len(sources), f"{logical_id}: SOURCE after a command"


def test_logs_insights_stats_bin_and_limits(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, widget in _widgets(resolved):
        if widget["type"] != "log":
            continue
        query = widget["properties"]["query"]
        assert re.search(r"\| limit \d+$", query), f"{logical_id}: {query}"
        for bin_size in re.findall(r"bin\(([^)]*)\)", query):
            assert re.fullmatch(r"\d+[smhd]", bin_size), f"{logical_id}: bin({bin_size})"


def _metric_uses(resolved: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
    for logical_id, widget in _widgets(resolved):
        if widget["type"] == "metric":
            for query in widget_queries(widget, REGION):
                if query.expression is None:
                    yield (
                        logical_id,
                        str(query.namespace),
                        str(query.name),
                        tuple(sorted(k for k, _ in query.dimensions)),
                    )
    for logical_id, alarm in resolved.items():
        if alarm["Type"] != "AWS::CloudWatch::Alarm":
            continue
        metrics = (
            [alarm]
            if "MetricName" in alarm
            else [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
        )
        for metric in metrics:
            keys = tuple(sorted(d["Name"] for d in metric.get("Dimensions", [])))
            yield logical_id, metric["Namespace"], metric["MetricName"], keys


def _source_text() -> str:
    files = [*(ROOT / "layers" / "shared" / "celebops").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    return "\n".join(path.read_text() for path in files)


def test_aws_metrics_use_published_dimensions(resolved: dict[str, dict[str, Any]]) -> None:
    for logical_id, namespace, name, keys in _metric_uses(resolved):
        if namespace == CUSTOM_NAMESPACE:
            continue
        assert (namespace, name) in AWS_METRIC_DIMENSIONS, f"{logical_id}: AWS publishes no {namespace} {name}"
        assert keys in AWS_METRIC_DIMENSIONS[(namespace, name)], f"{logical_id}: {name} is not published by {keys}"


def test_custom_metrics_are_emitted_with_same_dimensions(resolved: dict[str, dict[str, Any]]) -> None:
    source = _source_text()
    for logical_id, namespace, name, keys in _metric_uses(resolved):
        if namespace != CUSTOM_NAMESPACE:
            continue
        assert f'"{name}"' in source, f"{logical_id}: no code emits {name}"
        assert name in CUSTOM_METRIC_DIMENSIONS, f"{logical_id}: {name} has no known dimension set"
        assert keys in CUSTOM_METRIC_DIMENSIONS[name], f"{logical_id}: {name} is emitted with other dimensions"


def test_service_dimension_names_a_function(sam: dict[str, Any], resolved: dict[str, dict[str, Any]]) -> None:
    services = {
        v["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME")
        for v in sam["Resources"].values()
        if v["Type"] == "AWS::Serverless::Function"
    }
    values = []
    for _, widget in _widgets(resolved):
        if widget["type"] == "metric":
            values += [
                value for query in widget_queries(widget, REGION) for key, value in query.dimensions if key == "service"
            ]
    for alarm in resolved.values():
        metrics = (
            [alarm]
            if "MetricName" in alarm
            else [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        )
        values += [d["Value"] for metric in metrics for d in metric.get("Dimensions", []) if d["Name"] == "service"]

    assert values
    for value in values:
        assert value in services, f"service dimension {value} is no function's POWERTOOLS_SERVICE_NAME"


def _runbook_anchors(path: str) -> set[str]:
    lines = (ROOT / path).read_text().splitlines()
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in lines
        if line.startswith("#")
    }


def test_every_alarm_links_existing_runbook_section(resolved: dict[str, dict[str, Any]]) -> None:
    alarms = {k: v for k, v in resolved.items() if v["Type"] != "AWS::CloudWatch::Dashboard"}
    for logical_id, alarm in alarms.items():
        match = re.search(r"runbook: (docs/runbooks/[\w.-]+\.md)#([\w-]+)", alarm.get("AlarmDescription", ""))
        assert match, f"{logical_id} links no runbook section"
        assert (ROOT / match.group(1)).exists(), f"{logical_id}: {match.group(1)} is missing"
        assert match.group(2) in _runbook_anchors(match.group(1)), f"{logical_id}: no heading #{match.group(2)}"


def test_alarms_justify_missing_data(sam: dict[str, Any]) -> None:
    text = (ROOT / "template.yaml").read_text()
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert "TreatMissingData" in resource["Properties"], logical_id
    for match in re.finditer(r"\n((?:      #[^\n]*\n)*)      TreatMissingData:", text):
        assert match.group(1).strip(), f"TreatMissingData without a comment near offset {match.start()}"


def test_billing_alarm_only_in_us_east_1(sam: dict[str, Any]) -> None:
    billing = [k for k, v in sam["Resources"].items() if v["Properties"].get("Namespace") == "AWS/Billing"]

    assert billing == ["EstimatedChargesAlarm"]
    assert sam["Resources"]["EstimatedChargesAlarm"]["Condition"] == "IsUsEast1"
    assert sam["Conditions"]["IsUsEast1"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_billing_alarm_absent_outside_us_east_1(resolved: dict[str, dict[str, Any]]) -> None:
    assert "EstimatedChargesAlarm" not in resolved


def test_error_rate_alarms_divide_errors_by_invocations(resolved: dict[str, dict[str, Any]]) -> None:
    rate_alarms = {k: v for k, v in resolved.items() if k.startswith("LambdaErrorRate")}

    assert len(rate_alarms) == 14
    for logical_id, alarm in rate_alarms.items():
        expression = next(m["Expression"] for m in alarm["Metrics"] if m.get("ReturnData"))
        assert expression == "100 * errors / invocations", logical_id
        assert alarm["Threshold"] in (1, 5), logical_id


def test_percentile_alarms_use_extended_statistic(resolved: dict[str, dict[str, Any]]) -> None:
    latency = resolved["ApiLatencyP95Alarm"]

    assert latency["ExtendedStatistic"] == "p95"
    assert "Statistic" not in latency
    assert latency["EvaluationPeriods"] == 2


def test_composite_alarm_is_the_only_api_page(resolved: dict[str, dict[str, Any]]) -> None:
    composite = resolved["ApiDegradedAlarm"]
    critical = "arn:aws:local:eu-west-1:123456789012:CriticalTopic"

    assert composite["AlarmRule"] == 'ALARM("alarm-ApiServerErrorsAlarm") OR ALARM("alarm-ApiLatencyP95Alarm")'
    assert composite["AlarmActions"] == [critical]
    assert critical not in resolved["ApiServerErrorsAlarm"]["AlarmActions"]
    assert critical not in resolved["ApiLatencyP95Alarm"]["AlarmActions"]


def test_throttling_alarm_watches_this_table(resolved: dict[str, dict[str, Any]]) -> None:
    alarm = resolved["DynamoDbThrottlingAlarm"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    tables = {
        d["Value"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "TableName"
    }

    assert names == {"ThrottledRequests", "ReadThrottleEvents", "WriteThrottleEvents"}
    assert tables == {"celebrity-database"}
    assert len(alarm["Metrics"]) <= 10
