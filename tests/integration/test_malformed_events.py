"""Malformed events against every handler of template.yaml, in one local environment.

Each event in `tests/fixtures/malformed/any/` goes to every function, and each SQS batch in
`tests/fixtures/malformed/sqs/` to every function with a queue. A handler may run normally,
reject the event with a clear error naming the problem, or report the bad records; it may never
fail with an error that shows a bug (TypeError, KeyError, ...), and one bad record never keeps
the other records of its batch from being delivered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.environment import LocalEnvironment
from harness.invoke import Invocation, invoke
from harness.paths import BUILD

pytestmark = pytest.mark.skipif(not (BUILD / "SharedLayer").exists(), reason="needs `make build` first")

CORPUS = Path(__file__).parents[1] / "fixtures" / "malformed"
ANY_EVENTS = sorted((CORPUS / "any").glob("*.json"))
SQS_BATCHES = sorted((CORPUS / "sqs").glob("*.json"))

# Exception types that mean the code met a case it never considered, not a rejected input.
BUG_ERRORS = frozenset(
    {
        "TypeError",
        "AttributeError",
        "KeyError",
        "IndexError",
        "NameError",
        "UnboundLocalError",
        "RecursionError",
        "AssertionError",
        "ZeroDivisionError",
        "Runtime.ExitError",
        "Sandbox.Timedout",
    }
)


@dataclass(frozen=True)
class Case:
    function: str
    fixture: str
    invocation: Invocation


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _run(env: LocalEnvironment, function: str, fixtures: list[Path]) -> list[Case]:
    # One function's cases run in sequence, because a job may not run twice at once (restore scratch tables).
    local = env.deployment.functions[function]
    trust = env.receivers.client_environment()
    return [
        Case(function, path.stem, invoke(local, _load(path)["event"], env.aws, trust, ship_logs=False))
        for path in fixtures
    ]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalEnvironment, dict[tuple[str, str], Case]]]:
    deliveries = tmp_path_factory.mktemp("receivers") / "deliveries.jsonl"
    with LocalEnvironment(overrides={"LogRetentionDryRun": "true"}, deliveries_path=deliveries) as env:
        from harness.monitored_system import create_monitored_system

        create_monitored_system(datetime.now(UTC))
        queued = {mapping.function for mapping in env.deployment.queue_mappings}
        plan = {
            function: ANY_EVENTS + (SQS_BATCHES if function in queued else [])
            for function, local in env.deployment.functions.items()
            if Path(local.build_dir, local.handler.rsplit(".", 1)[0] + ".py").exists()
        }
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(_run, env, function, fixtures) for function, fixtures in plan.items()]
            cases = [case for future in futures for case in future.result()]
        yield env, {(case.function, case.fixture): case for case in cases}


def _functions() -> list[str]:
    from harness import iam_check

    return iam_check.sam_functions()


@pytest.mark.parametrize("fixture", [path.stem for path in ANY_EVENTS])
@pytest.mark.parametrize("function", _functions())
def test_malformed_event_has_defined_outcome(
    results: tuple[LocalEnvironment, dict[tuple[str, str], Case]], function: str, fixture: str
) -> None:
    _, cases = results
    if (function, fixture) not in cases:
        pytest.skip(f"{function} is not built or not deployed; run `make build`")
    invocation = cases[(function, fixture)].invocation
    error = invocation.error or {}

    assert error.get("errorType") not in BUG_ERRORS, error
    assert invocation.ok or str(error.get("errorMessage", "")).strip(), "a rejection must say what is wrong"


@pytest.mark.parametrize("fixture", [path.stem for path in SQS_BATCHES])
def test_bad_records_do_not_sink_batch(
    results: tuple[LocalEnvironment, dict[tuple[str, str], Case]], fixture: str
) -> None:
    env, cases = results
    batch = _load(CORPUS / "sqs" / f"{fixture}.json")
    for mapping in env.deployment.queue_mappings:
        invocation = cases[(mapping.function, fixture)].invocation
        failed = {item["itemIdentifier"] for item in (invocation.result or {}).get("batchItemFailures", [])}
        delivered = "\n".join(json.dumps(d["payload"]) for d in env.receivers.deliveries())
        warnings = [line for line in invocation.logs if "alert record unreadable" in line]

        assert invocation.ok, invocation.error
        assert failed.isdisjoint({"good"}), failed
        for good in batch["good_message_ids"]:
            assert "malformed-corpus-good-alarm" in delivered, good
        assert len(warnings) >= 1
