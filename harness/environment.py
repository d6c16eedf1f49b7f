"""A whole local environment: moto server, Slack and PagerDuty receivers, and the deployed suite.

Secrets that point at the local receivers stand in for the operators' real ones, so the alert
router's code path (Secrets Manager, outbound guard, HTTP) is the one that runs in AWS.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from harness import moto_server
from harness.deploy import Deployment, deploy
from harness.invoke import Invocation, invoke
from harness.paths import DELIVERIES

# A made-up routing key in PagerDuty's 32-character format; the local receiver checks the format.
LOCAL_ROUTING_KEY = "R0UT1NGKEYL0CAL00000000000000000"
LOCAL_SLACK_TOKEN = "LOCALTOKEN0000000000000000"  # noqa: S105 - not a secret


def parse_overrides(text: str) -> dict[str, str]:
    """Parse `Name=Value Name2=Value2`; a value may hold spaces and JSON quotes, or be quoted whole.

    A new pair starts only at whitespace followed by `Name=`, so `LogRetentionPolicy={"/aws/lambda/": 30}`
    keeps its JSON intact, which shell-style splitting would strip of its quotes.
    """
    overrides = {}
    for token in re.split(r"\s+(?=[A-Za-z][A-Za-z0-9]*=)", text.strip()):
        if not token:
            continue
        name, sep, value = token.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
            raise ValueError(f"parameter override {token!r} is not Name=Value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        overrides[name] = value
    return overrides


class LocalEnvironment:
    """Start everything on 127.0.0.1, deploy template.yaml into it, and stop it all on exit."""

    def __init__(
        self,
        config_env: str = "default",
        overrides: Mapping[str, str] | None = None,
        deliveries_path: Path = DELIVERIES,
        slack_token: str = LOCAL_SLACK_TOKEN,
        routing_key: str = LOCAL_ROUTING_KEY,
    ) -> None:
        self.config_env = config_env
        self.overrides = dict(overrides or {})
        self.deliveries_path = deliveries_path
        self.slack_token = slack_token
        self.routing_key = routing_key
        self.moto: moto_server.MotoServer | None = None
        self.receivers: Any = None
        self.deployment: Deployment
        self._saved_environ: dict[str, str | None] = {}

    @property
    def aws(self) -> dict[str, str]:
        assert self.moto is not None
        return self.moto.environment()

    def __enter__(self) -> LocalEnvironment:
        from harness.receivers import start_receivers

        self.moto = moto_server.start()
        try:
            for name, value in self.aws.items():
                self._saved_environ[name] = os.environ.get(name)
                os.environ[name] = value
            self.deliveries_path.parent.mkdir(parents=True, exist_ok=True)
            self.receivers = start_receivers(deliveries_path=self.deliveries_path, port=0)
            self.deployment = deploy(self.config_env, {**self._local_overrides(), **self.overrides})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _local_overrides(self) -> dict[str, str]:
        """Placeholder secrets for the local receivers, and the local host the router may reach."""
        secrets = boto3.client("secretsmanager")
        slack = secrets.create_secret(
            Name="celebrity-database-ops/slack-webhook-url", SecretString=self.receivers.slack_url(self.slack_token)
        )
        pagerduty = secrets.create_secret(
            Name="celebrity-database-ops/pagerduty-routing-key", SecretString=self.routing_key
        )
        return {
            "SlackWebhookSecretArn": slack["ARN"],
            "PagerDutyRoutingKeySecretArn": pagerduty["ARN"],
            "PagerDutyEventsUrl": self.receivers.pagerduty_url,
            "LocalTestHost": "127.0.0.1",
        }

    def invoke(self, logical_id: str, event: Any, extra_environment: dict[str, str] | None = None) -> Invocation:
        # The receivers' HTTPS listener uses a throwaway CA; the function trusts it the way it
        # trusts AWS's public CAs in Lambda, through SSL_CERT_FILE, so the code needs no local branch.
        trust = self.receivers.client_environment() if self.receivers is not None else {}
        return invoke(self.deployment.functions[logical_id], event, self.aws, {**trust, **(extra_environment or {})})

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.receivers is not None:
            self.receivers.stop()
            self.receivers = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()
