"""Which survey a kiosk or button panel asks right now (no Kivy here: the headless panel uses it too).

Precedence, highest first:

1. a survey the hub pushed: the agent stores it in the device store's meta
   table under :data:`PUSHED_SURVEY_KEY`;
2. ``kiosk.survey_file`` from device.toml, re-read when the file changes;
3. the bundled :func:`edge_agent.survey.default_survey`, with the config's
   ``[survey]`` question id, scale and response interval (the question the
   device records "until the hub pushes a survey", as device.toml says).

A bad pushed survey or a bad file never replaces a good survey: the previous
one stays and the problem is logged once, naming the source and the field.
:meth:`SurveySource.refresh` is cheap (one indexed SELECT and one ``stat``),
so callers poll it every couple of seconds.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from msgspec.structs import replace

from edge_agent.config import DeviceConfig
from edge_agent.config_push import PUSHED_SURVEY_KEY
from edge_agent.store import DeviceStore
from edge_agent.survey import Survey, SurveyError, default_survey, load_survey, parse_survey

log = logging.getLogger("touchpoint.survey")

_FileSignature = tuple[int, int, int]  # (mtime_ns, size, inode): an atomic rename changes the inode
_UNCHECKED: _FileSignature = (-1, -1, -1)


def fallback_survey(config: DeviceConfig) -> Survey:
    """The bundled survey, asking the question the config's ``[survey]`` section names."""
    base = default_survey()
    defaults = config.survey
    question = replace(base.question, id=defaults.question_id, scale=defaults.scale)
    return replace(base, question=question, response_interval_s=defaults.response_interval_s)


class SurveySource:
    """The effective survey, cached; :meth:`current` never does I/O, :meth:`refresh` re-checks the sources.

    It reads the pushed survey over its own SQLite connection (reads only): the
    store's connection belongs to the Recorder (DeviceStore callers must
    serialise access), and WAL lets a reader run beside it.
    """

    def __init__(self, config: DeviceConfig, store: DeviceStore) -> None:
        self._db_path = store.path
        self._survey_file = config.kiosk.survey_file
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._fallback = fallback_survey(config)
        self._current = self._fallback
        self._idle_override = config.kiosk.idle_timeout_s
        self._origin = "bundled default survey"
        self._pushed_raw: str | None = None
        self._pushed: Survey | None = None
        self._file_sig: _FileSignature | None = _UNCHECKED
        self._file_survey: Survey | None = None
        self._last_problem: str | None = None
        self.refresh()
        log.info("survey: %s", self.describe())

    def current(self) -> Survey:
        return self._current

    def describe(self) -> str:
        """One line for logs: which survey, from where."""
        s = self._current
        return f"question {s.question.id!r} ({s.question.scale}-point), version {s.version}, from {self._origin}"

    def refresh(self) -> bool:
        """Re-check the sources; True if the effective survey changed."""
        with self._lock:
            found = self._resolve()
            if found is None:
                return False
            survey, origin = found
            if self._idle_override is not None:
                # The device's own idle timeout (kiosk.idle_timeout_s) wins over the survey's.
                survey = replace(survey, idle_timeout_s=self._idle_override)
            if survey == self._current:
                self._origin = origin
                return False
            self._current, self._origin = survey, origin
        log.info("survey changed: %s", self.describe())
        return True

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- sources -----------------------------------------------------------

    def _resolve(self) -> tuple[Survey, str] | None:
        """The survey the sources say now, or None to keep the current one."""
        try:
            raw = self._read_pushed()
        except sqlite3.Error as exc:
            self._problem(f"cannot read the pushed survey from {self._db_path}: {exc}; keeping the current survey")
            return None
        if raw:
            if raw != self._pushed_raw:
                self._pushed_raw = raw
                try:
                    self._pushed = parse_survey(raw, f"pushed survey (store meta {PUSHED_SURVEY_KEY!r})")
                except SurveyError as exc:
                    self._pushed = None
                    self._problem(f"{exc}; keeping the current survey")
            return None if self._pushed is None else (self._pushed, "the hub (pushed)")
        self._pushed_raw = self._pushed = None
        if self._survey_file is not None:
            return self._from_file(self._survey_file)
        return self._fallback, "bundled default survey"

    def _from_file(self, path: Path) -> tuple[Survey, str] | None:
        try:
            st = path.stat()
            sig: _FileSignature | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            sig = None  # load_survey below reports why
        if sig != self._file_sig:
            self._file_sig = sig
            try:
                self._file_survey = load_survey(path)
            except SurveyError as exc:
                self._file_survey = None
                self._problem(f"{exc}; keeping the current survey")
            else:
                self._problem(None)
        return None if self._file_survey is None else (self._file_survey, f"file {path}")

    def _read_pushed(self) -> str | None:
        if self._conn is None:
            # Read-write mode only so SQLite may use the WAL index; this connection never writes.
            self._conn = sqlite3.connect(str(self._db_path), timeout=1.0, check_same_thread=False)
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (PUSHED_SURVEY_KEY,)).fetchone()
        return None if row is None else str(row[0])

    def _problem(self, message: str | None) -> None:
        """Log a problem once (not every poll), and note when it is gone."""
        if message is not None and message != self._last_problem:
            log.error("survey: %s", message)
        self._last_problem = message
