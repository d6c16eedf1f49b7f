"""Slack incoming-webhook sender on slack_sdk, imported by `senders` when Slack is first used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest as RetryHttpRequest
from slack_sdk.http_retry.response import HttpResponse as RetryHttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from celebops.alerts.delivery_policy import Budget, Decision, RetryPolicy, Verdict, decide
from celebops.alerts.errors import PermanentDeliveryError, RetryableDeliveryError
from celebops.alerts.senders import _SILENT, Jitter, Sleeper, _short_body

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
