"""harness/stepfunctions.py: the States Language semantics the restore test's definition relies on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from harness.stepfunctions import (
    DefinitionError,
    SimulatedClock,
    StateMachine,
    StatesError,
    check_definition,
    choice_matches,
    evaluate_template,
    lambda_invoker,
    read_path,
    substitute,
    write_result_path,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:task"


class Script:
    """A task invoker that replays errors, then returns results; records every payload."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.payloads: list[Any] = []

    def __call__(self, resource: str, payload: Any) -> Any:
        self.payloads.append(payload)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, StatesError):
            raise outcome
        return outcome


def _task(**extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": ARN, "End": True, **extra}


def _machine(states: dict[str, Any], start: str = "A") -> dict[str, Any]:
    return {"StartAt": start, "States": states}


def test_read_path_nested_and_index() -> None:
    assert read_path("$.a.b[1]", {"a": {"b": [1, 2]}}) == 2


def test_read_path_missing_raises_runtime() -> None:
    with pytest.raises(StatesError) as raised:
        read_path("$.missing", {"a": 1})

    assert raised.value.error == "States.Runtime"


def test_read_path_context_object() -> None:
    assert read_path("$$.Map.Item.Value", {}, {"Map": {"Item": {"Value": "pitr"}}}) == "pitr"


def test_result_path_creates_nested_fields() -> None:
    assert write_result_path("$.a.b", {"x": 1}, 5) == {"x": 1, "a": {"b": 5}}


def test_result_path_null_keeps_input() -> None:
    assert write_result_path(None, {"x": 1}, 5) == {"x": 1}


def test_result_path_on_scalar_input_fails() -> None:
    with pytest.raises(StatesError) as raised:
        write_result_path("$.a", "text", 5)

    assert raised.value.error == "States.ResultPathMatchFailure"


def test_template_paths_and_format() -> None:
    built = evaluate_template(
        {"fixed": 1, "name.$": "$.n", "text.$": "States.Format('run {} of {}', $.n, 'x')", "nested": {"v.$": "$.n"}},
        {"n": "r1"},
        {},
    )

    assert built == {"fixed": 1, "name": "r1", "text": "run r1 of x", "nested": {"v": "r1"}}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"Variable": "$.s", "StringEquals": "ACTIVE"}, True),
        ({"Variable": "$.n", "NumericGreaterThan": 3}, True),
        ({"Variable": "$.n", "NumericLessThanEquals": 3}, False),
        ({"Variable": "$.s", "NumericEquals": 1}, False),
        ({"Variable": "$.b", "BooleanEquals": True}, True),
        ({"Variable": "$.t", "TimestampLessThan": "2027-01-01T00:00:00Z"}, True),
        ({"Variable": "$.s", "StringMatches": "ACT*"}, True),
        ({"Variable": "$.n", "NumericEqualsPath": "$.n"}, True),
        ({"Variable": "$.missing", "IsPresent": False}, True),
        ({"Not": {"Variable": "$.b", "BooleanEquals": True}}, False),
        ({"And": [{"Variable": "$.b", "IsBoolean": True}, {"Variable": "$.n", "IsNumeric": True}]}, True),
        ({"Or": [{"Variable": "$.s", "IsNull": True}, {"Variable": "$.s", "IsString": True}]}, True),
    ],
)
def test_choice_rules(rule: dict[str, Any], expected: bool) -> None:
    data = {"s": "ACTIVE", "n": 4, "b": True, "t": "2026-12-04T03:00:00Z"}

    assert choice_matches(rule, data, {}) is expected


def test_choice_without_match_or_default_fails() -> None:
    definition = _machine(
        {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "y", "Next": "B"}]},
            "B": {"Type": "Succeed"},
        }
    )

    execution = StateMachine(definition, Script({})).execute({"x": "z"})

    assert execution.error == "States.NoChoiceMatched"


def test_retry_backs_off_then_succeeds() -> None:
    clock = SimulatedClock(datetime(2027, 1, 1, tzinfo=UTC))
    retry = [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}]
    script = Script(StatesError("Boom"), StatesError("Boom"), {"ok": True})

    execution = StateMachine(_machine({"A": _task(Retry=retry)}), script, clock).execute({})

    assert execution.status == "SUCCEEDED"
    assert clock.slept == [2.0, 6.0]


def test_retry_respects_max_delay() -> None:
    clock = SimulatedClock()
    retry = [
        {"ErrorEquals": ["Boom"], "IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 10, "MaxDelaySeconds": 50}
    ]
    script = Script(StatesError("Boom"), StatesError("Boom"), StatesError("Boom"), {"ok": True})

    StateMachine(_machine({"A": _task(Retry=retry)}), script, clock).execute({})

    assert clock.slept == [10.0, 50.0, 50.0]


def test_retry_exhausted_fails_with_error() -> None:
    retry = [{"ErrorEquals": ["Boom"], "MaxAttempts": 2}]

    execution = StateMachine(_machine({"A": _task(Retry=retry)}), Script(StatesError("Boom", "why"))).execute({})

    assert execution.status == "FAILED"
    assert execution.error == "Boom"
    assert len(execution.events("TaskFailed")) == 3


def test_max_attempts_zero_never_retries() -> None:
    retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]

    execution = StateMachine(_machine({"A": _task(Retry=retry)}), Script(StatesError("Boom"))).execute({})

    assert len(execution.events("TaskFailed")) == 1


def test_catch_places_error_at_result_path() -> None:
    states = {
        "A": {**_task(Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "B"}])},
        "B": {"Type": "Pass", "End": True},
    }
    states["A"].pop("End")
    states["A"]["Next"] = "B"

    execution = StateMachine(_machine(states), Script(StatesError("Boom", "cause"))).execute({"keep": 1})

    assert execution.output == {"keep": 1, "err": {"Error": "Boom", "Cause": "cause"}}


def test_catch_all_does_not_catch_runtime_errors() -> None:
    states = {
        "A": {
            "Type": "Task",
            "Resource": ARN,
            "Parameters": {"x.$": "$.absent"},
            "Next": "B",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}],
        },
        "B": {"Type": "Succeed"},
    }

    execution = StateMachine(_machine(states), Script({})).execute({})

    assert execution.error == "States.Runtime"


def test_task_failed_matches_task_errors() -> None:
    states = {
        "A": {
            "Type": "Task",
            "Resource": ARN,
            "Next": "B",
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "B"}],
        },
        "B": {"Type": "Succeed"},
    }

    execution = StateMachine(_machine(states), Script(StatesError("Anything"))).execute({})

    assert execution.status == "SUCCEEDED"


def test_task_io_processing_order() -> None:
    state = _task(
        InputPath="$.in",
        Parameters={"v.$": "$.v"},
        ResultSelector={"r.$": "$.raw"},
        ResultPath="$.out",
        OutputPath="$.out",
    )
    script = Script({"raw": 7})

    execution = StateMachine(_machine({"A": state}), script).execute({"in": {"v": 3}})

    assert script.payloads == [{"v": 3}]
    assert execution.output == {"r": 7}


def test_wait_advances_clock_only() -> None:
    clock = SimulatedClock(datetime(2027, 1, 1, tzinfo=UTC))
    states = {
        "A": {"Type": "Wait", "SecondsPath": "$.s", "Next": "B"},
        "B": {"Type": "Wait", "Timestamp": "2027-01-01T02:00:00Z", "End": True},
    }

    StateMachine(_machine(states), Script({}), clock).execute({"s": 3600})

    assert clock.slept == [3600.0, 3600.0]


def test_map_runs_each_item_with_context() -> None:
    script = Script("done")
    processor = _machine({"T": _task(Parameters={"item.$": "$.item", "index.$": "$$.Map.Item.Index"})}, "T")
    state = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"item.$": "$$.Map.Item.Value"},
        "ItemProcessor": processor,
        "ResultPath": "$.results",
        "End": True,
    }

    execution = StateMachine(_machine({"A": state}), script).execute({"items": ["backup", "pitr"]})

    assert script.payloads == [{"item": "backup", "index": 0}, {"item": "pitr", "index": 1}]
    assert execution.output["results"] == ["done", "done"]


def test_parallel_collects_branch_outputs() -> None:
    branch = _machine({"P": {"Type": "Pass", "Result": 1, "End": True}}, "P")
    state = {"Type": "Parallel", "Branches": [branch, branch], "End": True}

    execution = StateMachine(_machine({"A": state}), Script({})).execute({})

    assert execution.output == [1, 1]


def test_fail_state_sets_error_and_cause() -> None:
    execution = StateMachine(_machine({"A": {"Type": "Fail", "Error": "E", "Cause": "C"}}), Script({})).execute({})

    assert (execution.error, execution.cause) == ("E", "C")


def test_check_definition_rejects_unknown_next() -> None:
    with pytest.raises(DefinitionError):
        check_definition(_machine({"A": {"Type": "Pass", "Next": "Nowhere"}}))


def test_check_definition_rejects_mixed_states_all() -> None:
    with pytest.raises(DefinitionError):
        check_definition(_machine({"A": _task(Retry=[{"ErrorEquals": ["States.ALL", "X"]}])}))


def test_substitute_rejects_undefined_names() -> None:
    with pytest.raises(DefinitionError):
        substitute('{"Resource": "${Missing}"}', {})


def test_lambda_invoker_names_error_type() -> None:
    invoke = lambda_invoker(
        lambda resource, payload: (False, None, {"errorType": "NoBackupAvailable", "errorMessage": "m"})
    )

    with pytest.raises(StatesError) as raised:
        invoke(ARN, {})

    assert raised.value.error == "NoBackupAvailable"
