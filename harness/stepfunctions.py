"""A small Amazon States Language interpreter that runs a deployed state machine definition locally.

moto stores state machines but runs their Lambda tasks only through Docker, and its Wait states
sleep in real time. This interpreter executes the same definition JSON that deploys, with each
Lambda task sent to a caller-supplied invoker (the local function runner in the demo, a handler in
tests) and time taken from an injected clock, so a restore that polls for hours runs in milliseconds.

Emulated, following the Amazon States Language specification (https://states-language.net/spec.html):
Task (direct Lambda ARN resources), Pass, Choice, Wait, Succeed, Fail, Parallel and Map (inline,
items one after another); InputPath, Parameters and ItemSelector with `.$` keys, ResultSelector,
ResultPath and OutputPath with simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$$.` for the context
object); Retry (ErrorEquals, IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds) and
Catch (ErrorEquals, ResultPath, Next); the intrinsic functions States.Format and States.JsonToString;
the execution's top-level TimeoutSeconds, checked before each state and after each wait or retry delay.
Not emulated: task TimeoutSeconds and HeartbeatSeconds, service integrations (`arn:aws:states:::...`),
JSONata, distributed Map, and the 256 KiB payload limit.

`run_deployed_state_machine` also puts the `AWS/States` execution metrics that Step Functions
publishes, stamped with the injected clock's times, because moto publishes none for it.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from harness.emf import MetricRecord, put_emf_metrics

#: Error names that States.ALL does not match: they always fail the execution (ASL "Error names").
_TERMINAL_ERRORS = frozenset({"States.Runtime", "States.DataLimitExceeded"})

#: Step Functions caps an execution's history at 25,000 events; a runaway loop fails the same way.
MAX_HISTORY_EVENTS = 25_000


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass
class SimulatedClock:
    """A clock whose sleep advances time instantly; `slept` records every wait in seconds."""

    current: datetime = field(default_factory=lambda: datetime.now(UTC))
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)


class StatesError(Exception):
    """An error raised inside a state: `error` is the name Retry and Catch match, `cause` the text."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class DefinitionError(ValueError):
    """The definition breaks a rule of the States Language that this interpreter checks."""


class ExecutionTimedOut(Exception):
    """The execution ran past its TimeoutSeconds; unlike a StatesError, no Retry or Catch handles it."""


#: Invokes a Task's Resource with the effective input and returns its result; raises StatesError.
TaskInvoker = Callable[[str, Any], Any]


@dataclass(frozen=True)
class HistoryEvent:
    type: str
    state: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Execution:
    """The outcome of one execution: SUCCEEDED, FAILED or TIMED_OUT, with its output or error and its history."""

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    duration_ms: float = 0.0  # wall time of the local run; the clock's times are start_date and stop_date
    start_date: datetime | None = None
    stop_date: datetime | None = None

    def summary(self) -> dict[str, Any]:
        """Return the status and the `summary` of the last task that returned one (the demo prints it)."""
        for event in reversed(self.history):
            output = event.detail.get("output")
            if event.type == "TaskSucceeded" and isinstance(output, dict) and isinstance(output.get("summary"), str):
                return {"status": self.status, "summary": output["summary"]}
        return {"status": self.status, "summary": f"{self.error}: {self.cause}" if self.error else self.status}

    def entered(self) -> list[str]:
        """Return the names of the states entered, in order (states inside Map and Parallel included)."""
        return [event.state for event in self.history if event.type == "StateEntered"]

    def events(self, kind: str) -> list[HistoryEvent]:
        return [event for event in self.history if event.type == kind]


# --------------------------------------------------------------------------------------- paths
_PATH_TOKEN = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]")


def _path_tokens(path: str) -> list[str | int]:
    if path in ("$", "$$"):
        return []
    root = "$$" if path.startswith("$$") else "$"
    rest = path[len(root) :]
    tokens: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _PATH_TOKEN.match(rest, position)
        if match is None:
            raise StatesError("States.Runtime", f"unsupported JSONPath {path!r}")
        name, index, quoted = match.groups()
        if index is not None:
            tokens.append(int(index))
        elif name is not None:
            tokens.append(name)
        else:
            tokens.append(quoted)
        position = match.end()
    return tokens


def read_path(path: str, data: Any, context: Any = None) -> Any:
    """Return the value at `path` in `data` (or in the context object for `$$.`); raise States.Runtime if absent."""
    if not path.startswith("$"):
        raise StatesError("States.Runtime", f"path {path!r} does not start with $")
    node = context if path.startswith("$$") else data
    for token in _path_tokens(path):
        in_list = isinstance(token, int) and isinstance(node, list) and -len(node) <= token < len(node)
        in_object = isinstance(token, str) and isinstance(node, dict) and token in node
        if in_list or in_object:
            node = node[token]
        else:
            raise StatesError("States.Runtime", f"the JSONPath {path!r} could not be found in the input")
    return node


def path_exists(path: str, data: Any, context: Any = None) -> bool:
    try:
        read_path(path, data, context)
    except StatesError:
        return False
    return True


def write_result_path(path: str | None, state_input: Any, result: Any) -> Any:
    """Combine a state's input and result per ResultPath: null keeps the input, `$` is the result."""
    if path is None:
        return state_input
    if path == "$":
        return result
    tokens = _path_tokens(path)
    if path.startswith("$$") or any(isinstance(token, int) for token in tokens):
        raise StatesError("States.ResultPathMatchFailure", f"ResultPath {path!r} must name object fields under $")
    combined = copy.deepcopy(state_input)
    if not isinstance(combined, dict):
        raise StatesError("States.ResultPathMatchFailure", f"cannot apply ResultPath {path!r} to a non-object input")
    node = combined
    for token in tokens[:-1]:
        assert isinstance(token, str)
        child = node.setdefault(token, {})
        if not isinstance(child, dict):
            raise StatesError("States.ResultPathMatchFailure", f"ResultPath {path!r} crosses a non-object at {token!r}")
        node = child
    last = tokens[-1]
    assert isinstance(last, str)
    node[last] = result
    return combined


# --------------------------------------------------------------------------------- templates
_FORMAT_ARGUMENT = re.compile(r"\s*('(?:[^'\\]|\\.)*'|\$\$?[^,)]*|-?\d+(?:\.\d+)?|true|false|null)\s*(?:,|$)")


def _intrinsic(expression: str, data: Any, context: Any) -> Any:
    match = re.fullmatch(r"(States\.\w+)\((.*)\)", expression.strip(), re.DOTALL)
    if match is None:
        raise StatesError("States.Runtime", f"unsupported intrinsic expression {expression!r}")
    name, raw_arguments = match.groups()
    arguments: list[Any] = []
    position = 0
    while position < len(raw_arguments):
        argument = _FORMAT_ARGUMENT.match(raw_arguments, position)
        if argument is None or argument.end() == position:
            raise StatesError("States.Runtime", f"cannot parse the arguments of {expression!r}")
        token = argument.group(1).strip()
        if token.startswith("'"):
            arguments.append(re.sub(r"\\(.)", r"\1", token[1:-1]))
        elif token.startswith("$"):
            arguments.append(read_path(token, data, context))
        else:
            arguments.append(json.loads(token))
        position = argument.end()
    if name == "States.Format":
        template, *values = arguments
        pieces = str(template).split("{}")
        if len(pieces) - 1 != len(values):
            raise StatesError(
                "States.Runtime", f"{expression!r} has {len(pieces) - 1} placeholders, {len(values)} values"
            )
        text = pieces[0]
        for value, piece in zip(values, pieces[1:], strict=True):
            text += (value if isinstance(value, str) else json.dumps(value)) + piece
        return text
    if name == "States.JsonToString":
        return json.dumps(arguments[0], separators=(",", ":"))
    raise StatesError("States.Runtime", f"intrinsic function {name} is not emulated")


def evaluate_template(template: Any, data: Any, context: Any) -> Any:
    """Build Parameters, ItemSelector or ResultSelector: keys ending in `.$` take a path or intrinsic."""
    if isinstance(template, list):
        return [evaluate_template(item, data, context) for item in template]
    if not isinstance(template, dict):
        return template
    built: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            if not isinstance(value, str):
                raise StatesError("States.Runtime", f"the value of {key!r} must be a path string")
            built[key[:-2]] = (
                read_path(value, data, context) if value.startswith("$") else _intrinsic(value, data, context)
            )
        else:
            built[key] = evaluate_template(value, data, context)
    return built


# ------------------------------------------------------------------------------------ choice
def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _string_matches(value: str, pattern: str) -> bool:
    # `*` is the only wildcard; `\*` and `\\` are literal (ASL StringMatches).
    regex = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            regex += re.escape(pattern[index + 1])
            index += 2
            continue
        regex += ".*" if char == "*" else re.escape(char)
        index += 1
    return re.fullmatch(regex, value, re.DOTALL) is not None


_COMPARATORS: dict[str, tuple[Callable[[Any], bool], Callable[[Any, Any], bool]]] = {}


def _register(prefix: str, accepts: Callable[[Any], bool], convert: Callable[[Any], Any]) -> None:
    operators: dict[str, Callable[[Any, Any], bool]] = {
        "Equals": lambda a, b: a == b,
        "LessThan": lambda a, b: a < b,
        "GreaterThan": lambda a, b: a > b,
        "LessThanEquals": lambda a, b: a <= b,
        "GreaterThanEquals": lambda a, b: a >= b,
    }
    for suffix, operator in operators.items():
        _COMPARATORS[prefix + suffix] = (
            accepts,
            lambda a, b, operator=operator: operator(convert(a), convert(b)),
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_register("String", lambda v: isinstance(v, str), lambda v: v)
_register("Numeric", _is_number, lambda v: v)
_register("Timestamp", lambda v: _timestamp(v) is not None, _timestamp)
_COMPARATORS["BooleanEquals"] = (lambda v: isinstance(v, bool), lambda a, b: a == b)
_COMPARATORS["StringMatches"] = (lambda v: isinstance(v, str), _string_matches)

_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsString": lambda v: isinstance(v, str),
    "IsNumeric": _is_number,
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: _timestamp(v) is not None,
}


def choice_matches(rule: Mapping[str, Any], data: Any, context: Any) -> bool:
    """Evaluate one Choice rule (And, Or, Not, or a comparison on Variable)."""
    if "And" in rule:
        return all(choice_matches(inner, data, context) for inner in rule["And"])
    if "Or" in rule:
        return any(choice_matches(inner, data, context) for inner in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], data, context)
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise DefinitionError(f"choice rule without Variable: {rule}")
    if "IsPresent" in rule:
        return path_exists(variable, data, context) is bool(rule["IsPresent"])
    value = read_path(variable, data, context)
    for name, test in _TYPE_TESTS.items():
        if name in rule:
            return test(value) is bool(rule[name])
    for name, operand in rule.items():
        if name in ("Variable", "Next"):
            continue
        comparator_name = name[:-4] if name.endswith("Path") else name
        if comparator_name not in _COMPARATORS:
            raise DefinitionError(f"unknown choice comparator {name}")
        expected = read_path(operand, data, context) if name.endswith("Path") else operand
        accepts, compare = _COMPARATORS[comparator_name]
        # A comparison against a value of another type is false, not an error (ASL spec).
        if not accepts(value) or not accepts(expected):
            return False
        return compare(value, expected)
    raise DefinitionError(f"choice rule has no comparator: {rule}")


# --------------------------------------------------------------------------------- execution
def _error_matches(names: list[str], error: str) -> bool:
    if error in names:
        return True
    if "States.ALL" in names:
        return error not in _TERMINAL_ERRORS
    # States.TaskFailed matches any error a task raised, other than a timeout (ASL "Error names").
    return "States.TaskFailed" in names and error not in _TERMINAL_ERRORS and error != "States.Timeout"


def check_definition(definition: Mapping[str, Any]) -> None:
    """Raise DefinitionError if states or transitions are missing or a Retry/Catch is malformed."""
    states = definition.get("States")
    if not isinstance(states, dict) or definition.get("StartAt") not in states:
        raise DefinitionError("StartAt must name a state in States")
    for name, state in states.items():
        kind = state.get("Type")
        targets = [state.get("Next"), *(c.get("Next") for c in state.get("Catch", []))]
        targets += [rule.get("Next") for rule in state.get("Choices", [])] + [state.get("Default")]
        for target in targets:
            if target is not None and target not in states:
                raise DefinitionError(f"state {name} transitions to unknown state {target}")
        if kind not in ("Choice", "Succeed", "Fail") and not state.get("End") and "Next" not in state:
            raise DefinitionError(f"state {name} has neither Next nor End")
        for handler in (*state.get("Retry", []), *state.get("Catch", [])):
            names = handler.get("ErrorEquals", [])
            if not names:
                raise DefinitionError(f"state {name} has a Retry or Catch without ErrorEquals")
            if "States.ALL" in names and (len(names) > 1):
                raise DefinitionError(f"state {name}: States.ALL must appear alone in ErrorEquals")
        for branch in state.get("Branches", []):
            check_definition(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor is not None:
            check_definition(processor)


class StateMachine:
    """Runs a definition; `invoke` executes Task resources, `clock` supplies time and waits."""

    def __init__(self, definition: Mapping[str, Any], invoke: TaskInvoker, clock: Clock | None = None) -> None:
        check_definition(definition)
        self.definition = definition
        self.invoke = invoke
        self.clock: Clock = clock or SimulatedClock()
        self._deadline: datetime | None = None

    def execute(self, execution_input: Any, name: str = "local") -> Execution:
        history: list[HistoryEvent] = []
        started = self.clock.now()
        timeout = self.definition.get("TimeoutSeconds")
        self._deadline = started + timedelta(seconds=float(timeout)) if timeout is not None else None
        context = {
            "Execution": {
                "Id": f"arn:aws:states:local:000000000000:execution:local:{name}",
                "Name": name,
                "StartTime": started.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "Input": execution_input,
            },
            "StateMachine": {"Name": "local"},
        }
        try:
            output = self._run(self.definition, copy.deepcopy(execution_input), context, history)
        except StatesError as failure:
            history.append(HistoryEvent("ExecutionFailed", "", {"error": failure.error, "cause": failure.cause}))
            return Execution(
                "FAILED",
                error=failure.error,
                cause=failure.cause,
                history=history,
                start_date=started,
                stop_date=self.clock.now(),
            )
        except ExecutionTimedOut as timed_out:
            history.append(HistoryEvent("ExecutionTimedOut", "", {"error": "States.Timeout", "cause": str(timed_out)}))
            return Execution(
                "TIMED_OUT",
                error="States.Timeout",
                cause=str(timed_out),
                history=history,
                start_date=started,
                stop_date=self.clock.now(),
            )
        history.append(HistoryEvent("ExecutionSucceeded", ""))
        return Execution("SUCCEEDED", output=output, history=history, start_date=started, stop_date=self.clock.now())

    def _sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        self._check_deadline()

    def _check_deadline(self) -> None:
        if self._deadline is not None and self.clock.now() > self._deadline:
            timeout = self.definition["TimeoutSeconds"]
            raise ExecutionTimedOut(f"the execution ran longer than its TimeoutSeconds of {timeout}")

    # A Fail state ends the (sub-)machine with its error; the same exception type carries it.
    def _run(self, machine: Mapping[str, Any], data: Any, context: dict[str, Any], history: list[HistoryEvent]) -> Any:
        states = machine["States"]
        current: str | None = machine["StartAt"]
        while current is not None:
            if len(history) >= MAX_HISTORY_EVENTS:
                raise StatesError("States.Runtime", f"the execution exceeded {MAX_HISTORY_EVENTS} history events")
            self._check_deadline()
            state = states[current]
            history.append(HistoryEvent("StateEntered", current, {"input": data}))
            state_context = {**context, "State": {"Name": current, "EnteredTime": self.clock.now().isoformat()}}
            data, current = self._step(current, state, data, state_context, history)
        return data

    def _step(
        self, name: str, state: Mapping[str, Any], raw_input: Any, context: dict[str, Any], history: list[HistoryEvent]
    ) -> tuple[Any, str | None]:
        kind = state["Type"]
        if kind == "Fail":
            error = state.get("Error") or (
                read_path(state["ErrorPath"], raw_input, context) if "ErrorPath" in state else "States.Fail"
            )
            cause = state.get("Cause") or (
                read_path(state["CausePath"], raw_input, context) if "CausePath" in state else ""
            )
            raise StatesError(str(error), str(cause))

        effective = read_path(state.get("InputPath", "$"), raw_input, context) if state.get("InputPath", "$") else {}
        if kind == "Choice":
            for rule in state.get("Choices", []):
                if choice_matches(rule, effective, context):
                    return self._output(state, effective, context, name, history), rule["Next"]
            if "Default" in state:
                return self._output(state, effective, context, name, history), state["Default"]
            raise StatesError("States.NoChoiceMatched", f"no choice rule of {name} matched and it has no Default")
        if kind == "Wait":
            self._sleep(self._wait_seconds(state, effective, context))
            return self._output(state, effective, context, name, history), self._next(state)
        if kind == "Succeed":
            return self._output(state, effective, context, name, history), None
        if kind == "Pass":
            parameters = (
                evaluate_template(state["Parameters"], effective, context) if "Parameters" in state else effective
            )
            result = state.get("Result", parameters)
            combined = write_result_path(state.get("ResultPath", "$"), raw_input, result)
            return self._output(state, combined, context, name, history), self._next(state)
        if kind in ("Task", "Map", "Parallel"):
            return self._run_with_handlers(name, state, raw_input, effective, context, history)
        raise DefinitionError(f"state {name} has unsupported Type {kind}")

    def _run_with_handlers(
        self,
        name: str,
        state: Mapping[str, Any],
        raw_input: Any,
        effective: Any,
        context: dict[str, Any],
        history: list[HistoryEvent],
    ) -> tuple[Any, str | None]:
        attempts: dict[int, int] = {}
        while True:
            try:
                result = self._execute_work(name, state, effective, context, history)
                if "ResultSelector" in state:
                    result = evaluate_template(state["ResultSelector"], result, context)
                combined = write_result_path(state.get("ResultPath", "$"), raw_input, result)
                return self._output(state, combined, context, name, history), self._next(state)
            except StatesError as failure:
                if failure.error in _TERMINAL_ERRORS:
                    raise
                delay = self._retry_delay(state, failure, attempts)
                if delay is not None:
                    history.append(HistoryEvent("Retry", name, {"error": failure.error, "delay": delay}))
                    self._sleep(delay)
                    continue
                for catcher in state.get("Catch", []):
                    if _error_matches(catcher["ErrorEquals"], failure.error):
                        history.append(HistoryEvent("Caught", name, {"error": failure.error, "next": catcher["Next"]}))
                        error_output = {"Error": failure.error, "Cause": failure.cause}
                        return write_result_path(catcher.get("ResultPath", "$"), raw_input, error_output), catcher[
                            "Next"
                        ]
                raise

    def _retry_delay(self, state: Mapping[str, Any], failure: StatesError, attempts: dict[int, int]) -> float | None:
        for index, retrier in enumerate(state.get("Retry", [])):
            if not _error_matches(retrier["ErrorEquals"], failure.error):
                continue
            done = attempts.get(index, 0)
            if done >= int(retrier.get("MaxAttempts", 3)):
                return None
            attempts[index] = done + 1
            delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** done
            if "MaxDelaySeconds" in retrier:
                delay = min(delay, float(retrier["MaxDelaySeconds"]))
            return delay
        return None

    def _execute_work(
        self, name: str, state: Mapping[str, Any], effective: Any, context: dict[str, Any], history: list[HistoryEvent]
    ) -> Any:
        kind = state["Type"]
        if kind == "Task":
            resource = state["Resource"]
            if not resource.startswith("arn:aws:lambda:") or "${" in resource:
                raise StatesError("States.Runtime", f"task {name}: resource {resource!r} is not a Lambda function ARN")
            payload = evaluate_template(state["Parameters"], effective, context) if "Parameters" in state else effective
            history.append(HistoryEvent("TaskScheduled", name, {"resource": resource, "input": payload}))
            try:
                result = self.invoke(resource, payload)
            except StatesError as failure:
                history.append(HistoryEvent("TaskFailed", name, {"error": failure.error, "cause": failure.cause}))
                raise
            history.append(HistoryEvent("TaskSucceeded", name, {"output": result}))
            return result
        if kind == "Parallel":
            branch_input = (
                evaluate_template(state["Parameters"], effective, context) if "Parameters" in state else effective
            )
            return [self._run(branch, copy.deepcopy(branch_input), context, history) for branch in state["Branches"]]
        items = read_path(state.get("ItemsPath", "$"), effective, context)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", f"map {name}: ItemsPath does not select an array")
        processor = state.get("ItemProcessor") or state["Iterator"]
        selector = state.get("ItemSelector", state.get("Parameters"))
        results = []
        for index, item in enumerate(items):
            item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
            item_input = evaluate_template(selector, effective, item_context) if selector is not None else item
            results.append(self._run(processor, copy.deepcopy(item_input), item_context, history))
        return results

    def _wait_seconds(self, state: Mapping[str, Any], data: Any, context: Any) -> float:
        if "Seconds" in state:
            return float(state["Seconds"])
        if "SecondsPath" in state:
            seconds = read_path(state["SecondsPath"], data, context)
            if not _is_number(seconds) or seconds < 0:
                raise StatesError("States.Runtime", f"SecondsPath selected {seconds!r}, not a non-negative number")
            return float(seconds)
        raw = state.get("Timestamp") or read_path(state["TimestampPath"], data, context)
        moment = _timestamp(raw)
        if moment is None:
            raise StatesError("States.Runtime", f"wait timestamp {raw!r} is not ISO 8601")
        return max(0.0, (moment - self.clock.now()).total_seconds())

    def _output(self, state: Mapping[str, Any], data: Any, context: Any, name: str, history: list[HistoryEvent]) -> Any:
        path = state.get("OutputPath", "$")
        output = read_path(path, data, context) if path is not None else {}
        history.append(HistoryEvent("StateExited", name, {"output": output}))
        return output

    @staticmethod
    def _next(state: Mapping[str, Any]) -> str | None:
        return None if state.get("End") else state["Next"]


# ------------------------------------------------------------------------------ deployment
def substitute(definition_text: str, substitutions: Mapping[str, Any]) -> dict[str, Any]:
    """Apply DefinitionSubstitutions (`${Name}`) as Step Functions does at create time, then parse."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in substitutions:
            return match.group(0)
        return str(substitutions[key])

    text = re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, definition_text)
    left = re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)
    if left:
        raise DefinitionError(f"the definition uses substitutions nobody defines: {', '.join(sorted(set(left)))}")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def deployed_definition(deployment: Any, logical_id: str) -> dict[str, Any]:
    """Return the definition of a deployed state machine with its DefinitionSubstitutions applied.

    The text comes from the state machine stored in the embedded AWS; the substitution values are
    resolved from template.yaml against the deployment's resources, as CloudFormation resolves them.
    """
    import boto3

    from harness.template import Resolver, load_sam_template, to_cloudformation

    arn = deployment.physical_id(logical_id)
    text = boto3.client("stepfunctions", region_name=deployment.region).describe_state_machine(stateMachineArn=arn)[
        "definition"
    ]
    cloudformation, _ = to_cloudformation(load_sam_template(), deployment.region)
    raw = cloudformation["Resources"][logical_id]["Properties"].get("DefinitionSubstitutions", {})

    def resource_value(resource_id: str, attribute: str | None) -> Any:
        return deployment.resources[resource_id][attribute or "Ref"]

    resolver = Resolver(
        parameters=deployment.parameters,
        pseudo={
            "AWS::Region": deployment.region,
            "AWS::AccountId": deployment.account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": deployment.stack_name,
        },
        conditions_source=cloudformation.get("Conditions", {}),
        resource_value=resource_value,
    )
    return substitute(text, resolver.resolve(raw))


def lambda_invoker(run: Callable[[str, Any], tuple[bool, Any, dict[str, Any] | None]]) -> TaskInvoker:
    """Adapt a runner returning (ok, result, error) to a TaskInvoker with Lambda's error shape.

    A function error becomes a StatesError named after the error type, whose cause is the JSON
    error payload, which is what Step Functions passes to Retry and Catch for a Lambda task.
    """

    def invoke(resource: str, payload: Any) -> Any:
        ok, result, error = run(resource, payload)
        if ok:
            return result
        error = error or {}
        error_type = str(error.get("errorType") or "Lambda.Unknown")
        cause = json.dumps({"errorType": error_type, "errorMessage": str(error.get("errorMessage", ""))})
        raise StatesError(error_type, cause)

    return invoke


def run_deployed_state_machine(
    deployment: Any,
    logical_id: str,
    invoke_function: Callable[[str, Any], Any],
    execution_input: Any,
    clock: Clock | None = None,
    after_task: Callable[[Any], None] | None = None,
    publish_metrics: bool = True,
) -> Execution:
    """Execute a deployed state machine; each Lambda task runs through `invoke_function(logical_id, event)`.

    `invoke_function` returns a `harness.invoke.Invocation` (ok, result, error), as `LocalEnvironment.invoke`
    does. `after_task` receives each successful task result, to add what the embedded AWS lacks. With
    `publish_metrics`, the execution's AWS/States metrics go to the embedded CloudWatch.
    """
    definition = deployed_definition(deployment, logical_id)
    functions_by_arn = {function.arn: function.logical_id for function in deployment.functions.values()}

    def run(resource: str, payload: Any) -> tuple[bool, Any, dict[str, Any] | None]:
        function = functions_by_arn.get(resource)
        if function is None:
            raise StatesError("States.Runtime", f"{resource} is not a function of the local deployment")
        invocation = invoke_function(function, payload)
        if invocation.ok and after_task is not None:
            after_task(invocation.result)
        return invocation.ok, invocation.result, invocation.error

    started = time.monotonic()
    execution = StateMachine(definition, lambda_invoker(run), clock).execute(execution_input, name=logical_id)
    execution.duration_ms = (time.monotonic() - started) * 1000

    if publish_metrics:
        import boto3

        cloudwatch = boto3.client("cloudwatch", region_name=deployment.region)
        put_emf_metrics(cloudwatch, execution_metric_records(deployment.physical_id(logical_id), execution))
    return execution


#: The AWS/States metric that counts each terminal status.
_STATUS_METRICS = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
}


def execution_metric_records(state_machine_arn: str, execution: Execution) -> list[MetricRecord]:
    """Build the AWS/States metrics Step Functions publishes for one closed execution, by StateMachineArn.

    ExecutionsStarted is stamped with the start time. The count for the terminal status and
    ExecutionTime (start to close, in milliseconds) are stamped with the close time.

    NOTE: the Step Functions documentation does not say whether it also puts zeros for the statuses
    that did not occur, so none are put and SampleCount counts only the executions with that status.
    """
    if execution.start_date is None or execution.stop_date is None:
        raise ValueError("the execution has no start_date or stop_date; run it with StateMachine.execute")
    dimensions = (("StateMachineArn", state_machine_arn),)
    elapsed_ms = (execution.stop_date - execution.start_date) / timedelta(milliseconds=1)
    closed = execution.stop_date
    return [
        MetricRecord("AWS/States", "ExecutionsStarted", dimensions, (1.0,), execution.start_date, "Count"),
        MetricRecord("AWS/States", _STATUS_METRICS[execution.status], dimensions, (1.0,), closed, "Count"),
        MetricRecord("AWS/States", "ExecutionTime", dimensions, (round(elapsed_ms, 3),), closed, "Milliseconds"),
    ]
