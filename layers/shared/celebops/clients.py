"""One factory for boto3 clients, so every call shares one retry and timeout policy.

The endpoint comes from the standard `AWS_ENDPOINT_URL` variable that boto3 reads itself, so the
same code reaches AWS in Lambda and the moto server in tests; nothing here knows which.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

# Adaptive mode adds client-side rate limiting on top of exponential backoff, which is what the
# control-plane APIs with low TPS limits need (DescribeLogGroups, PutRetentionPolicy, ListBackups).
# Ten attempts ride out a burst of throttling without outlasting a scheduled job's timeout.
_CONFIG = Config(
    retries={"max_attempts": 10, "mode": "adaptive"},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="celebrity-database-ops",
)


@functools.cache
def client(service: str) -> Any:
    """Return the process-wide client for `service`, created on first use (Lambda reuses it warm)."""
    session: Any = boto3.session.Session()
    return session.client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients; tests call this after changing the endpoint or credentials."""
    client.cache_clear()
