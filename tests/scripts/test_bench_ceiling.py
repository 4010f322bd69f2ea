"""The broker-ceiling bench: its fleet spread over processes and source addresses, and how it calls a limit.

A ceiling that is never called (or called on the wrong cause) would put a wrong number in
docs/scale-out.md, so the judgement is checked on steps built by hand, and the multi-process fleet
runs for real against a real Mosquitto.
"""

from __future__ import annotations

import math
from pathlib import Path

from bench.ceiling import Step, device_steps, measure


def passing(**fields: object) -> Step:
    base: dict[str, object] = dict(connected=100, broker_cores_steady=0.1, ping_p99_ms=5.0, taps=100, planned_taps=100)
    step = Step("bare", 100, **{**base, **fields})  # type: ignore[arg-type]
    step.judge()
    return step


def test_a_healthy_step_hits_no_limit() -> None:
    assert passing().limited_by == []


def test_each_limit_is_named() -> None:
    assert passing(failed=3).limited_by == ["3 connects failed"]
    assert passing(ping_p99_ms=1500.0).limited_by == ["round-trip p99 1,500 ms > 1 s"]
    assert passing(broker_cores_steady=0.93).limited_by == ["broker core 93 % busy"]
    assert "the simulators fell behind" in passing(taps=50).limited_by[0]


def test_no_latency_samples_is_a_miss_not_a_pass() -> None:
    assert passing(ping_p99_ms=math.nan).limited_by


def test_the_hub_variant_is_judged_on_its_acks() -> None:
    step = Step("hub", 100, connected=100, broker_cores_steady=0.1, ping_p99_ms=5.0, ack_p99_ms=1200.0)
    step.judge()
    assert step.limited_by == ["ack p99 1,200 ms > 1 s"]
    late = Step("hub", 100, connected=100, broker_cores_steady=0.1, ping_p99_ms=5.0, ack_p99_ms=math.inf, unacked=7)
    late.judge()
    assert late.limited_by == ["ack p99 > 1 s: 7 taps still unacked 2 s after the steady phase"]


def test_steps_gain_the_largest_fleet_that_fits_the_fds() -> None:
    assert device_steps([10_000, 20_000, 40_000], 20_000) == [10_000, 19_000, 20_000, 40_000]
    assert device_steps([10_000, 20_000, 40_000], 100_000) == [10_000, 20_000, 40_000]


def test_a_fleet_over_several_processes_and_source_addresses_connects_and_is_measured(tmp_path: Path) -> None:
    step = measure(tmp_path, Step("bare", 300), duration=3.0, per_process=100)  # three simulator processes
    assert (step.connected, step.failed) == (300, 0)
    assert step.kb_per_connection > 0 and step.broker_cores_steady >= 0
    assert step.ping_p99_ms < 1000  # the echo devices (process 0) measured the broker's round trip
    assert step.taps > 0 and step.limited_by == []
