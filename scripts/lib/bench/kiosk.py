"""Kiosk: touch -> durable in the store and touch -> thank-you frame in the Kivy app.

Runs ``scripts/bench_kiosk.py`` (the kiosk engineer's benchmark) under ``xvfb-run`` and reads the JSON it
writes. Limits from this run: the bare INSERT + COMMIT of the tap-latency section, and the kiosk's own
feedback pause plus one frame at 60 fps.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ENV, ROOT, Row, Section, ratio

FRAME_MS = 1000 / 60


def run(results: Path, quick: bool, bare_commit: dict[str, Any] | None) -> Section:
    section = Section("Kiosk")
    out = results / "kiosk.json"
    args = [sys.executable, str(ROOT / "scripts" / "bench_kiosk.py"), "--out", str(out)]
    args += ["--taps", "200", "--touches", "15"] if quick else ["--taps", "1000", "--touches", "40"]
    if shutil.which("xvfb-run"):
        args = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", *args]
    done = subprocess.run(args, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"bench_kiosk.py failed ({done.returncode}): {done.stderr[-2000:]}")
    data = json.loads(out.read_text())
    durable, thanks = data["touch_to_durable"], data["touch_to_thank_you_frame"]
    pause_ms = float(data["notes"]["feedback_pause_s"]) * 1000
    floor = pause_ms + FRAME_MS
    section.details = data
    bare = (bare_commit or {}).get("p99_ms")
    section.rows += [
        Row(section.name, "Touch → durable (Recorder.tap), p99", durable["p99_ms"], "ms", bare,
            "bare INSERT + COMMIT, p99 (tap latency section)", ratio(durable["p99_ms"], bare), "x bare",
            "p99 < 5 ms", durable["p99_ms"] < 5, f"p50 {durable['p50_ms']:.2f} ms; n = {durable['n']}"),
        Row(section.name, "Touch → thank-you frame (Kivy, Xvfb), p99", thanks["p99_ms"], "ms", floor,
            f"the kiosk's {pause_ms:.0f} ms feedback pause + one 60 fps frame", ratio(thanks["p99_ms"], floor),
            "x floor", "", None, f"p50 {thanks['p50_ms']:.1f} ms; n = {thanks['n']}"),
    ]  # fmt: skip
    return section
