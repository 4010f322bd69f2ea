"""The processes of a chaos run: the hub, and per device its agent and its tapper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

LIB = Path(__file__).resolve().parents[1]  # scripts/lib, so that ``python -m chaos.tapper`` imports
BASE_ENV = {
    **os.environ,
    "PYTHONUNBUFFERED": "1",
    "PYTHONPATH": os.pathsep.join(p for p in (str(LIB), os.environ.get("PYTHONPATH", "")) if p),
}


class Proc:
    """A command run as a child process, its output appended to a log file; start again at will."""

    def __init__(self, name: str, args: list[str], log_path: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_path
        self.env: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, env: dict[str, str] | None = None) -> None:
        if env is not None:
            self.env = env
        self.frozen = False
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env={**BASE_ENV, **self.env}, cwd=LIB.parents[1]
            )

    def freeze(self) -> None:
        """SIGSTOP: alive to the network's eyes (its sockets stay open) but doing nothing."""
        if self.proc is not None and self.running:
            self.proc.send_signal(signal.SIGSTOP)
            self.frozen = True

    def kill9(self) -> None:
        """SIGKILL: no clean-up at all, like pulling the plug on this process."""
        if self.proc is not None and self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None or not self.running:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class HubProc(Proc):
    """A ``touchpoint-hub serve``; with ``share_group`` one worker of several (its own MQTT client id)."""

    def __init__(
        self, workdir: Path, broker_url: str, port: int, db: str | Path, name: str = "hub", share_group: bool = False
    ) -> None:
        self.db = db
        self.url = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "hub.cli", "serve", "--db", str(self.db), "--broker", broker_url]
        args += ["--port", str(port), "--log-level", "warning"]
        if share_group:
            args += ["--share-group", "hub", "--client-id", name, "--leader-retry-s", "0.5"]
        super().__init__(name, args, workdir / f"{name}.log")

    def create_token(self, role: str = "admin") -> str:
        command = [sys.executable, "-m", "hub.cli", "token", "create", "--db", str(self.db), "--role", role]
        out = subprocess.run(
            [*command, "--name", "chaos"],
            check=True,
            capture_output=True,
            text=True,
            env=BASE_ENV,
        ).stdout
        return out.strip().splitlines()[-1]

    def healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if not self.running:
                raise RuntimeError(f"the hub exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)


def write_device_config(path: Path, device_id: str, location_id: str, timezone: str, broker_url: str) -> Path:
    """A device config for chaos: short timeouts, small batches, raw events kept for the final comparison."""
    lines = [
        f'device_id = "{device_id}"',
        f'location_id = "{location_id}"',
        f'timezone = "{timezone}"',
        "[store]",
        f'path = "{path.parent / (device_id + ".sqlite")}"',
        "retention_days = 3650",  # a 2024 clock's taps must not be pruned before the comparison
        "[broker]",
        f'url = "{broker_url}"',
        "keepalive_s = 5",
        "[sync]",
        "batch_size = 25",
        "max_inflight_batches = 4",
        "ack_timeout_s = 2.0",
        "max_backoff_s = 4.0",
        "status_interval_s = 5.0",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def agent(config: Path) -> Proc:
    args = [sys.executable, "-m", "edge_agent.cli", "run", "--config", str(config)]
    return Proc(f"agent {config.stem}", args, config.with_suffix(".agent.log"))


def tapper(config: Path, tap_log: Path, rate: float, seed: int) -> Proc:
    args = [sys.executable, "-m", "chaos.tapper", "--config", str(config), "--log", str(tap_log)]
    args += ["--rate", str(rate), "--seed", str(seed)]
    return Proc(f"tapper {config.stem}", args, config.with_suffix(".tapper.log"))
