"""The whole Touchpoint system on one machine: broker, hub, and simulated stores with real agents.

Run through ``scripts/demo``, which sets up the venv and system packages first.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from edge_agent.store import DeviceStore
from hub.broker import free_port, start_local_broker

from simulate import DEMO_LOCATIONS, SimLocation, backfill, live_tap

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "TOUCHPOINT_CLOCK_OK": os.environ.get("TOUCHPOINT_CLOCK_OK", "1")}
os.environ.setdefault("TOUCHPOINT_CLOCK_OK", "1")  # this process records the taps: the hub quarantines untrusted ones


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/demo",
        description="Run the whole Touchpoint system on this machine until Ctrl-C (or --duration).",
    )
    p.add_argument("--duration", type=float, default=0, help="stop by itself this many seconds after start-up")
    p.add_argument("--port", type=int, default=8000, help="hub HTTP port (default 8000; 0 = any free port)")
    p.add_argument("--broker-port", type=int, default=0, help="MQTT port (default: any free port)")
    p.add_argument("--locations", type=int, default=3, choices=range(1, len(DEMO_LOCATIONS) + 1))
    p.add_argument("--history-days", type=int, default=14, help="days of past taps each store starts with")
    p.add_argument("--taps-per-second", type=float, default=2.0, help="live taps per second, per store")
    p.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="wiped and recreated on each run")
    p.add_argument("--embedded-broker", action="store_true", help="use the embedded amqtt broker")
    return p.parse_args()


def say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = args.data_dir.resolve()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stop = threading.Event()
        self.live_taps = 0
        self.range: dict[str, str] = {}

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.data / f"{name}.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=ENV)
        self.procs.append(proc)
        return proc

    def run(self) -> int:
        shutil.rmtree(self.data, ignore_errors=True)
        self.data.mkdir(parents=True)
        prefer = "embedded" if self.args.embedded_broker else "mosquitto"
        broker, kind = start_local_broker(self.data / "broker", self.args.broker_port or None, prefer)
        version = "5" if kind == "mosquitto" else "3.1.1"
        say(f"broker: {kind} on {broker.url}" + ("" if kind == "mosquitto" else " (Mosquitto not installed)"))
        try:
            return self._run(broker.url, version)
        finally:
            for proc in reversed(self.procs):
                proc.terminate()
            for proc in self.procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            broker.stop()
            say(f"stopped everything; logs and databases are in {self.data}")

    def _run(self, broker_url: str, version: str) -> int:
        port = self.args.port or free_port()
        hub_db = self.data / "hub.sqlite"
        hub = self.spawn("hub", ["hub.cli", "serve", "--db", str(hub_db), "--broker", broker_url,
                                 "--port", str(port), "--mqtt-version", version])  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        if not self._wait_hub(url, hub):
            say(f"the hub did not start; see {self.data / 'hub.log'}")
            return 1
        token = self._token(hub_db, "analyst", "demo analyst")
        locations = DEMO_LOCATIONS[: self.args.locations]
        stores, configs = self._make_devices(locations, broker_url, version)
        started = time.monotonic()
        for loc in locations:
            self.spawn(f"agent-{loc.location_id}", ["edge_agent.cli", "run", "--config", str(configs[loc.location_id])])
        backlog_total = sum(s.backlog() for s in stores.values())
        # Local days run up to a day ahead of UTC (Tokyo, Sydney): ask up to tomorrow.
        start = (datetime.now(UTC) - timedelta(days=self.args.history_days + 1)).date().isoformat()
        end = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        self.range = {"from": start, "to": end}
        headers = {"Authorization": f"Bearer {token}"}
        say(f"syncing {backlog_total} taps of history through MQTT to the hub ...")
        deadline = started + 60
        while (at_hub := self._counted(url, headers)) < backlog_total and time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - started
        say(f"history synced: {at_hub} of {backlog_total} taps counted at the hub in {took:.1f} s "
            f"({at_hub / took:.0f} taps/s end to end, agent start-up included)")  # fmt: skip
        threading.Thread(target=self._tap_live, args=(locations, stores), daemon=True).start()
        curl = f"curl -s -H 'Authorization: Bearer {token}' '{url}/api/v1/scores?from={start}&to={end}'"
        say(f"dashboard: {url}/   (sign in with the token below)")
        say(f"hub API:   {url}   (OpenAPI docs: {url}/docs)")
        say(f"token:     {token}")
        say(f"try:       {curl}")
        say(f"devices:   {len(locations)} stores, each a real touchpoint-agent process; live taps go into their stores")
        return self._watch(url, headers, hub)

    def _wait_hub(self, url: str, hub: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and hub.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=1).json().get("mqtt_connected"):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def _token(self, db: Path, role: str, name: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "hub.cli", "token", "create", "--db", str(db), "--role", role, "--name", name],
            check=True, capture_output=True, text=True, env=ENV,
        ).stdout  # fmt: skip
        return out.strip().splitlines()[-1]

    def _make_devices(
        self, locations: list[SimLocation], broker_url: str, version: str
    ) -> tuple[dict[str, DeviceStore], dict[str, Path]]:
        stores: dict[str, DeviceStore] = {}
        configs: dict[str, Path] = {}
        now = datetime.now(UTC)
        for i, loc in enumerate(locations):
            device_id = f"kiosk-{i + 1}"
            dev_dir = self.data / "devices" / device_id
            dev_dir.mkdir(parents=True)
            config = dev_dir / "device.toml"
            config.write_text(
                f'device_id = "{device_id}"\nlocation_id = "{loc.location_id}"\ntimezone = "{loc.timezone}"\n'
                f'[store]\npath = "device.sqlite"\n[broker]\nurl = "{broker_url}"\nmqtt_version = "{version}"\n'
            )
            # History goes in with synchronous=NORMAL: a simulator's shortcut, never a kiosk's.
            history = DeviceStore(dev_dir / "device.sqlite", loc.timezone, synchronous="NORMAL")
            n = backfill(history, loc, self.args.history_days, random.Random(i), now)
            history.close()
            say(f"{loc.location_id} ({loc.timezone}): {device_id} starts with {n} taps of history to sync")
            stores[loc.location_id] = DeviceStore(dev_dir / "device.sqlite", loc.timezone)
            configs[loc.location_id] = config
        return stores, configs

    def _tap_live(self, locations: list[SimLocation], stores: dict[str, DeviceStore]) -> None:
        # The stores were opened in the main thread; reopen here, as a kiosk process would.
        mine = {loc.location_id: DeviceStore(stores[loc.location_id].path, loc.timezone) for loc in locations}
        rng = random.Random(99)
        rate = self.args.taps_per_second * len(locations)
        while not self.stop.wait(rng.expovariate(rate) if rate > 0 else 1.0):
            if rate <= 0:
                continue
            loc = rng.choice(locations)
            live_tap(mine[loc.location_id], loc, rng)
            self.live_taps += 1

    def _counted(self, url: str, headers: dict[str, str]) -> int:
        rows = httpx.get(url + "/api/v1/scores", headers=headers, timeout=5, params=self.range).json()["rows"]
        return sum(int(r["n"]) for r in rows)

    def _watch(self, url: str, headers: dict[str, str], hub: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + self.args.duration if self.args.duration > 0 else float("inf")
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        say("running" + (f" for {self.args.duration:.0f} s" if self.args.duration > 0 else "; Ctrl-C stops everything"))
        try:
            while time.monotonic() < deadline and not self.stop.wait(min(5.0, max(deadline - time.monotonic(), 0))):
                if hub.poll() is not None:
                    say(f"the hub exited; see {self.data / 'hub.log'}")
                    return 1
                at_hub = self._counted(url, headers)
                devices = httpx.get(url + "/api/v1/devices", headers=headers, timeout=5).json()["rows"]
                online = sum(1 for d in devices if d["online"])
                say(f"counted at the hub: {at_hub} | live taps so far: {self.live_taps} | devices online: {online}")
        except KeyboardInterrupt:
            pass
        finally:
            self.stop.set()
        return 0


if __name__ == "__main__":
    sys.exit(Demo(parse_args()).run())
