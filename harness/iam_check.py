"""Least privilege, checked by running each function with exactly the permissions its role grants.

The local deployment creates every function's IAM role from the SAM-expanded template (SAM's
policy templates and `!If` branches already resolved). For each function this module creates an
IAM user whose inline policy holds the statements of the role's inline policies, turns on moto's
IAM enforcement, and runs the function with that user's keys through a `FaultProxy`, which
records every call with its access key and status. A job that succeeds with all statements and
hits an AccessDenied on the calls of a statement once that statement is removed shows that the
statement is needed; a run without any denial shows it is unused.

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
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.deploy import Deployment
from harness.environment import LocalEnvironment
from harness.fault_proxy import FaultProxy, ProxyRecord
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
    """Outcome of a run, judged from the invocation and the calls the proxy recorded."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the invocation raised or timed out
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
class JobRun:
    function: str
    invocation: Invocation
    calls: list[ProxyRecord]
    outcome: Outcome = Outcome.SUCCEEDED

    @property
    def denied(self) -> list[ProxyRecord]:
        return [call for call in self.calls if call.error_code in ACCESS_DENIED_CODES]

    @property
    def signature_mismatches(self) -> list[ProxyRecord]:
        return [call for call in self.calls if call.error_code == SIGNATURE_MISMATCH]

    @property
    def actions_called(self) -> set[str]:
        return {call.action for call in self.calls}


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

Prepare = Callable[[LocalEnvironment], None]


def prepare_log_retention(env: LocalEnvironment) -> None:
    """Add a log group without retention, so the run has a PutRetentionPolicy to make."""
    name = f"/aws/lambda/iam-check-{datetime.now(UTC).strftime('%H%M%S%f')}"
    boto3.client("logs").create_log_group(logGroupName=name)


IAM_CHECK_METRIC = "IamCheckErrors"
IAM_CHECK_NAMESPACE = "custom/celebrity-database"


def prepare_alert_router(env: LocalEnvironment) -> None:
    """Put a critical metric-filter alarm into ALARM, so the router pages, reads its tags and its log lines."""
    from harness import alarms

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


PREPARE: dict[str, Prepare] = {
    "LogRetentionFunction": prepare_log_retention,
    "AlertRouterFunction": prepare_alert_router,
}


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


def classify(invocation: Invocation, denied: list[ProxyRecord]) -> Outcome:
    if not invocation.ok:
        return Outcome.FAILED
    result = invocation.result
    if isinstance(result, dict) and result.get("batchItemFailures"):
        return Outcome.REPORTED
    if not denied:
        return Outcome.SUCCEEDED
    codes = {call.error_code for call in denied}
    for line in invocation.logs:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        level = str(record.get("level", "")).upper() if isinstance(record, dict) else ""
        if level in ("WARNING", "ERROR", "CRITICAL") and any(code and code in line for code in codes):
            return Outcome.REPORTED
    return Outcome.SILENT


def run_job(session: AuthSession, function: str, credentials: Credentials) -> JobRun | None:
    """Prepare the job's inputs as the administrator, then invoke it with `credentials`; None when it has no trigger.

    Jobs of different functions may run in parallel threads: only the invocation (a separate
    process) overlaps, while the preparation takes the harness lock.
    """
    env = session.env
    with HARNESS_LOCK:
        prepare = PREPARE.get(function)
        if prepare is not None:
            prepare(env)
        event = trigger_event(env, function)
    if event is None:
        return None
    before = len(session.proxy.records())
    invocation = env.invoke(function, event, {**credentials.environment(), "AWS_ENDPOINT_URL": session.proxy.endpoint})
    calls = [call for call in session.proxy.records()[before:] if call.access_key_id == credentials.access_key_id]
    run = JobRun(function, invocation, calls)
    run.outcome = classify(invocation, run.denied)
    return run


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
