"""Three "hosts" for scale-out tests: Mosquitto and PostgreSQL on ``infra``, a hub worker on each of ``w1``, ``w2``.

Each worker is a real ``touchpoint-hub serve --db postgresql://... --share-group hub`` process in its own
network namespace, serving its API on its own address (both on port 8000). The test process, in the root
namespace, plays the devices (real agent processes) and the webhook receiver, and reaches every host
through the rig's switch. ``rig.cut(host)`` unplugs a host as a pulled cable does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pgcluster import PgCluster

from edge_agent.protocol import subscription
from hub.broker import MosquittoConfig, find_mosquitto
from hub.broker.ports import port_open
from hub.storage.sql.schema import MONTH_ANSWERS
from tests.netns import NetnsRig
from tests.support import Agent, Hub, wait_until, write_device_config

WORKER_PORT = 8000
BROKER_PORT = 1883
TAKEOVER_BOUND_S = 25.0  # a dead or cut-off leader's lock is freed by PostgreSQL's keepalives (~10 s), then retry


class Worker(Hub):
    """A hub worker in network namespace ``host``, on the share group ``hub`` with client id ``hub-<host>``."""

    def __init__(self, rig: NetnsRig, host: str, workdir: Path, broker_url: str, db: str, *extra: str) -> None:
        super().__init__(workdir, broker_url, db)
        self.name = host
        self.port = WORKER_PORT
        self.url = f"http://{rig.address(host)}:{WORKER_PORT}"
        self.log_path = workdir / f"{host}.log"
        serve = [sys.executable, "-m", "hub.cli", "serve", "--db", db, "--broker", broker_url]
        serve += ["--host", rig.address(host), "--port", str(WORKER_PORT), "--log-level", "info"]
        serve += ["--share-group", "hub", "--client-id", f"hub-{host}", "--leader-retry-s", "0.5"]
        serve += ["--alert-interval-s", "0.5", "--webhook-retry-base-s", "1", *extra]
        self.args = [*rig.command_prefix(host), *serve]

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.url + "/healthz", timeout=5).json()
        return body

    def role(self) -> str | None:
        try:
            return str(self.health()["role"])
        except (httpx.HTTPError, KeyError, ValueError):
            return None

    def metric(self, name: str) -> float:
        """One unlabelled sample of this worker's /metrics."""
        for line in httpx.get(self.url + "/metrics", timeout=10).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"no {name} in {self.name}'s /metrics")


class Broker:
    """Mosquitto (persistence off) listening on ``infra``'s address, inside its namespace."""

    def __init__(self, rig: NetnsRig, workdir: Path) -> None:
        exe = find_mosquitto()
        if exe is None:
            raise AssertionError("mosquitto is not installed: run scripts/test (it installs it)")
        self.host = rig.address("infra")
        self.url = f"mqtt://{self.host}:{BROKER_PORT}"
        self.log_path = workdir / "mosquitto.log"  # log_dest file: written as it goes (stdout is block-buffered)
        config = MosquittoConfig(BROKER_PORT, self.host, data_dir=workdir, user="root", log_dest="file")
        conf = workdir / "mosquitto.conf"
        conf.write_text(config.render())
        with (workdir / "mosquitto.out").open("ab") as out:
            self.proc = rig.run("infra", [exe, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: port_open(self.host, BROKER_PORT), 10, "mosquitto to listen")

    def clean_starts(self, client_id: str) -> list[bool]:
        """Each connection of ``client_id`` the broker logged: True where it asked for a clean session."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "New client connected" in line and f" as {client_id} (" in line:
                out.append(" c1," in line)
        return out


class WebhookReceiver:
    """A real HTTP receiver on the test process's switch address: records each POST, answers scripted statuses."""

    def __init__(self, host: str, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.posts: list[tuple[dict[str, Any], str | None, int]] = []  # (body, Idempotency-Key, status answered)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.posts.append((json.loads(raw), self.headers.get("Idempotency-Key"), status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/hooks/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[tuple[dict[str, Any], str | None, int]]:
        with self.lock:
            return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BatchCapture:
    """A plain (not shared) subscriber that keeps every event batch the devices publish, for replaying."""

    def __init__(self, host: str) -> None:
        self.batches: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="scaleout-capture", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe(subscription("events"), qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._keep
        self.client.connect(host, BROKER_PORT)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise AssertionError("the capture did not subscribe")

    def _keep(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.batches.append((message.topic, bytes(message.payload)))

    def taken(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.batches)

    def replay(self, batches: list[tuple[str, bytes]]) -> None:
        """Publish ``batches`` again, each twice in a row (so both workers get a copy at the same moment)."""
        infos = []
        for topic_name, payload in batches:
            for _ in range(2):
                infos.append(self.client.publish(topic_name, payload, qos=1))
        for info in infos:
            info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Scaleout:
    """The running set-up of one test: a fresh database, two workers, and the devices made so far."""

    rig: NetnsRig
    broker: Broker
    db: str
    workdir: Path
    workers: dict[str, Worker] = field(default_factory=dict)
    devices: list[tuple[str, Path, Agent]] = field(default_factory=list)  # (location, config, agent)

    def start_workers(self, *extra: str) -> tuple[Worker, Worker]:
        """w1 then w2, each serving and connected; w1, started first, leads."""
        for host in ("w1", "w2"):
            worker = Worker(self.rig, host, self.workdir, self.broker.url, self.db, *extra)
            worker.start()
            self.workers[host] = worker
        w1, w2 = self.workers["w1"], self.workers["w2"]
        wait_until(lambda: {w1.role(), w2.role()} == {"leader", "follower"}, 10, "one leader and one follower")
        return w1, w2

    def device(self, device_id: str, location_id: str, tz: str = "UTC", **sync: Any) -> tuple[Agent, Path]:
        """A device config and its (not yet started) agent, publishing to the broker on ``infra``."""
        sync = {"batch_size": 10, "max_inflight_batches": 2, **sync}
        config = write_device_config(self.workdir / "devices", device_id, location_id, tz, self.broker.url, **sync)
        agent = Agent(config)
        self.devices.append((location_id, config, agent))
        return agent, config

    def stop(self) -> None:
        for _, _, agent in self.devices:
            agent.stop()
        for worker in self.workers.values():
            worker.stop()


class Infra:
    """The rig, PostgreSQL and Mosquitto, shared by a module's tests (each test gets its own database)."""

    def __init__(self, workdir: Path, pg_datadir: Path) -> None:
        self.workdir = workdir
        self.rig = NetnsRig(["infra", "w1", "w2"]).__enter__()
        try:
            infra = self.rig.address("infra")
            self.pg = PgCluster(pg_datadir, host=infra, command_prefix=self.rig.command_prefix("infra"))
            self.pg.start()
            self.broker = Broker(self.rig, workdir)
        except BaseException:
            self.rig.close()
            raise
        self._databases = 0

    @contextmanager
    def scaleout(self, name: str) -> Iterator[Scaleout]:
        self._databases += 1
        db = f"scaleout_{self._databases}"
        workdir = self.workdir / name
        workdir.mkdir()
        setup = Scaleout(self.rig, self.broker, self.pg.create_database(db), workdir)
        try:
            yield setup
        finally:
            for host in ("w1", "w2"):
                self.rig.restore(host)
            setup.stop()
            self.pg.drop_database(db)

    def close(self) -> None:
        try:
            self.pg.stop()
        finally:
            self.rig.close()


def same_numbers(workers: list[Worker], token: str, *paths: tuple[str, dict[str, Any]]) -> list[Any]:
    """The same GETs on each worker, by its own namespace address; their JSON answers, one list per worker."""
    answers = []
    for worker in workers:
        got = []
        for path, params in paths:
            response = httpx.get(
                worker.url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            response.raise_for_status()
            got.append(response.json())
        answers.append(got)
    return answers


def rollup_totals(worker: Worker) -> Counter[str]:
    """Counted events per table: events (misuse excluded) and the sum of each rollup's counts."""
    totals: Counter[str] = Counter()
    totals["events"] = int(worker.sql("SELECT COUNT(*) FROM events WHERE misuse = 0")[0][0])
    for table, answers in (("rollup_day", "count"), ("rollup_hour", "count"), ("rollup_month", MONTH_ANSWERS)):
        totals[table] = int(worker.sql(f"SELECT COALESCE(SUM({answers}), 0) FROM {table}")[0][0])
    return totals


def hub_total(worker: Worker) -> int:
    return int(worker.sql("SELECT COUNT(*) FROM events")[0][0])
