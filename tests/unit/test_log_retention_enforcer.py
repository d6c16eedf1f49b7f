"""The retention enforcer against recorded CloudWatch Logs responses, replayed by botocore's Stubber.

The recording lists 60 log groups over two pages, and the request for the second page is throttled
once. Three updates fail first: one is throttled twice, one meets a concurrent change and one log
group is deleted mid-run.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from celebops.retention.enforcer import Deadline, RetryPolicy, enforce_retention
from celebops.retention.policy import RetentionConfig
from celebops.retention.report import Outcome, RunReport, RunStatus

FIXTURE = Path(__file__).parent.parent / "fixtures" / "log_retention" / "throttled_listing_and_updates.json"
RECORDING: dict[str, Any] = json.loads(FIXTURE.read_text())
POLICY = '{"/aws/lambda/": 30, "/aws/api-gateway/": 14}'


@dataclass
class Timeline:
    """Fake clock plus the ordered record of API calls and sleeps. Every API call costs `call_seconds`."""

    call_seconds: float = 0.0
    now: float = 0.0
    events: list[tuple[str, Any]] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.events.append(("sleep", seconds))
        self.now += seconds

    def on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.events.append((model.name, dict(params)))
        self.now += self.call_seconds

    def sleeps(self) -> list[float]:
        return [value for kind, value in self.events if kind == "sleep"]

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [value for kind, value in self.events if kind == operation]

    def sleeps_between_calls_for(self, log_group: str) -> list[float]:
        """Return the sleeps that fall between the first and last PutRetentionPolicy call of `log_group`."""
        indexes = [
            index
            for index, (kind, value) in enumerate(self.events)
            if kind == "PutRetentionPolicy" and value["logGroupName"] == log_group
        ]
        window = self.events[indexes[0] : indexes[-1]]
        return [value for kind, value in window if kind == "sleep"]


@pytest.fixture
def logs() -> Any:
    return boto3.client("logs", region_name="us-east-1")


@pytest.fixture
def timeline(logs: Any) -> Timeline:
    recorder = Timeline()
    # before-parameter-build fires before the Stubber returns its response in before-call, so every call is recorded.
    logs.meta.events.register("before-parameter-build.cloudwatch-logs.*", recorder.on_call)
    return recorder


@pytest.fixture
def stubber(logs: Any) -> Iterator[Stubber]:
    with Stubber(logs) as stub:
        yield stub


def _config(**env: str) -> RetentionConfig:
    return RetentionConfig.from_env(env={"RETENTION_POLICY": POLICY, **env})


def _run(logs: Any, timeline: Timeline, config: RetentionConfig, seconds: float = 600.0, **retry: Any) -> RunReport:
    deadline = Deadline.from_remaining_ms(int(seconds * 1000), margin_seconds=0, clock=timeline.clock)
    return enforce_retention(
        logs,
        config,
        deadline,
        retry=RetryPolicy(**retry),
        sleep=timeline.sleep,
        rng=random.Random(7),
    )


def _stub_recorded_listing(stubber: Stubber) -> None:
    """Queue the recorded DescribeLogGroups responses. Every page request must carry the expected token."""
    token: str | None = None
    for page in RECORDING["describe_log_groups_pages"]:
        expected = {"limit": 50} if token is None else {"limit": 50, "nextToken": token}
        if "error" in page:
            stubber.add_client_error(
                "describe_log_groups",
                service_error_code=page["error"]["Code"],
                service_message=page["error"]["Message"],
                http_status_code=400,
                expected_params=expected,
            )
            continue
        stubber.add_response("describe_log_groups", page["ok"], expected)
        token = page["ok"].get("nextToken")


def _recorded_names() -> list[str]:
    pages = [page["ok"] for page in RECORDING["describe_log_groups_pages"] if "ok" in page]
    return [group["logGroupName"] for page in pages for group in page["logGroups"]]


def _stub_recorded_updates(stubber: Stubber, days: int) -> None:
    """Queue, per log group in listing order, the recorded errors and then a success unless it was deleted."""
    errors_by_group = RECORDING["put_retention_policy_errors"]
    for name in _recorded_names():
        expected = {"logGroupName": name, "retentionInDays": days}
        errors = errors_by_group.get(name, [])
        for error in errors:
            stubber.add_client_error(
                "put_retention_policy",
                service_error_code=error["Code"],
                service_message=error["Message"],
                http_status_code=400,
                expected_params=expected,
            )
        if not any(error["Code"] == "ResourceNotFoundException" for error in errors):
            stubber.add_response("put_retention_policy", {}, expected)


def _result(report: RunReport, name: str) -> Any:
    return next(result for result in report.results if result.log_group == name)


# --- the recorded run -------------------------------------------------------------------------------


def test_recorded_run_lists_all_groups_once(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_recorded_listing(stubber)
    _stub_recorded_updates(stubber, RECORDING["target_retention_days"])

    report = _run(logs, timeline, _config())

    names = [result.log_group for result in report.results]
    assert len(names) == 60
    assert names == _recorded_names()
    assert report.listing_complete is True
    stubber.assert_no_pending_responses()


def test_recorded_run_retries_throttled_page_same_token(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_recorded_listing(stubber)
    _stub_recorded_updates(stubber, 30)

    _run(logs, timeline, _config())

    requests = timeline.calls("DescribeLogGroups")
    assert requests == [{"limit": 50}, {"limit": 50, "nextToken": "page2"}, {"limit": 50, "nextToken": "page2"}]


def test_recorded_run_counts(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_recorded_listing(stubber)
    _stub_recorded_updates(stubber, 30)

    report = _run(logs, timeline, _config())

    assert report.counts[Outcome.CHANGED] == 59
    assert report.counts[Outcome.SKIPPED] == 1
    assert report.counts[Outcome.FAILED] == 0
    assert report.counts[Outcome.NOT_PROCESSED] == 0
    assert report.status is RunStatus.OK
    assert report.without_retention_before == 60
    assert report.without_retention_after == 1


@pytest.mark.parametrize(("name", "attempts"), [("/aws/lambda/fn-007", 3), ("/aws/lambda/fn-042", 2)])
def test_recorded_run_retried_groups_end_at_30(
    logs: Any, timeline: Timeline, stubber: Stubber, name: str, attempts: int
) -> None:
    _stub_recorded_listing(stubber)
    _stub_recorded_updates(stubber, 30)

    report = _run(logs, timeline, _config())

    result = _result(report, name)
    assert result.outcome is Outcome.CHANGED
    assert result.new_days == 30
    assert result.attempts == attempts
    last_call = [call for call in timeline.calls("PutRetentionPolicy") if call["logGroupName"] == name][-1]
    assert last_call["retentionInDays"] == 30
    assert type(last_call["retentionInDays"]) is int


def test_recorded_run_deleted_group_skipped_once(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_recorded_listing(stubber)
    _stub_recorded_updates(stubber, 30)

    report = _run(logs, timeline, _config())

    result = _result(report, "/aws/lambda/fn-059")
    calls = [call for call in timeline.calls("PutRetentionPolicy") if call["logGroupName"] == "/aws/lambda/fn-059"]
    assert result.outcome is Outcome.SKIPPED
    assert result.reason == "deleted"
    assert len(calls) == 1


def test_recorded_run_sleeps_non_decreasing(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_recorded_listing(stubber)
    _stub_recorded_updates(stubber, 30)

    _run(logs, timeline, _config(), base_delay_seconds=1.0, max_delay_seconds=20.0)

    fn_007_sleeps = timeline.sleeps_between_calls_for("/aws/lambda/fn-007")
    assert len(fn_007_sleeps) == 2
    assert fn_007_sleeps[0] <= fn_007_sleeps[1]
    assert len(timeline.sleeps()) == 4
    assert all(1.0 <= seconds <= 20.0 for seconds in timeline.sleeps())


# --- retry bounds ---------------------------------------------------------------------------------------


def test_persistent_throttling_fails_after_max_attempts(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    stubber.add_response("describe_log_groups", {"logGroups": [{"logGroupName": "/aws/lambda/hot"}]})
    for _ in range(8):
        stubber.add_client_error("put_retention_policy", "ThrottlingException", "Rate exceeded", 400)

    report = _run(logs, timeline, _config(), max_attempts=8, base_delay_seconds=0.5, max_delay_seconds=5.0)

    result = _result(report, "/aws/lambda/hot")
    sleeps = timeline.sleeps()
    assert result.outcome is Outcome.FAILED
    assert result.reason == "ThrottlingException"
    assert result.attempts == 8
    assert len(sleeps) == 7
    assert sleeps == sorted(sleeps)
    assert max(sleeps) == 5.0
    assert report.status is RunStatus.ERROR


def test_backoff_delays_non_decreasing_for_many_seeds() -> None:
    policy = RetryPolicy(max_attempts=12, base_delay_seconds=0.25, max_delay_seconds=30.0)
    for seed in range(200):
        rng = random.Random(seed)
        delays = [policy.delay_seconds(index, rng) for index in range(11)]
        assert delays == sorted(delays), f"seed {seed}: {delays}"
        assert max(delays) <= 30.0


def test_other_error_fails_group_and_run_continues(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    stubber.add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": "/aws/lambda/locked"}, {"logGroupName": "/aws/lambda/open"}]},
    )
    stubber.add_client_error("put_retention_policy", "AccessDeniedException", "not authorized", 400)
    stubber.add_response("put_retention_policy", {})

    report = _run(logs, timeline, _config())

    locked = _result(report, "/aws/lambda/locked")
    assert locked.outcome is Outcome.FAILED
    assert locked.reason == "AccessDeniedException"
    assert locked.attempts == 1
    assert _result(report, "/aws/lambda/open").outcome is Outcome.CHANGED
    assert timeline.sleeps() == []
    assert report.status is RunStatus.ERROR


def test_listing_error_marks_run_incomplete(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    stubber.add_response("describe_log_groups", {"logGroups": [{"logGroupName": "/aws/lambda/a"}], "nextToken": "t1"})
    stubber.add_client_error("describe_log_groups", "AccessDeniedException", "not authorized", 400)
    stubber.add_response("put_retention_policy", {})

    report = _run(logs, timeline, _config())

    assert report.listing_complete is False
    assert report.listing_error == "AccessDeniedException"
    assert report.counts[Outcome.CHANGED] == 1
    assert report.status is RunStatus.ERROR
    assert "listing incomplete (AccessDeniedException)" in report.failure_message()


def test_listing_repeated_token_stops(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    stubber.add_response("describe_log_groups", {"logGroups": [{"logGroupName": "/aws/lambda/a"}], "nextToken": "t1"})
    stubber.add_response("describe_log_groups", {"logGroups": [], "nextToken": "t1"})
    stubber.add_response("put_retention_policy", {})

    report = _run(logs, timeline, _config())

    assert report.listing_complete is False
    assert report.listing_error == "RepeatedNextToken"
    assert len(timeline.calls("DescribeLogGroups")) == 2


def test_listing_empty_page_with_token_continues(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    stubber.add_response("describe_log_groups", {"logGroups": [], "nextToken": "t1"})
    stubber.add_response(
        "describe_log_groups", {"logGroups": [{"logGroupName": "/aws/lambda/a", "retentionInDays": 30}]}
    )

    report = _run(logs, timeline, _config())

    assert report.listing_complete is True
    assert report.counts[Outcome.COMPLIANT] == 1


# --- deadline -----------------------------------------------------------------------------------------------


def test_deadline_lists_pending_groups_not_processed(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    timeline.call_seconds = 1.0
    names = [f"/aws/lambda/fn-{index:03}" for index in range(60)]
    stubber.add_response(
        "describe_log_groups", {"logGroups": [{"logGroupName": n} for n in names[:50]], "nextToken": "p2"}
    )
    stubber.add_response("describe_log_groups", {"logGroups": [{"logGroupName": n} for n in names[50:]]})
    for name in names:
        stubber.add_response("put_retention_policy", {}, {"logGroupName": name, "retentionInDays": 30})

    # Two pages and eight updates take the ten seconds before the deadline.
    report = _run(logs, timeline, _config(), seconds=10.0)

    not_processed = [result.log_group for result in report.results if result.outcome is Outcome.NOT_PROCESSED]
    assert report.counts[Outcome.CHANGED] == 8
    assert not_processed == names[8:]
    assert all(result.reason == "deadline" for result in report.results if result.outcome is Outcome.NOT_PROCESSED)
    assert report.status is RunStatus.ERROR
    assert "52 not processed" in report.failure_message()


def test_deadline_during_listing_marks_listed_not_processed(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    timeline.call_seconds = 1.0
    stubber.add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": "/aws/lambda/a"}, {"logGroupName": "/ecs/b"}], "nextToken": "p2"},
    )

    report = _run(logs, timeline, _config(), seconds=1.0)

    assert report.listing_complete is False
    assert report.listing_error == "deadline"
    assert _result(report, "/aws/lambda/a").outcome is Outcome.NOT_PROCESSED
    assert _result(report, "/ecs/b").outcome is Outcome.NO_POLICY
    assert timeline.calls("PutRetentionPolicy") == []


def test_deadline_cuts_retry_sleep(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    stubber.add_response("describe_log_groups", {"logGroups": [{"logGroupName": "/aws/lambda/hot"}]})
    stubber.add_client_error("put_retention_policy", "ThrottlingException", "Rate exceeded", 400)

    # The first backoff (at least 4 s) does not fit in the 3 s left, so the group is not retried.
    report = _run(logs, timeline, _config(), seconds=3.0, base_delay_seconds=4.0)

    result = _result(report, "/aws/lambda/hot")
    assert result.outcome is Outcome.NOT_PROCESSED
    assert result.attempts == 1
    assert timeline.sleeps() == []


# --- modes, dry run and report ---------------------------------------------------------------------------


def _stub_mixed_listing(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_log_groups",
        {
            "logGroups": [
                {"logGroupName": "/aws/lambda/new", "storedBytes": 100},
                {"logGroupName": "/aws/lambda/long", "retentionInDays": 365, "storedBytes": 2000},
                {"logGroupName": "/aws/lambda/ok", "retentionInDays": 30, "storedBytes": 30},
                {"logGroupName": "/aws/lambda/keep-me", "storedBytes": 4},
                {"logGroupName": "/ecs/worker", "storedBytes": 1},
            ]
        },
    )


def test_fill_missing_changes_only_missing(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_mixed_listing(stubber)
    stubber.add_response("put_retention_policy", {}, {"logGroupName": "/aws/lambda/new", "retentionInDays": 30})

    report = _run(logs, timeline, _config(RETENTION_EXCLUDE="/aws/lambda/keep-*"))

    outcomes = {result.log_group: result.outcome for result in report.results}
    assert outcomes == {
        "/aws/lambda/new": Outcome.CHANGED,
        "/aws/lambda/long": Outcome.KEPT_EXISTING,
        "/aws/lambda/ok": Outcome.COMPLIANT,
        "/aws/lambda/keep-me": Outcome.EXCLUDED,
        "/ecs/worker": Outcome.NO_POLICY,
    }
    assert report.stored_bytes == 2135
    assert report.without_retention_before == 3
    assert report.without_retention_after == 2
    stubber.assert_no_pending_responses()


def test_enforce_changes_differing_retention(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_mixed_listing(stubber)
    stubber.add_response("put_retention_policy", {}, {"logGroupName": "/aws/lambda/new", "retentionInDays": 30})
    stubber.add_response("put_retention_policy", {}, {"logGroupName": "/aws/lambda/long", "retentionInDays": 30})

    report = _run(logs, timeline, _config(RETENTION_MODE="enforce", RETENTION_EXCLUDE="/aws/lambda/keep-me"))

    long_result = _result(report, "/aws/lambda/long")
    assert long_result.outcome is Outcome.CHANGED
    assert long_result.old_days == 365
    assert report.counts[Outcome.CHANGED] == 2
    stubber.assert_no_pending_responses()


def test_dry_run_makes_no_update_calls(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_mixed_listing(stubber)

    report = _run(logs, timeline, _config(RETENTION_MODE="enforce", DRY_RUN="true"))

    assert timeline.calls("PutRetentionPolicy") == []
    assert report.counts[Outcome.WOULD_CHANGE] == 3
    assert report.counts[Outcome.CHANGED] == 0
    assert report.without_retention_after == report.without_retention_before
    assert report.status is RunStatus.OK


def test_report_dict_is_json_with_failures_first(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_mixed_listing(stubber)
    stubber.add_client_error("put_retention_policy", "AccessDeniedException", "not authorized", 400)

    report = _run(logs, timeline, _config(LOG_STORAGE_LIMIT_GB="0.000002"))
    document = json.loads(json.dumps(report.to_dict()))

    assert document["status"] == "error"
    assert document["results"][0]["log_group"] == "/aws/lambda/new"
    assert document["results"][0]["reason"] == "AccessDeniedException"
    assert "/aws/lambda/ok" not in [item["log_group"] for item in document["results"]]
    assert document["stored_bytes"] == 2135
    assert document["storage_limit_bytes"] == 2000
    assert document["storage_above_limit"] is True
    assert document["results_omitted"] == 0


def test_report_dict_caps_results(logs: Any, timeline: Timeline, stubber: Stubber) -> None:
    _stub_mixed_listing(stubber)

    report = _run(logs, timeline, _config(DRY_RUN="true"))
    document = report.to_dict(max_results=2)

    assert len(document["results"]) == 2
    assert document["results_omitted"] == 2


def test_change_logged_with_old_and_new(
    logs: Any, timeline: Timeline, stubber: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    _stub_mixed_listing(stubber)
    stubber.add_response("put_retention_policy", {})
    stubber.add_response("put_retention_policy", {})
    caplog.set_level(logging.INFO)

    _run(logs, timeline, _config(RETENTION_MODE="enforce", RETENTION_EXCLUDE="/aws/lambda/keep-me"))

    changes = [record for record in caplog.records if record.getMessage() == "retention changed"]
    logged = [
        (record.log_group, record.old_retention_days, record.old_never_expire, record.new_retention_days)  # type: ignore[attr-defined]
        for record in changes
    ]
    assert logged == [("/aws/lambda/new", None, True, 30), ("/aws/lambda/long", 365, False, 30)]
