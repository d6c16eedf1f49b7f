"""`make invoke`: run one function of template.yaml the way `sam local invoke` does, without Docker.

The function runs from its `sam build` output in a fresh, isolated Python 3.13 process that
sees only its code folder and its layers, with the Environment the template gives it, against
the embedded AWS and the local receivers. Its log lines go to its CloudWatch Logs group in the
embedded AWS, and the Embedded Metric Format lines among them become metrics, as in Lambda.
Each invocation also puts the `AWS/Lambda` metrics that Lambda itself publishes, because moto
publishes none for functions it does not run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from harness import emf
from harness.deploy import LocalFunction
from harness.paths import ROOT

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")

# Variables of the python3.13 runtime passed to the bootstrap process itself.
_RUNTIME_VARIABLES = ("PATH", "LANG", "TZ")


@dataclass
class Invocation:
    function: str
    status: str  # ok, error or timeout
    result: Any = None
    error: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0  # wall time of the whole run, cold start included
    request_id: str = ""
    max_memory_mb: float | None = None
    started_at: datetime | None = None
    handler_duration_ms: float | None = None  # the handler call alone, when it was reached

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _base_python() -> str:
    """Return the interpreter behind the venv: a plain Python 3.13 without the venv's site-packages."""
    return getattr(sys, "_base_executable", None) or sys.executable


def runtime_environment(function: LocalFunction, aws: dict[str, str]) -> dict[str, str]:
    """The environment Lambda gives the function: its Environment, runtime variables, credentials."""
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": function.build_dir,
        "_HANDLER": function.handler,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    environment.update(aws)
    environment.update(function.environment)
    return environment


def invoke(
    function: LocalFunction,
    event: Any,
    aws: dict[str, str],
    extra_environment: dict[str, str] | None = None,
    ship_logs: bool = True,
    import_only: bool = False,
) -> Invocation:
    """Invoke `function` with `event`; `aws` contains AWS_ENDPOINT_URL and the fake credentials.

    With `ship_logs` (the default), the invocation's logs, EMF metrics and AWS/Lambda metrics go to
    the embedded AWS. Without it, the invocation leaves no telemetry there.
    """
    build_dir = Path(function.build_dir)
    if not (build_dir / function.handler.split(".")[0].replace(".", "/")).with_suffix(".py").exists():
        raise FileNotFoundError(f"{build_dir} has no built handler {function.handler}; run `make build` first")
    environment = runtime_environment(function, aws)
    environment.update(extra_environment or {})

    with tempfile.TemporaryDirectory(prefix="invoke-") as scratch:
        spec_path = Path(scratch) / "spec.json"
        result_path = Path(scratch) / "result.json"
        spec_path.write_text(
            json.dumps(
                {
                    "name": function.name,
                    "arn": function.arn,
                    "handler": function.handler,
                    "code_dir": str(build_dir),
                    "layer_dirs": function.layer_dirs,
                    "environment": environment,
                    "memory_size": function.memory_size,
                    "timeout": function.timeout,
                    "event": event,
                    "import_only": import_only,
                }
            )
        )
        started_at = datetime.now(UTC)
        started = time.monotonic()
        try:
            completed = subprocess.run(
                [_base_python(), "-I", "-S", str(BOOTSTRAP), str(spec_path), str(result_path)],
                capture_output=True,
                text=True,
                timeout=function.timeout + 10,
                env={name: environment[name] for name in _RUNTIME_VARIABLES if name in environment},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            invocation = Invocation(
                function=function.logical_id,
                status="timeout",
                error={"errorType": "Sandbox.Timedout", "errorMessage": f"timed out after {function.timeout} s"},
                logs=output.splitlines(),
                duration_ms=(time.monotonic() - started) * 1000,
                started_at=started_at,
            )
        else:
            logs = completed.stdout.splitlines() + completed.stderr.splitlines()
            duration_ms = (time.monotonic() - started) * 1000
            if not result_path.exists():
                invocation = Invocation(
                    function=function.logical_id,
                    status="error",
                    error={"errorType": "Runtime.ExitError", "errorMessage": f"exit code {completed.returncode}"},
                    logs=logs,
                    duration_ms=duration_ms,
                    started_at=started_at,
                )
            else:
                outcome = json.loads(result_path.read_text())
                invocation = Invocation(
                    function=function.logical_id,
                    status=outcome["status"],
                    result=outcome.get("result"),
                    error=None if outcome["status"] == "ok" else {k: outcome[k] for k in ("errorType", "errorMessage")},
                    logs=logs,
                    duration_ms=duration_ms,
                    request_id=outcome.get("request_id", ""),
                    max_memory_mb=outcome.get("max_memory_mb"),
                    started_at=started_at,
                    handler_duration_ms=outcome.get("handler_duration_ms"),
                )
    if ship_logs:
        ship_function_logs(function, invocation)
        # An import-only run is the packaging check, not an invocation, so Lambda would count nothing.
        if not import_only:
            put_lambda_metrics(boto3.client("cloudwatch"), function, invocation)
    return invocation


def ship_function_logs(function: LocalFunction, invocation: Invocation) -> None:
    """Write the invocation's output to the function's log group and turn EMF lines into metrics."""
    logs = boto3.client("logs")
    group = f"/aws/lambda/{function.name}"
    stream = datetime.now(UTC).strftime("%Y/%m/%d/[$LATEST]") + (invocation.request_id or "local").replace("-", "")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now_ms = int(time.time() * 1000)
    events = [{"timestamp": now_ms, "message": line} for line in invocation.logs if line.strip()]
    for start in range(0, len(events), 5000):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[start : start + 5000])

    emf.emf_to_cloudwatch(invocation.logs, boto3.client("cloudwatch"))


def lambda_metric_records(function: LocalFunction, invocation: Invocation) -> list[emf.MetricRecord]:
    """Build the AWS/Lambda metrics Lambda publishes for one invocation, by FunctionName.

    Follows "Types of metrics for Lambda functions" (AWS Lambda operator guide): Invocations and
    Errors are 0-or-1 indicators stamped with the time the function was invoked, so a successful
    invocation puts Errors 0, and a timeout or runtime crash counts as an error. Duration is the
    handler's run time in milliseconds, without the cold start, and at most the function timeout.
    Throttles are not put, because local invocations are never throttled.
    """
    timestamp = invocation.started_at or datetime.now(UTC)
    timeout_ms = function.timeout * 1000.0
    if invocation.status == "timeout":
        duration_ms = timeout_ms
    elif invocation.handler_duration_ms is not None:
        duration_ms = min(invocation.handler_duration_ms, timeout_ms)
    else:
        # The process died before reporting, so only the wall time of the whole run is known.
        duration_ms = min(invocation.duration_ms, timeout_ms)

    dimensions = (("FunctionName", function.name),)
    errors = 0.0 if invocation.ok else 1.0
    return [
        emf.MetricRecord("AWS/Lambda", "Invocations", dimensions, (1.0,), timestamp, "Count"),
        emf.MetricRecord("AWS/Lambda", "Errors", dimensions, (errors,), timestamp, "Count"),
        emf.MetricRecord("AWS/Lambda", "Duration", dimensions, (round(duration_ms, 2),), timestamp, "Milliseconds"),
    ]


def put_lambda_metrics(cloudwatch: Any, function: LocalFunction, invocation: Invocation) -> None:
    """Put the invocation's AWS/Lambda metrics; only moto accepts them, since AWS reserves "AWS/" namespaces."""
    emf.put_emf_metrics(cloudwatch, lambda_metric_records(function, invocation))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one function of template.yaml locally, like sam local invoke.")
    parser.add_argument("--function", required=True, help="logical id in template.yaml, e.g. LogRetentionFunction")
    parser.add_argument("--event", required=True, type=Path, help="event JSON file, e.g. events/<name>.json")
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    parser.add_argument(
        "--parameter-overrides", default="", help="extra Name=Value overrides, as sam deploy accepts them"
    )
    args = parser.parse_args(argv)

    try:
        event = json.loads(args.event.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read event {args.event}: {exc}", file=sys.stderr)
        return 2

    from harness.environment import LocalEnvironment, parse_overrides

    with LocalEnvironment(config_env=args.config_env, overrides=parse_overrides(args.parameter_overrides)) as env:
        if args.function not in env.deployment.functions:
            known = ", ".join(sorted(env.deployment.functions))
            print(f"error: {args.function} is not a function of template.yaml; known: {known}", file=sys.stderr)
            return 2
        invocation = env.invoke(args.function, event)
        for line in invocation.logs:
            print(line, file=sys.stderr)
        if invocation.ok:
            print(json.dumps(invocation.result, indent=2, default=str))
            return 0
        print(json.dumps(invocation.error, indent=2), file=sys.stderr)
        print(f"error: {args.function} failed: {invocation.error['errorMessage']}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
