"""Pure parts of alert enrichment: the log-lines block, tag overrides, time window and config."""

from __future__ import annotations

import dataclasses

import pytest

from celebops.alerts.enrichment import EnrichmentConfig, epoch_ms, evaluation_window_seconds
from celebops.alerts.routing import (
    Destination,
    PrefixOverride,
    RoutingConfig,
    merge_overrides,
    route,
    tag_override,
)
from celebops.alerts.slack_format import MAX_LOG_LINE, MAX_SECTION_TEXT, SlackOptions, format_slack, log_lines_block
from celebops.errors import ConfigError
from tests.unit.alerts.conftest import TOPICS, alert_of, routing_config


def _text(block: dict[str, object]) -> str:
    text = block["text"]
    assert isinstance(text, dict)
    value = text["text"]
    assert isinstance(value, str)
    return value


def test_log_lines_block_empty_returns_none() -> None:
    assert log_lines_block(()) is None


def test_log_lines_block_wraps_lines_in_code_fence() -> None:
    block = log_lines_block(("ERROR one", "ERROR two"))
    assert block is not None
    assert _text(block) == "*Matching log lines*\n```\nERROR one\nERROR two\n```"


def test_log_lines_block_neutralises_backticks_and_entities() -> None:
    block = log_lines_block(("```drop``` <@here> & more",))
    assert block is not None
    body = _text(block).split("```\n", 1)[1].rsplit("\n```", 1)[0]
    assert "`" not in body
    assert "&lt;@here&gt; &amp; more" in body


def test_log_lines_block_flattens_multiline_event() -> None:
    block = log_lines_block(("Traceback\n  File x\r\nValueError\n",))
    assert block is not None
    assert "Traceback   File x ValueError\n```" in _text(block)


def test_log_lines_block_cuts_long_line() -> None:
    block = log_lines_block(("x" * 5000,))
    assert block is not None
    (line,) = _text(block).split("\n")[2:3]
    assert len(line) == MAX_LOG_LINE


def test_log_lines_block_many_lines_within_limit() -> None:
    block = log_lines_block(tuple("y" * 1000 for _ in range(40)))
    assert block is not None
    text = _text(block)
    assert len(text) <= MAX_SECTION_TEXT
    assert text.endswith("_35 more not shown_")


def test_format_slack_no_log_lines() -> None:
    alert = alert_of("metric_alarm")
    body = format_slack(alert, route(alert, routing_config()), SlackOptions())
    assert "Matching log lines" not in str(body["blocks"])


def test_format_slack_with_log_lines_adds_block() -> None:
    alert = dataclasses.replace(alert_of("metric_alarm"), log_lines=("ERROR scraper failed",))
    body = format_slack(alert, route(alert, routing_config()), SlackOptions())
    assert "ERROR scraper failed" in str(body["blocks"])


def test_tag_override_without_routing_tags_returns_none() -> None:
    assert tag_override({"owner": "someone"}) is None


def test_tag_override_reads_all_tags() -> None:
    override = tag_override({"team": "data", "slack-channel": "#data", "alert-destinations": " Slack, pagerduty ,"})
    assert override == PrefixOverride(
        prefix="", team="data", channel="#data", destinations=(Destination.SLACK, Destination.PAGERDUTY)
    )


def test_tag_override_duplicate_destination_kept_once() -> None:
    override = tag_override({"alert-destinations": "slack,slack"})
    assert override is not None
    assert override.destinations == (Destination.SLACK,)


def test_tag_override_unknown_destination_raises() -> None:
    with pytest.raises(ValueError, match="unknown destination") as caught:
        tag_override({"alert-destinations": "slack,email"})
    assert "alert-destinations" in str(caught.value)


def test_tag_override_empty_destinations_raises() -> None:
    with pytest.raises(ValueError, match="is empty") as caught:
        tag_override({"alert-destinations": " , "})
    assert "alert-destinations" in str(caught.value)


def test_merge_overrides_tags_win_field_by_field() -> None:
    tagged = PrefixOverride(prefix="", channel="#tagged")
    prefixed = PrefixOverride(prefix="orders-", team="web", channel="#prefix", destinations=(Destination.SLACK,))
    merged = merge_overrides(tagged, prefixed)
    assert merged == PrefixOverride(prefix="orders-", team="web", channel="#tagged", destinations=(Destination.SLACK,))


def test_route_tag_destinations_win_over_prefix() -> None:
    document = {"alarm_prefixes": [{"prefix": "orders-", "team": "web", "destinations": ["slack"]}]}
    config = RoutingConfig.from_document(document, routing_config().topic_arns)
    alert = alert_of("metric_alarm")
    tagged = PrefixOverride(prefix="", team="payments", destinations=(Destination.PAGERDUTY, Destination.SLACK))
    decided = route(alert, config, tagged)
    assert decided.destinations == (Destination.PAGERDUTY, Destination.SLACK)
    assert decided.team == "payments"


def test_route_without_tags_unchanged() -> None:
    alert = alert_of("metric_alarm")
    assert route(alert, routing_config(), None) == route(alert, routing_config())


def test_epoch_ms_reads_alarm_timestamp() -> None:
    assert epoch_ms("2025-03-04T10:15:10.123+0000") == 1741083310123


def test_epoch_ms_reads_zulu_timestamp() -> None:
    assert epoch_ms("2025-03-04T10:15:10Z") == 1741083310000


def test_epoch_ms_invalid_returns_none() -> None:
    assert epoch_ms("yesterday") is None


def test_evaluation_window_is_period_times_periods() -> None:
    alert = alert_of("metric_alarm")
    assert alert.condition is not None
    condition = dataclasses.replace(alert.condition, period=300, evaluation_periods=3)
    assert evaluation_window_seconds(dataclasses.replace(alert, condition=condition)) == 900


def test_enrichment_config_defaults_on() -> None:
    assert EnrichmentConfig.from_env(TOPICS) == EnrichmentConfig(log_lines=True, alarm_tags=True, max_log_lines=5)


def test_enrichment_config_invalid_flag_raises() -> None:
    with pytest.raises(ConfigError) as caught:
        EnrichmentConfig.from_env({"ENRICH_LOG_LINES": "maybe"})
    assert "ENRICH_LOG_LINES" in str(caught.value)
