"""The whole demo with known, unusual secret values: neither value appears in any log, file or report.

The Slack webhook token and the PagerDuty routing key reach the alert router only through Secrets
Manager. Searched: every function log line of every invocation, the demo's printed summary and
JSON report, the receivers' deliveries file, and the moto server's own log.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest

from harness import environment as environment_module
from harness.invoke import Invocation
from harness.paths import BUILD, DELIVERIES, LOCAL

pytestmark = pytest.mark.skipif(not (BUILD / "SharedLayer").exists(), reason="needs `make build` first")

# Shapes the receivers accept (a 32-character alphanumeric routing key), with runs no code would produce.
SLACK_TOKEN = "T0SECRETSLACKzq7Vx9Wm"
ROUTING_KEY = "R0UTEKEYzq7Vx9Wm4Pk2Lj8Hn3Bv6Ct1"
SECRETS = {"slack_token": SLACK_TOKEN, "routing_key": ROUTING_KEY}


@pytest.fixture(scope="module")
def demo_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from harness import demo

    report = tmp_path_factory.mktemp("demo") / "report.json"
    invocations: list[Invocation] = []
    original = environment_module.invoke

    def recording_invoke(*args: Any, **kwargs: Any) -> Invocation:
        invocation = original(*args, **kwargs)
        invocations.append(invocation)
        return invocation

    moto_logs_before = set(LOCAL.glob("moto-*.log"))
    patch = pytest.MonkeyPatch()
    patch.setattr(environment_module, "invoke", recording_invoke)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exit_code = demo.run(report=report, secrets=SECRETS)
    finally:
        patch.undo()
    return {
        "exit_code": exit_code,
        "printed": printed.getvalue(),
        "invocations": invocations,
        "report": report.read_text(),
        "deliveries": DELIVERIES.read_text() if DELIVERIES.exists() else "",
        "moto_logs": [path for path in LOCAL.glob("moto-*.log") if path not in moto_logs_before],
    }


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def test_demo_ran_every_job(demo_outputs: dict[str, Any]) -> None:
    assert demo_outputs["exit_code"] == 0
    assert demo_outputs["invocations"]


def test_function_logs_hold_no_secret(demo_outputs: dict[str, Any]) -> None:
    leaking = [
        (invocation.function, line[:200])
        for invocation in demo_outputs["invocations"]
        for line in invocation.logs
        if _leaks(line)
    ]

    assert leaking == []


def test_function_results_hold_no_secret(demo_outputs: dict[str, Any]) -> None:
    leaking = [invocation.function for invocation in demo_outputs["invocations"] if _leaks(repr(invocation.result))]

    assert leaking == []


def test_report_holds_no_secret(demo_outputs: dict[str, Any]) -> None:
    assert _leaks(demo_outputs["report"]) == []


def test_deliveries_hold_no_secret(demo_outputs: dict[str, Any]) -> None:
    assert demo_outputs["deliveries"]
    assert _leaks(demo_outputs["deliveries"]) == []


def test_moto_log_holds_no_secret(demo_outputs: dict[str, Any]) -> None:
    logs: list[Path] = demo_outputs["moto_logs"]

    assert logs
    assert [path.name for path in logs if _leaks(path.read_text(errors="replace"))] == []


def test_printed_summary_holds_no_secret(demo_outputs: dict[str, Any]) -> None:
    assert demo_outputs["printed"]
    assert _leaks(demo_outputs["printed"]) == []
