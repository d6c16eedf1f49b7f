"""Outbound delivery to Slack (incoming webhook) and PagerDuty (Events API v2).

The only module of the alert router that makes HTTP calls or reads secrets. Both senders follow
`delivery_policy`: bounded attempts, backoff with jitter, `Retry-After` honoured within the
invocation's remaining time, no retry on other 4xx. Webhook URLs and routing keys never reach a
log line or an exception message: errors carry the status code and the response body only.

The HTTP clients live in `slack_http` (slack_sdk) and `pagerduty_http` (pagerduty, httpx2) and
are imported when the first sender of their kind is built: together they take about 150 ms to
import, which a cold start without alerts for that destination (or with it disabled) then skips.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from celebops.alerts.delivery_policy import RetryPolicy
from celebops.config import env_int, env_optional
from celebops.errors import ConfigError

if TYPE_CHECKING:
    from celebops.alerts.pagerduty_http import PagerDutySender
    from celebops.alerts.slack_http import SlackSender

ENV_SLACK_SECRET = "SLACK_WEBHOOK_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
ENV_PAGERDUTY_SECRET = "PAGERDUTY_ROUTING_KEY_SECRET_ARN"  # noqa: S105
ENV_PAGERDUTY_URL = "PAGERDUTY_EVENTS_URL"
ENV_ALLOWED_TEST_HOST = "ALLOWED_TEST_HOST"
ENV_PARAMETERS_MAX_AGE = "POWERTOOLS_PARAMETERS_MAX_AGE"

DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com"
SLACK_PREFIX = "https://hooks.slack.com/"
PAGERDUTY_HOSTS = ("events.pagerduty.com", "events.eu.pagerduty.com")
MAX_ERROR_BODY = 300

Sleeper = Callable[[float], None]
Jitter = Callable[[], float]

# slack_sdk logs the webhook URL at DEBUG and the request error at ERROR; this logger drops both,
# and the senders log what happened themselves, without the URL.
_SILENT = logging.getLogger("celebops.alerts.silent_http")
_SILENT.addHandler(logging.NullHandler())
_SILENT.setLevel(logging.CRITICAL + 1)
_SILENT.propagate = False


# -- outbound guard ------------------------------------------------------------------------------


def _is_test_host(url: str, allowed_test_host: str | None) -> bool:
    parts = urlsplit(url)
    return bool(allowed_test_host) and parts.scheme in ("http", "https") and parts.hostname == allowed_test_host


def check_slack_url(url: str, allowed_test_host: str | None, variable: str = ENV_SLACK_SECRET) -> None:
    """Allow only Slack's webhook host (or the configured local test host); the URL itself is never echoed."""
    parts = urlsplit(url)
    if _is_test_host(url, allowed_test_host):
        return
    if (
        url.startswith(SLACK_PREFIX)
        and parts.hostname == "hooks.slack.com"
        and not parts.username
        and parts.port in (None, 443)
    ):
        return
    raise ConfigError(
        variable,
        f"the Slack webhook URL must start with {SLACK_PREFIX} (host {parts.hostname!r} is not allowed); "
        f"set {ENV_ALLOWED_TEST_HOST} only for a local test receiver",
    )


def check_pagerduty_url(url: str, allowed_test_host: str | None, variable: str = ENV_PAGERDUTY_URL) -> None:
    parts = urlsplit(url)
    if _is_test_host(url, allowed_test_host):
        return
    if (
        parts.scheme == "https"
        and parts.hostname in PAGERDUTY_HOSTS
        and not parts.username
        and parts.port in (None, 443)
    ):
        return
    raise ConfigError(
        variable,
        f"host {parts.hostname!r} is not a PagerDuty Events API host; use https://events.pagerduty.com "
        "or https://events.eu.pagerduty.com",
    )


# -- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderConfig:
    slack_secret_arn: str | None
    pagerduty_secret_arn: str | None
    pagerduty_url: str
    allowed_test_host: str | None
    secrets_max_age: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SenderConfig:
        allowed = env_optional(ENV_ALLOWED_TEST_HOST, env=env)
        url = env_optional(ENV_PAGERDUTY_URL, env=env) or DEFAULT_PAGERDUTY_URL
        check_pagerduty_url(url, allowed)
        return cls(
            slack_secret_arn=env_optional(ENV_SLACK_SECRET, env=env),
            pagerduty_secret_arn=env_optional(ENV_PAGERDUTY_SECRET, env=env),
            pagerduty_url=url.rstrip("/"),
            allowed_test_host=allowed,
            secrets_max_age=env_int(ENV_PARAMETERS_MAX_AGE, 300, minimum=0, env=env),
        )


def _short_body(body: Any) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text[:MAX_ERROR_BODY]


# The sender classes used to be defined here; their old import path still works.
_MOVED = {
    "SlackSender": "celebops.alerts.slack_http",
    "PolicyRetryHandler": "celebops.alerts.slack_http",
    "PagerDutySender": "celebops.alerts.pagerduty_http",
    "BoundedEventsClient": "celebops.alerts.pagerduty_http",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


# -- secrets and factory ----------------------------------------------------------------------------


#: Field of a JSON secret that contains the PagerDuty routing key, so one secret can serve both
#: destinations (each secret costs $0.40 a month).
PAGERDUTY_KEY_FIELD = "pagerduty_routing_key"


def _json_secret(secret: str, setting: str) -> Any:
    """Return the parsed secret when it is a JSON object string, or None when it is a plain value."""
    if not secret.startswith("{"):
        return None
    try:
        return json.loads(secret)
    except json.JSONDecodeError:
        raise ConfigError(setting, "the secret looks like JSON but does not parse") from None


def slack_url_for(secret: str, topic: str | None) -> str:
    """Pick the webhook URL for `topic` from the Slack secret (a URL, or a JSON map with `default`)."""
    urls = _json_secret(secret, ENV_SLACK_SECRET)
    if urls is None:
        return secret
    if not isinstance(urls, dict) or not all(isinstance(v, str) for v in urls.values()):
        raise ConfigError(ENV_SLACK_SECRET, "the JSON secret must map topic names to webhook URL strings")
    urls.pop(PAGERDUTY_KEY_FIELD, None)
    url = urls.get(topic or "default") or urls.get("default")
    if not url:
        raise ConfigError(ENV_SLACK_SECRET, f"the JSON secret has no URL for {topic!r} and no 'default'")
    return str(url)


@dataclass
class Senders:
    """Lazily built senders; a destination whose secret variable is empty is disabled (None)."""

    config: SenderConfig
    secrets: Any  # a Powertools SecretsProvider
    logger: Any
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleeper = time.sleep
    jitter: Jitter = random.random
    _slack: dict[str, SlackSender] = field(default_factory=dict, repr=False)
    _pagerduty: tuple[str, PagerDutySender] | None = field(default=None, repr=False)

    def _secret(self, arn: str, variable: str) -> str:
        value = self.secrets.get(arn, max_age=self.config.secrets_max_age)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(variable, "the secret string is empty; store the value as a plain string")
        return value.strip()

    def slack(self, topic: str | None = None) -> SlackSender | None:
        """Return the sender for `topic`'s channel, or None when Slack is not configured.

        The secret string is either one webhook URL, or a JSON object of topic name to URL with a
        `default` entry, so each severity can post to its own channel. Every URL passes the
        outbound guard before first use.
        """
        if self.config.slack_secret_arn is None:
            return None
        url = slack_url_for(self._secret(self.config.slack_secret_arn, ENV_SLACK_SECRET), topic)
        if url not in self._slack:
            check_slack_url(url, self.config.allowed_test_host)
            from celebops.alerts.slack_http import SlackSender

            self._slack[url] = SlackSender(url, self.policy, self.sleep, self.jitter, self.logger)
        return self._slack[url]

    def pagerduty(self) -> PagerDutySender | None:
        if self.config.pagerduty_secret_arn is None:
            return None
        key = pagerduty_key_from(self._secret(self.config.pagerduty_secret_arn, ENV_PAGERDUTY_SECRET))
        if self._pagerduty is None or self._pagerduty[0] != key:
            if len(key) != 32:
                raise ConfigError(ENV_PAGERDUTY_SECRET, f"the routing key has {len(key)} characters, expected 32")
            allow_http = _is_test_host(self.config.pagerduty_url, self.config.allowed_test_host)
            from celebops.alerts.pagerduty_http import PagerDutySender

            sender = PagerDutySender(
                key, self.config.pagerduty_url, self.policy, self.sleep, self.jitter, self.logger, allow_http
            )
            self._pagerduty = (key, sender)
        return self._pagerduty[1]


def pagerduty_key_from(secret: str) -> str:
    """Return the routing key: the whole secret string, or its `pagerduty_routing_key` field when JSON."""
    document = _json_secret(secret, ENV_PAGERDUTY_SECRET)
    if document is None:
        return secret
    key = document.get(PAGERDUTY_KEY_FIELD) if isinstance(document, dict) else None
    if not isinstance(key, str) or not key.strip():
        raise ConfigError(ENV_PAGERDUTY_SECRET, f"the JSON secret has no string field {PAGERDUTY_KEY_FIELD!r}")
    return key.strip()
