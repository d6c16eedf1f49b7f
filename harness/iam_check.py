"""Least privilege, checked by running each function with exactly the permissions its role grants.

The local deployment creates every function's IAM role from the SAM-expanded template (SAM's
policy templates and `!If` branches already resolved). For each function this module creates an
IAM user whose inline policy holds the statements of the role's inline policies, turns on moto's
IAM enforcement, and runs the function with that user's keys through a `FaultProxy`, which
records every call with its access key and status. A job that succeeds with all statements and
hits an AccessDenied on the calls of a statement once that statement is removed shows that the
statement is needed; a run without any denial shows it is unused.

A job runs as one or more steps (`JOB_STEPS`). A step may first put the account into a state
as the administrator (an expired backup, costs above the budget, a backup to restore), and then
sends the function its trigger's event or runs the state machine whose tasks it serves.

What moto's enforcement covers (moto 5.2.5, `moto/core/authorization.py` and
`moto/iam/access_control.py`), and how this module adapts the policy to it:

- Actions are checked, resources are not: every service except SQS, IAM and STS authorises the
  request against the resource "*", so a statement naming an ARN would never match. Statements
  are given `Resource: "*"` here, and resource ARNs are left to review and to cfn-lint/checkov.
- Conditions are evaluated against an empty request context and would always deny, so they are
  dropped.
- The action is "<signing name>:<operation>", and a few signing names differ from the IAM
  prefix (CloudWatch signs as `monitoring`), so those statements also grant the signing name.
- Signed GET requests to REST services (Lambda, Backup, API Gateway, Scheduler) fail moto's
  signature check even for an administrator. A job that makes such calls cannot run under
  enforcement and is reported as skipped.

The role's managed policies are left out: AWSLambdaBasicExecutionRole is used by the Lambda
runtime to write the function's logs, AWSXrayWriteOnlyAccess by the X-Ray daemon, and
AWSLambdaSQSQueueExecutionRole by the SQS event source mapping. The function's own code calls
none of them, which the successful run without them shows.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.deploy import Deployment
from harness.environment import LocalEnvironment
from harness.fault_proxy import FaultProxy, ProxyRecord, ResponseRewrite
from harness.invoke import Invocation
from harness.scheduler import Firing, scheduled_event
from harness.template import load_sam_template, to_cloudformation

# Serialises the harness's own AWS calls (boto3's default session is not safe to share across
# threads while it creates clients) while function invocations, separate processes, overlap.
HARNESS_LOCK = threading.RLock()

# IAM action prefixes whose SigV4 signing name differs; moto checks "<signing name>:<operation>".
SIGNING_NAMES: dict[str, tuple[str, ...]] = {"cloudwatch": ("monitoring",), "tag": ("tagging",)}
# IAM action prefixes whose boto3 client has another name.
CLIENT_NAMES: dict[str, str] = {"states": "stepfunctions", "tag": "resourcegroupstaggingapi"}

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
SIGNATURE_MISMATCH = "SignatureDoesNotMatch"

# Statements that the function's code never uses, because an AWS service uses them on the
# function's behalf outside the handler. Keyed by (function logical id, Sid).
USED_OUTSIDE_CODE: dict[tuple[str, str], str] = {
    ("AlertRouterFunction", "DecryptAlertQueue"): (
        "kms:Decrypt is called by the SQS event source mapping to read the KMS-encrypted alert queue; "
        "the harness emulates the mapping outside the function, and moto's SQS does not call KMS"
    ),
}


# SNS and SQS call KMS with the caller's permissions when the caller publishes to an encrypted
# topic or sends to an encrypted queue, so a statement of KMS data-key actions is needed without
# the code ever calling KMS. moto's SNS and SQS do not call KMS, so such a removal cannot be seen.
SERVER_SIDE_KMS_ACTIONS = frozenset({"kms:GenerateDataKey", "kms:GenerateDataKey*", "kms:Decrypt"})
SERVER_SIDE_KMS_REASON = (
    "SNS and SQS call KMS with the publisher's permissions for encrypted topics and queues, outside the code, "
    "and moto's SNS and SQS do not call KMS"
)


class Outcome(StrEnum):
    """Outcome of a step or a job, judged from its invocations and the calls the proxy recorded."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # an invocation raised or timed out, or a state-machine execution failed
    REPORTED = "reported"  # it returned, but reported the failure (batch item failures or a logged error)
    SILENT = "silent"  # a call was denied, but the job reported no failure


@dataclass(frozen=True)
class Statement:
    """One statement of a role's inline policy, as deployed."""

    function: str
    policy: str
    index: int
    document: Mapping[str, Any]

    @property
    def sid(self) -> str:
        return str(self.document.get("Sid") or f"{self.policy}#{self.index}")

    @property
    def actions(self) -> list[str]:
        raw = self.document.get("Action", [])
        return [raw] if isinstance(raw, str) else list(raw)


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    def environment(self) -> dict[str, str]:
        """Variables that make boto3 sign with these keys; the empty token stops a stale session token."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": "",
        }


@dataclass
class StepRun:
    """One step of a job as it ran: its invocations, the calls made with the step's keys, and its outcome."""

    step: str
    invocations: list[Invocation]
    calls: list[ProxyRecord]
    failure: str | None = None  # how a state-machine execution failed, when it did
    outcome: Outcome = Outcome.SUCCEEDED


# A job's outcome is its worst step's. A hidden denial ranks first, because one step that hides a
# denial is a defect even when another step fails loudly.
_OUTCOME_RANK = (Outcome.SILENT, Outcome.FAILED, Outcome.REPORTED, Outcome.SUCCEEDED)


@dataclass
class JobRun:
    function: str
    steps: list[StepRun]

    @property
    def outcome(self) -> Outcome:
        return min((step.outcome for step in self.steps), key=_OUTCOME_RANK.index, default=Outcome.SUCCEEDED)

    @property
    def calls(self) -> list[ProxyRecord]:
        return [call for step in self.steps for call in step.calls]

    @property
    def denied(self) -> list[ProxyRecord]:
        return [call for call in self.calls if call.error_code in ACCESS_DENIED_CODES]

    @property
    def signature_mismatches(self) -> list[ProxyRecord]:
        return [call for call in self.calls if call.error_code == SIGNATURE_MISMATCH]

    @property
    def actions_called(self) -> set[str]:
        return {call.action for call in self.calls}

    def evidence(self, lines: int = 20) -> list[str]:
        """Return what a failed assertion shows: each step's outcome, failure, errors and last log lines."""
        shown: list[str] = []
        for step in self.steps:
            shown.append(f"step {step.step!r}: {step.outcome.value}" + (f" ({step.failure})" if step.failure else ""))
            for invocation in step.invocations:
                if invocation.error is not None:
                    shown.append(f"  error: {invocation.error}")
            if step.invocations:
                shown.extend(f"  {line}" for line in step.invocations[-1].logs[-lines:])
        return shown


# --- the template ------------------------------------------------------------------------------


@functools.cache
def _sam_template() -> dict[str, Any]:
    return load_sam_template()


def sam_functions(template: Mapping[str, Any] | None = None) -> list[str]:
    """Return the logical ids of every AWS::Serverless::Function of template.yaml."""
    resources = (template or _sam_template())["Resources"]
    return sorted(name for name, body in resources.items() if body.get("Type") == "AWS::Serverless::Function")


def sam_state_machines(template: Mapping[str, Any] | None = None) -> list[str]:
    resources = (template or _sam_template())["Resources"]
    kinds = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
    return sorted(name for name, body in resources.items() if body.get("Type") in kinds)


def sam_statement_ids(function: str, template: Mapping[str, Any] | None = None) -> list[str]:
    """Return the Sids of the function's inline policy statements, both branches of `!If` included.

    A statement without Sid is named "<policy position>#<statement position>", which still
    identifies it but tells a reader nothing; the template convention is a Sid on each statement.
    """
    properties = (template or _sam_template())["Resources"][function].get("Properties", {})
    sids: list[str] = []
    for position, policy in enumerate(properties.get("Policies", [])):
        for document in _policy_documents(policy):
            statements = document.get("Statement", [])
            for index, statement in enumerate([statements] if isinstance(statements, dict) else statements):
                for branch in _statement_branches(statement):
                    sid = branch.get("Sid") if isinstance(branch, dict) else None
                    name = sid or f"policy{position}#{index}"
                    if name not in sids:
                        sids.append(name)
    return sids


def _statement_branches(statement: Any) -> list[Any]:
    """Return a statement, or both branches of a statement chosen by `!If` (AWS::NoValue dropped)."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        return [s for branch in statement["Fn::If"][1:] for s in _statement_branches(branch)]
    if isinstance(statement, dict) and statement.get("Ref") == "AWS::NoValue":
        return []
    return [statement]


def _policy_documents(policy: Any) -> list[Mapping[str, Any]]:
    if isinstance(policy, dict) and "Fn::If" in policy:
        return [doc for branch in policy["Fn::If"][1:] for doc in _policy_documents(branch)]
    if isinstance(policy, dict) and "Statement" in policy:
        return [policy]
    return []  # a managed policy name, a SAM policy template or AWS::NoValue


def function_roles(deployment: Deployment) -> dict[str, str]:
    """Map each deployed function's logical id to the name of the role it runs as."""
    cloudformation, _ = to_cloudformation(load_sam_template(), deployment.region)
    roles: dict[str, str] = {}
    for logical_id in deployment.functions:
        role = cloudformation["Resources"][logical_id]["Properties"].get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            role_id = role["Fn::GetAtt"][0]
            roles[logical_id] = deployment.physical_id(role_id)
    return roles


def role_statements(iam: Any, role_name: str, function: str) -> list[Statement]:
    """Return every statement of the role's inline policies, as the deployment created them."""
    statements: list[Statement] = []
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        raw = document.get("Statement", [])
        for index, statement in enumerate([raw] if isinstance(raw, dict) else raw):
            statements.append(Statement(function, policy_name, index, statement))
    return statements


def for_moto(statement: Mapping[str, Any]) -> dict[str, Any]:
    """Rewrite a statement into what moto can evaluate (see the module docstring for why)."""
    rewritten = copy.deepcopy(dict(statement))
    rewritten.pop("Condition", None)
    rewritten.pop("NotResource", None)
    rewritten["Resource"] = "*"
    for key in ("Action", "NotAction"):
        if key not in rewritten:
            continue
        actions = [rewritten[key]] if isinstance(rewritten[key], str) else list(rewritten[key])
        extra = [
            f"{alias}:{action.split(':', 1)[1]}"
            for action in actions
            for alias in SIGNING_NAMES.get(action.split(":", 1)[0], ())
        ]
        rewritten[key] = actions + extra
    return rewritten


def moto_policy(statements: list[Statement]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [for_moto(s.document) for s in statements]}


# --- moto's IAM enforcement --------------------------------------------------------------------


def set_auth(endpoint: str, initial_no_auth_count: float) -> None:
    """Set moto's INITIAL_NO_AUTH_ACTION_COUNT at run time (0 enforces IAM from the next request)."""
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{endpoint}/moto-api/reset-auth",
        data=str(initial_no_auth_count).encode(),
        method="POST",
        # moto reads the raw body, which Flask leaves empty for a form content type.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
        pass


class AuthSession:
    """IAM enforcement on one LocalEnvironment's moto server, with an administrator for the harness."""

    def __init__(self, env: LocalEnvironment, proxy: FaultProxy, admin: Credentials) -> None:
        self.env = env
        self.proxy = proxy
        self.admin = admin
        self._iam = boto3.client("iam")
        self._probes: dict[str, str] = {}
        # A lock of its own, because the proxy's threads read the ages while a harness thread may hold HARNESS_LOCK.
        self._ages_lock = threading.Lock()
        self._backup_ages: dict[str, float] = {}
        self.done_once: set[str] = set()
        proxy.add_rewrite(ResponseRewrite("dynamodb:ListBackups", self._age_listed_backups))

    def age_backup(self, backup_arn: str, created_at: datetime) -> None:
        """Make ListBackups through the proxy show `created_at` as the backup's creation time.

        moto stamps a backup with the time it was made and has no clock to move, so a backup past
        the guard's retention can only be shown by rewriting the response. DescribeBackup is not
        rewritten, because none of the jobs call it.
        """
        with self._ages_lock:
            self._backup_ages[backup_arn] = created_at.timestamp()

    def _age_listed_backups(self, body: bytes) -> bytes:
        try:
            document = json.loads(body)
        except ValueError:
            return body
        with self._ages_lock:
            ages = dict(self._backup_ages)
        for summary in document.get("BackupSummaries", []):
            if summary.get("BackupArn") in ages:
                summary["BackupCreationDateTime"] = ages[summary["BackupArn"]]
        return json.dumps(document).encode()

    def principal(self, name: str, statements: list[Statement]) -> Credentials:
        """Create (or reset) IAM user `name` whose only permissions are `statements`, and return new keys."""
        with HARNESS_LOCK:
            return self._principal(name, statements)

    def _principal(self, name: str, statements: list[Statement]) -> Credentials:
        iam = self._iam
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_user(UserName=name)
        for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=policy_name)
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        if statements:
            iam.put_user_policy(
                UserName=name, PolicyName="template-statements", PolicyDocument=json.dumps(moto_policy(statements))
            )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def probe(self, action: str) -> str:
        """Call `action` as a user without permissions and return the error code moto answers with.

        An AccessDenied code means moto enforces IAM for that operation; anything else means the
        removal of a statement granting it cannot be observed here.
        """
        with HARNESS_LOCK:
            if action not in self._probes:
                self._probes[action] = self._probe(action)
            return self._probes[action]

    def _probe(self, action: str) -> str:
        prefix, _, operation = action.partition(":")
        nobody = self._principal("iam-check-nobody", [])
        client = boto3.client(
            CLIENT_NAMES.get(prefix, prefix),
            endpoint_url=self.proxy.endpoint,
            aws_access_key_id=nobody.access_key_id,
            aws_secret_access_key=nobody.secret_access_key,
            aws_session_token="",
            config=Config(retries={"max_attempts": 1}, parameter_validation=False),
        )
        model = client.meta.service_model
        try:
            operation_model = model.operation_model(operation)
            method = getattr(client, xform_name(operation_model.name))
            method(**_dummy_arguments(operation_model.input_shape))
            code = "allowed"
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        except Exception as exc:  # an unknown operation or a parameter botocore cannot serialise
            code = f"not probed: {type(exc).__name__}"
        return code

    def enforced(self, action: str) -> bool:
        return self.probe(action) in ACCESS_DENIED_CODES


def _dummy_arguments(shape: Any) -> dict[str, Any]:
    if shape is None:
        return {}
    return {name: _dummy_value(shape.members[name]) for name in shape.required_members}


def _dummy_value(shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _dummy_arguments(shape)
    if kind == "list":
        return [_dummy_value(shape.member)]
    if kind == "map":
        return {"k": _dummy_value(shape.value)}
    if kind in ("integer", "long"):
        return 1
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime(2026, 1, 1, tzinfo=UTC)
    if kind == "blob":
        return b"x"
    enum = shape.enum
    return enum[0] if enum else "x"


@contextlib.contextmanager
def enforced(env: LocalEnvironment) -> Iterator[AuthSession]:
    """Create an administrator, point this process's boto3 at it, and turn on IAM enforcement."""
    assert env.moto is not None
    iam = boto3.client("iam")
    iam.create_user(UserName="iam-check-admin")
    iam.put_user_policy(
        UserName="iam-check-admin",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="iam-check-admin")["AccessKey"]
    admin = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    saved = {name: os.environ.get(name) for name in admin.environment()}
    os.environ.update(admin.environment())
    # The default session caches the credentials it resolved first, so it must be made again.
    boto3.setup_default_session()
    for service in ("iam", "logs", "cloudwatch", "sqs", "sns", "dynamodb", "secretsmanager"):
        boto3.client(service)  # loads the models before threads share the session
    proxy = FaultProxy(env.moto.endpoint)
    set_auth(env.moto.endpoint, 0)
    try:
        yield AuthSession(env, proxy, admin)
    finally:
        set_auth(env.moto.endpoint, float("inf"))
        proxy.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.setup_default_session()


# --- running a job -----------------------------------------------------------------------------


def prepare_log_retention(session: AuthSession) -> None:
    """Add a log group without retention, so the run has a PutRetentionPolicy to make."""
    name = f"/aws/lambda/iam-check-{datetime.now(UTC).strftime('%H%M%S%f')}"
    boto3.client("logs").create_log_group(logGroupName=name)


IAM_CHECK_METRIC = "IamCheckErrors"
IAM_CHECK_NAMESPACE = "custom/celebrity-database"


def prepare_alert_router(session: AuthSession) -> None:
    """Put a critical metric-filter alarm into ALARM, so the router pages, reads its tags and its log lines."""
    from harness import alarms

    env = session.env
    logs, cloudwatch, sns = boto3.client("logs"), boto3.client("cloudwatch"), boto3.client("sns")
    group = "/aws/lambda/iam-check-source"
    now = datetime.now(UTC)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_metric_filter(
            logGroupName=group,
            filterName="iam-check-errors",
            filterPattern="ERROR",
            metricTransformations=[
                {"metricName": IAM_CHECK_METRIC, "metricNamespace": IAM_CHECK_NAMESPACE, "metricValue": "1"}
            ],
        )
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": int(now.timestamp() * 1000) - 1000, "message": "ERROR scraper failed"}],
    )
    name = "iam-check-errors"
    critical = env.deployment.physical_id("CriticalTopic")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=IAM_CHECK_NAMESPACE,
        MetricName=IAM_CHECK_METRIC,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[critical],
        OKActions=[critical],
    )
    alarms.set_alarm_state(cloudwatch, sns, name, "OK", "iam check reset", now)
    alarms.set_alarm_state(cloudwatch, sns, name, "ALARM", "iam check: 1 datapoint above 0", now)


def prepare_backup_guard(session: AuthSession) -> None:
    """Add an expired suite backup and turn PITR off, so the guard deletes it, turns PITR on and warns.

    The backup has the guard's dated name, and the proxy shows it as made a day before the
    retention's cutoff (see `AuthSession.age_backup`). With PITR off, the guard turns it back on and
    publishes the warning that it had to, so one run needs every statement of the role.
    """
    guard = session.env.deployment.functions["BackupGuardFunction"].environment
    table = guard["SOURCE_TABLE"]
    created_at = datetime.now(UTC) - timedelta(days=int(guard["BACKUP_RETENTION_DAYS"]) + 1)
    dynamodb = boto3.client("dynamodb")

    name = f"{guard['BACKUP_PREFIX']}{created_at:%Y-%m-%d}"
    backup = dynamodb.create_backup(TableName=table, BackupName=name)["BackupDetails"]
    session.age_backup(backup["BackupArn"], created_at)

    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )


def prepare_cost_reporter(session: AuthSession) -> None:
    """Queue Cost Explorer results that put the month's forecast above the budget, so the reporter publishes.

    moto returns GetCostAndUsage results only from a queue filled through
    `/moto-api/static/ce/cost-and-usage-results`, and returns the first request's result again for
    every later request with the same parameters, so one result serves every run of the day.
    moto does not implement GetCostForecast (it responds with HTTP 500), so the reporter forecasts
    from the run rate, and each day here costs the whole monthly budget.
    """
    from celebops.costwatch.report import COST_METRIC, period_for

    if "cost-results" in session.done_once:
        return
    moto = session.env.moto
    assert moto is not None
    reporter = session.env.deployment.functions["CostReporterFunction"].environment
    budget = reporter["MONTHLY_BUDGET_USD"]
    period = period_for(datetime.now(UTC).date())

    days = [period.query_start + timedelta(days=offset) for offset in range((period.today - period.query_start).days)]
    result = {
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": [{"Keys": ["Amazon DynamoDB"], "Metrics": {COST_METRIC: {"Amount": budget, "Unit": "USD"}}}],
                "Estimated": False,
            }
            for day in days
        ],
        "DimensionValueAttributes": [],
    }
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{moto.endpoint}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": [result]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
        pass
    session.done_once.add("cost-results")


def prepare_restore_test(session: AuthSession) -> None:
    """Turn PITR on and back up the source table, so both restore paths of the state machine have a source."""
    table = session.env.deployment.functions["RestoreTestFunction"].environment["SOURCE_TABLE"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    # Not a dated suite name, so the backup guard never deletes it while a restore reads it.
    dynamodb.create_backup(TableName=table, BackupName=f"iam-check-restore-source-{datetime.now(UTC):%Y%m%d%H%M%S%f}")


def trigger_event(env: LocalEnvironment, function: str) -> Any | None:
    """Return the event that triggers `function` in the template: its schedule's or its queue's."""
    from harness.sqs_delivery import to_lambda_record

    deployment = env.deployment
    for schedule in deployment.schedules:
        if schedule.target_function == function:
            return scheduled_event(Firing(at=datetime.now(UTC), schedule=schedule), deployment)
    for mapping in deployment.queue_mappings:
        if mapping.function != function:
            continue
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=mapping.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in messages:
            # The harness plays the event source mapping here, so the messages leave the queue now.
            sqs.delete_message(QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return {"Records": [to_lambda_record(m, mapping.queue_arn, deployment.region) for m in messages]}
    return None


@dataclass(frozen=True)
class StepResult:
    """Result of driving one step: the function's invocations and, for an execution, how it failed."""

    invocations: list[Invocation]
    failure: str | None = None


# Drives a step: invokes `function` with the given environment and returns what happened, or None
# when the template gives the function no trigger.
Drive = Callable[["AuthSession", str, dict[str, str]], StepResult | None]
Prepare = Callable[["AuthSession"], None]


def send_trigger(session: AuthSession, function: str, environment: dict[str, str]) -> StepResult | None:
    """Invoke `function` once with the event of its schedule or its queue."""
    with HARNESS_LOCK:
        event = trigger_event(session.env, function)
    if event is None:
        return None
    return StepResult([session.env.invoke(function, event, environment)])


RESTORE_TEST_STATE_MACHINE = "RestoreTestStateMachine"


def run_restore_test_execution(session: AuthSession, function: str, environment: dict[str, str]) -> StepResult:
    """Run an execution of the restore test state machine, each task invoking `function` with `environment`.

    The execution is what the quarterly schedule starts: plan, restore from the newest backup and
    from PITR into scratch tables, poll, verify, delete the scratch tables, and report. It runs in
    `harness.stepfunctions` on a simulated clock, because moto's Step Functions cannot run the tasks.
    """
    from harness.moto_restores import after_restore_task
    from harness.stepfunctions import SimulatedClock, StateMachine, StatesError, deployed_definition, lambda_invoker

    env = session.env
    deployment = env.deployment
    with HARNESS_LOCK:
        definition = deployed_definition(deployment, RESTORE_TEST_STATE_MACHINE)
        dynamodb = boto3.client("dynamodb")
        schedule = next(s for s in deployment.schedules if s.target_state_machine == RESTORE_TEST_STATE_MACHINE)
    now = datetime.now(UTC)
    execution_input = scheduled_event(Firing(at=now, schedule=schedule), deployment)
    functions_by_arn = {local.arn: local.logical_id for local in deployment.functions.values()}
    invocations: list[Invocation] = []

    def run_task(resource: str, payload: Any) -> tuple[bool, Any, dict[str, Any] | None]:
        if functions_by_arn.get(resource) != function:
            raise StatesError("States.Runtime", f"{resource} is not the ARN of {function}")
        invocation = env.invoke(function, payload, environment)
        invocations.append(invocation)
        if invocation.ok:
            # moto restores into PROVISIONED tables; AWS keeps the source's billing mode.
            after_restore_task(dynamodb, invocation.result)
        return invocation.ok, invocation.result, invocation.error

    machine = StateMachine(definition, lambda_invoker(run_task), SimulatedClock(current=now))
    execution = machine.execute(execution_input, name=f"iam-check-{now:%Y%m%d%H%M%S}")
    failure = None if execution.status == "SUCCEEDED" else f"{execution.status}: {execution.error}: {execution.cause}"
    return StepResult(invocations, failure)


# Held from the preparation to the last invocation of the steps that turn PITR off on the source
# table or restore from it, so a restore test never starts a point-in-time restore while the
# backup guard's step has PITR off.
SOURCE_PITR_LOCK = threading.Lock()


@dataclass(frozen=True)
class Step:
    """One way of running a job: put the account into a state (as the administrator), then drive the function."""

    name: str
    drive: Drive = send_trigger
    prepare: Prepare | None = None
    exclusive: threading.Lock | None = None


# The steps of each job whose trigger alone would not make every call its statements allow. A
# function not listed here runs one step: its schedule's or its queue's event.
JOB_STEPS: dict[str, list[Step]] = {
    "LogRetentionFunction": [Step("scheduled run with a log group without retention", prepare=prepare_log_retention)],
    "AlertRouterFunction": [Step("critical metric-filter alarm from the queue", prepare=prepare_alert_router)],
    "BackupGuardFunction": [
        Step(
            "scheduled run with an expired suite backup and PITR off",
            prepare=prepare_backup_guard,
            exclusive=SOURCE_PITR_LOCK,
        )
    ],
    "CostReporterFunction": [Step("scheduled run with costs above the budget", prepare=prepare_cost_reporter)],
    "RestoreTestFunction": [
        Step("scheduled sweep of scratch tables"),
        Step(
            "restore test state machine execution",
            drive=run_restore_test_execution,
            prepare=prepare_restore_test,
            exclusive=SOURCE_PITR_LOCK,
        ),
    ],
}


def job_steps(function: str) -> list[Step]:
    return JOB_STEPS.get(function, [Step("scheduled or queued run")])


def classify(result: StepResult, denied: list[ProxyRecord]) -> Outcome:
    if result.failure is not None or any(not invocation.ok for invocation in result.invocations):
        return Outcome.FAILED
    if any(
        isinstance(invocation.result, dict) and invocation.result.get("batchItemFailures")
        for invocation in result.invocations
    ):
        return Outcome.REPORTED
    if not denied:
        return Outcome.SUCCEEDED
    codes = {call.error_code for call in denied}
    for line in (line for invocation in result.invocations for line in invocation.logs):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        level = str(record.get("level", "")).upper() if isinstance(record, dict) else ""
        if level in ("WARNING", "ERROR", "CRITICAL") and any(code and code in line for code in codes):
            return Outcome.REPORTED
    return Outcome.SILENT


def run_job(session: AuthSession, function: str, credentials: Credentials) -> JobRun | None:
    """Run every step of the job with `credentials`; None when the function has no trigger.

    Jobs of different functions may run in parallel threads: only the invocations (separate
    processes) overlap, while preparations take the harness lock, and steps with the same
    `exclusive` lock run one at a time.
    """
    environment = {**credentials.environment(), "AWS_ENDPOINT_URL": session.proxy.endpoint}
    steps: list[StepRun] = []
    for step in job_steps(function):
        with step.exclusive or contextlib.nullcontext():
            if step.prepare is not None:
                with HARNESS_LOCK:
                    step.prepare(session)
            before = len(session.proxy.records())
            result = step.drive(session, function, environment)
            recorded = session.proxy.records()[before:]
        if result is None:
            return None
        calls = [call for call in recorded if call.access_key_id == credentials.access_key_id]
        run = StepRun(step.name, result.invocations, calls, result.failure)
        run.outcome = classify(result, [call for call in calls if call.error_code in ACCESS_DENIED_CODES])
        steps.append(run)
    return JobRun(function, steps)


@dataclass
class FunctionCheck:
    """Everything the least-privilege test needs to know about one function."""

    function: str
    statements: list[Statement]
    full: JobRun | None
    without: dict[str, JobRun] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # Sid -> reason
    job_skipped: str | None = None


def granted_elsewhere(statement: Statement, others: list[Statement]) -> list[str]:
    """Return the statement's actions that other statements also grant (resources ignored, as moto does)."""
    patterns = [action for other in others for action in other.actions]
    return [
        action
        for action in statement.actions
        if any(re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), action) for pattern in patterns)
    ]


def check_all(session: AuthSession, roles: Mapping[str, str], workers: int = 4) -> dict[str, FunctionCheck]:
    """Check every function, several at a time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {function: pool.submit(check_function, session, function, role) for function, role in roles.items()}
        return {function: future.result() for function, future in futures.items()}


def check_function(session: AuthSession, function: str, role_name: str) -> FunctionCheck:
    """Run `function` with all its statements, then once without each statement in turn."""
    with HARNESS_LOCK:
        statements = role_statements(boto3.client("iam"), role_name, function)
    local = session.env.deployment.functions[function]
    handler_file = Path(local.build_dir) / (local.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    if not handler_file.exists():
        check = FunctionCheck(function, statements, None)
        check.job_skipped = f"{handler_file} is missing; run `make build` first"
        return check
    user = f"iam-check-{function}"[:64]
    full = run_job(session, function, session.principal(user, statements))
    check = FunctionCheck(function, statements, full)
    if full is None:
        check.job_skipped = "the template gives it no schedule and no queue, so the harness has no event to send"
        return check
    if full.signature_mismatches:
        operations = ", ".join(sorted({call.action for call in full.signature_mismatches}))
        check.job_skipped = f"moto fails the signature check of signed GET requests to REST services ({operations})"
        return check
    for statement in statements:
        reason = USED_OUTSIDE_CODE.get((function, statement.sid))
        if reason is None and set(statement.actions) <= SERVER_SIDE_KMS_ACTIONS:
            reason = SERVER_SIDE_KMS_REASON
        rest = [other for other in statements if other is not statement]
        if reason is None:
            unenforced = [a for a in statement.actions if not session.enforced(a)]
            if unenforced and len(unenforced) == len(statement.actions):
                reason = f"moto does not enforce IAM for {', '.join(unenforced)}"
        if reason is None and len(granted_elsewhere(statement, rest)) == len(statement.actions):
            reason = (
                f"another statement grants {', '.join(statement.actions)} on other resources, and moto checks "
                "actions only, so its removal cannot be observed here"
            )
        if reason is not None:
            check.skipped[statement.sid] = reason
            continue
        run = run_job(session, function, session.principal(user, rest))
        if run is not None:
            check.without[statement.sid] = run
    return check


# --- the state machine's role -------------------------------------------------------------------


@dataclass
class StateMachineCheck:
    """What a state machine's role allows, against what its Task states call.

    The check is static. The local interpreter runs Task states by calling the handlers itself,
    not through Lambda's Invoke API, and moto rejects even an administrator's signed Invoke (the
    REST signature limit above). So the role's statements are compared with the deployed
    definition instead of being exercised.
    """

    state_machine: str
    statements: list[Statement]
    #: The Resource of every Task state in the deployed definition.
    task_resources: set[str]
    #: The function ARNs the role's lambda:InvokeFunction statements name.
    granted_resources: set[str]
    #: Every action the role's statements grant.
    granted_actions: set[str]


def _task_resources(states: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for state in states.values():
        if state.get("Type") == "Task":
            found.add(str(state["Resource"]))
        for branch in state.get("Branches", []):
            found |= _task_resources(branch.get("States", {}))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found |= _task_resources(state[key].get("States", {}))
    return found


def state_machine_role(deployment: Deployment, state_machine: str) -> str:
    """Return the name of the role the deployed state machine runs as."""
    cloudformation, _ = to_cloudformation(load_sam_template(), deployment.region)
    role = cloudformation["Resources"][state_machine]["Properties"]["RoleArn"]
    return deployment.physical_id(role["Fn::GetAtt"][0])


def check_state_machine(deployment: Deployment, state_machine: str) -> StateMachineCheck:
    """Read the deployed definition and the role's inline statements, and collect what each names."""
    arn = deployment.physical_id(state_machine)
    definition = json.loads(boto3.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
    with HARNESS_LOCK:
        statements = role_statements(boto3.client("iam"), state_machine_role(deployment, state_machine), state_machine)
    granted = {
        str(resource)
        for statement in statements
        if "lambda:InvokeFunction" in statement.actions
        for resource in _as_list(statement.document.get("Resource"))
    }
    actions = {action for statement in statements for action in statement.actions}
    return StateMachineCheck(state_machine, statements, _task_resources(definition["States"]), granted, actions)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
