"""The router's client factory: the invocation deadline checked before every AWS attempt."""

from __future__ import annotations

import socket

import pytest
from botocore.exceptions import EndpointConnectionError

from celebops.clients import ROUTER_ATTEMPT_MS, DeadlineExceeded, InvocationDeadline, deadline_clients

RESERVE_MS = 5_000


def _closed_port() -> int:
    """Return a loopback port nothing listens on, so a request that is sent fails to connect."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"http://127.0.0.1:{_closed_port()}"
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return url


def test_deadline_allows_attempt_that_fits() -> None:
    deadline = InvocationDeadline(ROUTER_ATTEMPT_MS, RESERVE_MS)
    deadline.start(lambda: ROUTER_ATTEMPT_MS + RESERVE_MS)

    deadline.check(event_name="before-send.dynamodb.PutItem")


def test_deadline_rejects_attempt_past_reserve() -> None:
    deadline = InvocationDeadline(ROUTER_ATTEMPT_MS, RESERVE_MS)
    deadline.start(lambda: ROUTER_ATTEMPT_MS + RESERVE_MS - 1)

    with pytest.raises(DeadlineExceeded) as raised:
        deadline.check(event_name="before-send.dynamodb.PutItem")

    assert "PutItem not sent" in str(raised.value)
    assert f"{ROUTER_ATTEMPT_MS + RESERVE_MS} ms needed" in str(raised.value)


def test_deadline_without_clock_allows_everything() -> None:
    InvocationDeadline(ROUTER_ATTEMPT_MS, RESERVE_MS).check(event_name="before-send.sts.GetCallerIdentity")


def test_client_stops_before_sending_late_request(endpoint: str) -> None:
    deadline = InvocationDeadline(ROUTER_ATTEMPT_MS, RESERVE_MS)
    deadline.start(lambda: RESERVE_MS)
    dynamodb = deadline_clients(deadline)("dynamodb")

    # The port is closed, so a request that went out would end in EndpointConnectionError instead.
    with pytest.raises(DeadlineExceeded):
        dynamodb.get_item(TableName="idempotency", Key={"id": {"S": "message#slack"}})


def test_client_sends_request_in_time(endpoint: str) -> None:
    deadline = InvocationDeadline(ROUTER_ATTEMPT_MS, RESERVE_MS)
    deadline.start(lambda: 60_000)
    dynamodb = deadline_clients(deadline)("dynamodb")

    with pytest.raises(EndpointConnectionError):
        dynamodb.get_item(TableName="idempotency", Key={"id": {"S": "message#slack"}})


def test_clients_cached_per_factory(endpoint: str) -> None:
    first = deadline_clients(InvocationDeadline(ROUTER_ATTEMPT_MS, RESERVE_MS))
    second = deadline_clients(InvocationDeadline(ROUTER_ATTEMPT_MS, RESERVE_MS))

    assert first("dynamodb") is first("dynamodb")
    assert first("dynamodb") is not second("dynamodb")
