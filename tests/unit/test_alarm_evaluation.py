"""Unit tests of the alarm emulation's pure parts: state decision, metric math, rules, messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.alarms import (
    AlarmConfig,
    AlarmState,
    CompositeAlarm,
    Datapoint,
    RuleError,
    TreatMissingData,
    UnsupportedAlarmError,
    build_alarm_message,
    build_composite_message,
    build_subject,
    current_state_of,
    decide_state,
    encode_message,
    evaluate_expression,
    evaluate_rule,
    format_timestamp,
    percentile_of,
    rule_children,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alarms"
NOW = datetime(2026, 11, 29, 2, 40, tzinfo=UTC)


def sns_record(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())["Records"][0]["Sns"]


def config(**overrides: Any) -> AlarmConfig:
    settings: dict[str, Any] = {
        "name": "test-alarm",
        "period": 300,
        "evaluation_periods": 3,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 1.0,
        "current_state": AlarmState.OK,
    }
    settings.update(overrides)
    return AlarmConfig(**settings)


def points_from_pattern(pattern: str, alarm: AlarmConfig, now: datetime = NOW) -> list[Datapoint]:
    """Turn a documentation row such as "0 - X - X" (oldest first) into datapoints ending at `now`."""
    symbols = pattern.split()
    step = timedelta(seconds=alarm.period)
    points = []
    for index, symbol in enumerate(symbols):
        start = now - step * (len(symbols) - index)
        if symbol == "0":
            points.append(Datapoint(start, 0.0))
        elif symbol == "X":
            points.append(Datapoint(start, 5.0))
    return points


# The two tables of "Configuring how CloudWatch alarms treat missing data" (CloudWatch User
# Guide): 5 retrieved periods, 0 not breaching, X breaching, - missing, oldest first. None means
# "retain current state".
DOCUMENTED_ROWS = [
    (3, 3, "0 - X - X", ["OK", "OK", "OK", "OK"]),
    (3, 3, "0 - - - -", ["OK", "OK", "OK", "OK"]),
    (3, 3, "- - - - -", ["INSUFFICIENT_DATA", None, "ALARM", "OK"]),
    (3, 3, "0 X X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    (3, 3, "- - - - X", ["INSUFFICIENT_DATA", None, "ALARM", "OK"]),
    (3, 3, "X - - - -", ["ALARM", None, "ALARM", "OK"]),
    (2, 3, "0 - X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    (2, 3, "0 0 X 0 X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    (2, 3, "0 - X - -", ["OK", "OK", "ALARM", "OK"]),
    (2, 3, "- - - - 0", ["OK", "OK", "ALARM", "OK"]),
    (2, 3, "- - - - X", ["INSUFFICIENT_DATA", None, "ALARM", "OK"]),
]
TREATMENTS = [
    TreatMissingData.MISSING,
    TreatMissingData.IGNORE,
    TreatMissingData.BREACHING,
    TreatMissingData.NOT_BREACHING,
]


@pytest.mark.parametrize(("required", "periods", "pattern", "expected"), DOCUMENTED_ROWS)
@pytest.mark.parametrize("current", [AlarmState.OK, AlarmState.ALARM])
def test_decide_state_matches_documented_tables(
    required: int, periods: int, pattern: str, expected: list[str | None], current: AlarmState
) -> None:
    for treatment, expected_state in zip(TREATMENTS, expected, strict=True):
        alarm = config(
            evaluation_periods=periods,
            datapoints_to_alarm=required,
            treat_missing_data=treatment,
            current_state=current,
            evaluation_range=5,
        )

        state, _ = decide_state(points_from_pattern(pattern, alarm), alarm, NOW)

        wanted = current if expected_state is None else AlarmState(expected_state)
        assert state is wanted, f"{pattern} with {treatment.value}"


def test_decide_state_reason_for_p95_alarm_fixture() -> None:
    message = json.loads(sns_record("alarm-p95-latency-ALARM.json")["Message"])
    alarm = config(evaluation_periods=2, threshold=2000.0)
    points = [
        Datapoint(datetime(2026, 11, 29, 2, 30, tzinfo=UTC), 2204.5),
        Datapoint(datetime(2026, 11, 29, 2, 35, tzinfo=UTC), 2411.0),
    ]

    state, reason = decide_state(points, alarm, NOW)

    assert state is AlarmState.ALARM
    assert reason == message["NewStateReason"]


def test_decide_state_reason_for_p95_ok_fixture() -> None:
    message = json.loads(sns_record("alarm-p95-latency-OK.json")["Message"])
    alarm = config(evaluation_periods=2, threshold=2000.0, current_state=AlarmState.ALARM)
    points = [
        Datapoint(datetime(2026, 11, 29, 3, 0, tzinfo=UTC), 2100.0),
        Datapoint(datetime(2026, 11, 29, 3, 5, tzinfo=UTC), 840.0),
    ]

    state, reason = decide_state(points, alarm, datetime(2026, 11, 29, 3, 10, tzinfo=UTC))

    assert state is AlarmState.OK
    assert reason == message["NewStateReason"]


def test_decide_state_reason_for_metric_math_fixture() -> None:
    message = json.loads(sns_record("alarm-metric-math-error-rate-ALARM.json")["Message"])
    alarm = config(evaluation_periods=2, datapoints_to_alarm=2, threshold=5.0)
    points = [
        Datapoint(datetime(2026, 11, 29, 2, 30, tzinfo=UTC), 100 * 1 / 12),
        Datapoint(datetime(2026, 11, 29, 2, 35, tzinfo=UTC), 12.5),
    ]

    _, reason = decide_state(points, alarm, NOW)

    assert reason == message["NewStateReason"]


def test_decide_state_reason_for_missing_breaching_fixture() -> None:
    message = json.loads(sns_record("alarm-missing-data-breaching-ALARM.json")["Message"])
    alarm = config(
        period=86400,
        evaluation_periods=1,
        threshold=192.0,
        treat_missing_data=TreatMissingData.BREACHING,
        current_state=AlarmState.INSUFFICIENT_DATA,
    )

    state, reason = decide_state([], alarm, NOW)

    assert state is AlarmState.ALARM
    assert reason == message["NewStateReason"]


def test_decide_state_reason_one_of_one() -> None:
    alarm = config(period=60, evaluation_periods=1, datapoints_to_alarm=1, threshold=192.0)
    now = datetime(2026, 12, 4, 10, 1, tzinfo=UTC)

    _, reason = decide_state([Datapoint(datetime(2026, 12, 4, 10, 0, tzinfo=UTC), 200.0)], alarm, now)

    assert reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [200.0 (04/12/26 10:00:00)] was greater than the "
        "threshold (192.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )


def test_decide_state_insufficient_reason() -> None:
    alarm = config(evaluation_periods=2)

    state, reason = decide_state([], alarm, NOW)

    assert state is AlarmState.INSUFFICIENT_DATA
    assert reason == "Insufficient Data: 2 datapoints were unknown."


def test_decide_state_not_breaching_reason() -> None:
    alarm = config(evaluation_periods=2, treat_missing_data=TreatMissingData.NOT_BREACHING)

    state, reason = decide_state([], alarm, NOW)

    assert state is AlarmState.OK
    assert reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were "
        "treated as [NonBreaching]."
    )


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("GreaterThanThreshold", 10.0, AlarmState.OK),
        ("GreaterThanThreshold", 10.5, AlarmState.ALARM),
        ("GreaterThanOrEqualToThreshold", 10.0, AlarmState.ALARM),
        ("GreaterThanOrEqualToThreshold", 9.5, AlarmState.OK),
        ("LessThanThreshold", 10.0, AlarmState.OK),
        ("LessThanThreshold", 9.5, AlarmState.ALARM),
        ("LessThanOrEqualToThreshold", 10.0, AlarmState.ALARM),
        ("LessThanOrEqualToThreshold", 10.5, AlarmState.OK),
    ],
)
def test_decide_state_comparison_operators(operator: str, value: float, expected: AlarmState) -> None:
    alarm = config(evaluation_periods=1, comparison_operator=operator, threshold=10.0)

    state, _ = decide_state([Datapoint(NOW - timedelta(seconds=300), value)], alarm, NOW)

    assert state is expected


def test_decide_state_less_than_reason_wording() -> None:
    alarm = config(evaluation_periods=1, comparison_operator="LessThanOrEqualToThreshold", threshold=10.0)

    _, reason = decide_state([Datapoint(NOW - timedelta(seconds=300), 12.0)], alarm, NOW)

    assert "was not less than or equal to the threshold (10.0)" in reason


@pytest.mark.parametrize(
    "operator",
    ["LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"],
)
def test_decide_state_anomaly_band_unsupported(operator: str) -> None:
    alarm = config(comparison_operator=operator)

    with pytest.raises(UnsupportedAlarmError) as raised:
        decide_state([], alarm, NOW)

    assert "anomaly detection band" in str(raised.value)


def test_decide_state_ignores_datapoints_outside_range() -> None:
    alarm = config(evaluation_periods=1, evaluation_range=3)
    old = Datapoint(NOW - timedelta(hours=2), 50.0)

    state, _ = decide_state([old], alarm, NOW)

    assert state is AlarmState.INSUFFICIENT_DATA


def test_decide_state_newest_datapoints_win() -> None:
    alarm = config(evaluation_periods=2, evaluation_range=5)
    values = [5.0, 5.0, 5.0, 0.0, 0.0]  # oldest first: breaching long ago, fine recently
    points = [Datapoint(NOW - timedelta(seconds=300 * (5 - i)), v) for i, v in enumerate(values)]

    state, _ = decide_state(points, alarm, NOW)

    assert state is AlarmState.OK


def test_decide_state_partial_breaching_fill_reason() -> None:
    alarm = config(evaluation_periods=3, treat_missing_data=TreatMissingData.BREACHING)

    state, reason = decide_state([Datapoint(NOW - timedelta(seconds=300), 5.0)], alarm, NOW)

    assert state is AlarmState.ALARM
    assert "2 missing datapoints were treated as [Breaching]" in reason


def test_decide_state_low_sample_count_ignored() -> None:
    alarm = config(
        evaluation_periods=1,
        percentile=95.0,
        evaluate_low_sample_count_percentile="ignore",
        current_state=AlarmState.OK,
    )
    few_samples = Datapoint(NOW - timedelta(seconds=300), 5000.0, sample_count=19)

    state, _ = decide_state([few_samples], alarm, NOW)

    assert state is AlarmState.OK


def test_decide_state_low_sample_count_evaluated() -> None:
    alarm = config(evaluation_periods=1, percentile=95.0, evaluate_low_sample_count_percentile="evaluate")
    few_samples = Datapoint(NOW - timedelta(seconds=300), 5000.0, sample_count=19)

    state, _ = decide_state([few_samples], alarm, NOW)

    assert state is AlarmState.ALARM


def test_current_state_initial_moto_ok_is_insufficient() -> None:
    alarm = {"StateValue": "OK", "StateReason": "Unchecked: Initial alarm creation"}

    assert current_state_of(alarm) is AlarmState.INSUFFICIENT_DATA


def test_alarm_config_from_describe_alarms_entry() -> None:
    entry = {
        "AlarmName": "api-high-latency",
        "ExtendedStatistic": "p95",
        "Period": 300,
        "EvaluationPeriods": 2,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 2000.0,
        "StateValue": "ALARM",
        "StateReason": "earlier",
        "EvaluateLowSampleCountPercentile": "ignore",
    }

    alarm = AlarmConfig.from_alarm(entry)

    assert alarm.percentile == 95.0
    assert alarm.required_breaching == 2
    assert alarm.treat_missing_data is TreatMissingData.MISSING
    assert alarm.current_state is AlarmState.ALARM


# --- metric math ---------------------------------------------------------------------------------

T0 = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)
T1 = datetime(2026, 11, 29, 2, 35, tzinfo=UTC)


def test_expression_error_rate() -> None:
    series = {"errors": {T0: 1.0, T1: 3.0}, "invocations": {T0: 12.0, T1: 24.0}}

    result = evaluate_expression("100 * errors / invocations", series, [T0, T1])

    assert result == {T0: 100 / 12, T1: 12.5}


def test_expression_max_of_array() -> None:
    series = {"errors": {T0: 5.0}, "invocations": {T0: 4.0}}

    result = evaluate_expression("100 * errors / MAX([errors, invocations])", series, [T0])

    assert result == {T0: 100.0}


def test_expression_fill_missing_timestamps() -> None:
    series = {"errors": {T1: 2.0}}

    result = evaluate_expression("FILL(errors, 0)", series, [T0, T1])

    assert result == {T0: 0.0, T1: 2.0}


def test_expression_keeps_shared_timestamps() -> None:
    series = {"a": {T0: 1.0, T1: 2.0}, "b": {T1: 4.0}}

    result = evaluate_expression("a + b", series, [T0, T1])

    assert result == {T1: 6.0}


def test_expression_division_by_zero_drops_point() -> None:
    series = {"errors": {T0: 1.0, T1: 1.0}, "invocations": {T0: 0.0, T1: 2.0}}

    result = evaluate_expression("errors / invocations", series, [T0, T1])

    assert result == {T1: 0.5}


def test_expression_unary_minus_and_parentheses() -> None:
    series = {"a": {T0: 2.0}}

    result = evaluate_expression("-(a - 5) * 2", series, [T0])

    assert result == {T0: 6.0}


@pytest.mark.parametrize(
    "expression",
    ["IF(a > 1, 1, 0)", "ANOMALY_DETECTION_BAND(a, 2)", "FILL(a, REPEAT)", "MAX(a)", "unknown_id * 2", "a +"],
)
def test_expression_unsupported_names_expression(expression: str) -> None:
    with pytest.raises(UnsupportedAlarmError) as raised:
        evaluate_expression(expression, {"a": {T0: 1.0}}, [T0])

    assert expression in str(raised.value)


def test_percentile_nearest_rank() -> None:
    samples = [float(value) for value in range(1, 21)]

    assert percentile_of(samples, 95.0) == 19.0


# --- composite rules -----------------------------------------------------------------------------

STATES = {"a": AlarmState.ALARM, "b": AlarmState.OK, "c": AlarmState.INSUFFICIENT_DATA}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('ALARM("a")', True),
        ('ALARM("b")', False),
        ('OK("b")', True),
        ('INSUFFICIENT_DATA("c")', True),
        ('ALARM("a") AND ALARM("b")', False),
        ('ALARM("a") OR ALARM("b")', True),
        ('NOT ALARM("b")', True),
        ('ALARM("b") AND ALARM("a") OR OK("b")', True),
        ('ALARM("b") AND (ALARM("a") OR OK("b"))', False),
        ('NOT (ALARM("a") AND OK("b"))', False),
        ("ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:a)", True),
        ('ALARM("a") AND TRUE', True),
        ("FALSE OR OK(b)", True),
    ],
)
def test_evaluate_rule_grammar(rule: str, expected: bool) -> None:
    assert evaluate_rule(rule, STATES) is expected


@pytest.mark.parametrize("rule", ['ALARM("a") AND', 'ALARM("a"', 'ALARM("missing")', 'ALARM("a") XOR OK("b")', ""])
def test_evaluate_rule_invalid_raises(rule: str) -> None:
    with pytest.raises(RuleError) as raised:
        evaluate_rule(rule, STATES)

    assert "AlarmRule" in str(raised.value)


def test_rule_children_names() -> None:
    rule = 'ALARM("api-gateway-5xx-errors") OR ALARM(arn:aws:cloudwatch:us-east-1:1:alarm:api-high-latency)'

    assert rule_children(rule) == ["api-gateway-5xx-errors", "api-high-latency"]


# --- notifications -------------------------------------------------------------------------------


def describe_entry(message: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the DescribeAlarms entry that a fixture notification was made from."""
    trigger = message["Trigger"]
    entry: dict[str, Any] = {
        "AlarmName": message["AlarmName"],
        "AlarmArn": message["AlarmArn"],
        "AlarmConfigurationUpdatedTimestamp": datetime.strptime(
            message["AlarmConfigurationUpdatedTimestamp"], "%Y-%m-%dT%H:%M:%S.%f%z"
        ),
        "OKActions": message["OKActions"],
        "AlarmActions": message["AlarmActions"],
        "InsufficientDataActions": message["InsufficientDataActions"],
        "EvaluationPeriods": trigger["EvaluationPeriods"],
        "ComparisonOperator": trigger["ComparisonOperator"],
        "Threshold": trigger["Threshold"],
        "TreatMissingData": trigger["TreatMissingData"],
    }
    if message["AlarmDescription"] is not None:
        entry["AlarmDescription"] = message["AlarmDescription"]
    if trigger["EvaluateLowSampleCountPercentile"]:
        entry["EvaluateLowSampleCountPercentile"] = trigger["EvaluateLowSampleCountPercentile"]
    if "DatapointsToAlarm" in trigger:
        entry["DatapointsToAlarm"] = trigger["DatapointsToAlarm"]
    if "Metrics" in trigger:
        entry["Metrics"] = [
            {
                **query,
                **(
                    {
                        "MetricStat": {
                            **query["MetricStat"],
                            "Metric": {
                                **query["MetricStat"]["Metric"],
                                "Dimensions": [
                                    {"Name": d["name"], "Value": d["value"]}
                                    for d in query["MetricStat"]["Metric"]["Dimensions"]
                                ],
                            },
                        }
                    }
                    if "MetricStat" in query
                    else {}
                ),
            }
            for query in trigger["Metrics"]
        ]
        return entry
    entry.update(
        {
            "MetricName": trigger["MetricName"],
            "Namespace": trigger["Namespace"],
            "Dimensions": [{"Name": d["name"], "Value": d["value"]} for d in trigger["Dimensions"]],
            "Period": trigger["Period"],
        }
    )
    if trigger["StatisticType"] == "Statistic":
        entry["Statistic"] = trigger["Statistic"].capitalize()
    else:
        entry["ExtendedStatistic"] = trigger["ExtendedStatistic"]
    return entry


METRIC_ALARM_FIXTURES = [
    "alarm-p95-latency-ALARM.json",
    "alarm-p95-latency-OK.json",
    "alarm-missing-data-breaching-ALARM.json",
    "alarm-metric-math-error-rate-ALARM.json",
    "long-name-ALARM.json",
]


@pytest.mark.parametrize("fixture", METRIC_ALARM_FIXTURES)
def test_build_alarm_message_matches_fixture_keys(fixture: str) -> None:
    expected = json.loads(sns_record(fixture)["Message"])
    changed_at = datetime.strptime(expected["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")

    message = build_alarm_message(
        describe_entry(expected),
        AlarmState(expected["OldStateValue"]),
        AlarmState(expected["NewStateValue"]),
        expected["NewStateReason"],
        changed_at,
    )

    assert list(message) == list(expected)
    assert list(message["Trigger"]) == list(expected["Trigger"])
    assert message == expected


@pytest.mark.parametrize(
    "fixture",
    [
        "alarm-p95-latency-ALARM.json",
        "alarm-missing-data-breaching-ALARM.json",
        "alarm-metric-math-error-rate-ALARM.json",
    ],
)
def test_encode_message_matches_fixture_text(fixture: str) -> None:
    record = sns_record(fixture)
    expected = json.loads(record["Message"])
    changed_at = datetime.strptime(expected["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    message = build_alarm_message(
        describe_entry(expected),
        AlarmState(expected["OldStateValue"]),
        AlarmState(expected["NewStateValue"]),
        expected["NewStateReason"],
        changed_at,
    )

    assert encode_message(message) == record["Message"]


def test_build_composite_message_matches_fixture() -> None:
    record = sns_record("alarm-composite-ALARM.json")
    expected = json.loads(record["Message"])
    composite = CompositeAlarm(
        name="api-degraded",
        rule=expected["AlarmRule"],
        description=expected["AlarmDescription"],
        alarm_actions=tuple(expected["AlarmActions"]),
        ok_actions=tuple(expected["OKActions"]),
        configuration_updated=datetime(2026, 11, 2, 10, 15, tzinfo=UTC),
    )
    child = {
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-gateway-5xx-errors",
        "StateValue": "ALARM",
        "StateUpdatedTimestamp": datetime(2026, 11, 29, 2, 40, tzinfo=UTC),
    }

    message = build_composite_message(
        composite,
        AlarmState.OK,
        AlarmState.ALARM,
        expected["NewStateReason"],
        [child],
        datetime(2026, 11, 29, 2, 40, 1, 101000, tzinfo=UTC),
    )

    assert encode_message(message) == record["Message"]


@pytest.mark.parametrize("fixture", [*METRIC_ALARM_FIXTURES, "alarm-composite-ALARM.json"])
def test_build_subject_matches_fixture(fixture: str) -> None:
    record = sns_record(fixture)
    message = json.loads(record["Message"])
    region = message["AlarmArn"].split(":")[3]

    assert build_subject(message["NewStateValue"], message["AlarmName"], region) == record["Subject"]


def test_build_subject_at_most_100_characters() -> None:
    subject = build_subject(AlarmState.INSUFFICIENT_DATA, "x" * 255, "ap-southeast-2")

    assert len(subject) <= 100


def test_format_timestamp_milliseconds() -> None:
    moment = datetime(2025, 3, 4, 10, 15, 10, 123456, tzinfo=UTC)

    assert format_timestamp(moment) == "2025-03-04T10:15:10.123+0000"
