"""Validation of the retention job's configuration. moto accepts any retention, so these checks are ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from celebops.errors import ConfigError
from celebops.retention.planner import Action, LogGroup, plan_log_group
from celebops.retention.policy import (
    ALLOWED_RETENTION_DAYS,
    BYTES_PER_GB,
    RetentionConfig,
    RetentionMode,
    RetentionRule,
    nearest_allowed_days,
    parse_exclusions,
    parse_policy,
    parse_policy_document,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "log_retention" / "allowed_retention_values.json"


def _config(**env: str) -> RetentionConfig:
    return RetentionConfig.from_env(env=env)


def _reject_policy(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_policy(text)
    return caught.value


# --- allowed values ------------------------------------------------------------------------


def test_allowed_days_match_api_reference() -> None:
    recorded = json.loads(FIXTURE.read_text())["allowed_values_per_api_docs"]
    assert list(ALLOWED_RETENTION_DAYS) == recorded


@pytest.mark.parametrize("days", ALLOWED_RETENTION_DAYS)
def test_policy_accepts_every_allowed_value(days: int) -> None:
    policy = parse_policy(json.dumps({"/aws/lambda/": days}))
    assert policy.rules[0].days == days


# --- recorded configuration cases ----------------------------------------------------------


def test_policy_728_rejected_with_nearest_values() -> None:
    error = _reject_policy('{"/aws/lambda/": 728}')
    assert error.variable == "RETENTION_POLICY"
    assert "'/aws/lambda/'" in str(error)
    assert "728" in str(error)
    assert "nearest allowed values: 545, 731" in str(error)


def test_policy_30_accepted() -> None:
    policy = parse_policy('{"/aws/lambda/": 30}')
    assert policy.rules[0].days == 30


def test_policy_digit_string_coerced_to_int() -> None:
    policy = parse_policy('{"/aws/lambda/": "90"}')
    days = policy.rules[0].days
    assert days == 90
    assert type(days) is int


def test_policy_4000_rejected_with_maximum() -> None:
    error = _reject_policy('{"/aws/lambda/": 4000}')
    assert "4000" in str(error)
    assert "nearest allowed value: 3653" in str(error)


def test_policy_zero_rejected_not_never_expire() -> None:
    error = _reject_policy('{"/aws/lambda/": 0}')
    assert "'/aws/lambda/'" in str(error)
    assert "0 does not mean 'never expire'" in str(error)


def test_policy_true_rejected_not_one() -> None:
    error = _reject_policy('{"/aws/lambda/": true}')
    assert "boolean true" in str(error)


def test_policy_negative_rejected_with_minimum() -> None:
    error = _reject_policy('{"/aws/lambda/": -30}')
    assert "-30" in str(error)
    assert "nearest allowed value: 1" in str(error)


@pytest.mark.parametrize("text", ['[["/aws/lambda/", 30]]', "30", '"/aws/lambda/"', "null"])
def test_policy_non_object_json_rejected(text: str) -> None:
    error = _reject_policy(text)
    assert "must be a JSON object" in str(error)


def test_policy_invalid_json_rejected() -> None:
    error = _reject_policy("{/aws/lambda/: 30}")
    assert "not valid JSON" in str(error)


@pytest.mark.parametrize("prefix", [1, None, ("/aws/lambda/",)])
def test_policy_non_string_prefix_rejected(prefix: object) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy_document({prefix: 30})
    assert "not a string" in str(caught.value)


@pytest.mark.parametrize("prefix", ["", "/aws/lambda/*", "/aws/lambda /"])
def test_policy_unusable_prefix_rejected(prefix: str) -> None:
    error = _reject_policy(json.dumps({prefix: 30}))
    assert "prefix" in str(error)


@pytest.mark.parametrize("value", ["ninety", "90 days", "-5", " 90", "30.0"])
def test_policy_non_digit_string_rejected(value: str) -> None:
    error = _reject_policy(json.dumps({"/aws/lambda/": value}))
    assert repr(value) in str(error)


@pytest.mark.parametrize("value", [30.0, 30.5, None, [30], {"days": 30}])
def test_policy_non_integer_value_rejected(value: object) -> None:
    error = _reject_policy(json.dumps({"/aws/lambda/": value}))
    assert "not a whole number of days" in str(error)


def test_policy_empty_object_rejected() -> None:
    error = _reject_policy("{}")
    assert "empty object" in str(error)


def test_policy_duplicate_prefix_rejected() -> None:
    error = _reject_policy('{"/aws/lambda/": 30, "/aws/lambda/": 14}')
    assert "more than once" in str(error)


def test_policy_second_prefix_named_when_invalid() -> None:
    error = _reject_policy('{"/aws/lambda/": 30, "/aws/api-gateway/": 10}')
    assert "'/aws/api-gateway/'" in str(error)
    assert "nearest allowed values: 7, 14" in str(error)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-5, (1,)), (2, (1, 3)), (10, (7, 14)), (728, (545, 731)), (3652, (3288, 3653)), (9999, (3653,))],
)
def test_nearest_allowed_days(value: int, expected: tuple[int, ...]) -> None:
    assert nearest_allowed_days(value) == expected


# --- prefix matching -------------------------------------------------------------------------


def test_policy_longest_prefix_wins() -> None:
    policy = parse_policy('{"/aws/lambda/": 30, "/aws/lambda/celebrity-": 90, "/aws/": 7}')
    rule = policy.match("/aws/lambda/celebrity-scraper-tmdb")
    assert rule is not None
    assert rule.days == 90


def test_policy_shorter_prefix_matches_others() -> None:
    policy = parse_policy('{"/aws/lambda/": 30, "/aws/lambda/celebrity-": 90, "/aws/": 7}')
    lambda_rule = policy.match("/aws/lambda/other-stack-fn")
    other_rule = policy.match("/aws/rds/instance/db/error")
    assert lambda_rule is not None
    assert lambda_rule.days == 30
    assert other_rule is not None
    assert other_rule.days == 7


def test_policy_no_prefix_matches() -> None:
    policy = parse_policy('{"/aws/lambda/": 30}')
    assert policy.match("API-Gateway-Execution-Logs_abc123/prod") is None


# --- environment --------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = _config()
    assert config.policy.rules == (
        RetentionRule(prefix="/aws/api-gateway/", days=14),
        RetentionRule(prefix="/aws/lambda/", days=30),
    )
    assert config.mode is RetentionMode.FILL_MISSING
    assert config.exclusions == ()
    assert config.dry_run is False
    assert config.log_storage_limit_bytes == 500 * BYTES_PER_GB


def test_config_reads_every_variable() -> None:
    config = _config(
        RETENTION_POLICY='{"/aws/lambda/": 90}',
        RETENTION_MODE="enforce",
        RETENTION_EXCLUDE="/aws/lambda/keep-me, /aws/lambda/audit-*",
        DRY_RUN="true",
        LOG_STORAGE_LIMIT_GB="2",
    )
    assert config.policy.rules == (RetentionRule(prefix="/aws/lambda/", days=90),)
    assert config.mode is RetentionMode.ENFORCE
    assert len(config.exclusions) == 2
    assert config.dry_run is True
    assert config.log_storage_limit_bytes == 2 * BYTES_PER_GB


def test_config_bad_policy_names_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        _config(RETENTION_POLICY='{"/aws/lambda/": 728}')
    assert str(caught.value).startswith("invalid configuration RETENTION_POLICY:")


def test_config_unknown_mode_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        _config(RETENTION_MODE="overwrite")
    assert caught.value.variable == "RETENTION_MODE"
    assert "fill-missing, enforce" in str(caught.value)


def test_config_mode_case_insensitive() -> None:
    assert _config(RETENTION_MODE="ENFORCE").mode is RetentionMode.ENFORCE


def test_config_bad_dry_run_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        _config(DRY_RUN="maybe")
    assert caught.value.variable == "DRY_RUN"


def test_config_negative_storage_limit_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        _config(LOG_STORAGE_LIMIT_GB="-1")
    assert caught.value.variable == "LOG_STORAGE_LIMIT_GB"


def test_config_is_frozen() -> None:
    config = _config()
    with pytest.raises(AttributeError):
        config.dry_run = True  # type: ignore[misc]
    assert config.with_dry_run(True).dry_run is True


# --- exclusions ----------------------------------------------------------------------------------


def test_exclusion_exact_name_matches_only_itself() -> None:
    config = _config(RETENTION_EXCLUDE="/aws/lambda/keep")
    assert config.is_excluded("/aws/lambda/keep")
    assert not config.is_excluded("/aws/lambda/keep-2")


def test_exclusion_trailing_star_matches_prefix() -> None:
    config = _config(RETENTION_EXCLUDE="/aws/lambda/audit-*")
    assert config.is_excluded("/aws/lambda/audit-")
    assert config.is_excluded("/aws/lambda/audit-trail")
    assert not config.is_excluded("/aws/lambda/audi")


def test_exclusion_lone_star_matches_everything() -> None:
    config = _config(RETENTION_EXCLUDE="*")
    assert config.is_excluded("/aws/lambda/fn")


@pytest.mark.parametrize("item", ["/aws/*/fn", "**", "/aws/lambda/ fn"])
def test_exclusion_invalid_pattern_rejected(item: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_exclusions((item,))
    assert caught.value.variable == "RETENTION_EXCLUDE"


def test_exclusion_blank_items_dropped() -> None:
    config = _config(RETENTION_EXCLUDE=" , /aws/lambda/keep ,, ")
    assert len(config.exclusions) == 1


# --- planner and modes -------------------------------------------------------------------------


def _group(name: str, days: int | None) -> LogGroup:
    return LogGroup(name=name, retention_days=days, stored_bytes=0)


def test_plan_missing_retention_set_in_fill_missing() -> None:
    decision = plan_log_group(_group("/aws/lambda/fn", None), _config())
    assert decision.action is Action.SET
    assert decision.target_days == 30
    assert decision.rule_prefix == "/aws/lambda/"


def test_plan_different_retention_kept_in_fill_missing() -> None:
    decision = plan_log_group(_group("/aws/lambda/fn", 365), _config())
    assert decision.action is Action.KEEP_EXISTING


def test_plan_different_retention_set_in_enforce() -> None:
    decision = plan_log_group(_group("/aws/lambda/fn", 365), _config(RETENTION_MODE="enforce"))
    assert decision.action is Action.SET
    assert decision.current_days == 365
    assert decision.target_days == 30


def test_plan_equal_retention_compliant_in_both_modes() -> None:
    fill = plan_log_group(_group("/aws/api-gateway/api", 14), _config())
    enforce = plan_log_group(_group("/aws/api-gateway/api", 14), _config(RETENTION_MODE="enforce"))
    assert fill.action is Action.COMPLIANT
    assert enforce.action is Action.COMPLIANT


def test_plan_exclusion_wins_over_policy() -> None:
    config = _config(RETENTION_MODE="enforce", RETENTION_EXCLUDE="/aws/lambda/keep*")
    decision = plan_log_group(_group("/aws/lambda/keep-forever", None), config)
    assert decision.action is Action.EXCLUDED
    assert decision.target_days is None


def test_plan_unmatched_name_no_policy() -> None:
    decision = plan_log_group(_group("/ecs/celebrity-worker", None), _config())
    assert decision.action is Action.NO_POLICY


def test_log_group_from_api_reads_optional_fields() -> None:
    full = LogGroup.from_api({"logGroupName": "/a", "retentionInDays": 30, "storedBytes": 12})
    bare = LogGroup.from_api({"logGroupName": "/b"})
    assert full == LogGroup(name="/a", retention_days=30, stored_bytes=12)
    assert bare == LogGroup(name="/b", retention_days=None, stored_bytes=0)
