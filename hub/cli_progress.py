"""A progress bar on stderr for long commands: rows done of total per table, rate and time left.

On a terminal one line is redrawn in place; otherwise (a log, a pipe, CI) a plain line is written
when a table starts, every few seconds while it runs, and when it ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24
NAME_WIDTH = 18
TTY_EVERY_S = 0.1
PLAIN_EVERY_S = 5.0


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressBar:
    """Implements :class:`hub.storage.copy.CopyProgress`."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.clock = clock
        self._started = self._shown = 0.0
        self._last = (0, 0)  # (done, total) last reported
        self._first = 0  # rows already there when the table started: not part of the rate

    def table_started(self, table: str, done: int, total: int) -> None:
        self._started = self._shown = self.clock()
        self._first = done
        self._draw(table, done, total, force=True)

    def rows_done(self, table: str, done: int, total: int) -> None:
        self._draw(table, done, total, force=False)

    def table_finished(self, table: str, written: int) -> None:
        done, total = self._last
        note = f"{written} rows written" if written else "nothing to write"
        text = f"{self.line(table, done, total)}  done: {note} in {_duration(self.clock() - self._started)}"
        self.stream.write(f"\r{text}\033[K\n" if self.tty else f"{text}\n")
        self.stream.flush()

    def line(self, table: str, done: int, total: int) -> str:
        """The text shown for a table: ``events [#####.....] 25000/50353 rows  12000 rows/s  ETA 2 s``."""
        elapsed = self.clock() - self._started
        rate = (done - self._first) / elapsed if elapsed > 0 else 0.0
        share = done / total if total else 1.0
        filled = round(BAR_WIDTH * share)
        left = f"ETA {_duration((total - done) / rate)}" if rate > 0 and done < total else ""
        if not self.tty:
            left = f"{share:.0%}  {left}"
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"{table:<{NAME_WIDTH}} [{bar}] {done}/{total} rows  {rate:,.0f} rows/s  {left}".rstrip()

    def _draw(self, table: str, done: int, total: int, force: bool) -> None:
        self._last = (done, total)
        now = self.clock()
        if not force and now - self._shown < (TTY_EVERY_S if self.tty else PLAIN_EVERY_S):
            return
        self._shown = now
        text = self.line(table, done, total)
        self.stream.write(f"\r{text}\033[K" if self.tty else f"{text}\n")
        self.stream.flush()
