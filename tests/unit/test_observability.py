"""The `job succeeded` line that the suite-health dashboard reads."""

from __future__ import annotations

import json

import pytest

from celebops.observability import JOB_SUCCEEDED, get_logger, log_job_succeeded


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_returning_handler_logs_one_success_line_named_by_service(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_logger("backup-guard")

    @log_job_succeeded(logger)
    def handler(event: dict[str, object], context: object) -> dict[str, object]:
        return {"done": True}

    assert handler({}, None) == {"done": True}

    lines = [line for line in _lines(capsys.readouterr().out) if line["message"] == JOB_SUCCEEDED]
    assert len(lines) == 1
    assert lines[0]["job"] == "backup-guard"


def test_raising_handler_logs_no_success_line(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_logger("backup-guard")

    @log_job_succeeded(logger)
    def handler(event: dict[str, object], context: object) -> dict[str, object]:
        raise RuntimeError("backup failed")

    with pytest.raises(RuntimeError):
        handler({}, None)

    assert not [line for line in _lines(capsys.readouterr().out) if line["message"] == JOB_SUCCEEDED]
