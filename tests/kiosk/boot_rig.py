"""The kiosk started exactly as the Pi's boot session starts it, on a private Xvfb with no window manager.

Same script (firmware_config/pi/kiosk-session.sh), same X server flags as
kiosk-x.sh, same environment as touchpoint-kiosk.service (read from the unit
file, its paths moved under a staging root as ``setup-pi.sh --root`` does).
It is driven with xdotool: X pointer events, which is what a touchscreen sends
under X. Nothing in the kiosk's window, clock or Kivy settings is touched.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PIL import Image, ImageChops, ImageGrab

from tests.kiosk.pixels import Blob

REPO = Path(__file__).resolve().parents[2]
PI = REPO / "firmware_config" / "pi"
UNIT = REPO / "firmware_config" / "systemd" / "touchpoint-kiosk.service"
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"  # systemd's default PATH for services
T = TypeVar("T")


def x_server_args() -> list[str]:
    """kiosk-x.sh's X server flags, less those only a console X server has (display, vt, -keeptty)."""
    script = (PI / "kiosk-x.sh").read_text().replace("\\\n", " ")
    line = next(line for line in script.splitlines() if "/usr/bin/X " in line)
    tokens = shlex.split(line.split("/usr/bin/X ", 1)[1])
    return [t for t in tokens if not re.fullmatch(r":\d+|vt\d+|-keeptty", t)]


def unit_environment(root: Path) -> dict[str, str]:
    """touchpoint-kiosk.service's ``Environment=`` settings; absolute paths moved under ``root``."""
    env: dict[str, str] = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            for item in shlex.split(line.removeprefix("Environment=")):
                key, _, value = item.partition("=")
                env[key] = f"{root}{value}" if value.startswith("/") else value
    return env


def wait_until(check: Callable[[], T | None], what: str, timeout_s: float, on_fail: Callable[[], str]) -> T:
    """Poll ``check`` until it returns something; fail naming ``what`` after a generous ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s:.0f} s\n{on_fail()}")
        time.sleep(0.1)


class BootedKiosk:
    """``kiosk-session.sh`` as a real process on ``display``, with its environment from the unit file."""

    def __init__(self, display: str, root: Path, config: Path, display_env: Path) -> None:
        self.display = display
        self.log_path = root / "kiosk.log"
        env = {
            "PATH": SYSTEMD_PATH,
            "HOME": str(root / "var" / "lib" / "touchpoint"),  # the touchpoint user's home
            "DISPLAY": display,  # set by xinit for its client
            **unit_environment(root),
            "TOUCHPOINT_BIN": str(Path(sys.executable).parent),  # this venv stands in for /opt/touchpoint
            "TOUCHPOINT_CONFIG": str(config),
            "TOUCHPOINT_DISPLAY_ENV": str(display_env),
        }
        Path(env["HOME"]).mkdir(parents=True, exist_ok=True)  # StateDirectory=touchpoint
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(PI / "kiosk-session.sh")], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _x(self, *command: str) -> str:
        env = {"PATH": os.environ.get("PATH", SYSTEMD_PATH), "DISPLAY": self.display}
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{command}: {proc.stdout}{proc.stderr}"
        return proc.stdout

    def grab(self) -> Image.Image:
        """The X screen as the shopper sees it."""
        return ImageGrab.grab(xdisplay=self.display).convert("RGB")

    def click(self, blob: Blob) -> None:
        x, y = blob.center
        self._x("xdotool", "mousemove", str(x), str(y), "click", "1")

    def press(self, x: int, y: int) -> None:
        self._x("xdotool", "mousemove", str(x), str(y), "mousedown", "1")

    def release(self) -> None:
        self._x("xdotool", "mouseup", "1")

    def geometry(self, title: str) -> dict[str, str]:
        """``xwininfo`` for the window titled ``title`` (absolute position, size, map state)."""
        out = self._x("xwininfo", "-name", title)
        return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}

    def root_size(self) -> tuple[int, int]:
        info = {
            k.strip(): v.strip()
            for k, _, v in (line.partition(":") for line in self._x("xwininfo", "-root").splitlines())
        }
        return int(info["Width"]), int(info["Height"])

    def _diagnose(self) -> str:
        state = "running" if self.process.poll() is None else f"exited with {self.process.returncode}"
        return f"kiosk {state}; its log:\n{self.log()[-4000:]}"

    def wait(
        self, reader: Callable[[Image.Image], T | None], what: str, timeout_s: float = 30
    ) -> tuple[Image.Image, T]:
        """Screenshots until ``reader`` recognises one (the kiosk must stay up meanwhile)."""

        def seen() -> tuple[Image.Image, T] | None:
            assert self.process.poll() is None, self._diagnose()
            image = self.grab()
            result = reader(image)
            return None if result is None else (image, result)

        return wait_until(seen, what, timeout_s, self._diagnose)

    def settled(
        self, reader: Callable[[Image.Image], T | None], what: str, timeout_s: float = 30
    ) -> tuple[Image.Image, T]:
        """Like :meth:`wait`, once two screenshots in a row are identical: no button still shows pressed."""
        previous: list[Image.Image] = []

        def still(image: Image.Image) -> T | None:
            result = reader(image)
            same = bool(previous) and ImageChops.difference(previous[-1], image).getbbox() is None
            previous[:] = [image]
            return result if same else None

        return self.wait(still, f"settled {what}", timeout_s)

    def stop(self) -> int:
        """SIGTERM, as systemd stops the service; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
