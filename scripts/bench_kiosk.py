#!/usr/bin/env python3
"""Benchmark (not a test): how fast a tap becomes durable, and how fast the shopper sees the result.

1. touch -> durable: ``Recorder.tap`` on a real device store (WAL, synchronous=FULL, one fsync per tap).
2. touch -> frames in the real Kivy kiosk, in a real window (our own Xvfb if there is no display):
   from ``touch_up`` to the first drawn frame showing the chosen face (feedback), and to the first
   drawn frame with the thank-you screen current (includes the kiosk's deliberate FEEDBACK_S pause).

Prints a markdown table and writes bench-results/kiosk.json.

    .venv/bin/python scripts/bench_kiosk.py [--taps 500] [--touches 40]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.headless import ensure_display, kivy_test_env  # noqa: E402


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)

    def pick(q: float) -> float:
        return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]

    return {
        "n": len(ms),
        "p50_ms": round(pick(0.50), 3),
        "p99_ms": round(pick(0.99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(ms[-1], 3),
    }


class StepClock:
    """Moves 10 s per reading, so every benchmark tap is a counted answer (none flagged as misuse)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 10.0
        return self.t


def bench_durable(workdir: Path, taps: int) -> dict[str, float]:
    from edge_agent.recorder import Recorder
    from edge_agent.store import DeviceStore
    from edge_agent.survey import default_survey

    survey = default_survey()
    samples: list[float] = []
    with DeviceStore(workdir / "durable.sqlite", "Europe/Helsinki") as store:
        recorder = Recorder(store, lambda: survey, clock=StepClock())
        for i in range(taps):
            start = time.perf_counter()
            recorder.tap(2 + i % 2, "touch")  # positive answers: no follow-up hold
            samples.append(time.perf_counter() - start)
    return percentiles(samples)


def bench_screen(workdir: Path, touches: int) -> dict[str, dict[str, float]]:
    kivy_test_env(str(workdir / "kivy-home"))
    server = ensure_display(1280, 800)
    try:
        from kivy.base import EventLoop
        from kivy.core.window import Window
        from kivy.tests.common import UnitTestTouch

        from edge_agent.config import parse_config
        from kiosk.ui.root import KioskRoot

        config = parse_config(
            {"device_id": "bench", "location_id": "bench", "store": {"path": str(workdir / "screen.sqlite")}}
        )
        Window.size = (800, 480)
        root = KioskRoot(config)
        Window.add_widget(root)
        EventLoop.ensure_window()
        frames: list[float] = []
        Window.bind(on_flip=lambda *_: frames.append(time.perf_counter()))

        def run_until(done: Callable[[], bool], timeout: float = 5.0) -> float:
            deadline = time.perf_counter() + timeout
            while time.perf_counter() < deadline:
                mark = len(frames)
                EventLoop.idle()
                if len(frames) > mark and done():
                    return frames[-1]
            raise RuntimeError("the kiosk did not get there in time")

        for _ in range(10):  # warm up: window, fonts, textures
            EventLoop.idle()
        feedback: list[float] = []
        thanks: list[float] = []
        for i in range(touches):
            button = root.question.buttons[2 + i % 2]
            touch = UnitTestTouch(*button.to_window(*button.center))
            touch.touch_down()
            EventLoop.idle()
            start = time.perf_counter()
            touch.touch_up()
            feedback.append(run_until(lambda b=button: bool(b.chosen)) - start)
            thanks.append(run_until(lambda: root.sm.current == "thank_you") - start)
            root.show_question()
            run_until(lambda: root.sm.current == "question")
        root.shutdown()
        return {"touch_to_feedback_frame": percentiles(feedback), "touch_to_thank_you_frame": percentiles(thanks)}
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--taps", type=int, default=500, help="Recorder.tap calls for touch -> durable")
    parser.add_argument("--touches", type=int, default=40, help="touches on the Kivy kiosk")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "kiosk.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-kiosk-") as tmp:
        workdir = Path(tmp)
        durable = bench_durable(workdir, args.taps)
        screen = bench_screen(workdir, args.touches)

    from kiosk.ui.root import FEEDBACK_S

    results: dict[str, Any] = {
        "touch_to_durable": durable,
        **screen,
        "notes": {
            "store": "WAL, synchronous=FULL, BEGIN IMMEDIATE, one commit per tap, on this machine's disk",
            "feedback_pause_s": FEEDBACK_S,
            "frames": "Kivy's event loop at its default 60 fps cap, 800x480 window under Xvfb (Mesa llvmpipe)",
        },
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "unix_time": int(time.time()),
    }
    rows = [
        ("touch -> durable (Recorder.tap)", durable),
        ("touch_up -> feedback frame", screen["touch_to_feedback_frame"]),
        (f"touch_up -> thank-you frame (incl. {FEEDBACK_S * 1000:.0f} ms pause)", screen["touch_to_thank_you_frame"]),
    ]
    print("| What | n | p50 ms | p99 ms | mean ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['n']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['mean_ms']:.2f} | {r['max_ms']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
