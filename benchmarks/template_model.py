"""What the benchmarks and the cost model read from template.yaml: functions, schedules, alarms.

The template goes through the SAM transform (`harness.template.to_cloudformation`), so Globals,
Schedule events and policy statements appear as `sam deploy` would create them. Intrinsic
functions are resolved against the parameters of a samconfig environment; a reference to another
resource becomes a `@LogicalId` or `@LogicalId.Attribute` marker, which is all the model needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
_MARKER = re.compile(r"@([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    memory_mb: int
    timeout_s: int
    architecture: str
    tracing: bool
    # IAM service prefixes of the actions in the function's own policy statements (not managed policies).
    iam_services: tuple[str, ...]
    iam_actions: tuple[str, ...]
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleSpec:
    rule: str
    expression: str
    target: str  # logical id of the function or state machine
    target_type: str  # "function" or "state_machine"
    enabled: bool


@dataclass(frozen=True)
class AlarmSpec:
    logical_id: str
    kind: str  # "metric", "metric-math", "anomaly", "insights" or "composite"
    metrics: int  # metrics billed: every MetricStat of a metric math alarm counts
    high_resolution: bool
    custom_metrics: tuple[tuple[str, str], ...] = ()  # (namespace, metric name) outside AWS/ namespaces


@dataclass(frozen=True)
class MetricFilterSpec:
    logical_id: str
    log_group: str
    namespace: str
    metric_name: str
    has_default_value: bool


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition: dict[str, Any] | None
    kind: str  # STANDARD or EXPRESS


@dataclass(frozen=True)
class QueueSourceSpec:
    function: str
    queue: str
    batch_size: int
    batching_window_s: int


@dataclass
class SuiteModel:
    stack_name: str
    parameters: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    alarms: list[AlarmSpec] = field(default_factory=list)
    dashboards: list[str] = field(default_factory=list)
    metric_filters: list[MetricFilterSpec] = field(default_factory=list)
    state_machines: dict[str, StateMachineSpec] = field(default_factory=dict)
    queue_sources: list[QueueSourceSpec] = field(default_factory=list)
    log_group_retention: dict[str, int] = field(default_factory=dict)  # function logical id -> days
    kms_keys: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # secret resources and *SecretArn parameters
    tables: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    resource_types: dict[str, str] = field(default_factory=dict)

    def schedules_for(self, target: str) -> list[ScheduleSpec]:
        return [s for s in self.schedules if s.target == target and s.enabled]


def referenced_ids(value: Any) -> list[str]:
    """Logical ids named by the markers in a resolved value."""
    return _MARKER.findall(json.dumps(value))


def _resource_marker(logical_id: str, attribute: str | None) -> str:
    return f"@{logical_id}" if attribute is None else f"@{logical_id}.{attribute}"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _policy_actions(role: dict[str, Any]) -> list[str]:
    actions: list[str] = []
    for policy in role.get("Policies", []) or []:
        for statement in _as_list((policy.get("PolicyDocument") or {}).get("Statement")):
            if statement.get("Effect", "Allow") == "Allow":
                actions.extend(str(a) for a in _as_list(statement.get("Action")))
    return actions


def _alarm_spec(logical_id: str, properties: dict[str, Any]) -> AlarmSpec:
    queries = properties.get("Metrics")
    custom: list[tuple[str, str]] = []
    if not queries:
        namespace = str(properties.get("Namespace", ""))
        if namespace and not namespace.startswith("AWS/"):
            custom.append((namespace, str(properties.get("MetricName"))))
        period = int(properties.get("Period", 60))
        return AlarmSpec(logical_id, "metric", 1, period < 60, tuple(custom))

    stats = [q for q in queries if "MetricStat" in q]
    expressions = [str(q.get("Expression", "")) for q in queries if "Expression" in q]
    periods = [int(q["MetricStat"].get("Period", 60)) for q in stats] + [int(q.get("Period", 60)) for q in queries]
    for query in stats:
        metric = query["MetricStat"].get("Metric", {})
        namespace = str(metric.get("Namespace", ""))
        if namespace and not namespace.startswith("AWS/"):
            custom.append((namespace, str(metric.get("MetricName"))))
    high_resolution = any(p < 60 for p in periods)
    if any("ANOMALY_DETECTION_BAND" in e for e in expressions):
        # An anomaly detection alarm is billed as three metrics: the metric and the band's two bounds.
        return AlarmSpec(logical_id, "anomaly", 3 * max(1, len(stats)), high_resolution, tuple(custom))
    if any(e.lstrip().upper().startswith("SELECT") for e in expressions):
        # NOTE: a Metrics Insights alarm is billed per metric the query analyses, unknown here; one is assumed.
        return AlarmSpec(logical_id, "insights", max(1, len(stats)), high_resolution, tuple(custom))
    kind = "metric" if len(stats) == 1 and not expressions else "metric-math"
    return AlarmSpec(logical_id, kind, len(stats), high_resolution, tuple(custom))


def _state_machine_definition(properties: dict[str, Any]) -> dict[str, Any] | None:
    definition = properties.get("Definition")
    if isinstance(definition, dict):
        return definition
    text = properties.get("DefinitionString")
    if isinstance(text, str):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def load_model(
    config_env: str = "prod",
    overrides: dict[str, str] | None = None,
    assume_secrets: bool = True,
    one_secret: bool = False,
) -> SuiteModel:
    """Read template.yaml with the parameters of `config_env` in samconfig.toml plus `overrides`.

    With `assume_secrets`, every empty `*SecretArn` parameter gets a stand-in ARN, because the
    operators' stack runs with its Slack and PagerDuty secrets set (samconfig.toml leaves them empty
    until the secrets exist), and the conditional policy statements and costs follow from them.
    With `one_secret`, the stand-ins share one ARN: one JSON secret holding the webhook URL and
    the routing key (README, "Deploying").
    """
    # harness.template loads cfn-lint and the SAM translator (seconds), so only a load pays for them.
    from harness.template import (
        Resolver,
        TemplateError,
        load_sam_template,
        resolve_parameters,
        samconfig_overrides,
        stack_name_for,
        to_cloudformation,
    )

    sam_template = load_sam_template()
    merged = {**samconfig_overrides(config_env), **(overrides or {})}
    if assume_secrets:
        for name in sam_template.get("Parameters", {}):
            if name.endswith("SecretArn") and not merged.get(name):
                label = "alert-secrets" if one_secret else name
                merged[name] = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{label}-AbCdEf"
    parameters = resolve_parameters(sam_template, merged)
    cloudformation, _ = to_cloudformation(sam_template, REGION)
    stack_name = stack_name_for(config_env)
    resolver = Resolver(
        parameters=parameters,
        pseudo={
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/bench",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": "",
        },
        conditions_source=cloudformation.get("Conditions", {}),
        resource_value=_resource_marker,
    )
    model = SuiteModel(stack_name=stack_name, parameters=parameters)
    resources: dict[str, dict[str, Any]] = {}
    for logical_id, resource in cloudformation.get("Resources", {}).items():
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition):
            continue
        try:
            properties = resolver.resolve(resource.get("Properties", {}))
        except TemplateError:
            # An intrinsic the local resolver does not support: keep the raw properties.
            properties = resource.get("Properties", {})
        resources[logical_id] = {"Type": resource.get("Type"), "Properties": properties}
        model.resource_types[logical_id] = str(resource.get("Type"))

    # A secret is billed once however many parameters name it.
    parameters_by_secret: dict[str, list[str]] = {}
    for name, value in parameters.items():
        if name.endswith("SecretArn") and value:
            parameters_by_secret.setdefault(str(value), []).append(name)
    for names in parameters_by_secret.values():
        model.secrets.append("parameter " + " and ".join(names))

    for logical_id, resource in resources.items():
        kind, p = resource["Type"], resource["Properties"]
        if kind == "AWS::Lambda::Function":
            role_ids = referenced_ids(p.get("Role"))
            role = resources.get(role_ids[0], {}).get("Properties", {}) if role_ids else {}
            actions = _policy_actions(role)
            services = sorted({a.split(":", 1)[0] for a in actions if ":" in a})
            model.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                handler=str(p.get("Handler", "app.lambda_handler")),
                memory_mb=int(p.get("MemorySize", 128)),
                timeout_s=int(p.get("Timeout", 3)),
                architecture=str(_as_list(p.get("Architectures", ["x86_64"]))[0]),
                tracing=(p.get("TracingConfig") or {}).get("Mode") == "Active",
                iam_services=tuple(services),
                iam_actions=tuple(sorted(set(actions))),
                environment={k: str(v) for k, v in ((p.get("Environment") or {}).get("Variables") or {}).items()},
            )
        elif kind == "AWS::CloudWatch::Alarm":
            model.alarms.append(_alarm_spec(logical_id, p))
        elif kind == "AWS::CloudWatch::CompositeAlarm":
            model.alarms.append(AlarmSpec(logical_id, "composite", 0, False))
        elif kind == "AWS::CloudWatch::Dashboard":
            model.dashboards.append(logical_id)
        elif kind == "AWS::Logs::MetricFilter":
            for transformation in _as_list(p.get("MetricTransformations")):
                model.metric_filters.append(
                    MetricFilterSpec(
                        logical_id=logical_id,
                        log_group=str(p.get("LogGroupName", "")),
                        namespace=str(transformation.get("MetricNamespace", "")),
                        metric_name=str(transformation.get("MetricName", "")),
                        has_default_value="DefaultValue" in transformation,
                    )
                )
        elif kind == "AWS::StepFunctions::StateMachine":
            model.state_machines[logical_id] = StateMachineSpec(
                logical_id, _state_machine_definition(p), str(p.get("StateMachineType", "STANDARD"))
            )
        elif kind == "AWS::KMS::Key":
            model.kms_keys.append(logical_id)
        elif kind == "AWS::SecretsManager::Secret":
            model.secrets.append(logical_id)
        elif kind == "AWS::DynamoDB::Table":
            model.tables.append(logical_id)
        elif kind == "AWS::SNS::Topic":
            model.topics.append(logical_id)
        elif kind == "AWS::SQS::Queue":
            model.queues.append(logical_id)

    for logical_id, resource in resources.items():
        kind, p = resource["Type"], resource["Properties"]
        if kind == "AWS::Events::Rule" and "ScheduleExpression" in p:
            for target in _as_list(p.get("Targets")):
                _add_schedule(model, str(p.get("Name", logical_id)), p["ScheduleExpression"], target.get("Arn"), p)
        elif kind == "AWS::Scheduler::Schedule":
            target = p.get("Target") or {}
            _add_schedule(model, str(p.get("Name", logical_id)), p.get("ScheduleExpression", ""), target.get("Arn"), p)
        elif kind == "AWS::Lambda::EventSourceMapping":
            functions = [i for i in referenced_ids(p.get("FunctionName")) if i in model.functions]
            queues = [i for i in referenced_ids(p.get("EventSourceArn")) if i in model.queues]
            if functions and queues:
                model.queue_sources.append(
                    QueueSourceSpec(
                        functions[0],
                        queues[0],
                        int(p.get("BatchSize", 10)),
                        int(p.get("MaximumBatchingWindowInSeconds", 0)),
                    )
                )
        elif kind == "AWS::Logs::LogGroup":
            owners = [i for i in referenced_ids(p.get("LogGroupName")) if i in model.functions]
            if owners and "RetentionInDays" in p:
                model.log_group_retention[owners[0]] = int(p["RetentionInDays"])
    return model


def _add_schedule(model: SuiteModel, rule: str, expression: str, arn: Any, properties: dict[str, Any]) -> None:
    state = str(properties.get("State", "ENABLED"))
    for target in referenced_ids(arn):
        if target in model.functions:
            model.schedules.append(ScheduleSpec(rule, expression, target, "function", state == "ENABLED"))
        elif target in model.state_machines:
            model.schedules.append(ScheduleSpec(rule, expression, target, "state_machine", state == "ENABLED"))


def placeholder_value(model: SuiteModel, logical_id: str, attribute: str | None) -> str:
    """Return a well-formed stand-in for a resource's Ref or attribute, as a function's environment sees it."""
    kind = model.resource_types.get(logical_id, "")
    name = f"{model.stack_name}-{logical_id}"
    service = {
        "AWS::SNS::Topic": "sns",
        "AWS::SQS::Queue": "sqs",
        "AWS::DynamoDB::Table": "dynamodb",
        "AWS::Lambda::Function": "lambda",
        "AWS::StepFunctions::StateMachine": "states",
        "AWS::KMS::Key": "kms",
        "AWS::Logs::LogGroup": "logs",
    }.get(kind, "cloudformation")
    arns = {
        "sns": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}",
        "sqs": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
        "dynamodb": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}",
        "lambda": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
        "states": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}",
        "kms": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/00000000-0000-4000-8000-000000000000",
        "logs": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}",
        "cloudformation": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:resource/{name}",
    }
    if attribute == "Arn":
        return arns[service]
    if attribute is not None:
        return name
    if service in ("sns", "states"):
        return arns[service]
    if service == "sqs":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
    if service == "kms":
        return "00000000-0000-4000-8000-000000000000"
    return name


def realistic_environment(model: SuiteModel, function: FunctionSpec) -> dict[str, str]:
    """Return the function's environment with every resource marker replaced by a well-formed value."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)[1:]
        logical_id, _, attribute = text.partition(".")
        return placeholder_value(model, logical_id, attribute or None)

    return {key: _MARKER.sub(replace, value) for key, value in function.environment.items()}
