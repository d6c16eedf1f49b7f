"""What the demo summary lists of the PagerDuty events it received."""

from __future__ import annotations

from harness.demo import pagerduty_events_that_act


def _event(action: str, key: str) -> dict[str, str]:
    return {"action": action, "dedup_key": key, "summary": ""}


def test_resolve_before_trigger_omitted() -> None:
    events = [_event("resolve", "a"), _event("trigger", "a"), _event("resolve", "a")]

    assert pagerduty_events_that_act(events) == events[1:]


def test_repeated_resolve_omitted() -> None:
    events = [_event("trigger", "a"), _event("resolve", "a"), _event("resolve", "a"), _event("trigger", "b")]

    assert pagerduty_events_that_act(events) == [events[0], events[1], events[3]]


def test_triggers_and_acknowledge_kept() -> None:
    events = [_event("trigger", "a"), _event("trigger", "a"), _event("acknowledge", "a"), _event("resolve", "a")]

    assert pagerduty_events_that_act(events) == events
