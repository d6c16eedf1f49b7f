"""The whole alert path on the embedded AWS: topic -> SNS -> queue -> router -> receivers.

Runs the demo's alert scenarios against a fresh local deployment; each scenario checks the exact
deliveries the Slack and PagerDuty receivers accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from harness import demo_scenarios
from harness.demo import Demo, DemoSummary
from harness.environment import LocalEnvironment
from harness.paths import BUILD

pytestmark = pytest.mark.skipif(
    not (BUILD / "AlertRouterFunction" / "app.py").exists(), reason="needs `make build` first"
)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    deliveries = tmp_path_factory.mktemp("alert-path") / "deliveries.jsonl"
    with LocalEnvironment(deliveries_path=deliveries) as env:
        yield env


@pytest.fixture
def demo(environment: LocalEnvironment, monkeypatch: pytest.MonkeyPatch) -> Demo:
    for name, value in environment.aws.items():
        monkeypatch.setenv(name, value)
    return Demo(environment, DemoSummary(started_at=datetime.now(UTC).isoformat()))


# The alert-path scenarios need only the deployed suite; the others build on the demo's monitored
# system and scheduled runs, and run in `make demo`.
ALERT_PATH_SCENARIOS = [
    demo_scenarios.critical_alarm_pages_and_resolves,
    demo_scenarios.warning_goes_to_slack_only,
    demo_scenarios.info_finding_reaches_slack,
    demo_scenarios.cost_finding_reaches_slack,
    demo_scenarios.alarm_storm_is_grouped,
    demo_scenarios.slack_outage_delays_without_loss,
]


@pytest.mark.parametrize("scenario", ALERT_PATH_SCENARIOS, ids=lambda s: s.__name__)
def test_alert_scenario(demo: Demo, scenario: demo_scenarios.Scenario) -> None:
    outcome = scenario(demo)

    assert outcome["passed"], outcome["detail"]


def test_no_alert_left_in_queues(demo: Demo, environment: LocalEnvironment) -> None:
    demo.deliver_alerts()
    for logical_id in ("AlertQueue", "AlertDeadLetterQueue"):
        attributes = demo.sqs.get_queue_attributes(
            QueueUrl=environment.deployment.physical_id(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]

        assert attributes["ApproximateNumberOfMessages"] == "0", logical_id
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0", logical_id
