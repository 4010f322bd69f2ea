"""Contact debounce for the smiley buttons, in our own code.

gpiozero's ``bounce_time`` is a no-op on mock pins (and differs between pin
libraries), so the panel cannot rely on it and the behaviour must be testable.

The rule is leading-edge with a quiet time: a press edge counts only if the
key has seen *no edge at all* (press or release, counted or not) for
``window_s``. Every edge restarts the window. So:

* a bouncing contact (5 toggles in 20 ms) gives one press: its first edge;
* the release of a long press bounces too, but its stray press edges come
  within the window of the release edge, so they never count;
* a genuine second press 300 ms later counts, because the contact was quiet.

The first edge counts at once, so the shopper's feedback is not delayed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable


class Debouncer:
    """Per-key edge filter; thread-safe (gpiozero calls back from its own threads)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_edge: dict[Hashable, float] = {}

    def edge(self, key: Hashable, pressed: bool) -> bool:
        """Note one raw edge of ``key``; True when it is a press to act on."""
        with self._lock:
            now = self._clock()
            last = self._last_edge.get(key)
            self._last_edge[key] = now
            return pressed and (last is None or now - last >= self.window_s)

    def quiet_for(self, key: Hashable) -> float:
        """Seconds since the last edge of ``key`` (infinite if it never had one)."""
        with self._lock:
            last = self._last_edge.get(key)
            return math.inf if last is None else self._clock() - last

    def settled(self, key: Hashable) -> bool:
        """True once ``key`` has been quiet for the whole window: its level can be trusted."""
        return self.quiet_for(key) >= self.window_s
