"""Screenshots of every kiosk screen at 800x480 and 1280x800, for review, each checked to be not blank.

Written to ``artifacts/screenshots/<screen>-<w>x<h>.png`` (Kivy's counter suffix removed).
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kivy.tests.common import UnitTestTouch

from edge_agent.pin import hash_pin
from edge_agent.store import DeviceStore
from kiosk.ui import root as kiosk_root
from tests.kiosk.kivy_rig import LARGE, SCREENSHOTS, SMALL, KioskCase

TZ = "Europe/Helsinki"
SCREENS = ("question", "follow-up", "thank-you", "pin", "manager", "error")


def pixel_stats(path: Path) -> tuple[tuple[int, int], int, float]:
    """(size, distinct colours, share of the most common colour) over a grid of sampled pixels."""
    from kivy.core.image import Image as CoreImage

    image = CoreImage(str(path), keep_data=True)
    data = image.image._data[0]
    width, height = data.width, data.height
    bpp = 4 if data.fmt in ("rgba", "bgra", "argb") else 3
    pixels = data.data
    stride = len(pixels) // height
    samples: Counter[bytes] = Counter()
    for y in range(0, height, 4):
        row = y * stride
        for x in range(0, width, 4):
            i = row + x * bpp
            samples[bytes(pixels[i : i + 3])] += 1
    total = sum(samples.values())
    return (width, height), len(samples), samples.most_common(1)[0][1] / total


def assert_not_blank(path: Path, size: tuple[int, int]) -> None:
    got_size, colours, dominant = pixel_stats(path)
    assert got_size == size, (path.name, got_size)
    # Real screens measure 60+ colours with the background at 57-95 %; an empty window is one colour.
    assert colours >= 30, f"{path.name}: only {colours} distinct colours: looks blank"
    assert dominant < 0.97, f"{path.name}: {dominant:.0%} of it is one colour: looks blank"


def seed_history(db_path: Path) -> None:
    """A plausible day in a shop: answers through the day, some reasons, yesterday too, some synced."""
    rng = random.Random(7)
    today = datetime.now(ZoneInfo(TZ)).replace(minute=0, second=0, microsecond=0)
    weights = [1, 2, 5, 9]
    with DeviceStore(db_path, TZ, synchronous="NORMAL") as store:
        for day, count in ((today - timedelta(days=1), 90), (today, 140)):
            for _ in range(count):
                hour = min(20, max(8, int(rng.gauss(14, 3))))
                value = rng.choices(range(4), weights)[0]
                reason = rng.choice(["queue", "queue", "staff", "price", None]) if value <= 1 else None
                at = day.replace(hour=hour, minute=rng.randrange(60))
                store.record(value, "default", 4, source="cli", reason=reason, now=at)
        ids = [r["id"] for r in store.pending_after(0, 200, now=float("inf"))]
        store.mark_synced(ids)
        store.set_meta("agent_connected", "1")


class ScreenshotTest(KioskCase):
    def shoot(self, screen: str) -> list[Path]:
        paths = []
        for w, h in (SMALL, LARGE):
            self.resize((w, h))
            self.advance_frames(3)  # pressed-state highlights fade
            paths.append(self.screenshot(SCREENSHOTS / f"{screen}-{w}x{h}.png"))
        return paths

    def hold_corner(self, root: Any) -> None:
        touch = UnitTestTouch(*root.corner.to_window(*root.corner.center))
        touch.touch_down()
        self.later(kiosk_root.HOLD_S + 0.1)
        touch.touch_up()
        self.advance_frames(1)

    def test_every_screen_at_both_sizes_is_written_and_not_blank(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        seed_history(self.db_path)
        root = self.start(self.make_config(manager_pin_hash=hash_pin("2468")))
        shots: dict[str, list[Path]] = {}

        shots["question"] = self.shoot("question")
        self.tap(root.question.buttons[1])
        self.later(kiosk_root.FEEDBACK_S + 0.01)
        assert root.sm.current == "follow_up"
        shots["follow-up"] = self.shoot("follow-up")
        self.tap(root.follow_up.chips["staff"])
        assert root.sm.current == "thank_you"
        shots["thank-you"] = self.shoot("thank-you")
        self.later(3.1)

        self.hold_corner(root)
        assert root.sm.current == "pin"
        self.type_pin(root, "1111")
        self.tap(root.pin.keys["2"])
        self.tap(root.pin.keys["4"])
        shots["pin"] = self.shoot("pin")
        self.tap(root.pin.keys["6"])
        self.tap(root.pin.keys["8"])
        self.tap(root.pin.keys["OK"])
        assert root.sm.current == "manager"
        shots["manager"] = self.shoot("manager")
        self.tap(root.manager.back)

        conn = sqlite3.connect(self.db_path)
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
        conn.commit()
        conn.close()
        self.tap(root.question.buttons[3])
        assert root.sm.current == "error"
        shots["error"] = self.shoot("error")

        assert sorted(shots) == sorted(SCREENS)
        for paths in shots.values():
            for path, size in zip(paths, (SMALL, LARGE), strict=True):
                assert path.exists()
                assert_not_blank(path, size)
        leftovers = [p.name for p in SCREENSHOTS.glob("*0001.png")]
        assert leftovers == []

    def test_blank_check_catches_an_empty_window(self) -> None:
        self.resize(SMALL)
        path = self.screenshot(self.tmp / "empty.png")
        assert sorted(p.name for p in self.tmp.iterdir()) == ["empty.png"]  # Kivy's "0001" counter dropped
        _size, colours, dominant = pixel_stats(path)
        assert colours < 30 and dominant > 0.97
