"""The one path from any input (touchscreen, button panel, CLI) to the store.

It applies the misuse filter (HappyOrNot's response interval): a press within
the interval after the previous *counted* press is stored with
``misuse=true``, excluded from scores, never deleted. The shopper sees the
same feedback either way, so abuse teaches nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.protocol import Event
from edge_agent.store import DeviceStore
from edge_agent.survey import Survey

# A held event syncs by itself this long after the follow-up screen would have timed out.
HOLD_MARGIN_S = 5.0


@dataclass(frozen=True)
class Tap:
    event: Event
    misuse: bool
    follow_up: bool


class Recorder:
    """Thread-safe: the kiosk's UI thread and gpiozero's callback threads share one instance."""

    def __init__(
        self,
        store: DeviceStore,
        survey: Callable[[], Survey],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.survey = survey
        self._clock = clock
        self._lock = threading.Lock()
        self._last_counted: float | None = None

    def tap(self, value: int, source: str) -> Tap:
        """Store the answer durably (raises StoreError if it could not be stored), then return it."""
        with self._lock:
            survey = self.survey()
            question = survey.question
            now = self._clock()
            misuse = self._last_counted is not None and now - self._last_counted < survey.response_interval_s
            follow_up = question.asks_follow_up(value)
            event = self.store.record(
                value,
                question.id,
                question.scale,
                source=source,
                misuse=misuse,
                survey_version=survey.version,
                hold_s=survey.idle_timeout_s + HOLD_MARGIN_S if follow_up else 0.0,
            )
            if not misuse:
                self._last_counted = now
            return Tap(event, misuse, follow_up)

    def answer_follow_up(self, tap: Tap, reason_id: str | None) -> bool:
        """Attach the chosen reason (or None for Skip) to the same event and let it sync."""
        with self._lock:
            return self.store.set_reason(tap.event.id, reason_id)
