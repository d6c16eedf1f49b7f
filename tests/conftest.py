"""Fixtures shared by every test: the moto server, a clean AWS environment, sample events."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness import moto_server
from harness.paths import EVENTS, ROOT

FIXTURES = Path(__file__).parent / "fixtures"

# Variables that would let a test reach real AWS or read a developer's profile.
_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every test fake credentials and a dead loopback endpoint, so nothing can reach AWS by accident."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # Until a test asks for the moto server, boto3 points at a closed loopback port, so a test that
    # forgets the fixture fails fast instead of sending a request to AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", moto_server.REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "custom/celebrity-database")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "celebrity-database-ops-test")

    from celebops.clients import reset_clients

    reset_clients()


@pytest.fixture(scope="session")
def moto_process() -> Iterator[moto_server.MotoServer]:
    """One moto server process for the whole test session."""
    server = moto_server.start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_process: moto_server.MotoServer, monkeypatch: pytest.MonkeyPatch) -> moto_server.MotoServer:
    """A moto server emptied for this test, with the environment pointing boto3 at it."""
    moto_process.reset()
    for name, value in moto_process.environment().items():
        monkeypatch.setenv(name, value)

    from celebops.clients import reset_clients

    reset_clients()
    return moto_process


def load_event(name: str) -> dict[str, Any]:
    """Load `events/<name>.json`, the one source of sample events for SAM, make invoke and tests."""
    path = EVENTS / f"{name}.json"
    return json.loads(path.read_text())


def load_handler(function_dir: str) -> ModuleType:
    """Import `functions/<function_dir>/app.py` under a unique module name (every handler is app.py)."""
    path = ROOT / "functions" / function_dir / "app.py"
    name = f"handler_{function_dir}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class FakeLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name = "test-function"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def __init__(self, remaining_ms: int = 300_000) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
