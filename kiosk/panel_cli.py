"""``touchpoint-panel``: a button-only station with no screen (GPIO smiley panel -> local store).

It must run where Kivy is not installed, so nothing here imports Kivy,
directly or through ``kiosk.app``; tests/kiosk/test_panel_cli.py enforces it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero import BadPinFactory, PinInvalidPin

from edge_agent import __version__
from edge_agent.config import ConfigError, DeviceConfig, load_config
from edge_agent.recorder import Recorder, Tap
from edge_agent.store import DeviceStore, StoreError
from kiosk.panel import SmileyPanel
from kiosk.survey_source import SurveySource

log = logging.getLogger("touchpoint.panel")

REFRESH_S = 2.0

EPILOG = """\
The panel records each press durably in the device store (store.path); run
`touchpoint-agent run` beside it to sync the taps to the hub. Pins come from
the [panel] section of device.toml (BCM numbers, most negative button first).

Hold the manager combination (panel.manager_combo, default the first and last
button) for panel.manager_hold_s seconds to see today's Happy Index band on the
LEDs: top button green, middle amber, bottom red, all once = no answers yet.

environment:
  GPIOZERO_PIN_FACTORY  gpiozero pin library: lgpio (Pi 5), rpigpio, ...;
                        "mock" runs without GPIO hardware, for trying a config

examples:
  touchpoint-panel --config /etc/touchpoint/device.toml
  GPIOZERO_PIN_FACTORY=mock touchpoint-panel --config device.toml --log-level DEBUG
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="touchpoint-panel",
        description="Touchpoint button panel: records smiley button presses on GPIO, with no screen.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", "-c", type=Path, required=True, help="path to device.toml (needs [panel] buttons)")
    parser.add_argument(
        "--refresh-s",
        type=float,
        default=REFRESH_S,
        help=f"how often to re-check for a new survey, in seconds (default {REFRESH_S:g})",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--version", action="version", version=f"touchpoint-panel {__version__}")
    return parser


@dataclass
class Station:
    """Everything a screenless panel runs: store, survey, recorder and buttons."""

    store: DeviceStore
    survey: SurveySource
    recorder: Recorder
    panel: SmileyPanel

    def close(self) -> None:
        self.panel.close()
        self.survey.close()
        self.store.close()


def open_station(
    config: DeviceConfig,
    *,
    pin_factory: Any = None,
    clock: Callable[[], float] = time.monotonic,
    tick_s: float | None = 0.02,
) -> Station:
    """Open the store and the GPIO panel; raises ConfigError, StoreError or gpiozero's errors."""
    if not config.panel.buttons:
        raise ConfigError(
            "panel.buttons: is empty, so this device has no button panel; "
            "set e.g. buttons = [5, 6, 13, 19] under [panel] in device.toml (4 or 5 BCM pins, most negative first)"
        )
    store = DeviceStore.for_device(config)
    try:
        source = SurveySource(config, store)
        recorder = Recorder(store, source.current, clock=clock)

        def on_tap(tap: Tap) -> None:
            if tap.follow_up:
                # No screen to ask the follow-up: let the tap sync now instead of after its hold.
                try:
                    recorder.answer_follow_up(tap, None)
                except (StoreError, sqlite3.Error) as exc:
                    log.warning("tap %s stays held a few seconds more before it syncs: %s", tap.event.id, exc)

        panel = SmileyPanel(config.panel, recorder, on_tap=on_tap, clock=clock, pin_factory=pin_factory, tick_s=tick_s)
    except BaseException:
        store.close()
        raise
    _warn_on_mismatch(source, len(config.panel.buttons))
    return Station(store, source, recorder, panel)


def _warn_on_mismatch(source: SurveySource, buttons: int) -> None:
    scale = source.current().question.scale
    if scale != buttons:
        log.error(
            "the survey asks a %d-point question but the panel has %d buttons: presses will NOT be recorded "
            "until they match (survey: %s)",
            scale,
            buttons,
            source.describe(),
        )


def serve(station: Station, stop: threading.Event, refresh_s: float = REFRESH_S) -> None:
    """Run until ``stop`` is set, picking up a new survey every ``refresh_s`` seconds."""
    while not stop.wait(refresh_s):
        if station.survey.refresh():
            _warn_on_mismatch(station.survey, len(station.panel.config.buttons))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.refresh_s <= 0:
        print("touchpoint-panel: --refresh-s must be positive", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        station = open_station(config)
    except ConfigError as exc:  # what the schema alone cannot check, e.g. no buttons or a bad combination
        print(f"{args.config}: invalid device config\n  {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"touchpoint-panel: {exc}", file=sys.stderr)
        return 1
    except PinInvalidPin as exc:
        print(f"{args.config}: invalid device config\n  panel: {exc} (BCM GPIO numbers 0-27)", file=sys.stderr)
        return 2
    except Exception as exc:  # gpiozero: no pin library, pin busy, no permission, ...
        print(f"touchpoint-panel: cannot set up the GPIO panel: {type(exc).__name__}: {exc}", file=sys.stderr)
        if isinstance(exc, BadPinFactory):
            print("  (install lgpio, or set GPIOZERO_PIN_FACTORY=mock to try without hardware)", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info(
        "touchpoint-panel %s running: device %s at %s, store %s, %s",
        __version__,
        config.device_id,
        config.location_id,
        config.store.path,
        station.survey.describe(),
    )
    try:
        serve(station, stop, args.refresh_s)
    finally:
        station.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
