"""Least privilege: each function runs with exactly its role's inline statements, and needs every one.

moto enforces IAM actions but not resources or conditions; `harness.iam_check` explains how the
statements are adapted and which checks cannot be made here. Functions added to template.yaml
are picked up automatically: a new job needs at most an entry in `harness.iam_check.JOB_STEPS`
(steps that prepare the account and drive the function) when its trigger alone would not make
every call its statements allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from harness import iam_check
from harness.environment import LocalEnvironment
from harness.paths import BUILD

pytestmark = pytest.mark.skipif(not (BUILD / "SharedLayer").exists(), reason="needs `make build` first")

TEMPLATE_FUNCTIONS = iam_check.sam_functions()

STATEMENT_CASES = [
    pytest.param(function, sid, id=f"{function}-{sid}")
    for function in TEMPLATE_FUNCTIONS
    for sid in iam_check.sam_statement_ids(function)
]


STATE_MACHINES = iam_check.sam_state_machines()


@pytest.fixture(scope="module")
def audit(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, iam_check.FunctionCheck], dict[str, iam_check.StateMachineCheck]]]:
    deliveries = tmp_path_factory.mktemp("receivers") / "deliveries.jsonl"
    with LocalEnvironment(overrides={"LogRetentionDryRun": "false"}, deliveries_path=deliveries) as env:
        from harness.monitored_system import create_monitored_system

        # Jobs that read the monitored system need it to make their calls.
        create_monitored_system(datetime.now(UTC))
        roles = iam_check.function_roles(env.deployment)
        with iam_check.enforced(env) as session:
            functions = iam_check.check_all(session, roles)
        machines = {name: iam_check.check_state_machine(env.deployment, name) for name in STATE_MACHINES}
        yield functions, machines


@pytest.fixture(scope="module")
def checks(
    audit: tuple[dict[str, iam_check.FunctionCheck], dict[str, iam_check.StateMachineCheck]],
) -> dict[str, iam_check.FunctionCheck]:
    return audit[0]


@pytest.fixture(scope="module")
def machines(
    audit: tuple[dict[str, iam_check.FunctionCheck], dict[str, iam_check.StateMachineCheck]],
) -> dict[str, iam_check.StateMachineCheck]:
    return audit[1]


def _check(checks: dict[str, iam_check.FunctionCheck], function: str) -> iam_check.FunctionCheck:
    if function not in checks:
        pytest.skip(f"{function} was not deployed (its condition is false in the default environment)")
    check = checks[function]
    if check.job_skipped:
        pytest.skip(f"{function}: {check.job_skipped}")
    return check


@pytest.mark.parametrize("function", TEMPLATE_FUNCTIONS)
def test_job_succeeds_with_template_policy(checks: dict[str, iam_check.FunctionCheck], function: str) -> None:
    check = _check(checks, function)
    assert check.full is not None
    run = check.full

    assert run.outcome is iam_check.Outcome.SUCCEEDED, run.evidence()
    assert run.denied == [], [call.action for call in run.denied]


@pytest.mark.parametrize(("function", "sid"), STATEMENT_CASES)
def test_job_fails_without_statement(checks: dict[str, iam_check.FunctionCheck], function: str, sid: str) -> None:
    check = _check(checks, function)
    if sid in check.skipped:
        pytest.skip(f"{function} {sid}: {check.skipped[sid]}")
    if sid not in check.without:
        pytest.skip(f"{function} {sid}: not in the deployed role (its !If condition is false)")
    run = check.without[sid]

    # A denied call shows the statement is used; the outcome shows the job does not hide it.
    assert run.denied, f"{sid}: no call was denied without it, so the statement is unused or never exercised"
    assert run.outcome in (iam_check.Outcome.FAILED, iam_check.Outcome.REPORTED), run.evidence()


@pytest.mark.parametrize("function", TEMPLATE_FUNCTIONS)
def test_every_statement_has_sid(function: str) -> None:
    unnamed = [sid for sid in iam_check.sam_statement_ids(function) if "#" in sid]

    assert unnamed == []


@pytest.mark.parametrize("state_machine", STATE_MACHINES)
def test_state_machine_role_names_exactly_its_tasks(
    machines: dict[str, iam_check.StateMachineCheck], state_machine: str
) -> None:
    check = machines[state_machine]

    assert check.task_resources
    assert check.granted_resources == check.task_resources
    assert check.granted_actions == {"lambda:InvokeFunction"}
