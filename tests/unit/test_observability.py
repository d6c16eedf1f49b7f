"""The `job succeeded` line that the suite-health dashboard reads."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from aws_lambda_powertools import Logger

from celebops.observability import JOB_SUCCEEDED, log_job_succeeded


def _logger() -> tuple[Logger, io.StringIO]:
    """Return a logger of a service name no other test uses, writing to its own stream.

    Powertools keeps one handler per service name for the whole process, so a name that another
    test has already logged under would keep writing to that test's stream.
    """
    stream = io.StringIO()
    return Logger(service=f"job-{uuid.uuid4().hex[:8]}", stream=stream), stream


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_returning_handler_logs_success_once() -> None:
    logger, stream = _logger()

    @log_job_succeeded(logger)
    def handler(event: dict[str, object], context: object) -> dict[str, object]:
        return {"done": True}

    assert handler({}, None) == {"done": True}

    lines = [line for line in _lines(stream.getvalue()) if line["message"] == JOB_SUCCEEDED]
    assert len(lines) == 1
    assert lines[0]["job"] == logger.service


def test_raising_handler_logs_no_success_line() -> None:
    logger, stream = _logger()

    @log_job_succeeded(logger)
    def handler(event: dict[str, object], context: object) -> dict[str, object]:
        logger.info("backup started")
        raise RuntimeError("backup failed")

    with pytest.raises(RuntimeError):
        handler({}, None)

    assert stream.getvalue()
    assert not [line for line in _lines(stream.getvalue()) if line["message"] == JOB_SUCCEEDED]
