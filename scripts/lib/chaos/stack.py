"""The system under test: Mosquitto, the hub's workers each behind its own link, each device's agent and tapper.

The hub is one process on a SQLite file, or N workers on the share group ``hub`` over one PostgreSQL
(a private cluster under the run's work directory, started and stopped here).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pgcluster import PgCluster

from chaos.plan import ClockPhase, DeviceSpec
from chaos.procs import HubProc, Proc, agent, tapper, write_device_config
from chaos.proxy import Link
from chaos.replay import Replayer
from hub.broker import MosquittoBroker, MosquittoConfig, free_port


@dataclass
class Device:
    spec: DeviceSpec
    config: Path
    store: Path
    tap_log: Path
    link: Link
    agent: Proc
    tapper: Proc
    phase: ClockPhase

    def env(self) -> dict[str, str]:
        """The device's clock, through the one seam in edge_agent/clock.py."""
        return {
            "TOUCHPOINT_CLOCK_OK": "1" if self.phase.ok else "0",
            "TOUCHPOINT_CLOCK_OFFSET_S": repr(self.phase.offset_s),
            "TOUCHPOINT_BOOT_ID": f"chaos-{self.spec.device_id}-boot-{self.phase.boot}",
        }

    def start(self) -> None:
        self.agent.start(self.env())
        self.tapper.start(self.env())

    def switch_clock(self, phase: ClockPhase) -> None:
        """NTP jumps or a reboot: both processes come back with the new clock (same boot unless it changed)."""
        self.phase = phase
        self.tapper.stop()
        self.agent.stop()
        self.start()

    def stop(self) -> None:
        self.tapper.stop()
        self.agent.stop()

    def backlog(self) -> int:
        if not self.store.exists():
            return 0
        conn = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=10)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM events WHERE sync_state = 0").fetchone()[0])
        finally:
            conn.close()

    def taps_logged(self) -> int:
        try:
            with self.tap_log.open("rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0


class Stack:
    def __init__(
        self, workdir: Path, specs: list[DeviceSpec], taps_per_s: float, seed: int, db: str = "sqlite", workers: int = 1
    ) -> None:
        self.workdir = workdir
        self.broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=workdir / "broker", persistence=False))
        self.pg = PgCluster(workdir / "postgresql") if db == "postgresql" else None
        self.db: str | Path = self.pg.url("touchpoint") if self.pg is not None else workdir / "hub.sqlite"
        names = ["hub"] if workers == 1 else [f"hub-{i}" for i in range(1, workers + 1)]
        self.hub_links = [Link(name, self.broker.host, self.broker.port) for name in names]
        shared = workers > 1
        self.workers = [HubProc(workdir, ln.url, free_port(), self.db, ln.name, shared) for ln in self.hub_links]
        self.replayer = Replayer(self.broker.host, self.broker.port)
        self.admin_token = ""
        self.devices: list[Device] = []
        for i, spec in enumerate(specs):
            link = Link(spec.device_id, self.broker.host, self.broker.port)
            base = workdir / "devices" / spec.device_id
            config = write_device_config(
                base / f"{spec.device_id}.toml", spec.device_id, spec.location_id, spec.timezone, link.url
            )
            tap_log = base / "taps.jsonl"
            self.devices.append(
                Device(
                    spec, config, base / f"{spec.device_id}.sqlite", tap_log, link,
                    agent(config), tapper(config, tap_log, taps_per_s, seed + i), spec.phases[0],
                )
            )  # fmt: skip

    @property
    def hub(self) -> HubProc:
        """The first worker: its API answers for all (they share the database)."""
        return self.workers[0]

    @property
    def links(self) -> list[Link]:
        return [*self.hub_links, *(d.link for d in self.devices)]

    def healthy(self) -> bool:
        return all(worker.healthy() for worker in self.workers)

    def start(self) -> None:
        if self.pg is not None:
            self.pg.start()
            self.pg.create_database("touchpoint")
        self.broker.start()
        for link in self.links:
            link.start()
        self.admin_token = self.hub.create_token("admin")  # also creates and migrates the hub's database
        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            worker.wait_healthy(30)
        self.replayer.start()
        for device in self.devices:
            device.start()

    def close(self) -> None:
        for device in self.devices:
            device.stop()
        for worker in self.workers:
            worker.stop()
        self.replayer.stop()
        for link in self.links:
            link.close()
        self.broker.stop()
        if self.pg is not None:
            self.pg.stop()
