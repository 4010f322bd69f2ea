"""Kiosk tests: Kivy's environment is set before anything imports Kivy, and an X server is started lazily.

The panel tests in this directory never import Kivy and never ask for the
``kivy_display`` fixture, so running only them starts no X server. Kivy UI
tests use the fixture: it uses ``$DISPLAY`` if there is one, else starts a
private ``Xvfb`` (stopped at the end of the session), else falls back to
SDL's offscreen driver.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from kiosk.headless import ensure_display, kivy_test_env

if "kivy" not in sys.modules:
    # KIVY_NO_ARGS (else Kivy parses pytest's argv), a throwaway KIVY_HOME, no console or file logs.
    _kivy_home = kivy_test_env()
    atexit.register(shutil.rmtree, _kivy_home, ignore_errors=True)


@pytest.fixture(scope="session")
def kivy_display() -> Iterator[str]:
    """An X display for Kivy's window: the existing one, or our own Xvfb for the session."""
    try:
        server = ensure_display(1280, 800)
    except RuntimeError as exc:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
        print(f"kiosk tests: {exc}; using SDL's offscreen driver", file=sys.stderr)
        yield "offscreen"
        return
    yield server.display
    server.stop()


@pytest.fixture
def panel_clock_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """Panel tests record real taps: the hub-side clock check must see a trusted clock."""
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """gpiozero's own mock pins for the panel tests, restored afterwards."""
    previous = Device.pin_factory
    f = MockFactory()
    Device.pin_factory = f
    yield f
    f.reset()
    Device.pin_factory = previous
