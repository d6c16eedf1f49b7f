"""Configuration of the log retention job: prefix policy, mode, exclusions and dry run.

Everything here is validated at cold start, before any AWS call, because PutRetentionPolicy
rejects a bad value on every log group at run time and moto accepts any value in tests.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from celebops.config import env_bool, env_float, env_list, env_str
from celebops.constants import ENV_DRY_RUN, ENV_RETENTION_EXCLUDE, ENV_RETENTION_MODE, ENV_RETENTION_POLICY
from celebops.errors import ConfigError

ENV_LOG_STORAGE_LIMIT_GB = "LOG_STORAGE_LIMIT_GB"

#: The only `retentionInDays` values PutRetentionPolicy accepts (CloudWatch Logs API reference).
ALLOWED_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

DEFAULT_POLICY: dict[str, int] = {"/aws/lambda/": 30, "/aws/api-gateway/": 14}
DEFAULT_LOG_STORAGE_LIMIT_GB = 500.0

# Decimal gigabytes (10**9 bytes): the limit trips no later than a GiB reading of the same number would.
BYTES_PER_GB = 10**9

# Log group name pattern and maximum length (botocore 1.43 service model, shape LogGroupName). A
# prefix or exclusion pattern with any other character could never match a log group.
_LOG_GROUP_NAME_CHARS = re.compile(r"[A-Za-z0-9._/#\-]+")
_MAX_LOG_GROUP_NAME_LENGTH = 512
_DIGITS = re.compile(r"[0-9]+")


class RetentionMode(StrEnum):
    #: Set retention only on log groups that have none ("Never expire").
    FILL_MISSING = "fill-missing"
    #: Also change log groups whose retention differs from the policy, shorter or longer.
    #: Shortening a retention deletes the log events older than the new retention.
    ENFORCE = "enforce"


@dataclass(frozen=True)
class RetentionRule:
    prefix: str
    days: int


@dataclass(frozen=True)
class RetentionPolicy:
    """Rules ordered longest prefix first, so the first match is the most specific one."""

    rules: tuple[RetentionRule, ...]

    def match(self, log_group_name: str) -> RetentionRule | None:
        for rule in self.rules:
            if log_group_name.startswith(rule.prefix):
                return rule
        return None


@dataclass(frozen=True)
class ExclusionPattern:
    """An exact log group name, or a prefix when the pattern ends in `*`."""

    text: str
    is_prefix: bool

    def matches(self, log_group_name: str) -> bool:
        if self.is_prefix:
            return log_group_name.startswith(self.text)
        return log_group_name == self.text


@dataclass(frozen=True)
class RetentionConfig:
    policy: RetentionPolicy
    mode: RetentionMode = RetentionMode.FILL_MISSING
    exclusions: tuple[ExclusionPattern, ...] = ()
    dry_run: bool = False
    log_storage_limit_bytes: int = int(DEFAULT_LOG_STORAGE_LIMIT_GB * BYTES_PER_GB)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetentionConfig:
        """Read the job's configuration. Raises ConfigError naming the variable and the bad value."""
        policy = parse_policy(env_str(ENV_RETENTION_POLICY, json.dumps(DEFAULT_POLICY), env=env))
        mode = parse_mode(env_str(ENV_RETENTION_MODE, RetentionMode.FILL_MISSING.value, env=env))
        exclusions = parse_exclusions(env_list(ENV_RETENTION_EXCLUDE, env=env))
        dry_run = env_bool(ENV_DRY_RUN, default=False, env=env)
        limit_gb = env_float(ENV_LOG_STORAGE_LIMIT_GB, DEFAULT_LOG_STORAGE_LIMIT_GB, minimum=0.0, env=env)
        return cls(
            policy=policy,
            mode=mode,
            exclusions=exclusions,
            dry_run=dry_run,
            log_storage_limit_bytes=int(limit_gb * BYTES_PER_GB),
        )

    def with_dry_run(self, dry_run: bool) -> RetentionConfig:
        return replace(self, dry_run=dry_run)

    def is_excluded(self, log_group_name: str) -> bool:
        return any(pattern.matches(log_group_name) for pattern in self.exclusions)


def nearest_allowed_days(value: int) -> tuple[int, ...]:
    """Return the allowed values just below and just above `value` (one value at either end)."""
    index = bisect.bisect_left(ALLOWED_RETENTION_DAYS, value)
    if index == 0:
        return (ALLOWED_RETENTION_DAYS[0],)
    if index == len(ALLOWED_RETENTION_DAYS):
        return (ALLOWED_RETENTION_DAYS[-1],)
    return (ALLOWED_RETENTION_DAYS[index - 1], ALLOWED_RETENTION_DAYS[index])


def validate_retention_days(prefix: str, value: Any, variable: str = ENV_RETENTION_POLICY) -> int:
    """Return `value` as an allowed day count, converting a string of digits to int.

    Raises ConfigError naming the prefix, the value and the nearest allowed values.
    """
    # bool is a subclass of int, so JSON true would otherwise pass as 1.
    if isinstance(value, bool):
        raise ConfigError(variable, f"retention for prefix {prefix!r} is the boolean {json.dumps(value)}, not a number")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ConfigError(
                variable, f"retention for prefix {prefix!r} is the string {value!r}, not a whole number of days"
            )
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError(
            variable,
            f"retention for prefix {prefix!r} is {json.dumps(value)} ({type(value).__name__}), "
            "not a whole number of days",
        )
    if value == 0:
        raise ConfigError(
            variable,
            f"retention for prefix {prefix!r} is 0, which PutRetentionPolicy rejects; 0 does not mean "
            "'never expire'. Remove the prefix from the policy to leave its log groups unchanged",
        )
    if value not in ALLOWED_RETENTION_DAYS:
        nearest = nearest_allowed_days(value)
        label = "nearest allowed value" if len(nearest) == 1 else "nearest allowed values"
        raise ConfigError(
            variable,
            f"retention for prefix {prefix!r} is {value} days, which PutRetentionPolicy rejects; "
            f"{label}: {', '.join(str(day) for day in nearest)}",
        )
    return value


def _validate_name_pattern(text: Any, what: str, variable: str) -> str:
    if not isinstance(text, str):
        raise ConfigError(variable, f"{what} {text!r} is a {type(text).__name__}, not a string")
    if not text:
        raise ConfigError(variable, f"{what} is empty, but an empty {what} would match every log group")
    if len(text) > _MAX_LOG_GROUP_NAME_LENGTH:
        raise ConfigError(variable, f"{what} {text[:40]!r}... is longer than {_MAX_LOG_GROUP_NAME_LENGTH} characters")
    if not _LOG_GROUP_NAME_CHARS.fullmatch(text):
        raise ConfigError(
            variable,
            f"{what} {text!r} contains characters a log group name cannot contain "
            "(allowed: letters, digits, '_', '-', '/', '.', '#')",
        )
    return text


def parse_policy_document(document: Any, variable: str = ENV_RETENTION_POLICY) -> RetentionPolicy:
    """Validate a decoded policy object, mapping log group name prefix to retention days."""
    if not isinstance(document, dict):
        raise ConfigError(
            variable,
            f"must be a JSON object mapping log group name prefix to days, for example "
            f"{json.dumps(DEFAULT_POLICY)}; got a {type(document).__name__}",
        )
    if not document:
        raise ConfigError(variable, "is an empty object, so no log group would get a retention")

    rules = []
    for prefix, days in document.items():
        checked_prefix = _validate_name_pattern(prefix, "prefix", variable)
        rules.append(RetentionRule(prefix=checked_prefix, days=validate_retention_days(checked_prefix, days, variable)))
    rules.sort(key=lambda rule: len(rule.prefix), reverse=True)
    return RetentionPolicy(rules=tuple(rules))


def parse_policy(text: str, variable: str = ENV_RETENTION_POLICY) -> RetentionPolicy:
    """Parse the JSON policy text, for example `{"/aws/lambda/": 30}`."""
    try:
        document = json.loads(text, object_pairs_hook=lambda pairs: _reject_duplicate_keys(pairs, variable))
    except json.JSONDecodeError as exc:
        raise ConfigError(variable, f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
    return parse_policy_document(document, variable)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]], variable: str) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently, which would hide a typo in the policy.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ConfigError(variable, f"prefix {key!r} appears more than once")
        document[key] = value
    return document


def parse_mode(text: str, variable: str = ENV_RETENTION_MODE) -> RetentionMode:
    try:
        return RetentionMode(text.strip().lower())
    except ValueError:
        allowed = ", ".join(mode.value for mode in RetentionMode)
        raise ConfigError(variable, f"{text!r} is not a valid mode. Use one of {allowed}") from None


def parse_exclusions(items: tuple[str, ...], variable: str = ENV_RETENTION_EXCLUDE) -> tuple[ExclusionPattern, ...]:
    """Parse exclusion patterns: `name` matches one log group, `prefix*` every name starting with prefix."""
    patterns = []
    for item in items:
        if item == "*":
            patterns.append(ExclusionPattern(text="", is_prefix=True))
            continue
        is_prefix = item.endswith("*")
        text = item[:-1] if is_prefix else item
        if "*" in text:
            raise ConfigError(
                variable, f"pattern {item!r} has '*' before the end, but only a trailing '*' is supported"
            )
        patterns.append(
            ExclusionPattern(text=_validate_name_pattern(text, "exclusion pattern", variable), is_prefix=is_prefix)
        )
    return tuple(patterns)
