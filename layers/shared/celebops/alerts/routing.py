"""Where an alert goes: Slack, PagerDuty, both or neither, and what PagerDuty should do.

Defaults (the operators' rule): the critical topic pages and posts to Slack; warnings, info and
cost post to Slack (email comes from SNS subscriptions). Only alarms and critical findings page:
ALARM triggers, OK resolves, INSUFFICIENT_DATA never pages. `ROUTING_CONFIG` may change the
destinations per topic and per alarm-name prefix, for example::

    {"topics": {"warnings": ["slack"], "unknown": ["slack"]},
     "alarm_prefixes": [{"prefix": "scraper-", "team": "data", "channel": "#data-alerts",
                         "destinations": ["slack"]}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from celebops.alerts.model import AlarmState, Alert, AlertKind
from celebops.config import env_json, env_optional
from celebops.constants import (
    ENV_ALERT_TOPIC_COST,
    ENV_ALERT_TOPIC_CRITICAL,
    ENV_ALERT_TOPIC_INFO,
    ENV_ALERT_TOPIC_WARNINGS,
)
from celebops.errors import ConfigError
from celebops.findings import Severity

ENV_ROUTING_CONFIG = "ROUTING_CONFIG"


class Topic(StrEnum):
    CRITICAL = "critical"
    WARNINGS = "warnings"
    INFO = "info"
    COST = "cost"
    UNKNOWN = "unknown"


class Destination(StrEnum):
    SLACK = "slack"
    PAGERDUTY = "pagerduty"


class PagerDutyAction(StrEnum):
    TRIGGER = "trigger"
    RESOLVE = "resolve"


_TOPIC_ENV = {
    Topic.CRITICAL: ENV_ALERT_TOPIC_CRITICAL,
    Topic.WARNINGS: ENV_ALERT_TOPIC_WARNINGS,
    Topic.INFO: ENV_ALERT_TOPIC_INFO,
    Topic.COST: ENV_ALERT_TOPIC_COST,
}

DEFAULT_DESTINATIONS: dict[Topic, tuple[Destination, ...]] = {
    Topic.CRITICAL: (Destination.PAGERDUTY, Destination.SLACK),
    Topic.WARNINGS: (Destination.SLACK,),
    Topic.INFO: (Destination.SLACK,),
    Topic.COST: (Destination.SLACK,),
    Topic.UNKNOWN: (Destination.SLACK,),
}


@dataclass(frozen=True)
class PrefixOverride:
    """Team, channel label and destinations for alarms whose name starts with `prefix`."""

    prefix: str
    team: str | None = None
    channel: str | None = None
    destinations: tuple[Destination, ...] | None = None


@dataclass(frozen=True)
class RoutingConfig:
    topic_arns: dict[str, Topic] = field(default_factory=dict)
    destinations: dict[Topic, tuple[Destination, ...]] = field(default_factory=lambda: dict(DEFAULT_DESTINATIONS))
    overrides: tuple[PrefixOverride, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RoutingConfig:
        topic_arns: dict[str, Topic] = {}
        for topic, variable in _TOPIC_ENV.items():
            arn = env_optional(variable, env=env)
            if arn:
                topic_arns[arn] = topic
        document = env_json(ENV_ROUTING_CONFIG, default={}, env=env)
        return cls.from_document(document, topic_arns)

    @classmethod
    def from_document(cls, document: Any, topic_arns: dict[str, Topic]) -> RoutingConfig:
        """Validate a routing document; raise ConfigError naming ROUTING_CONFIG and the bad part."""
        if not isinstance(document, Mapping):
            raise ConfigError(ENV_ROUTING_CONFIG, "must be a JSON object")
        destinations = dict(DEFAULT_DESTINATIONS)
        topics = document.get("topics", {})
        if not isinstance(topics, Mapping):
            raise ConfigError(ENV_ROUTING_CONFIG, "'topics' must be an object of topic -> destination list")
        for name, listed in topics.items():
            try:
                topic = Topic(name)
            except ValueError:
                allowed = ", ".join(t.value for t in Topic)
                raise ConfigError(ENV_ROUTING_CONFIG, f"unknown topic {name!r}; use one of {allowed}") from None
            destinations[topic] = _destinations(listed, f"topics.{name}")
        overrides = []
        prefixes = document.get("alarm_prefixes", [])
        if not isinstance(prefixes, list):
            raise ConfigError(ENV_ROUTING_CONFIG, "'alarm_prefixes' must be a list of objects")
        for index, item in enumerate(prefixes):
            if not isinstance(item, Mapping) or not isinstance(item.get("prefix"), str) or not item["prefix"]:
                raise ConfigError(ENV_ROUTING_CONFIG, f"alarm_prefixes[{index}] needs a non-empty string 'prefix'")
            listed = item.get("destinations")
            overrides.append(
                PrefixOverride(
                    prefix=item["prefix"],
                    team=_optional_string(item, "team", index),
                    channel=_optional_string(item, "channel", index),
                    destinations=None if listed is None else _destinations(listed, f"alarm_prefixes[{index}]"),
                )
            )
        # The longest matching prefix wins, so sort once here.
        overrides.sort(key=lambda o: len(o.prefix), reverse=True)
        return cls(topic_arns=topic_arns, destinations=destinations, overrides=tuple(overrides))

    def topic_of(self, topic_arn: str | None) -> Topic:
        if topic_arn is None:
            return Topic.UNKNOWN
        return self.topic_arns.get(topic_arn, Topic.UNKNOWN)

    def override_for(self, alarm_name: str | None) -> PrefixOverride | None:
        if not alarm_name:
            return None
        return next((o for o in self.overrides if alarm_name.startswith(o.prefix)), None)


def _destinations(listed: Any, where: str) -> tuple[Destination, ...]:
    if not isinstance(listed, list):
        raise ConfigError(ENV_ROUTING_CONFIG, f'{where} must be a list such as ["slack", "pagerduty"]')
    try:
        return tuple(Destination(item) for item in listed)
    except ValueError:
        raise ConfigError(ENV_ROUTING_CONFIG, f"{where} has an unknown destination; use slack or pagerduty") from None


def _optional_string(item: Mapping[str, Any], key: str, index: int) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(ENV_ROUTING_CONFIG, f"alarm_prefixes[{index}].{key} must be a string")
    return value


@dataclass(frozen=True)
class Route:
    """The routing decision for one alert."""

    topic: Topic
    destinations: tuple[Destination, ...]
    pagerduty_action: PagerDutyAction | None = None
    team: str | None = None
    channel: str | None = None
    #: Why PagerDuty was left out although the topic routes there (for the log), or None.
    pagerduty_skip_reason: str | None = None

    @property
    def slack(self) -> bool:
        return Destination.SLACK in self.destinations

    @property
    def pagerduty(self) -> bool:
        return Destination.PAGERDUTY in self.destinations


def pagerduty_action(alert: Alert) -> tuple[PagerDutyAction | None, str | None]:
    """Return what PagerDuty should do for this alert, or None and the reason it must not page."""
    if alert.is_alarm:
        if alert.state is AlarmState.ALARM:
            return PagerDutyAction.TRIGGER, None
        if alert.state is AlarmState.OK:
            return PagerDutyAction.RESOLVE, None
        return None, "INSUFFICIENT_DATA never pages"
    if alert.kind is AlertKind.FINDING and alert.finding is not None:
        if alert.finding.severity is not Severity.CRITICAL:
            return None, "only critical findings page"
        if alert.resolved:
            return PagerDutyAction.RESOLVE, None
        return PagerDutyAction.TRIGGER, None
    return None, f"{alert.kind.value} messages never page"


TAG_TEAM = "team"
TAG_CHANNEL = "slack-channel"
TAG_DESTINATIONS = "alert-destinations"


def tag_override(tags: Mapping[str, str]) -> PrefixOverride | None:
    """Build the override that an alarm's tags ask for, or None when it has none of the routing tags.

    `alert-destinations` is a comma-separated list such as "slack,pagerduty". Raise ValueError
    naming the tag when it lists an unknown destination or none at all.
    """
    team = tags.get(TAG_TEAM, "").strip() or None
    channel = tags.get(TAG_CHANNEL, "").strip() or None
    destinations: tuple[Destination, ...] | None = None
    listed = tags.get(TAG_DESTINATIONS)
    if listed is not None:
        names = [name.strip().lower() for name in listed.split(",") if name.strip()]
        if not names:
            raise ValueError(f"tag {TAG_DESTINATIONS} is empty; use slack, pagerduty or both")
        try:
            destinations = tuple(dict.fromkeys(Destination(name) for name in names))
        except ValueError:
            message = f"tag {TAG_DESTINATIONS}={listed!r} has an unknown destination; use slack or pagerduty"
            raise ValueError(message) from None
    if team is None and channel is None and destinations is None:
        return None
    return PrefixOverride(prefix="", team=team, channel=channel, destinations=destinations)


def merge_overrides(tagged: PrefixOverride | None, prefixed: PrefixOverride | None) -> PrefixOverride | None:
    """Combine both overrides field by field, the alarm's tags winning over the name prefix."""
    if tagged is None:
        return prefixed
    if prefixed is None:
        return tagged
    return PrefixOverride(
        prefix=prefixed.prefix,
        team=tagged.team if tagged.team is not None else prefixed.team,
        channel=tagged.channel if tagged.channel is not None else prefixed.channel,
        destinations=tagged.destinations if tagged.destinations is not None else prefixed.destinations,
    )


def route(alert: Alert, config: RoutingConfig, tagged: PrefixOverride | None = None) -> Route:
    """Decide the destinations of an alert from its topic, kind, state and the overrides.

    `tagged` is the override read from the alarm's tags (see `tag_override`); it wins over the prefix one.
    """
    topic = config.topic_of(alert.notification.topic_arn)
    override = merge_overrides(tagged, config.override_for(alert.alarm_name))
    wanted = config.destinations[topic]
    if override is not None and override.destinations is not None:
        wanted = override.destinations

    action, reason = pagerduty_action(alert)
    if alert.kind is AlertKind.FINDING and action is not None and Destination.PAGERDUTY not in wanted:
        # A critical finding pages whichever topic carried it.
        wanted = (Destination.PAGERDUTY, *wanted)
    destinations = tuple(d for d in wanted if d is not Destination.PAGERDUTY or action is not None)
    skip = reason if Destination.PAGERDUTY in wanted and action is None else None
    return Route(
        topic=topic,
        destinations=destinations,
        pagerduty_action=action if Destination.PAGERDUTY in destinations else None,
        team=override.team if override else None,
        channel=override.channel if override else None,
        pagerduty_skip_reason=skip,
    )
