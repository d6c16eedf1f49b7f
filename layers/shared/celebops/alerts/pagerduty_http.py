"""PagerDuty Events API v2 sender on the pagerduty package, imported by `senders` when paging is first used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2
import pagerduty

from celebops.alerts.delivery_policy import Budget, RetryPolicy, Verdict, decide
from celebops.alerts.errors import PermanentDeliveryError, RetryableDeliveryError
from celebops.alerts.senders import Jitter, Sleeper, _short_body

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
