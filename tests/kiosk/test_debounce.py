"""kiosk.debounce.Debouncer with an injected clock: bursts, genuine presses, release bounce, threads."""

from __future__ import annotations

import math
import threading

import pytest

from kiosk.debounce import Debouncer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def presses(debouncer: Debouncer, clock: FakeClock, key: object, edges: list[tuple[float, bool]]) -> list[int]:
    """Feed (delay_before, pressed) edges; return the indexes of the edges counted as presses."""
    counted = []
    for i, (delay, pressed) in enumerate(edges):
        clock.advance(delay)
        if debouncer.edge(key, pressed):
            counted.append(i)
    return counted


def test_a_bounce_burst_is_one_press_and_a_genuine_press_later_is_another() -> None:
    clock = FakeClock()
    d = Debouncer(0.05, clock)
    # 5 press/release toggles within 20 ms, then a clean press 300 ms later.
    burst = [(0.0 if i == 0 else 0.002, i % 2 == 0) for i in range(10)]
    assert presses(d, clock, "b", burst) == [0]
    assert presses(d, clock, "b", [(0.3, True), (0.1, False)]) == [0]


def test_the_release_bounce_of_a_long_press_is_not_a_press() -> None:
    clock = FakeClock()
    d = Debouncer(0.05, clock)
    press = [(0.0, True), (0.001, False), (0.002, True)]  # contact settles pressed
    release = [(0.4, False), (0.001, True), (0.002, False), (0.003, True), (0.002, False)]
    assert presses(d, clock, 1, press) == [0]
    # Each stray press edge comes right after another edge, however long ago the press was.
    assert presses(d, clock, 1, release) == []


def test_every_edge_restarts_the_window() -> None:
    clock = FakeClock()
    d = Debouncer(0.05, clock)
    assert d.edge("k", True)
    clock.advance(0.049)
    assert not d.edge("k", False)
    clock.advance(0.049)  # 98 ms after the press but only 49 ms after the release
    assert not d.edge("k", True)
    clock.advance(0.0501)  # a full window of quiet
    assert d.edge("k", True)


def test_keys_are_independent() -> None:
    clock = FakeClock()
    d = Debouncer(0.05, clock)
    assert d.edge(0, True)
    clock.advance(0.001)
    assert d.edge(3, True)
    assert not d.edge(0, True)


def test_release_edges_never_count() -> None:
    d = Debouncer(0.05, FakeClock())
    assert d.edge("x", False) is False


def test_quiet_for_and_settled() -> None:
    clock = FakeClock()
    d = Debouncer(0.05, clock)
    assert d.quiet_for("k") == math.inf
    assert d.settled("k")
    d.edge("k", True)
    clock.advance(0.03)
    assert d.quiet_for("k") == pytest.approx(0.03)
    assert not d.settled("k")
    clock.advance(0.0201)
    assert d.settled("k")


def test_zero_window_counts_every_press_and_negative_is_refused() -> None:
    clock = FakeClock()
    d = Debouncer(0.0, clock)
    assert [d.edge("k", p) for p in (True, False, True, False)] == [True, False, True, False]
    with pytest.raises(ValueError, match="window_s"):
        Debouncer(-0.01)


def test_concurrent_first_edges_count_exactly_once() -> None:
    """Many threads hit the same key at the same instant: one press, not one per thread."""
    clock = FakeClock()  # time stands still, so only the very first edge is outside the window
    d = Debouncer(0.05, clock)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(200):
            counted = d.edge("k", True)
            with lock:
                results.append(counted)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1600
    assert results.count(True) == 1
