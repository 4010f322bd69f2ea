"""The kiosk's non-UI parts, opened together: store, survey source, recorder and the optional button panel.

Kept free of Kivy so the wiring (one Recorder shared by touchscreen and
panel) is plain Python. Opening may fail with StoreError (missing, locked or
unwritable database); the app then shows its error state and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_agent.config import DeviceConfig
from edge_agent.recorder import Recorder, Tap
from edge_agent.store import DeviceStore, StoreError
from kiosk.survey_source import SurveySource

log = logging.getLogger("touchpoint.kiosk")


@dataclass
class PanelHooks:
    """What the touchscreen wants to hear from a button panel (called from gpiozero threads)."""

    on_tap: Callable[[Tap], None]
    on_manager: Callable[[], None]
    on_error: Callable[[Exception], None]


@dataclass
class KioskServices:
    store: DeviceStore
    surveys: SurveySource
    recorder: Recorder
    panel: Any = field(default=None)

    def close(self) -> None:
        if self.panel is not None:
            try:
                self.panel.close()
            except Exception:
                log.exception("closing the button panel failed")
        self.surveys.close()
        self.store.close()


def open_services(
    config: DeviceConfig, now: Callable[[], float] = time.monotonic, hooks: PanelHooks | None = None
) -> KioskServices:
    """Open the store and everything that needs it; raises StoreError if the store cannot be used."""
    store = DeviceStore.for_device(config)
    try:
        surveys = SurveySource(config, store)
        store.backlog()  # a store that opens but cannot be read is not usable either
    except StoreError:
        store.close()
        raise
    except Exception as exc:
        store.close()
        raise StoreError(f"device store {config.store.path} is not usable: {exc}") from exc
    services = KioskServices(store, surveys, Recorder(store, surveys.current, clock=now))
    if config.panel.buttons and hooks is not None:
        services.panel = open_panel(config, services.recorder, hooks, now)
    return services


def open_panel(
    config: DeviceConfig, recorder: Recorder, hooks: PanelHooks, now: Callable[[], float] = time.monotonic
) -> Any:
    """The GPIO button panel on the SAME recorder, or None (logged) if it cannot start; the screen still works."""
    try:
        from kiosk.panel import SmileyPanel  # gpiozero only where a panel is configured

        return SmileyPanel(
            config.panel,
            recorder,
            on_tap=hooks.on_tap,
            on_manager=hooks.on_manager,
            on_error=hooks.on_error,
            clock=now,
        )
    except Exception:
        log.exception("button panel on GPIO %s could not start; the touchscreen works without it", config.panel.buttons)
        return None
