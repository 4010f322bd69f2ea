"""Shared pieces of the benchmark: result rows, percentiles, process stats, a broker and a hub process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hub.broker import MosquittoBroker, MosquittoConfig, free_port
from hub.storage import open_storage

ROOT = Path(__file__).resolve().parents[3]
LIB = ROOT / "scripts" / "lib"
ENV = {
    **os.environ,
    "PYTHONUNBUFFERED": "1",
    "TOUCHPOINT_CLOCK_OK": "1",
    "PYTHONPATH": os.pathsep.join([str(ROOT), str(LIB)]),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclass
class Row:
    """One line of the results table: a figure, the limit it is compared with (same run), and the target."""

    section: str
    what: str
    value: float | None
    unit: str
    limit: float | None = None
    limit_what: str = ""
    ratio: float | None = None
    ratio_what: str = ""  # how to read the ratio, e.g. "of raw" or "x faster"
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Section:
    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


def pct(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of ``samples``; NaN when empty."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 0.5), 3),
        "p95_ms": round(pct(ms, 0.95), 3),
        "p99_ms": round(pct(ms, 0.99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or a != a or b != b:
        return None
    return a / b


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (MiB), from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_split_mb(pid: int) -> tuple[float, float]:
    """(anonymous, file-backed) resident MB: file-backed pages are shared libraries, shared between processes."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssFile:")):
                found[line.split(":")[0]] = int(line.split()[1]) / 1024
    return found.get("RssAnon", float("nan")), found.get("RssFile", float("nan"))


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def raise_fd_limit(wanted: int = 65_536) -> int:
    """Allow many sockets (the fleet); children such as Mosquitto inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start_broker(workdir: Path, **config: Any) -> MosquittoBroker:
    """A Mosquitto on a free port, configured as the demo and the tests configure it unless told otherwise."""
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=workdir / "broker", **config))
    broker.start()
    return broker


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class HubProcess:
    """``touchpoint-hub serve`` as a real process, with an analyst token made before it starts."""

    def __init__(
        self, workdir: Path, broker_url: str, db: Path | str | None = None, extra: list[str] | None = None
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = db or workdir / "hub.sqlite"  # a SQLite path or a postgresql:// URL
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "hub.log"
        storage = open_storage(self.db)  # creates or migrates the schema
        try:
            self.token = storage.create_token("bench", "analyst", None)[1]
        finally:
            storage.close()
        self.args = [sys.executable, "-m", "hub.cli", "serve", "--db", str(self.db), "--broker", broker_url,
                     "--port", str(self.port), "--log-level", "warning", *(extra or [])]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)
        wait_until(self._ready, timeout, f"the hub at {self.url} (log {self.log_path})", 0.1)

    def _ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"the hub exited; see {self.log_path}")
        try:
            return bool(httpx.get(self.url + "/healthz", timeout=1).json()["mqtt_connected"])
        except httpx.HTTPError:
            return False

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def bare_python_rss_mb() -> float:
    """RSS of an interpreter that imports nothing: the floor under any Python process here."""
    code = "import re;print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out) / 1024


def write_device_config(workdir: Path, device_id: str, location_id: str, timezone: str, broker_url: str) -> Path:
    """A device.toml as the integration tests write it: real agent, real store, this broker."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{device_id}.toml"
    path.write_text(
        f'device_id = "{device_id}"\nlocation_id = "{location_id}"\ntimezone = "{timezone}"\n'
        f'[store]\npath = "{workdir / (device_id + ".sqlite")}"\n[broker]\nurl = "{broker_url}"\n'
    )
    return path


class AgentProcess:
    """``touchpoint-agent run`` as a real process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log_path = config.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        args = [sys.executable, "-m", "edge_agent.cli", "run", "--config", str(self.config)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
