"""The kiosk as the Pi boots it: kiosk-session.sh on a bare X server with no window manager, at two screen sizes.

It checks what the shopper gets: the window covers the screen exactly, and an
X pointer click (what a touchscreen sends under X) on a face *where the
screenshot shows it* stores that face's value; the same for a follow-up
reason, the manager corner and the PIN pad. Every screen is saved to
artifacts/screenshots/ (the README's kiosk pictures are copied from there).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops

from edge_agent.pin import hash_pin
from edge_agent.store import DeviceStore
from edge_agent.survey import default_survey
from kiosk.headless import XServer, start_xvfb
from kiosk.ui.root import HOLD_S
from tests.kiosk import pixels
from tests.kiosk.boot_rig import REPO, BootedKiosk, x_server_args

SCREENSHOTS = REPO / "artifacts" / "screenshots"
TZ = "Europe/Helsinki"
PIN = "2468"
TITLE = "Touchpoint test-store / kiosk-boot"
REASONS = [reason.id for reason in default_survey().question.follow_up.reasons]  # type: ignore[union-attr]
# (face value, reason chip to click or None): the two negative faces ask for a reason.
ANSWERS = [(0, "staff"), (1, "price"), (2, None), (3, None)]
IDLE_AFTER_S = 6  # the question rests this long before the idle screen (the test clicks faster than that)


def seed_history(db_path: Path) -> None:
    """A plausible day in a shop, so the manager view has figures to show: answers through the day, yesterday too."""
    rng = random.Random(7)
    today = datetime.now(ZoneInfo(TZ)).replace(minute=0, second=0, microsecond=0)
    with DeviceStore(db_path, TZ, synchronous="NORMAL") as store:
        # Nine days ago: last week, for the idle screen's "this week against last week".
        for day, count in ((today - timedelta(days=9), 120), (today - timedelta(days=1), 90), (today, 140)):
            for _ in range(count):
                hour = min(20, max(8, int(rng.gauss(14, 3))))
                value = rng.choices(range(4), [1, 2, 5, 9])[0]
                reason = rng.choice(["queue", "queue", "staff", "price", None]) if value <= 1 else None
                store.record(
                    value,
                    "default",
                    4,
                    source="cli",
                    reason=reason,
                    now=day.replace(hour=hour, minute=rng.randrange(60)),
                )
        store.mark_synced([str(r["id"]) for r in store.pending_after(0, 500, now=float("inf"))])
        store.set_meta("agent_connected", "1")


def action_rows(db_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT reason, text, logged_by, sync_state, started_on FROM actions").fetchall()
    finally:
        conn.close()


def touch_rows(db_path: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT value, reason, misuse FROM events WHERE source = 'touch' ORDER BY seq")
        return [dict(r) for r in rows]
    finally:
        conn.close()


def store_refuses(db_path: Path, refuse: bool) -> None:
    """Make the store file refuse new taps (as a failing SD card would), or accept them again."""
    conn = sqlite3.connect(db_path)
    try:
        if refuse:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
            )
        else:
            conn.execute("DROP TRIGGER refuse")
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(params=[(800, 480), (1280, 800)], ids=lambda size: f"{size[0]}x{size[1]}")
def screen(request: pytest.FixtureRequest) -> Iterator[tuple[XServer, tuple[int, int]]]:
    """A bare X server with kiosk-x.sh's flags (-nocursor, no blanking) and no window manager."""
    size: tuple[int, int] = request.param
    server = start_xvfb(*size, args=x_server_args())
    yield server, size
    server.stop()


@pytest.fixture
def root() -> Iterator[Path]:
    """Where the test installs what setup-pi.sh puts under /: short, as the error screen shows the store's path."""
    path = Path(tempfile.mkdtemp(prefix="tp-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def kiosk(root: Path, screen: tuple[XServer, tuple[int, int]]) -> Iterator[BootedKiosk]:
    """The boot session on ``screen``, with a device.toml and display.env as setup-pi.sh installs them."""
    server, _size = screen
    etc = root / "etc" / "touchpoint"
    etc.mkdir(parents=True)
    store = root / "var" / "lib" / "touchpoint" / "device.sqlite"
    store.parent.mkdir(parents=True)
    seed_history(store)
    config = etc / "device.toml"
    config.write_text(
        f'device_id = "kiosk-boot"\nlocation_id = "test-store"\ntimezone = "{TZ}"\n\n'
        f'[store]\npath = "{store}"\n\n'
        "[survey]\nresponse_interval_s = 0  # consecutive test clicks all count\n\n"
        f'[kiosk]\nmanager_pin_hash = "{hash_pin(PIN)}"\n'
        f"idle_screen_after_s = {IDLE_AFTER_S}\n"
    )
    display_env = etc / "display.env"
    display_env.write_text("XRANDR_ROTATE=normal\n")  # what setup-pi.sh --rotation 0 writes
    booted = BootedKiosk(server.display, root, config, display_env)
    yield booted
    booted.kill()


def save(image: Image.Image, name: str, size: tuple[int, int]) -> None:
    assert image.size == size
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image.save(SCREENSHOTS / f"{name}-{size[0]}x{size[1]}.png", optimize=True)


def test_the_booted_kiosk_covers_the_screen_and_takes_clicks_where_it_draws(
    kiosk: BootedKiosk, screen: tuple[XServer, tuple[int, int]], root: Path
) -> None:
    _server, size = screen
    width, height = size
    store = root / "var" / "lib" / "touchpoint" / "device.sqlite"
    image, _faces = kiosk.settled(pixels.question, "question with four faces", timeout_s=120)  # a slow start-up

    assert kiosk.root_size() == size
    window = kiosk.geometry(TITLE)
    placed = [window[k] for k in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")]
    assert placed == ["0", "0", str(width), str(height)], window
    assert window["Map State"] == "IsViewable"
    save(image, "question", size)

    for value, reason in ANSWERS:
        _image, faces = kiosk.wait(pixels.question, "question")
        kiosk.click(faces[value])
        if reason is not None:
            image, chips = kiosk.settled(partial(pixels.follow_up, reasons=len(REASONS)), "follow-up reasons")
            save(image, "follow-up", size)
            kiosk.click(chips[REASONS.index(reason)])
        image, _tick = kiosk.settled(pixels.thank_you, f"thank-you after face {value}")
        save(image, "thank-you", size)
    stored = [(r["value"], r["reason"], r["misuse"]) for r in touch_rows(store)]
    assert stored == [(value, reason, 0) for value, reason in ANSWERS]

    # A tap the store refuses is never thanked: the error screen, then the question again.
    store_refuses(store, True)
    _image, faces = kiosk.wait(pixels.question, "question")
    kiosk.click(faces[3])
    image, _sign = kiosk.settled(pixels.error, "error screen")
    save(image, "error", size)
    store_refuses(store, False)
    kiosk.wait(pixels.question, "question after the error")
    assert len(touch_rows(store)) == len(ANSWERS)

    # The manager corner: hold the top-left corner; the PIN pad comes after HOLD_S, not before.
    held = time.monotonic()
    kiosk.press(1, 1)
    _image, _keys = kiosk.wait(pixels.pin_pad, "PIN pad while the corner is held")
    assert time.monotonic() - held >= HOLD_S
    kiosk.release()
    _image, keys = kiosk.settled(pixels.pin_pad, "PIN pad")
    for digit in PIN[:2]:
        kiosk.click(keys[digit])
    image, _keys = kiosk.settled(lambda i: pixels.pin_pad(i) if pixels.pin_dots(i) == 2 else None, "two PIN dots")
    save(image, "pin", size)
    for key in [*PIN[2:], "OK"]:
        kiosk.click(keys[key])
    image, _exit = kiosk.settled(pixels.manager, "manager view")
    save(image, "manager", size)

    # "Log an action": a reason, then a ready-made text; it lands in the device store, pending for the hub.
    _image, (log_action, _back) = kiosk.settled(pixels.manager_buttons, "Log an action on the manager view")
    kiosk.click(log_action)
    image, reasons = kiosk.settled(partial(pixels.chips, count=len(REASONS) + 1), "reasons to log an action for")
    save(image, "log-action", size)
    kiosk.click(reasons[REASONS.index("queue")])
    _image, texts = kiosk.settled(partial(pixels.chips, count=3), "ready-made action texts")
    kiosk.click(texts[0])
    _image, [done] = kiosk.settled(partial(pixels.chips, count=1), "the action logged")
    today = datetime.now(ZoneInfo(TZ)).date().isoformat()
    assert action_rows(store) == [("queue", "We opened a second till at lunch.", "manager@kiosk-boot", 0, today)]
    kiosk.click(done)

    # Back to the question; once it rests, the idle screen rotates the week's score and the action.
    _image, (_log, back) = kiosk.settled(pixels.manager_buttons, "manager view again")
    kiosk.click(back)
    _image, faces = kiosk.wait(pixels.question, "question after the manager view")
    score_slide, _band = kiosk.settled(pixels.idle, "idle screen", timeout_s=IDLE_AFTER_S + 30)
    save(score_slide, "idle-score", size)

    def changed(image: Image.Image) -> Any:
        return pixels.idle(image) if ImageChops.difference(image, score_slide).getbbox() else None

    action_slide, _band = kiosk.settled(changed, "idle screen's next slide", timeout_s=30)
    save(action_slide, "idle-action", size)
    kiosk.click(faces[0])  # where the most negative face is drawn: it wakes the kiosk and is not an answer
    kiosk.settled(pixels.question, "question after a touch on the idle screen")
    time.sleep(1)
    assert len(touch_rows(store)) == len(ANSWERS)

    assert kiosk.stop() == 0, kiosk.log()
    log = kiosk.log()
    assert f"kiosk window: borderless {width}x{height} at 0,0" in log
    assert "touch input providers: SDL2MotionEventProvider, MouseMotionEventProvider\n" in log
    assert "received SIGTERM, stopping" in log and "kiosk stopped" in log
