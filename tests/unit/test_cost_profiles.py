"""The cost parameters change what the template creates, and the cost model follows them."""

from __future__ import annotations

import pytest

from benchmarks.template_model import SuiteModel, load_model


@pytest.fixture(scope="module")
def defaults() -> SuiteModel:
    return load_model("prod")


@pytest.fixture(scope="module")
def economy() -> SuiteModel:
    return load_model("economy", one_secret=True)


def _alarms(model: SuiteModel) -> dict[str, int]:
    return {alarm.logical_id: alarm.metrics for alarm in model.alarms}


def test_defaults_keep_warning_alarms_and_four_dashboards(defaults: SuiteModel) -> None:
    alarms = _alarms(defaults)

    assert sum(1 for name in alarms if name.startswith("LambdaErrorRateWarning")) == 7
    assert alarms["DynamoDbThrottlingAlarm"] == 8
    assert len(defaults.dashboards) == 4
    assert len(defaults.secrets) == 2


def test_economy_drops_only_the_warning_level(economy: SuiteModel) -> None:
    alarms = _alarms(economy)

    assert not [name for name in alarms if name.startswith("LambdaErrorRateWarning")]
    assert sum(1 for name in alarms if name.startswith("LambdaErrorRateCritical")) == 7


def test_economy_throttling_alarm_reads_throttle_events_only(economy: SuiteModel) -> None:
    assert _alarms(economy)["DynamoDbThrottlingAlarm"] == 2


def test_economy_has_three_dashboards_and_one_secret(economy: SuiteModel) -> None:
    assert "SuiteHealthDashboard" not in economy.dashboards
    assert len(economy.dashboards) == 3
    assert economy.secrets == ["parameter SlackWebhookSecretArn and PagerDutyRoutingKeySecretArn"]


def test_economy_cost_reporter_uses_run_rate(economy: SuiteModel) -> None:
    assert economy.functions["CostReporterFunction"].environment["COST_FORECAST"] == "run-rate"
