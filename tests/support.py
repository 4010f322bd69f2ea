"""Real processes for integration tests: the hub and device agents, started as their CLIs are."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from hub.broker import free_port

ENV = {**os.environ, "TOUCHPOINT_CLOCK_OK": "1", "PYTHONUNBUFFERED": "1"}
# For processes that must judge this machine's real clock, as a device in the field does.
REAL_CLOCK_ENV = {k: v for k, v in ENV.items() if k not in ("TOUCHPOINT_CLOCK_OK", "TOUCHPOINT_CLOCK_OFFSET_S")}


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; fail naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last value: {last!r})")


class Process:
    """A CLI run in a subprocess with its output in a log file."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self.env = ENV if env is None else env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, like a power cut of that process."""
        if self.proc is not None and self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.running:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Hub(Process):
    def __init__(self, workdir: Path, broker_url: str, db: str | None = None) -> None:
        """``db``: a ``postgresql://`` URL, or None for a SQLite file in ``workdir``."""
        self.workdir = workdir
        self.db: Path | str = db or workdir / "hub.sqlite"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "hub.cli", "serve", "--db", str(self.db), "--broker", broker_url]
        args += ["--port", str(self.port), "--log-level", "info"]
        super().__init__(args, workdir / "hub.log")
        self._tokens: dict[str, str] = {}

    def start(self) -> None:
        super().start()
        wait_until(self._connected, 20, f"hub at {self.url} to serve and connect to MQTT\n{self.log()[-2000:]}")

    def _connected(self) -> bool:
        if not self.running:
            raise AssertionError(f"hub exited:\n{self.log()[-3000:]}")
        try:
            return bool(httpx.get(self.url + "/healthz", timeout=1).json()["mqtt_connected"])
        except httpx.HTTPError:
            return False

    def token(self, role: str = "analyst") -> str:
        if role not in self._tokens:
            out = subprocess.run(
                [sys.executable, "-m", "hub.cli", "token", "create", "--db", str(self.db), "--role", role],
                check=True,
                capture_output=True,
                text=True,
                env=ENV,
            ).stdout
            self._tokens[role] = out.strip().splitlines()[-1]
        return self._tokens[role]

    def get(self, path: str, role: str = "analyst", **params: Any) -> Any:
        response = httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {self.token(role)}"}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def request(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        """Any API call (POST, PUT, PATCH, ...) with a token of ``role``; the caller checks the status."""
        headers = {"Authorization": f"Bearer {self.token(role)}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the hub's database directly, as a second opinion beside the API (``?`` placeholders)."""
        if isinstance(self.db, str):
            import psycopg

            with psycopg.connect(self.db) as pg:
                return pg.execute(query.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()


def write_device_config(
    workdir: Path,
    device_id: str,
    location_id: str,
    timezone: str,
    broker_url: str,
    clock_trust: str | None = None,
    **sync: Any,
) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{device_id}.toml"
    lines = [
        f'device_id = "{device_id}"',
        f'location_id = "{location_id}"',
        f'timezone = "{timezone}"',
        "[store]",
        f'path = "{workdir / (device_id + ".sqlite")}"',
        "[broker]",
        f'url = "{broker_url}"',
        "keepalive_s = 5",
        "[sync]",
        "ack_timeout_s = 2.0",
        "max_backoff_s = 5.0",
        "status_interval_s = 5.0",
    ]
    lines += [f"{k} = {v!r}" for k, v in sync.items()]
    if clock_trust is not None:
        lines += ["[clock]", f'trust = "{clock_trust}"']
    path.write_text("\n".join(lines) + "\n")
    return path


class Agent(Process):
    def __init__(self, config_path: Path, env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        args = [sys.executable, "-m", "edge_agent.cli", "run", "--config", str(config_path)]
        super().__init__(args, config_path.with_suffix(".log"), env)


def device_truth(store_path: Path) -> dict[tuple[str, int, int], int]:
    """Counted answers in a device store: {(question_id, scale, value): n}, misuse excluded."""
    conn = sqlite3.connect(store_path, timeout=10)
    try:
        rows = conn.execute(
            "SELECT question_id, scale, value, COUNT(*) FROM events WHERE misuse = 0 GROUP BY 1, 2, 3"
        ).fetchall()
    finally:
        conn.close()
    return {(q, s, v): n for q, s, v, n in rows}


def backlog(store_path: Path) -> int:
    conn = sqlite3.connect(store_path, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE sync_state = 0").fetchone()[0])
    finally:
        conn.close()
