"""The election loop: a follower keeps trying to lead; a leader keeps checking that it still does.

Singleton loops ask :meth:`LeaderElection.holds` before each effect (a
webhook POST, an alert episode, a config publish): it asks the lock itself,
so a leader that lost its lock stops before its next effect, not at the
next tick of this loop. What a lost leader may still have sent in between
is fenced downstream (idempotency keys, one open episode per alert key).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hub.services.leadership import Leadership

log = logging.getLogger("touchpoint.hub.leadership")
Role = Literal["leader", "follower"]


@dataclass
class ElectionStats:
    elections_won: int = 0
    leadership_lost: int = 0


class LeaderElection:
    def __init__(self, leadership: Leadership, retry_s: float, worker: str) -> None:
        self.leadership = leadership
        self.retry_s = retry_s
        self.worker = worker
        self.stats = ElectionStats()
        self.on_elected: list[Callable[[], None]] = []  # e.g. wake the webhook sender: work may be waiting
        self._leader = False
        self._lock = threading.Lock()  # one caller of the lock at a time: PostgreSQL connections are not shared
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    @property
    def role(self) -> Role:
        return "leader" if self._leader else "follower"

    def start(self) -> None:
        """Try once now, so a lone hub leads from its first second; then keep trying in the background."""
        self._try_acquire()
        if not self._leader:
            log.info("worker %s is a follower; trying to take over every %.1f s", self.worker, self.retry_s)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.retry_s + 10)
        with self._lock:
            if self._leader:
                self._leader = False
                log.info("worker %s gives leadership up (stopping)", self.worker)
            self.leadership.release()

    def holds(self) -> bool:
        """May this worker do singleton work now? Asks the lock, and steps down if it is gone."""
        with self._lock:
            if not self._leader:
                return False
            reason = "the lock is no longer held"
            try:
                held = self.leadership.holds()
            except Exception as exc:
                held, reason = False, f"{type(exc).__name__}: {exc}"
            if not held:
                self._step_down(reason)
            return held

    def _run(self) -> None:
        while not self._stop.wait(self.retry_s):
            if self._leader:
                self.holds()  # notices a lost lock even while no singleton work is due
            else:
                self._try_acquire()

    def _try_acquire(self) -> None:
        with self._lock:
            try:
                won = self.leadership.try_acquire()
            except Exception as exc:  # database down or lock file unwritable: stay a follower, retry later
                log.warning("worker %s could not try for leadership: %s: %s", self.worker, type(exc).__name__, exc)
                return
            if not won or self._leader:
                return
            self._leader = True
            self.stats.elections_won += 1
        log.info("worker %s became leader: it runs alert evaluation, webhook delivery and config push", self.worker)
        for callback in self.on_elected:
            try:
                callback()
            except Exception:
                log.exception("leadership callback failed")

    def _step_down(self, reason: str) -> None:
        """Called with ``_lock`` held."""
        self._leader = False
        self.stats.leadership_lost += 1
        log.warning("worker %s lost leadership: %s; its singleton work stops", self.worker, reason)
        try:
            self.leadership.release()
        except Exception as exc:
            log.warning("releasing the lost lock failed: %s: %s", type(exc).__name__, exc)
