"""Shared rig for the Kivy kiosk tests: a real window, a real store file, an injected monotonic clock.

Touches go through Kivy's real hit-testing (``UnitTestTouch`` at a widget's
window position); the store file is read back over a separate sqlite3
connection, as the sync agent would. Time-driven behaviour (feedback, idle
reset, thank-you, lock-out, survey polling, store retry) follows ``self.clock``;
the kiosk checks it every frame (``tick_s=0``), so advancing the clock and
rendering a frame or two is deterministic.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from kivy.tests.common import GraphicUnitTest, UnitTestTouch

from edge_agent.config import DeviceConfig, parse_config
from edge_agent.survey import default_survey

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
SMALL, LARGE = (800, 480), (1280, 800)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 10_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def survey_data(**changes: Any) -> dict[str, Any]:
    """The bundled survey as JSON-ready data, with top-level fields replaced."""
    data: dict[str, Any] = default_survey().to_dict()
    data.update(changes)
    return data


def write_survey(path: Path, data: dict[str, Any]) -> None:
    """Replace the survey file atomically, as an installer's tooling should."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


@pytest.mark.usefixtures("kivy_display")
class KioskCase(GraphicUnitTest):  # type: ignore[misc]
    def setUp(self) -> None:
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp(prefix="kiosk-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.clock = FakeClock()
        self.db_path = self.tmp / "device.sqlite"

    # --- starting ----------------------------------------------------------

    def make_config(
        self, survey: dict[str, Any] | None = None, panel: dict[str, Any] | None = None, **kiosk: Any
    ) -> DeviceConfig:
        data: dict[str, Any] = {
            "device_id": "kiosk-test",
            "location_id": "test-store",
            "timezone": "Europe/Helsinki",
            "store": {"path": str(self.db_path)},
            "kiosk": kiosk,
            "panel": panel or {},
        }
        if survey is not None:
            survey_file = self.tmp / "survey.json"
            write_survey(survey_file, survey)
            data["kiosk"] = {"survey_file": str(survey_file), **kiosk}
        return parse_config(data)

    def start(self, config: DeviceConfig | None = None, size: tuple[int, int] = SMALL, **kwargs: Any) -> Any:
        """Render a KioskRoot for ``config`` in the real window at ``size``."""
        from kivy.core.window import Window

        from kiosk.ui.root import KioskRoot

        Window.size = size
        root = KioskRoot(config or self.make_config(), now=self.clock, tick_s=0, **kwargs)
        self.addCleanup(root.shutdown)
        self.screens: list[str] = [root.sm.current]
        root.sm.bind(current=lambda _sm, name: self.screens.append(name))
        self.render(root)
        self.advance_frames(2)
        return root

    # --- acting ------------------------------------------------------------

    def tap(self, widget: Any, frames: int = 1) -> None:
        """Press and release at the widget's centre, through the window's real touch dispatch."""
        touch = UnitTestTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        touch.touch_up()
        self.advance_frames(frames)

    def later(self, seconds: float, frames: int = 2) -> None:
        self.clock.advance(seconds)
        self.advance_frames(frames)

    def resize(self, size: tuple[int, int]) -> None:
        from kivy.core.window import Window

        Window.size = size
        self.advance_frames(3)

    def screenshot(self, target: Path) -> Path:
        """Save the next frame to ``target`` exactly (no counter suffix).

        Taken inside ``on_flip``, i.e. after drawing and before the buffer swap:
        after the swap the back buffer's contents are undefined (black under Xvfb).
        """
        from kivy.core.window import Window

        written: list[str] = []

        def grab(window: Any) -> None:
            written.append(window.screenshot(name=str(target)))

        Window.bind(on_flip=grab)
        try:
            for _ in range(10):
                Window.canvas.ask_update()
                self.advance_frames(1)
                if written:
                    break
        finally:
            Window.unbind(on_flip=grab)
        assert len(written) == 1, "no frame was drawn in 10 frames"
        os.replace(written[0], target)
        return target

    def type_pin(self, root: Any, pin: str) -> None:
        for digit in pin:
            self.tap(root.pin.keys[digit])
        self.tap(root.pin.keys["OK"])

    def hold_corner(self, root: Any, seconds: float) -> None:
        """Hold the manager corner (top left) for ``seconds``, as a store manager's finger does."""
        touch = UnitTestTouch(*root.corner.to_window(*root.corner.center))
        touch.touch_down()
        self.advance_frames(1)
        self.later(seconds)
        touch.touch_up()
        self.advance_frames(1)

    def open_manager(self, pin: str = "2468") -> Any:
        """A kiosk with manager PIN ``pin``, opened on its manager view: corner held, PIN typed."""
        from edge_agent.pin import hash_pin
        from kiosk.ui.root import HOLD_S

        root = self.start(self.make_config(manager_pin_hash=hash_pin(pin)))
        self.hold_corner(root, HOLD_S + 0.1)
        self.type_pin(root, pin)
        assert root.sm.current == "manager"
        return root

    # --- reading the store file -------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.db_path)
        conn.row_factory = sqlite3.Row
        try:
            cur = conn.execute(
                "SELECT seq, id, value, scale, source, misuse, reason, hold_until, question_id, survey_version "
                "FROM events ORDER BY seq"
            )
            return [dict(r) for r in cur.fetchall()]
        finally:
            conn.close()
