"""Decide what to do with one log group's retention, without calling AWS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from celebops.retention.policy import RetentionConfig, RetentionMode


@dataclass(frozen=True)
class LogGroup:
    name: str
    #: None means the log group never expires its events.
    retention_days: int | None
    stored_bytes: int

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> LogGroup:
        """Build from one `logGroups` entry of DescribeLogGroups."""
        retention = item.get("retentionInDays")
        return cls(
            name=str(item["logGroupName"]),
            retention_days=int(retention) if retention is not None else None,
            stored_bytes=int(item.get("storedBytes") or 0),
        )


class Action(StrEnum):
    SET = "set"
    COMPLIANT = "already_compliant"
    #: Retention differs from the policy, but fill-missing mode leaves an existing retention alone.
    KEEP_EXISTING = "kept_existing"
    EXCLUDED = "excluded"
    NO_POLICY = "no_policy"


@dataclass(frozen=True)
class Decision:
    log_group: str
    action: Action
    current_days: int | None
    #: The policy's retention for this group, or None when it is excluded or no prefix matches.
    target_days: int | None
    rule_prefix: str | None


def plan_log_group(group: LogGroup, config: RetentionConfig) -> Decision:
    """Decide one log group's action. An exclusion wins over every policy prefix."""
    if config.is_excluded(group.name):
        return Decision(group.name, Action.EXCLUDED, group.retention_days, None, None)

    rule = config.policy.match(group.name)
    if rule is None:
        return Decision(group.name, Action.NO_POLICY, group.retention_days, None, None)

    if group.retention_days == rule.days:
        action = Action.COMPLIANT
    elif group.retention_days is None or config.mode is RetentionMode.ENFORCE:
        action = Action.SET
    else:
        action = Action.KEEP_EXISTING
    return Decision(group.name, action, group.retention_days, rule.days, rule.prefix)
