"""``touchpoint-kiosk``: the touchscreen feedback app (Kivy), fullscreen and locked down for a shop floor.

The kiosk cannot be left without the manager PIN: Escape and window-close
requests are swallowed, the cursor is hidden and the screen never blanks.
Only "Exit kiosk" on the manager view (behind the PIN) stops it. Kivy reads
its environment at import, so everything Kivy is imported only after this
module has set ``KIVY_NO_ARGS`` (Kivy would otherwise parse our ``--config``).
"""

from __future__ import annotations

import os

# Before any Kivy import: our argv is ours, not Kivy's. SDL must leave SIGTERM/SIGINT to us, or a service
# manager's stop would arrive as a window-close request, which the kiosk refuses.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # one log format (ours) for Kivy's lines and ours

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager

from edge_agent.config import ConfigError, DeviceConfig, load_config
from kiosk.kivy_setup import configure_kivy

log = logging.getLogger("touchpoint.kiosk")

KEY_ESCAPE = 27
EPILOG = """examples:
  touchpoint-kiosk --config /etc/touchpoint/device.toml
  touchpoint-kiosk --config device.toml --windowed          # try it on a desktop

Manager view: hold a finger (or the mouse button) on the top-left corner of
the screen for 3 seconds, then enter the PIN set as kiosk.manager_pin_hash.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="touchpoint-kiosk",
        description="Touchpoint kiosk: shoppers tap a smiley; each tap is stored in the device store "
        "before they are thanked. Runs fullscreen and can only be closed from the PIN-protected manager view.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", "-c", type=Path, required=True, help="path to device.toml")
    parser.add_argument(
        "--windowed",
        action="store_true",
        help="run in a normal window (kiosk.window_size, default 800x480) instead of fullscreen, for desktop trials",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


class _KeepRunning(ExceptionHandler):  # type: ignore[misc]
    """A bug in a touch handler must not take the feedback point down: log it and carry on."""

    def handle_exception(self, exception: BaseException) -> Any:
        if isinstance(exception, KeyboardInterrupt | SystemExit):
            return ExceptionManager.RAISE
        log.error("unexpected error in the kiosk UI; carrying on", exc_info=exception)
        return ExceptionManager.PASS


class TouchpointKiosk(App):  # type: ignore[misc]
    """The Kivy app: builds :class:`kiosk.ui.root.KioskRoot` and keeps the window locked down."""

    def __init__(self, config: DeviceConfig, windowed: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = f"Touchpoint {config.location_id} / {config.device_id}"
        self.device_config = config
        self.windowed = windowed
        self.exit_allowed = False
        self.root_widget: Any = None
        self._keep_running = _KeepRunning()

    def build(self) -> Any:
        from kivy.core.window import Window

        from kiosk.ui.root import KioskRoot

        kiosk = self.device_config.kiosk
        Window.rotation = kiosk.rotation
        Window.allow_screensaver = False  # a feedback point that goes dark collects nothing
        if not self.windowed:
            Window.show_cursor = False
        Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard)
        ExceptionManager.add_handler(self._keep_running)
        self.root_widget = KioskRoot(self.device_config, on_exit=self._manager_exit)
        log.info(
            "kiosk window %dx%d, rotation %d, %s",
            Window.width,
            Window.height,
            kiosk.rotation,
            "windowed" if self.windowed else "fullscreen",
        )
        return self.root_widget

    def on_start(self) -> None:
        from kivy.clock import Clock

        Clock.schedule_once(self._log_input)  # Kivy starts its input providers after on_start

    def _log_input(self, _dt: float) -> None:
        """Which providers turn input into touches: exactly one, or every tap would count twice (kivy#3801)."""
        from kivy.base import EventLoop

        names = ", ".join(type(provider).__name__ for provider in EventLoop.input_providers)
        log.info("touch input providers: %s", names or "none")

    def open_settings(self, *_: Any) -> bool:
        """F1 would open Kivy's settings panel: not on a shop floor."""
        return False

    def _on_keyboard(self, _window: Any, key: int, *_: Any) -> bool:
        return key == KEY_ESCAPE  # swallowed: Escape never closes the kiosk

    def _on_request_close(self, *_: Any, **__: Any) -> bool:
        if self.exit_allowed:
            return False
        log.info("window close request ignored: exit via the manager view")
        return True

    def _manager_exit(self) -> None:
        self.exit_allowed = True
        self.stop()

    def stop_on_signal(self, signum: int, _frame: object) -> None:
        """SIGTERM (systemd stop) or Ctrl-C: the operator's way out, unlike a shopper's Escape."""
        from kivy.clock import Clock

        log.info("received %s, stopping", signal.Signals(signum).name)
        self.exit_allowed = True
        Clock.schedule_once(lambda _dt: self.stop())

    def on_stop(self) -> None:
        from kivy.core.window import Window

        Window.unbind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard)
        if self._keep_running in ExceptionManager.handlers:
            ExceptionManager.remove_handler(self._keep_running)
        if self.root_widget is not None:
            self.root_widget.shutdown()
            self.root_widget = None
            log.info("kiosk stopped")


def main(argv: list[str] | None = None) -> int:
    os.environ["KIVY_NO_ARGS"] = "1"
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_kivy(config.kiosk, args.windowed)
    app = TouchpointKiosk(config, windowed=args.windowed)
    signal.signal(signal.SIGTERM, app.stop_on_signal)
    signal.signal(signal.SIGINT, app.stop_on_signal)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
