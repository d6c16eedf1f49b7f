"""Tests of the local Slack and PagerDuty receivers, over real HTTP and through the real client libraries."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import selectors
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pagerduty
import pytest
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from harness import receivers as rx
from harness.paths import ROOT
from harness.receivers import PAGERDUTY, SLACK, Receivers, SlackRules, start_receivers

ROUTING_KEY = "R0UT1NGKEYEXAMPLE000000000000000"  # 32 alphanumeric characters, as PagerDuty requires
SLACK_TOKEN = "s3cr3tW3bh00kT0k3nAbCdEf"
FIXED_NOW = dt.datetime(2025, 3, 4, 10, 15, 11, tzinfo=dt.UTC)


class FakeClock:
    """Monotonic seconds that advance only when a test sets them."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def deliveries_path(tmp_path: Path) -> Path:
    return tmp_path / "deliveries.jsonl"


@pytest.fixture
def receivers(deliveries_path: Path, clock: FakeClock) -> Iterator[Receivers]:
    with start_receivers(deliveries_path, clock=clock, now=lambda: FIXED_NOW) as running:
        yield running


def post(
    url: str,
    body: object,
    context: ssl.SSLContext | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, str], str]:
    """Send `body` (bytes as is, anything else as JSON) and return status, headers and text, errors included."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8")


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_slack(receivers: Receivers, message: object) -> tuple[int, str]:
    status, _, text = post(receivers.slack_url(SLACK_TOKEN), message)
    return status, text


def post_pagerduty(receivers: Receivers, event: object) -> tuple[int, dict[str, str], Any]:
    status, headers, text = post(receivers.pagerduty_enqueue_url, event, receivers.ssl_context())
    return status, headers, json.loads(text)


def trigger_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "payload": {"summary": "ALARM: orders-api-5xx", "source": "cloudwatch", "severity": "critical"},
    }
    event.update(overrides)
    return event


def with_payload(**fields: Any) -> dict[str, Any]:
    event = trigger_event()
    event["payload"] = {**event["payload"], **fields}
    return event


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def text_object(text: str, kind: str = "mrkdwn") -> dict[str, str]:
    return {"type": kind, "text": text}


# --- Slack acceptance -------------------------------------------------------------------------------------

EVERY_REQUIRED_BLOCK_TYPE = [
    {"type": "header", "text": text_object("orders-api-5xx", "plain_text")},
    section("*ALARM* since 10:15"),
    {"type": "section", "fields": [text_object("*Region*"), text_object("eu-west-1")]},
    {
        "type": "context",
        "elements": [text_object("runbook"), {"type": "image", "image_url": "https://x/i.png", "alt_text": "i"}],
    },
    {"type": "divider"},
    {
        "type": "actions",
        "elements": [{"type": "button", "text": text_object("Open", "plain_text"), "url": "https://x"}],
    },
    {"type": "image", "image_url": "https://x/graph.png", "alt_text": "graph"},
    {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]}]},
]

AT_THE_LIMITS = [
    pytest.param({"text": "x" * 4000}, id="text-4000"),
    pytest.param({"text": "t", "blocks": [section("b")] * 50}, id="50-blocks"),
    pytest.param(
        {"text": "t", "blocks": [{"type": "header", "text": text_object("h" * 150, "plain_text")}]}, id="header-150"
    ),
    pytest.param({"text": "t", "blocks": [section("s" * 3000)]}, id="section-3000"),
    pytest.param(
        {"text": "t", "blocks": [{"type": "section", "fields": [text_object("f" * 2000)] * 10}]}, id="fields-10x2000"
    ),
    pytest.param({"text": "t", "blocks": [{**section("s"), "block_id": "b" * 255}]}, id="block-id-255"),
    pytest.param({"text": "t", "blocks": [{"type": "context", "elements": [text_object("c")] * 10}]}, id="context-10"),
]


def test_slack_text_message_accepted(receivers: Receivers) -> None:
    status, text = post_slack(receivers, {"text": "ALARM: orders-api-5xx"})

    assert status == 200
    assert text == "ok"


def test_slack_every_block_type_accepted(receivers: Receivers) -> None:
    status, text = post_slack(receivers, {"text": "fallback", "blocks": EVERY_REQUIRED_BLOCK_TYPE})

    assert status == 200
    assert text == "ok"


@pytest.mark.parametrize("message", AT_THE_LIMITS)
def test_slack_values_at_limits_accepted(receivers: Receivers, message: dict[str, Any]) -> None:
    status, text = post_slack(receivers, message)

    assert status == 200
    assert text == "ok"


def test_slack_delivery_appended_with_redacted_path(receivers: Receivers, deliveries_path: Path) -> None:
    post_slack(receivers, {"text": "hello"})

    lines = deliveries_path.read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {
        "receiver": "slack",
        "received_at": "2025-03-04T10:15:11.000Z",
        "path": "/services/T000/B000/<redacted:CdEf>",
        "payload": {"text": "hello"},
    }


def test_slack_lenient_blocks_without_text_accepted(receivers: Receivers) -> None:
    receivers.set_slack_rules(SlackRules(require_text_fallback=False))

    status, text = post_slack(receivers, {"blocks": [section("only blocks")]})

    assert status == 200
    assert text == "ok"


def test_slack_text_over_40000_accepted_without_cap(receivers: Receivers) -> None:
    # Slack cuts top-level text after 40,000 characters instead of rejecting it.
    receivers.set_slack_rules(SlackRules(max_text=None))

    status, _ = post_slack(receivers, {"text": "x" * 40_001})

    assert status == 200


# --- Slack rejection --------------------------------------------------------------------------------------

SLACK_REJECTIONS = [
    pytest.param(b"not json", "invalid_payload", id="not-json"),
    pytest.param(b"\xff\xfe{}", "invalid_payload", id="not-utf8"),
    pytest.param(["text"], "invalid_payload", id="not-object"),
    pytest.param({"text": 5}, "invalid_payload", id="text-not-string"),
    pytest.param({"text": "x" * 4001}, "invalid_payload", id="text-over-max-text"),
    pytest.param({}, "no_text", id="empty-object"),
    pytest.param({"text": "   "}, "no_text", id="blank-text"),
    pytest.param({"blocks": [section("no fallback")]}, "no_text", id="blocks-without-text-strict"),
    pytest.param({"text": "t", "blocks": "section"}, "invalid_blocks", id="blocks-not-list"),
    pytest.param({"text": "t", "blocks": [section("b")] * 51}, "invalid_blocks", id="51-blocks"),
    pytest.param(
        {"text": "t", "blocks": [{"type": "header", "text": text_object("h" * 151, "plain_text")}]},
        "invalid_blocks",
        id="header-151",
    ),
    pytest.param(
        {"text": "t", "blocks": [{"type": "header", "text": text_object("h")}]}, "invalid_blocks", id="header-mrkdwn"
    ),
    pytest.param({"text": "t", "blocks": [section("s" * 3001)]}, "invalid_blocks", id="section-3001"),
    pytest.param({"text": "t", "blocks": [{"type": "section"}]}, "invalid_blocks", id="section-empty"),
    pytest.param(
        {"text": "t", "blocks": [{"type": "section", "fields": [text_object("f")] * 11}]},
        "invalid_blocks",
        id="fields-11",
    ),
    pytest.param(
        {"text": "t", "blocks": [{"type": "section", "fields": [text_object("f" * 2001)]}]},
        "invalid_blocks",
        id="field-2001",
    ),
    pytest.param(
        {"text": "t", "blocks": [{**section("s"), "block_id": "b" * 256}]}, "invalid_blocks", id="block-id-256"
    ),
    pytest.param({"text": "t", "blocks": [{"type": "carousel"}]}, "invalid_blocks", id="unknown-type"),
    pytest.param({"text": "t", "blocks": [{"text": text_object("x")}]}, "invalid_blocks", id="missing-type"),
    pytest.param(
        {"text": "t", "blocks": [{"type": "context", "elements": [text_object("c")] * 11}]},
        "invalid_blocks",
        id="context-11",
    ),
    pytest.param(
        {"text": "t", "blocks": [{"type": "section", "text": {"type": "markdown", "text": "x"}}]},
        "invalid_blocks",
        id="text-object-bad-type",
    ),
    pytest.param(
        {"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ["x"]}}]},
        "invalid_blocks",
        id="text-object-text-not-string",
    ),
    pytest.param(
        {"text": "t", "blocks": [{"type": "context", "elements": [{"type": "mrkdwn"}]}]},
        "invalid_blocks",
        id="context-text-missing",
    ),
    pytest.param(
        {"text": "t", "blocks": [{"type": "image", "image_url": "https://x"}]}, "invalid_blocks", id="image-no-alt"
    ),
]


@pytest.mark.parametrize(("body", "error"), SLACK_REJECTIONS)
def test_slack_invalid_message_rejected(receivers: Receivers, body: object, error: str) -> None:
    status, text = post_slack(receivers, body)

    assert status == 400
    assert text == error


def test_slack_rejection_logged_not_delivered(receivers: Receivers, deliveries_path: Path) -> None:
    post_slack(receivers, {"text": "t", "blocks": [section("s" * 3001)]})

    [record] = receivers.requests(SLACK)
    assert record.status == 400
    assert record.outcome is rx.Outcome.REJECTED
    assert record.error == "invalid_blocks"
    assert record.detail == ("blocks[0]: section text is 3001 characters, above the maximum of 3000",)
    assert not deliveries_path.exists()


# --- PagerDuty acceptance -----------------------------------------------------------------------------------


def test_pagerduty_trigger_generates_dedup_key(receivers: Receivers) -> None:
    status, _, body = post_pagerduty(receivers, trigger_event())

    assert status == 202
    assert body["status"] == "success"
    assert body["message"] == "Event processed"
    assert re.fullmatch(r"[0-9a-f]{32}", body["dedup_key"])


def test_pagerduty_trigger_echoes_dedup_key(receivers: Receivers) -> None:
    _, _, body = post_pagerduty(receivers, trigger_event(dedup_key="cw:orders-api-5xx"))

    assert body["dedup_key"] == "cw:orders-api-5xx"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(trigger_event(dedup_key="k" * 255), id="dedup-key-255"),
        pytest.param(with_payload(summary="s" * 1024), id="summary-1024"),
        pytest.param(with_payload(timestamp="2015-07-17T08:42:58.315+0000"), id="timestamp-pagerduty-example"),
        pytest.param(with_payload(timestamp="2025-03-04T10:15:10Z"), id="timestamp-z"),
        pytest.param(with_payload(severity="info", custom_details={"reason": "r" * 10_000}), id="custom-details"),
        pytest.param({"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "k"}, id="acknowledge"),
        pytest.param({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "k"}, id="resolve"),
    ],
)
def test_pagerduty_valid_event_accepted(receivers: Receivers, event: dict[str, Any]) -> None:
    status, _, body = post_pagerduty(receivers, event)

    assert status == 202
    assert body["status"] == "success"


def test_pagerduty_delivery_redacts_routing_key(receivers: Receivers, deliveries_path: Path) -> None:
    _, _, body = post_pagerduty(receivers, trigger_event())

    text = deliveries_path.read_text()
    delivery = json.loads(text)
    assert ROUTING_KEY not in text
    assert delivery["payload"]["routing_key"] == "<redacted:0000>"
    assert delivery["dedup_key"] == body["dedup_key"]
    assert delivery["receiver"] == "pagerduty"
    assert delivery["path"] == "/v2/enqueue"
    assert delivery["payload"]["payload"]["summary"] == "ALARM: orders-api-5xx"


# --- PagerDuty rejection ------------------------------------------------------------------------------------

PAGERDUTY_REJECTIONS = [
    pytest.param(b"{not json", "Event is not valid UTF-8 JSON", id="not-json"),
    pytest.param(["event"], "Event is not a JSON object", id="not-object"),
    pytest.param(
        trigger_event(routing_key=None), "'routing_key' is missing or is not a string", id="routing-key-missing"
    ),
    pytest.param(trigger_event(routing_key="a" * 31), rx.ROUTING_KEY_LENGTH_ERROR, id="routing-key-31"),
    pytest.param(trigger_event(routing_key="a-" * 16), rx.ROUTING_KEY_CHARACTERS_ERROR, id="routing-key-dash"),
    pytest.param(
        trigger_event(event_action="snooze"),
        "'event_action' must be one of: trigger, acknowledge, resolve",
        id="action",
    ),
    pytest.param(trigger_event(payload=None), "'payload' is missing or is not an object", id="payload-missing"),
    pytest.param(with_payload(summary=""), "'summary' is missing or empty", id="summary-empty"),
    pytest.param(with_payload(summary="s" * 1025), rx.SUMMARY_TOO_LONG_ERROR, id="summary-1025"),
    pytest.param(with_payload(source=""), "'source' is missing or empty", id="source-empty"),
    pytest.param(
        with_payload(severity="fatal"), "'severity' must be one of: critical, error, warning, info", id="severity"
    ),
    pytest.param(with_payload(timestamp="yesterday"), "'timestamp' is not an ISO 8601 date-time", id="timestamp"),
    pytest.param(
        trigger_event(dedup_key="k" * 256), "'dedup_key' is too long (maximum is 255 characters)", id="dedup-key-256"
    ),
    pytest.param(trigger_event(dedup_key=7), "'dedup_key' is not a string", id="dedup-key-number"),
    pytest.param(
        {"routing_key": ROUTING_KEY, "event_action": "resolve"},
        "'dedup_key' is required for acknowledge and resolve events",
        id="resolve-without-key",
    ),
    pytest.param(
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": ""},
        "'dedup_key' is required for acknowledge and resolve events",
        id="acknowledge-empty-key",
    ),
]


@pytest.mark.parametrize(("body", "error"), PAGERDUTY_REJECTIONS)
def test_pagerduty_invalid_event_rejected(receivers: Receivers, body: object, error: str) -> None:
    status, _, response = post_pagerduty(receivers, body)

    assert status == 400
    assert response["status"] == "invalid event"
    assert response["message"] == "Event object is invalid"
    assert error in response["errors"]


def test_pagerduty_event_over_512_kb_rejected(receivers: Receivers) -> None:
    event = with_payload(custom_details={"reason": "r" * (512 * 1024)})

    status, _, response = post_pagerduty(receivers, event)

    assert status == 400
    assert response["errors"][0].startswith("Event payload is ")


def test_pagerduty_lists_every_error(receivers: Receivers) -> None:
    event = trigger_event(routing_key="short", payload={"summary": "s", "source": "", "severity": "bad"})

    _, _, response = post_pagerduty(receivers, event)

    assert response["errors"] == [
        rx.ROUTING_KEY_LENGTH_ERROR,
        "'source' is missing or empty",
        "'severity' must be one of: critical, error, warning, info",
    ]


def test_pagerduty_rejection_logged_not_delivered(receivers: Receivers, deliveries_path: Path) -> None:
    post_pagerduty(receivers, with_payload(summary="s" * 1025))

    [record] = receivers.requests(PAGERDUTY)
    assert record.status == 400
    assert record.outcome is rx.Outcome.REJECTED
    assert record.detail == (rx.SUMMARY_TOO_LONG_ERROR,)
    assert record.payload["routing_key"] == "<redacted:0000>"
    assert not deliveries_path.exists()


# --- Faults -------------------------------------------------------------------------------------------------


def test_slack_outage_counts_down(receivers: Receivers) -> None:
    receivers.outage(SLACK, count=2)

    results = [post_slack(receivers, {"text": "t"}) for _ in range(3)]

    assert results == [(500, "rollup_error"), (500, "rollup_error"), (200, "ok")]


def test_slack_outage_503(receivers: Receivers) -> None:
    receivers.outage(SLACK, count=1, status=503)

    assert post_slack(receivers, {"text": "t"}) == (503, "service_unavailable")


def test_outage_window_ends_on_clock(receivers: Receivers, clock: FakeClock) -> None:
    receivers.outage(PAGERDUTY, seconds=10)
    during, _, _ = post_pagerduty(receivers, trigger_event())
    clock.seconds += 10

    after, _, _ = post_pagerduty(receivers, trigger_event())

    assert during == 500
    assert after == 202


def test_fault_without_limit_lasts_until_reset(receivers: Receivers) -> None:
    receivers.revoke_slack()
    statuses = [post_slack(receivers, {"text": "t"})[0] for _ in range(3)]
    receivers.reset(SLACK)

    assert statuses == [404, 404, 404]
    assert post_slack(receivers, {"text": "t"}) == (200, "ok")


def test_slack_revoked_answers_no_service(receivers: Receivers) -> None:
    receivers.revoke_slack(count=1)

    assert post_slack(receivers, {"text": "t"}) == (404, "no_service")


def test_slack_rate_limit_sends_retry_after(receivers: Receivers) -> None:
    receivers.rate_limit(SLACK, count=1, retry_after=2)

    status, headers, text = post(receivers.slack_url(SLACK_TOKEN), {"text": "t"})

    assert status == 429
    assert headers["Retry-After"] == "2"
    assert text == "rate_limited"


def test_pagerduty_rate_limit_sends_throttle_body(receivers: Receivers) -> None:
    receivers.rate_limit(PAGERDUTY, count=1, retry_after=30)

    status, headers, body = post_pagerduty(receivers, trigger_event())

    assert status == 429
    assert headers["Retry-After"] == "30"
    assert body == {
        "status": "throttle event",
        "message": "Requests for this service are arriving too quickly. Please retry later.",
    }


def test_pagerduty_outage_body_is_json(receivers: Receivers) -> None:
    receivers.outage(PAGERDUTY, count=1, status=502)

    status, _, body = post_pagerduty(receivers, trigger_event())

    assert status == 502
    assert body["status"] == "error"


def test_faults_are_not_delivered(receivers: Receivers, deliveries_path: Path) -> None:
    receivers.outage(SLACK, count=1)
    receivers.rate_limit(PAGERDUTY, count=1)

    post_slack(receivers, {"text": "t"})
    post_pagerduty(receivers, trigger_event())

    outcomes = [record.outcome for record in receivers.requests()]
    assert outcomes == [rx.Outcome.FAULT, rx.Outcome.FAULT]
    assert not deliveries_path.exists()


def test_script_answers_in_order_then_validates(receivers: Receivers, deliveries_path: Path) -> None:
    receivers.outage(SLACK)  # scripted responses come before a fault
    receivers.script(SLACK, [(429, {"Retry-After": "2"}, "rate_limited"), (200, {}, "ok")])

    first = post_slack(receivers, {"text": "t"})
    second = post_slack(receivers, {"text": "t"})
    receivers.reset(SLACK)
    third = post_slack(receivers, {"text": "t"})

    assert first == (429, "rate_limited")
    assert second == (200, "ok")
    assert third == (200, "ok")
    assert len(deliveries_path.read_text().splitlines()) == 1
    assert [record.outcome for record in receivers.requests()][:2] == [rx.Outcome.SCRIPTED, rx.Outcome.SCRIPTED]


def test_script_json_body(receivers: Receivers) -> None:
    receivers.script(PAGERDUTY, [rx.ScriptedResponse(400, body={"status": "invalid event", "errors": ["x"]})])

    status, _, body = post_pagerduty(receivers, trigger_event())

    assert status == 400
    assert body["errors"] == ["x"]


@pytest.mark.parametrize(
    ("receiver", "mode", "options", "message"),
    [
        pytest.param(PAGERDUTY, "revoked", {}, "only for the slack receiver", id="revoked-pagerduty"),
        pytest.param(SLACK, "outage", {"count": 0}, "count must be a positive integer", id="count-zero"),
        pytest.param(SLACK, "outage", {"seconds": -1}, "seconds must be a positive number", id="seconds-negative"),
        pytest.param(SLACK, "outage", {"status": 404}, "does not fit mode 'outage'", id="outage-404"),
        pytest.param(SLACK, "rate_limit", {"retry_after": -1}, "retry_after must be", id="retry-after-negative"),
        pytest.param(SLACK, "flood", {}, "is not a valid FaultMode", id="unknown-mode"),
        pytest.param("teams", "outage", {}, "unknown receiver 'teams'", id="unknown-receiver"),
    ],
)
def test_set_fault_invalid_raises(
    receivers: Receivers, receiver: str, mode: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        receivers.set_fault(receiver, mode, **options)

    assert receivers.hub.state(SLACK)["fault"] is None


# --- Control API over HTTP ----------------------------------------------------------------------------------


def test_control_sets_slack_outage(receivers: Receivers) -> None:
    status, _, text = post(receivers.control_url + "/slack", {"mode": "outage", "count": 1})

    assert status == 200
    assert json.loads(text)["fault"]["remaining"] == 1
    assert post_slack(receivers, {"text": "t"}) == (500, "rollup_error")
    assert post_slack(receivers, {"text": "t"}) == (200, "ok")


def test_control_sets_pagerduty_rate_limit(receivers: Receivers) -> None:
    post(receivers.control_url + "/pagerduty", {"mode": "rate_limit", "count": 1, "retry_after": 7})

    status, headers, _ = post_pagerduty(receivers, trigger_event())

    assert status == 429
    assert headers["Retry-After"] == "7"


def test_control_script_takes_fixture_shape(receivers: Receivers) -> None:
    scenario = [{"status": 429, "headers": {"Retry-After": "2"}, "text": "rate_limited"}, {"status": 200, "text": "ok"}]

    status, _, text = post(receivers.control_url + "/slack", {"mode": "script", "responses": scenario})

    assert status == 200
    assert json.loads(text)["scripted"] == 2
    assert post_slack(receivers, {"text": "t"}) == (429, "rate_limited")


def test_control_reset_mode_clears_fault(receivers: Receivers) -> None:
    receivers.revoke_slack()

    post(receivers.control_url + "/slack", {"mode": "reset"})

    assert post_slack(receivers, {"text": "t"}) == (200, "ok")


def test_control_reset_clears_everything(receivers: Receivers) -> None:
    post_slack(receivers, {"text": "t"})
    receivers.outage(PAGERDUTY)

    status, _, _ = post(receivers.control_url + "/reset", {})

    assert status == 200
    assert receivers.requests() == []
    assert post_pagerduty(receivers, trigger_event())[0] == 202


def test_control_requests_lists_and_filters(receivers: Receivers) -> None:
    post_slack(receivers, {"text": "t"})
    post_pagerduty(receivers, trigger_event())

    _, everything = get_json(receivers.control_url + "/requests")
    _, slack_only = get_json(receivers.control_url + "/requests?receiver=slack")

    assert [record["receiver"] for record in everything] == ["slack", "pagerduty"]
    assert [record["status"] for record in everything] == [200, 202]
    assert [record["receiver"] for record in slack_only] == ["slack"]


@pytest.mark.parametrize(
    ("path", "body", "expected_status"),
    [
        pytest.param("/slack", {"mode": "flood"}, 400, id="unknown-mode"),
        pytest.param("/slack", ["outage"], 400, id="not-object"),
        pytest.param("/slack", {"mode": "outage", "count": "3"}, 400, id="count-string"),
        pytest.param("/pagerduty", {"mode": "revoked"}, 400, id="revoked-pagerduty"),
        pytest.param("/slack", {"mode": "script", "responses": []}, 400, id="empty-script"),
        pytest.param("/slack", {"mode": "script", "responses": [{"status": "429"}]}, 400, id="script-status-string"),
        pytest.param("/teams", {"mode": "outage"}, 404, id="unknown-receiver"),
    ],
)
def test_control_invalid_request_rejected(receivers: Receivers, path: str, body: object, expected_status: int) -> None:
    status, _, text = post(receivers.control_url + path, body)

    assert status == expected_status
    assert json.loads(text)["error"]


def test_control_requests_unknown_receiver(receivers: Receivers) -> None:
    status, body = get_json(receivers.control_url + "/requests?receiver=teams")

    assert status == 400
    assert "teams" in body["error"]


def test_control_health(receivers: Receivers) -> None:
    assert get_json(receivers.control_url + "/health") == (200, {"status": "ok"})


def test_listeners_share_state(receivers: Receivers) -> None:
    post(receivers.control_url + "/slack", {"mode": "revoked", "count": 1})

    status, _, text = post(receivers.slack_url(SLACK_TOKEN, https=True), {"text": "t"}, receivers.ssl_context())

    assert status == 404
    assert text == "no_service"


@pytest.mark.parametrize(
    ("url_name", "method", "expected"),
    [
        pytest.param("slack", "GET", 405, id="slack-get"),
        pytest.param("pagerduty", "PUT", 405, id="pagerduty-put"),
        pytest.param("other", "POST", 404, id="unknown-path"),
    ],
)
def test_routing_rejects_other_requests(receivers: Receivers, url_name: str, method: str, expected: int) -> None:
    urls = {
        "slack": receivers.slack_url(SLACK_TOKEN),
        "pagerduty": receivers.http_url + "/v2/enqueue",
        "other": receivers.http_url + "/v1/create_event.json",
    }

    status, _, _ = post(urls[url_name], {}, method=method)

    assert status == expected


# --- Redaction ----------------------------------------------------------------------------------------------


def test_redact_keeps_last_four() -> None:
    assert rx.redact(ROUTING_KEY) == "<redacted:0000>"
    assert rx.redact("short") == "<redacted>"


def test_redact_path_hides_slack_token() -> None:
    assert rx.redact_path(f"/services/T000/B000/{SLACK_TOKEN}") == "/services/T000/B000/<redacted:CdEf>"
    assert rx.redact_path("/v2/enqueue") == "/v2/enqueue"


def test_secrets_absent_everywhere(
    receivers: Receivers, deliveries_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="harness.receivers")
    post_slack(receivers, {"text": "t"})
    post_slack(receivers, {})
    post_pagerduty(receivers, trigger_event())
    post_pagerduty(receivers, trigger_event(event_action="snooze"))

    _, control_log = get_json(receivers.control_url + "/requests")
    logged = " ".join(str(record.__dict__) for record in caplog.records)
    exposed = {
        "deliveries": deliveries_path.read_text(),
        "control": json.dumps(control_log),
        "log": logged,
    }
    for text in exposed.values():
        assert ROUTING_KEY not in text
        assert SLACK_TOKEN not in text


# --- Real clients -------------------------------------------------------------------------------------------


def test_slack_sdk_posts_message(receivers: Receivers) -> None:
    response = WebhookClient(receivers.slack_url(SLACK_TOKEN)).send(text="ALARM", blocks=[section("*ALARM*")])

    assert response.status_code == 200
    assert response.body == "ok"


def test_slack_sdk_sees_invalid_blocks(receivers: Receivers) -> None:
    response = WebhookClient(receivers.slack_url(SLACK_TOKEN)).send(text="t", blocks=[section("s" * 3001)])

    assert response.status_code == 400
    assert response.body == "invalid_blocks"


def test_slack_sdk_over_https(receivers: Receivers) -> None:
    client = WebhookClient(receivers.slack_url(SLACK_TOKEN, https=True), ssl=receivers.ssl_context())

    assert client.send(text="t").status_code == 200


def test_slack_sdk_honours_retry_after(receivers: Receivers, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=sleeps.append))
    receivers.rate_limit(SLACK, count=1, retry_after=2)
    client = WebhookClient(
        receivers.slack_url(SLACK_TOKEN), retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )

    response = client.send(text="t")

    assert response.status_code == 200
    assert len(sleeps) == 1
    assert 2 <= sleeps[0] < 3  # Retry-After plus slack_sdk's random jitter below one second
    assert [record.status for record in receivers.requests(SLACK)] == [429, 200]


def test_slack_sdk_without_handler_returns_429(receivers: Receivers) -> None:
    receivers.rate_limit(SLACK, count=1, retry_after=5)

    response = WebhookClient(receivers.slack_url(SLACK_TOKEN)).send(text="t")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "5"


def test_pagerduty_client_rejects_http_base_url(receivers: Receivers) -> None:
    with pytest.raises(pagerduty.UrlError) as raised:
        pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=receivers.http_url)

    assert "https" in str(raised.value)


def test_pagerduty_client_trigger_and_resolve(receivers: Receivers) -> None:
    with pagerduty.EventsApiV2Client(
        ROUTING_KEY, base_url=receivers.pagerduty_url, verify=receivers.ssl_context()
    ) as client:
        generated = client.trigger("ALARM: orders-api-5xx", "cloudwatch", severity="error")
        given = client.trigger("ALARM", "cloudwatch", dedup_key="cw:orders-api-5xx")
        resolved = client.resolve("cw:orders-api-5xx")

    assert len(generated) == 32
    assert given == "cw:orders-api-5xx"
    assert resolved == "cw:orders-api-5xx"
    assert [delivery["payload"]["event_action"] for delivery in receivers.deliveries(PAGERDUTY)] == [
        "trigger",
        "trigger",
        "resolve",
    ]


def test_pagerduty_client_trusts_ssl_cert_file(receivers: Receivers, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in receivers.client_environment().items():
        monkeypatch.setenv(name, value)

    with pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=receivers.pagerduty_url) as client:
        dedup_key = client.trigger("ALARM", "cloudwatch", dedup_key="k1")

    assert dedup_key == "k1"


def test_pagerduty_client_raises_on_400(receivers: Receivers) -> None:
    with (
        pagerduty.EventsApiV2Client(
            ROUTING_KEY, base_url=receivers.pagerduty_url, verify=receivers.ssl_context()
        ) as client,
        pytest.raises(pagerduty.HttpError) as raised,
    ):
        client.trigger("s" * 1025, "cloudwatch")

    assert raised.value.response.status_code == 400
    assert raised.value.response.json()["errors"] == [rx.SUMMARY_TOO_LONG_ERROR]


def test_pagerduty_client_retries_429_by_itself(receivers: Receivers, monkeypatch: pytest.MonkeyPatch) -> None:
    # pagerduty 7.2.0 retries 429 without limit, sleeping 1.5 s x 2^n and ignoring Retry-After.
    sleeps: list[float] = []
    monkeypatch.setattr(pagerduty.api_client, "time", SimpleNamespace(sleep=sleeps.append))
    receivers.rate_limit(PAGERDUTY, count=3, retry_after=60)

    with pagerduty.EventsApiV2Client(
        ROUTING_KEY, base_url=receivers.pagerduty_url, verify=receivers.ssl_context()
    ) as client:
        dedup_key = client.trigger("ALARM", "cloudwatch", dedup_key="k1")

    assert dedup_key == "k1"
    assert sleeps == [3.0, 6.0, 12.0]
    assert [record.status for record in receivers.requests(PAGERDUTY)] == [429, 429, 429, 202]


@pytest.mark.parametrize(("status", "attempts"), [(500, 3), (502, 5), (503, 7)])
def test_pagerduty_client_retries_5xx_then_raises(
    receivers: Receivers, monkeypatch: pytest.MonkeyPatch, status: int, attempts: int
) -> None:
    # EventsApiV2Client sets retry = {500: 2, 502: 4, 503: 6, 504: 6} extra attempts.
    monkeypatch.setattr(pagerduty.api_client, "time", SimpleNamespace(sleep=lambda seconds: None))
    receivers.outage(PAGERDUTY, status=status)

    with (
        pagerduty.EventsApiV2Client(
            ROUTING_KEY, base_url=receivers.pagerduty_url, verify=receivers.ssl_context()
        ) as client,
        pytest.raises(pagerduty.ServerHttpError) as raised,
    ):
        client.trigger("ALARM", "cloudwatch")

    assert raised.value.response.status_code == status
    assert len(receivers.requests(PAGERDUTY)) == attempts


# --- Command line -------------------------------------------------------------------------------------------


def test_command_line_runs_until_sigterm(tmp_path: Path) -> None:
    deliveries = tmp_path / "cli.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.receivers", "--deliveries", str(deliveries)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=30)
        assert ready, "the receivers printed no URLs within 30 s"
        urls = json.loads(process.stdout.readline())
        status, _, text = post(urls["slack_url"], {"text": "from the command line"})
        process.send_signal(signal.SIGTERM)
        return_code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert (status, text) == (200, "ok")
    assert return_code == 0
    assert json.loads(deliveries.read_text())["payload"] == {"text": "from the command line"}
    assert urls["pagerduty_url"].startswith("https://127.0.0.1:")
    assert not Path(urls["ca_file"]).exists()  # the TLS directory is removed on stop
