"""Outbound delivery to Slack (incoming webhook) and PagerDuty (Events API v2).

The only module of the alert router that makes HTTP calls or reads secrets. Both senders follow
`delivery_policy`: bounded attempts, backoff with jitter, `Retry-After` honoured within the
invocation's remaining time, no retry on other 4xx. Webhook URLs and routing keys never reach a
log line or an exception message: errors carry the status code and the response body only.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pagerduty
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest as RetryHttpRequest
from slack_sdk.http_retry.response import HttpResponse as RetryHttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from celebops.alerts.delivery_policy import Budget, Decision, RetryPolicy, Verdict, decide
from celebops.alerts.errors import PermanentDeliveryError, RetryableDeliveryError
from celebops.config import env_int, env_optional
from celebops.errors import ConfigError

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


# -- Slack ----------------------------------------------------------------------------------------


@dataclass
class _Attempts:
    """Attempt count and last decision of one send, for the sender's log line and error."""

    attempts: int = 1
    last: Decision | None = None


class PolicyRetryHandler(RetryHandler):
    """slack_sdk retry handler that applies `delivery_policy` with an injected sleeper and budget."""

    def __init__(self, policy: RetryPolicy, budget: Budget, sleep: Sleeper, jitter: Jitter) -> None:
        super().__init__(max_retry_count=policy.max_attempts - 1)
        self.policy = policy
        self.budget = budget
        self.sleep = sleep
        self.jitter = jitter
        self.record = _Attempts()

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: RetryHttpRequest,
        response: RetryHttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        status = response.status_code if response is not None else None
        if response is None and error is None:
            return False
        decision = decide(
            status,
            response.headers if response else None,
            state.current_attempt + 1,
            self.policy,
            self.budget,
            self.jitter,
        )
        self.record.last = decision
        return decision.verdict is Verdict.RETRY

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: RetryHttpRequest,
        response: RetryHttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        delay = self.record.last.delay_seconds if self.record.last else self.policy.base_delay_seconds
        self.sleep(delay)
        state.increment_current_attempt()
        self.record.attempts = state.current_attempt + 1


def _short_body(body: Any) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text[:MAX_ERROR_BODY]


class SlackSender:
    """Posts one webhook body, retrying within the policy; raises a DeliveryError on failure."""

    destination = "slack"

    def __init__(self, url: str, policy: RetryPolicy, sleep: Sleeper, jitter: Jitter, logger: Any) -> None:
        self._url = url
        self._policy = policy
        self._sleep = sleep
        self._jitter = jitter
        self._logger = logger

    def __repr__(self) -> str:
        return "SlackSender(url=<secret>)"

    def send(self, body: dict[str, Any], budget: Budget) -> int:
        """Post `body`; return the number of attempts it took."""
        handler = PolicyRetryHandler(self._policy, budget, self._sleep, self._jitter)
        client = WebhookClient(
            self._url,
            timeout=int(self._policy.read_timeout_seconds),
            retry_handlers=[handler],
            logger=_SILENT,
        )
        try:
            response = client.send_dict(body)
        except Exception as exc:  # urllib raises many types, and all are transport failures
            raise RetryableDeliveryError(
                self.destination, f"request failed after {handler.record.attempts} attempts ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return handler.record.attempts
        detail = _short_body(response.body)
        if status == 429 or status >= 500:
            reason = handler.record.last.reason if handler.record.last else "not retried"
            self._logger.warning(
                "slack delivery rate limited or unavailable",
                extra={
                    "status": status,
                    "response_body": detail,
                    "attempts": handler.record.attempts,
                    "reason": reason,
                },
            )
            raise RetryableDeliveryError(self.destination, f"HTTP {status} {detail!r}; {reason}", status=status)
        self._logger.error(
            "slack webhook invalid or revoked" if status in (403, 404, 410) else "slack rejected the message",
            extra={"status": status, "response_body": detail},
        )
        raise PermanentDeliveryError(self.destination, f"HTTP {status} {detail!r}", status=status)


# -- PagerDuty ------------------------------------------------------------------------------------


class _RateLimited(Exception):
    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        super().__init__("HTTP 429")


class BoundedEventsClient(pagerduty.EventsApiV2Client):
    """EventsApiV2Client that makes exactly one HTTP request per call.

    pagerduty 7.2.0 (`ApiClient.request`) retries 429 without limit and 5xx up to 6 times with
    `time.sleep`, and network errors 3 times, none of it aware of the Lambda's remaining time.
    Here the retry table is emptied, network retries are off, and a 429 leaves the loop through
    the `postprocess` hook, so `delivery_policy` decides every retry.
    """

    def __init__(self, routing_key: str, base_url: str, timeout: httpx2.Timeout, allow_http: bool) -> None:
        self._allow_http = allow_http
        super().__init__(routing_key, base_url=base_url)
        self.retry = {}
        self.max_network_attempts = 0
        # httpx2 accepts a Timeout object where the library declares an int of seconds.
        self.timeout = timeout  # type: ignore[assignment]

    @property
    def url(self) -> str:
        return self._url  # type: ignore[return-value]

    @url.setter
    def url(self, new_base_url: str) -> None:
        # The library accepts only https; the outbound guard has already limited http to the
        # configured local test host.
        if new_base_url.startswith("https://") or (self._allow_http and new_base_url.startswith("http://")):
            self._url = new_base_url
            return
        raise pagerduty.UrlError("API base URL must use scheme https://")

    def postprocess(self, response: httpx2.Response) -> None:
        if response.status_code == 429:
            raise _RateLimited(response)


class PagerDutySender:
    destination = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        base_url: str,
        policy: RetryPolicy,
        sleep: Sleeper,
        jitter: Jitter,
        logger: Any,
        allow_http: bool = False,
    ) -> None:
        timeout = httpx2.Timeout(policy.read_timeout_seconds, connect=policy.connect_timeout_seconds)
        self._client = BoundedEventsClient(routing_key, base_url, timeout, allow_http)
        self._policy = policy
        self._sleep = sleep
        self._jitter = jitter
        self._logger = logger

    def __repr__(self) -> str:
        return "PagerDutySender(routing_key=<secret>)"

    def _attempt(self, event: dict[str, Any]) -> tuple[int | None, Mapping[str, Any] | None, str]:
        properties = {k: v for k, v in event.items() if k not in ("event_action", "dedup_key")}
        try:
            self._client.send_event(event["event_action"], dedup_key=event.get("dedup_key"), **properties)
        except _RateLimited as limited:
            return 429, dict(limited.response.headers), limited.response.text
        except pagerduty.HttpError as exc:
            response = exc.response
            if response is None:
                return None, None, type(exc).__name__
            return response.status_code, dict(response.headers), response.text
        except (pagerduty.Error, httpx2.HTTPError) as exc:
            return None, None, type(exc).__name__
        return 202, None, ""

    def send(self, event: dict[str, Any], budget: Budget) -> int:
        """Enqueue `event`; return the number of attempts it took."""
        attempt = 0
        while True:
            attempt += 1
            status, headers, body = self._attempt(event)
            decision = decide(status, headers, attempt, self._policy, budget, self._jitter)
            if decision.verdict is Verdict.SUCCESS:
                return attempt
            detail = _short_body(body)
            if decision.verdict is Verdict.RETRY:
                self._logger.info(
                    "pagerduty delivery retrying",
                    extra={"status": status, "attempt": attempt, "delay_seconds": round(decision.delay_seconds, 2)},
                )
                self._sleep(decision.delay_seconds)
                continue
            if decision.verdict is Verdict.RETRYABLE_FAILURE:
                self._logger.warning(
                    "pagerduty delivery rate limited or unavailable",
                    extra={"status": status, "response_body": detail, "attempts": attempt, "reason": decision.reason},
                )
                raise RetryableDeliveryError(self.destination, f"HTTP {status} {detail!r}; {decision.reason}", status)
            self._logger.error("pagerduty rejected the event", extra={"status": status, "response_body": detail})
            raise PermanentDeliveryError(self.destination, f"HTTP {status} {detail!r}", status)


# -- secrets and factory ----------------------------------------------------------------------------


def slack_url_for(secret: str, topic: str | None) -> str:
    """Pick the webhook URL for `topic` from the Slack secret (a URL, or a JSON map with `default`)."""
    if not secret.startswith("{"):
        return secret
    try:
        urls = json.loads(secret)
    except json.JSONDecodeError:
        raise ConfigError(ENV_SLACK_SECRET, "the secret looks like JSON but does not parse") from None
    if not isinstance(urls, dict) or not all(isinstance(v, str) for v in urls.values()):
        raise ConfigError(ENV_SLACK_SECRET, "the JSON secret must map topic names to webhook URL strings")
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
            self._slack[url] = SlackSender(url, self.policy, self.sleep, self.jitter, self.logger)
        return self._slack[url]

    def pagerduty(self) -> PagerDutySender | None:
        if self.config.pagerduty_secret_arn is None:
            return None
        key = self._secret(self.config.pagerduty_secret_arn, ENV_PAGERDUTY_SECRET)
        if self._pagerduty is None or self._pagerduty[0] != key:
            if len(key) != 32:
                raise ConfigError(ENV_PAGERDUTY_SECRET, f"the routing key has {len(key)} characters, expected 32")
            allow_http = _is_test_host(self.config.pagerduty_url, self.config.allowed_test_host)
            sender = PagerDutySender(
                key, self.config.pagerduty_url, self.policy, self.sleep, self.jitter, self.logger, allow_http
            )
            self._pagerduty = (key, sender)
        return self._pagerduty[1]
