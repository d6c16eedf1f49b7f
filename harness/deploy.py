"""Local deployment: create the suite's resources in the embedded AWS from template.yaml itself.

The template goes through the SAM transform (as `sam deploy` does) and each CloudFormation
resource is created with the API call CloudFormation would make. Lambda functions are not
created in moto, which cannot run them without Docker: they are recorded with their resolved
handler, code, layers and environment so `harness.invoke` runs them in a local Python process.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from harness.moto_server import ACCOUNT_ID, REGION
from harness.paths import BUILD, LOCAL
from harness.template import (
    CodeLocation,
    Resolver,
    TemplateError,
    load_sam_template,
    resolve_parameters,
    samconfig_overrides,
    stack_name_for,
    to_cloudformation,
)

if TYPE_CHECKING:
    from harness.alarms import CompositeAlarmRegistry

DEPLOYMENT_FILE = LOCAL / "deployment.json"


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: str
    build_dir: str
    layer_dirs: list[str]
    environment: dict[str, str]
    timeout: int
    memory_size: int


@dataclass
class Schedule:
    rule_name: str
    expression: str
    target_function: str  # logical id; empty when the target is a state machine
    enabled: bool
    input: str | None = None
    target_state_machine: str | None = None  # logical id of an AWS::StepFunctions::StateMachine target


@dataclass
class QueueMapping:
    queue_url: str
    queue_arn: str
    function: str  # logical id
    batch_size: int
    report_batch_item_failures: bool


@dataclass
class Deployment:
    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, Any]
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> {"Ref":..., attrs}
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    schedules: list[Schedule] = field(default_factory=list)
    queue_mappings: list[QueueMapping] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> why it was not created

    def physical_id(self, logical_id: str) -> str:
        return str(self.resources[logical_id]["Ref"])

    def save(self, path: Path = DEPLOYMENT_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, default=str))

    @classmethod
    def load(cls, path: Path = DEPLOYMENT_FILE) -> Deployment:
        raw = json.loads(path.read_text())
        return cls(
            stack_name=raw["stack_name"],
            region=raw["region"],
            account_id=raw["account_id"],
            parameters=raw["parameters"],
            resources=raw["resources"],
            functions={k: LocalFunction(**v) for k, v in raw["functions"].items()},
            schedules=[Schedule(**s) for s in raw["schedules"]],
            queue_mappings=[QueueMapping(**q) for q in raw["queue_mappings"]],
            skipped=raw["skipped"],
        )


def _tags(properties: Mapping[str, Any]) -> list[dict[str, str]]:
    tags = properties.get("Tags", [])
    if isinstance(tags, dict):
        return [{"Key": k, "Value": str(v)} for k, v in tags.items()]
    return list(tags)


class _Deployer:
    def __init__(self, template: dict[str, Any], code: dict[str, CodeLocation], deployment: Deployment) -> None:
        self.template = template
        self.code = code
        self.deployment = deployment
        self.resources = template["Resources"]
        self.in_progress: set[str] = set()
        region = deployment.region
        self.clients = {
            name: boto3.client(name, region_name=region)
            for name in ("kms", "sns", "sqs", "dynamodb", "logs", "cloudwatch", "events", "iam", "stepfunctions")
        }
        self.resolver = Resolver(
            parameters=deployment.parameters,
            pseudo={
                "AWS::Region": region,
                "AWS::AccountId": deployment.account_id,
                "AWS::Partition": "aws",
                "AWS::StackName": deployment.stack_name,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackId": f"arn:aws:cloudformation:{region}:{deployment.account_id}:stack/"
                f"{deployment.stack_name}/local",
            },
            conditions_source=template.get("Conditions", {}),
            resource_value=self._value,
        )

    # -- resolution ---------------------------------------------------------------------------
    def _value(self, logical_id: str, attribute: str | None) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"reference to unknown resource {logical_id}")
        self.create(logical_id)
        created = self.deployment.resources.get(logical_id)
        if created is None:
            raise TemplateError(f"{logical_id} was not created ({self.deployment.skipped.get(logical_id)})")
        key = attribute or "Ref"
        if key not in created:
            raise TemplateError(f"{logical_id} has no attribute {key} in the local deployment")
        return created[key]

    def _default_name(self, logical_id: str, limit: int = 64) -> str:
        return f"{self.deployment.stack_name}-{logical_id}"[:limit]

    # -- creation -----------------------------------------------------------------------------
    def create_all(self) -> None:
        for logical_id in self.resources:
            self.create(logical_id)

    def create(self, logical_id: str) -> None:
        if logical_id in self.deployment.resources or logical_id in self.deployment.skipped:
            return
        if logical_id in self.in_progress:
            raise TemplateError(f"circular reference through {logical_id}")
        resource = self.resources[logical_id]
        condition = resource.get("Condition")
        if condition and not self.resolver.condition(condition):
            self.deployment.skipped[logical_id] = f"condition {condition} is false"
            return
        self.in_progress.add(logical_id)
        try:
            for dependency in (
                [resource.get("DependsOn", [])]
                if isinstance(resource.get("DependsOn"), str)
                else resource.get("DependsOn", [])
            ):
                self.create(dependency)
            kind = resource["Type"]
            properties = self.resolver.resolve(resource.get("Properties", {}))
            handler = getattr(self, "_create_" + kind.replace("::", "_").replace("AWS_", "", 1), None)
            if handler is None:
                self.deployment.skipped[logical_id] = f"{kind} is not emulated locally"
                return
            self.deployment.resources[logical_id] = handler(logical_id, properties)
        finally:
            self.in_progress.discard(logical_id)

    def _create_KMS_Key(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        key = self.clients["kms"].create_key(
            Description=p.get("Description", ""), Policy=json.dumps(p.get("KeyPolicy", {}))
        )["KeyMetadata"]
        if p.get("EnableKeyRotation"):
            self.clients["kms"].enable_key_rotation(KeyId=key["KeyId"])
        return {"Ref": key["KeyId"], "Arn": key["Arn"], "KeyId": key["KeyId"]}

    def _create_KMS_Alias(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        self.clients["kms"].create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
        return {"Ref": p["AliasName"]}

    def _create_SNS_Topic(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("TopicName") or self._default_name(logical_id, 256)
        attributes = {k: str(p[k]) for k in ("DisplayName", "KmsMasterKeyId") if k in p}
        arn = self.clients["sns"].create_topic(Name=name, Attributes=attributes, Tags=_tags(p))["TopicArn"]
        return {"Ref": arn, "TopicArn": arn, "TopicName": name}

    def _create_SNS_TopicPolicy(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        for topic in p["Topics"]:
            self.clients["sns"].set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(p["PolicyDocument"])
            )
        return {"Ref": logical_id}

    def _create_SNS_Subscription(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        if "RawMessageDelivery" in p:
            attributes["RawMessageDelivery"] = str(p["RawMessageDelivery"]).lower()
        if "FilterPolicy" in p:
            attributes["FilterPolicy"] = json.dumps(p["FilterPolicy"])
        arn = self.clients["sns"].subscribe(
            TopicArn=p["TopicArn"],
            Protocol=p["Protocol"],
            Endpoint=p["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return {"Ref": arn}

    def _create_SQS_Queue(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("QueueName") or self._default_name(logical_id, 80)
        attributes = {
            k: str(p[k])
            for k in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "KmsMasterKeyId",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
            )
            if k in p
        }
        if "RedrivePolicy" in p:
            attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        url = self.clients["sqs"].create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    def _create_SQS_QueuePolicy(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        for url in p["Queues"]:
            self.clients["sqs"].set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
            )
        return {"Ref": logical_id}

    def _create_DynamoDB_Table(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("TableName") or self._default_name(logical_id, 255)
        arguments: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": p["AttributeDefinitions"],
            "KeySchema": p["KeySchema"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput", "StreamSpecification"):
            if key in p:
                arguments[key] = p[key]
        if "SSESpecification" in p:
            arguments["SSESpecification"] = {"Enabled": bool(p["SSESpecification"].get("SSEEnabled"))}
        table = self.clients["dynamodb"].create_table(**arguments)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            self.clients["dynamodb"].update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        pitr = p.get("PointInTimeRecoverySpecification", {})
        if pitr.get("PointInTimeRecoveryEnabled"):
            self.clients["dynamodb"].update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        return {"Ref": name, "Arn": table["TableArn"]}

    def _create_Logs_LogGroup(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("LogGroupName") or self._default_name(logical_id, 512)
        logs = self.clients["logs"]
        # A function may have written its log group first, as in AWS.
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        arn = f"arn:aws:logs:{self.deployment.region}:{self.deployment.account_id}:log-group:{name}:*"
        return {"Ref": name, "Arn": arn}

    def _create_CloudWatch_Alarm(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("AlarmName") or self._default_name(logical_id, 255)
        arguments = {k: v for k, v in p.items() if k not in ("AlarmName",)}
        for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if number in arguments:
                arguments[number] = int(arguments[number])
        if "Threshold" in arguments:
            arguments["Threshold"] = float(arguments["Threshold"])
        for metric in arguments.get("Metrics", []):
            if "MetricStat" in metric:
                metric["MetricStat"]["Period"] = int(metric["MetricStat"]["Period"])
        self.clients["cloudwatch"].put_metric_alarm(AlarmName=name, **arguments)
        arn = f"arn:aws:cloudwatch:{self.deployment.region}:{self.deployment.account_id}:alarm:{name}"
        return {"Ref": name, "Arn": arn}

    def _create_CloudWatch_CompositeAlarm(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        # moto 5.2.5 fails PutCompositeAlarm with HTTP 500, so the composite alarm is registered in
        # the deployment's CompositeAlarmRegistry, which the demo evaluates after the metric alarms.
        from harness.alarms import CompositeAlarm, rule_children

        name = p.get("AlarmName") or self._default_name(logical_id, 255)
        composite = CompositeAlarm(
            name=name,
            rule=p["AlarmRule"],
            description=p.get("AlarmDescription"),
            alarm_actions=tuple(p.get("AlarmActions", [])),
            ok_actions=tuple(p.get("OKActions", [])),
            insufficient_data_actions=tuple(p.get("InsufficientDataActions", [])),
            actions_enabled=bool(p.get("ActionsEnabled", True)),
            region=self.deployment.region,
            account_id=self.deployment.account_id,
        )
        known = {resource.get("Ref") for resource in self.deployment.resources.values()}
        unknown = [child for child in rule_children(composite.rule) if child not in known]
        if unknown:
            raise TemplateError(f"{logical_id}: AlarmRule names alarms this template does not create: {unknown}")
        composite_registry(self.deployment).register(composite)
        return {"Ref": name, "Arn": composite.arn, "AlarmRule": composite.rule}

    def _create_CloudWatch_Dashboard(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("DashboardName") or self._default_name(logical_id, 255)
        body = p["DashboardBody"]
        self.clients["cloudwatch"].put_dashboard(
            DashboardName=name, DashboardBody=body if isinstance(body, str) else json.dumps(body)
        )
        return {"Ref": name}

    def _create_IAM_Role(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("RoleName") or self._default_name(logical_id, 64)
        iam = self.clients["iam"]
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]))
        for policy in p.get("Policies", []):
            # IAM reads a document without Version as 2008-10-17 (SAM's policy templates omit it);
            # moto rejects it, so the local copy states the version IAM would assume for these statements.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
        for arn in p.get("ManagedPolicyArns", []):
            # moto ships most AWS managed policies but not all; the role still records the rest.
            with contextlib.suppress(iam.exceptions.NoSuchEntityException):
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return {"Ref": name, "Arn": role["Role"]["Arn"], "RoleId": role["Role"]["RoleId"]}

    def _create_Lambda_LayerVersion(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        # SAM renames layers to <LogicalId><hash>; the source is recorded under the SAM logical id.
        source = next((loc for sam_id, loc in self.code.items() if logical_id.startswith(sam_id)), None)
        if source is None:
            raise TemplateError(f"no local content for layer {logical_id}")
        arn = f"arn:aws:lambda:{self.deployment.region}:{self.deployment.account_id}:layer:{p['LayerName']}:1"
        return {"Ref": arn, "source": str(source.path), "build": str(BUILD / source.logical_id / "python")}

    def _create_Lambda_Function(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("FunctionName") or self._default_name(logical_id, 64)
        arn = f"arn:aws:lambda:{self.deployment.region}:{self.deployment.account_id}:function:{name}"
        location = self.code.get(logical_id)
        if location is None:
            raise TemplateError(f"no local code for function {logical_id}")
        layer_dirs = []
        for layer_arn in p.get("Layers", []):
            layer_id = next(k for k, v in self.deployment.resources.items() if v.get("Ref") == layer_arn)
            layer_dirs.append(self.deployment.resources[layer_id]["build"])
        environment = {k: str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()}
        self.deployment.functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=arn,
            handler=p["Handler"],
            code_dir=str(location.path),
            build_dir=str(BUILD / logical_id),
            layer_dirs=layer_dirs,
            environment=environment,
            timeout=int(p.get("Timeout", 3)),
            memory_size=int(p.get("MemorySize", 128)),
        )
        return {"Ref": name, "Arn": arn}

    def _create_Lambda_Permission(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        return {"Ref": logical_id}

    def _create_Lambda_EventSourceMapping(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        source_arn = p["EventSourceArn"]
        function_name = p["FunctionName"]
        function = next(f for f in self.deployment.functions.values() if function_name in (f.name, f.arn))
        queue_name = source_arn.rsplit(":", 1)[1]
        url = self.clients["sqs"].get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.deployment.queue_mappings.append(
            QueueMapping(
                queue_url=url,
                queue_arn=source_arn,
                function=function.logical_id,
                batch_size=int(p.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in p.get("FunctionResponseTypes", []),
            )
        )
        return {"Ref": logical_id}

    def _create_Events_Rule(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("Name") or self._default_name(logical_id, 64)
        events = self.clients["events"]
        arguments: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
        for key in ("ScheduleExpression", "Description"):
            if key in p:
                arguments[key] = p[key]
        if "EventPattern" in p:
            arguments["EventPattern"] = json.dumps(p["EventPattern"])
        rule_arn = events.put_rule(**arguments)["RuleArn"]
        targets = p.get("Targets", [])
        if targets:
            events.put_targets(
                Rule=name,
                Targets=[{k: v for k, v in t.items() if k in ("Id", "Arn", "Input", "RoleArn")} for t in targets],
            )
        for target in targets:
            function = next((f for f in self.deployment.functions.values() if f.arn == target["Arn"]), None)
            state_machine = next(
                (
                    logical
                    for logical, created in self.deployment.resources.items()
                    if self.resources[logical]["Type"] == "AWS::StepFunctions::StateMachine"
                    and created.get("Arn") == target["Arn"]
                ),
                None,
            )
            if (function or state_machine) and "ScheduleExpression" in p:
                self.deployment.schedules.append(
                    Schedule(
                        rule_name=name,
                        expression=p["ScheduleExpression"],
                        target_function=function.logical_id if function else "",
                        enabled=arguments["State"] == "ENABLED",
                        input=target.get("Input"),
                        target_state_machine=state_machine,
                    )
                )
        return {"Ref": name, "Arn": rule_arn}

    def _create_StepFunctions_StateMachine(self, logical_id: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("StateMachineName") or self._default_name(logical_id, 80)
        definition = p.get("DefinitionString") or json.dumps(p.get("Definition", {}))
        # Step Functions replaces ${Name} placeholders with DefinitionSubstitutions at deploy time.
        for key, value in p.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        arn = self.clients["stepfunctions"].create_state_machine(
            name=name, definition=definition, roleArn=p["RoleArn"]
        )["stateMachineArn"]
        return {"Ref": arn, "Arn": arn, "Name": name}


def composite_registry(deployment: Deployment) -> CompositeAlarmRegistry:
    """Return the composite alarms the deployer registered for this deployment (empty if none)."""
    registry = getattr(deployment, "_composite_alarms", None)
    if registry is None:
        from harness.alarms import CompositeAlarmRegistry

        registry = CompositeAlarmRegistry()
        # Kept beside the dataclass fields, so Deployment.save() does not write alarm states.
        object.__setattr__(deployment, "_composite_alarms", registry)
    return registry


def deploy(
    config_env: str = "default",
    overrides: Mapping[str, str] | None = None,
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
) -> Deployment:
    """Create every resource of template.yaml in the AWS that boto3 points at (the moto server).

    `overrides` are applied on top of the samconfig environment's parameter_overrides, the way
    `sam deploy --parameter-overrides` would.
    """
    sam_template = load_sam_template()
    merged = {**samconfig_overrides(config_env), **(overrides or {})}
    parameters = resolve_parameters(sam_template, merged)
    cloudformation, code = to_cloudformation(sam_template, region)
    deployment = Deployment(
        stack_name=stack_name_for(config_env), region=region, account_id=account_id, parameters=parameters
    )
    _Deployer(cloudformation, code, deployment).create_all()
    deployment.save()
    return deployment
