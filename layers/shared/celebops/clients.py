"""One factory for boto3 clients, so every call shares one retry and timeout policy.

The endpoint comes from the standard `AWS_ENDPOINT_URL` variable that boto3 reads itself, so the
same code reaches AWS in Lambda and the moto server in tests; nothing here knows which.

The alert router is the exception: its clients come from `deadline_clients`, with fewer attempts,
shorter timeouts and a check before each attempt, so its AWS calls end inside its invocation.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

# Adaptive mode adds client-side rate limiting on top of exponential backoff, which is what the
# control-plane APIs with low TPS limits need (DescribeLogGroups, PutRetentionPolicy, ListBackups).
# Ten attempts ride out a burst of throttling without outlasting a scheduled job's timeout.
_CONFIG = Config(
    retries={"max_attempts": 10, "mode": "adaptive"},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="celebrity-database-ops",
)

# The alert router has 60 s for a whole batch and makes several calls in a row (enrichment,
# secrets, idempotency records), so one call may not take most of it. Standard mode backs off
# for at most 1 s and then 2 s between three attempts (botocore 1.43, throttling errors), and
# other errors wait less. It has no client-side rate limiter that could wait as well. A call
# that hangs ends after at most 3 × (1 + 3) + 3 = 15 s, and a throttled call waits at most 3 s.
_ROUTER_CONNECT_TIMEOUT_SECONDS = 1
_ROUTER_READ_TIMEOUT_SECONDS = 3
ROUTER_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=_ROUTER_CONNECT_TIMEOUT_SECONDS,
    read_timeout=_ROUTER_READ_TIMEOUT_SECONDS,
    user_agent_extra="celebrity-database-ops",
)
#: Maximum duration of one attempt with ROUTER_CONFIG: its connect and read timeouts.
ROUTER_ATTEMPT_MS = (_ROUTER_CONNECT_TIMEOUT_SECONDS + _ROUTER_READ_TIMEOUT_SECONDS) * 1000


_CREATE_LOCK = threading.Lock()


@functools.cache
def _session() -> Any:
    """Return the process's one boto3 session.

    Every session loads the endpoint rules and service models again, about 50 ms per client at a
    cold start, so all clients share this one.
    """
    return boto3.session.Session()


def new_client(service: str, config: Config) -> Any:
    """Create a client from the shared session; creation is locked because worker threads may ask too."""
    with _CREATE_LOCK:
        return _session().client(service, config=config)


@functools.cache
def client(service: str) -> Any:
    """Return the process-wide client for `service`, created on first use (Lambda reuses it warm)."""
    return new_client(service, _CONFIG)


def reset_clients() -> None:
    """Forget cached clients and the session; tests call this after changing the endpoint or credentials."""
    client.cache_clear()
    _session.cache_clear()


class DeadlineExceeded(BotoCoreError):
    """An AWS request was not sent, because it could not finish before the invocation's deadline.

    A direct BotoCoreError subclass, so botocore's retry handler does not retry it and callers that
    handle BotoCoreError (enrichment, Powertools' providers) treat it as a failed call.
    """

    fmt = "{operation} not sent: {remaining_ms} ms left in the invocation, {needed_ms} ms needed"


class InvocationDeadline:
    """Stop AWS requests that could outlast the Lambda invocation, retries included.

    `check` runs on a client's `before-send` event, so before every attempt: an attempt is sent
    only while the remaining time covers `attempt_ms` (the client's connect and read timeouts)
    plus `reserve_ms`. The reserve also covers botocore's backoff before the next attempt (at
    most 2 s with ROUTER_CONFIG), after which the check fails. Until `start` gives it a clock,
    every request is sent.
    """

    def __init__(self, attempt_ms: int, reserve_ms: int) -> None:
        self.attempt_ms = attempt_ms
        self.reserve_ms = reserve_ms
        self._remaining_ms: Callable[[], int] | None = None

    def start(self, remaining_ms: Callable[[], int]) -> None:
        """Measure from now on against `remaining_ms`, usually the Lambda context's method."""
        self._remaining_ms = remaining_ms

    def check(self, event_name: str = "", **kwargs: Any) -> None:
        """Raise DeadlineExceeded when the next attempt could end after the reserve begins."""
        if self._remaining_ms is None:
            return
        remaining = self._remaining_ms()
        needed = self.attempt_ms + self.reserve_ms
        if remaining < needed:
            operation = event_name.rsplit(".", 1)[-1] or "request"
            raise DeadlineExceeded(operation=operation, remaining_ms=remaining, needed_ms=needed)


def deadline_clients(deadline: InvocationDeadline, config: Config = ROUTER_CONFIG) -> Callable[[str], Any]:
    """Return a client factory: one client per service with `config`, each checked against `deadline`.

    The clients belong to the caller, not to the process-wide cache, so the clients of a second
    deadline (a test that builds another router) carry only that deadline's hook.
    """

    @functools.cache
    def make(service: str) -> Any:
        created = new_client(service, config)
        created.meta.events.register("before-send", deadline.check)
        return created

    return make
