"""The AWS/Lambda, AWS/SQS and AWS/States metrics the harness puts in place of the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.deploy import LocalFunction
from harness.invoke import Invocation, lambda_metric_records
from harness.sqs_delivery import QueueSample, oldest_age_seconds, queue_metric_records
from harness.stepfunctions import Execution, SimulatedClock, StateMachine, execution_metric_records

STARTED = datetime(2026, 12, 4, 22, 0, 5, tzinfo=UTC)
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:restore-test"


def _function(timeout: int = 30) -> LocalFunction:
    return LocalFunction(
        logical_id="LogRetentionFunction",
        name="ops-LogRetentionFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:ops-LogRetentionFunction",
        handler="app.lambda_handler",
        code_dir="functions/log_retention",
        build_dir=".aws-sam/build/LogRetentionFunction",
        layer_dirs=[],
        environment={},
        timeout=timeout,
        memory_size=256,
    )


def _by_name(records: list[Any]) -> dict[str, Any]:
    return {record.name: record for record in records}


def test_lambda_metrics_of_successful_invocation() -> None:
    invocation = Invocation(
        "LogRetentionFunction", "ok", duration_ms=2400.0, started_at=STARTED, handler_duration_ms=812.345
    )

    records = _by_name(lambda_metric_records(_function(), invocation))

    assert set(records) == {"Invocations", "Errors", "Duration"}
    assert records["Invocations"].values == (1.0,)
    assert records["Errors"].values == (0.0,)
    assert records["Duration"].values == (812.35,)
    assert records["Duration"].unit == "Milliseconds"
    assert records["Invocations"].unit == "Count"
    for record in records.values():
        assert record.namespace == "AWS/Lambda"
        assert record.dimensions == (("FunctionName", "ops-LogRetentionFunction"),)
        assert record.timestamp == STARTED


def test_lambda_metrics_count_handler_error() -> None:
    invocation = Invocation(
        "LogRetentionFunction",
        "error",
        error={"errorType": "ValueError", "errorMessage": "bad event"},
        duration_ms=1500.0,
        started_at=STARTED,
        handler_duration_ms=3.0,
    )

    records = _by_name(lambda_metric_records(_function(), invocation))

    assert records["Errors"].values == (1.0,)
    assert records["Invocations"].values == (1.0,)
    assert records["Duration"].values == (3.0,)


def test_timeout_duration_is_function_timeout() -> None:
    invocation = Invocation("LogRetentionFunction", "timeout", duration_ms=13_020.0, started_at=STARTED)

    records = _by_name(lambda_metric_records(_function(timeout=3), invocation))

    assert records["Errors"].values == (1.0,)
    assert records["Duration"].values == (3000.0,)


def test_crash_duration_uses_wall_time() -> None:
    # The process exited before it wrote a result, so no handler time exists.
    invocation = Invocation("LogRetentionFunction", "error", duration_ms=640.0, started_at=STARTED)

    records = _by_name(lambda_metric_records(_function(), invocation))

    assert records["Errors"].values == (1.0,)
    assert records["Duration"].values == (640.0,)


def test_queue_metrics_of_sample_with_age() -> None:
    depth = {
        "ApproximateNumberOfMessagesVisible": 3,
        "ApproximateNumberOfMessagesNotVisible": 1,
        "ApproximateNumberOfMessagesDelayed": 0,
    }
    sample = QueueSample("ops-alerts", STARTED, depth, oldest_age_seconds=42.5)

    records = _by_name(queue_metric_records(sample))

    assert records["ApproximateNumberOfMessagesVisible"].values == (3.0,)
    assert records["ApproximateNumberOfMessagesNotVisible"].values == (1.0,)
    assert records["ApproximateNumberOfMessagesDelayed"].values == (0.0,)
    assert records["ApproximateAgeOfOldestMessage"].values == (42.5,)
    assert records["ApproximateAgeOfOldestMessage"].unit == "Seconds"
    assert records["ApproximateNumberOfMessagesVisible"].unit == "Count"
    for record in records.values():
        assert record.namespace == "AWS/SQS"
        assert record.dimensions == (("QueueName", "ops-alerts"),)
        assert record.timestamp == STARTED


def test_queue_metrics_without_known_age_omit_it() -> None:
    sample = QueueSample("ops-alerts-dlq", STARTED, {"ApproximateNumberOfMessagesVisible": 2})

    records = _by_name(queue_metric_records(sample))

    assert set(records) == {"ApproximateNumberOfMessagesVisible"}


def test_oldest_age_from_sent_timestamps() -> None:
    sent_ms = int((STARTED - timedelta(seconds=90)).timestamp() * 1000)
    messages = [
        {"Attributes": {"SentTimestamp": str(sent_ms + 30_000)}},
        {"Attributes": {"SentTimestamp": str(sent_ms)}},
        {"Attributes": {}},
    ]

    assert oldest_age_seconds(messages, STARTED) == pytest.approx(90.0)
    assert oldest_age_seconds([{"Attributes": {}}], STARTED) is None


def _wait_then_succeed(seconds: int, timeout: int | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "StartAt": "Hold",
        "States": {
            "Hold": {"Type": "Wait", "Seconds": seconds, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    if timeout is not None:
        definition["TimeoutSeconds"] = timeout
    return definition


def _never_invoked(resource: str, payload: Any) -> Any:
    raise AssertionError(f"no task should run, got {resource}")


def test_execution_metrics_of_succeeded_run() -> None:
    clock = SimulatedClock(current=STARTED)
    execution = StateMachine(_wait_then_succeed(90), _never_invoked, clock).execute({})

    records = execution_metric_records(STATE_MACHINE_ARN, execution)

    by_name = _by_name(records)
    assert [record.name for record in records] == ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionTime"]
    assert by_name["ExecutionsStarted"].timestamp == STARTED
    assert by_name["ExecutionsSucceeded"].timestamp == STARTED + timedelta(seconds=90)
    assert by_name["ExecutionTime"].values == (90_000.0,)
    assert by_name["ExecutionTime"].unit == "Milliseconds"
    for record in records:
        assert record.namespace == "AWS/States"
        assert record.dimensions == (("StateMachineArn", STATE_MACHINE_ARN),)


def test_execution_metrics_of_failed_run() -> None:
    definition = {"StartAt": "Broken", "States": {"Broken": {"Type": "Fail", "Error": "Demo.Broken"}}}
    execution = StateMachine(definition, _never_invoked, SimulatedClock(current=STARTED)).execute({})

    names = [record.name for record in execution_metric_records(STATE_MACHINE_ARN, execution)]

    assert execution.status == "FAILED"
    assert names == ["ExecutionsStarted", "ExecutionsFailed", "ExecutionTime"]


def test_execution_past_timeout_seconds_times_out() -> None:
    clock = SimulatedClock(current=STARTED)
    execution = StateMachine(_wait_then_succeed(600, timeout=300), _never_invoked, clock).execute({})

    names = [record.name for record in execution_metric_records(STATE_MACHINE_ARN, execution)]

    assert execution.status == "TIMED_OUT"
    assert execution.error == "States.Timeout"
    assert "Done" not in execution.entered()
    assert names == ["ExecutionsStarted", "ExecutionsTimedOut", "ExecutionTime"]


def test_execution_timeout_is_not_caught() -> None:
    definition = {
        "TimeoutSeconds": 10,
        "StartAt": "Hold",
        "States": {
            "Hold": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 60, "End": True}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recovered"}],
                "End": True,
            },
            "Recovered": {"Type": "Succeed"},
        },
    }

    execution = StateMachine(definition, _never_invoked, SimulatedClock(current=STARTED)).execute({})

    assert execution.status == "TIMED_OUT"
    assert "Recovered" not in execution.entered()


def test_execution_within_timeout_succeeds() -> None:
    execution = StateMachine(
        _wait_then_succeed(60, timeout=300), _never_invoked, SimulatedClock(current=STARTED)
    ).execute({})

    assert execution.status == "SUCCEEDED"


def test_execution_metrics_need_closed_execution() -> None:
    with pytest.raises(ValueError, match="start_date") as raised:
        execution_metric_records(STATE_MACHINE_ARN, Execution("SUCCEEDED"))

    assert "StateMachine.execute" in str(raised.value)
