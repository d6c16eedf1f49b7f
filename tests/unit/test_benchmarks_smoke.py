"""Smoke test of the benchmark's per-alert measurement: result structure only, never timing."""

from __future__ import annotations

from pathlib import Path

from benchmarks.run import HandlingTiming, measure_handling

EVENT = Path(__file__).resolve().parents[2] / "events" / "alert_router_malformed.json"


def test_measure_handling_two_repetitions_structure() -> None:
    timing = measure_handling(EVENT, repetitions=2)

    assert isinstance(timing, HandlingTiming)
    assert timing.event == "alert_router_malformed.json"
    assert timing.records == 2
    assert timing.samples == 4
    assert timing.median_us > 0
    assert timing.p95_us >= timing.median_us
    assert timing.baseline_median_us > 0
