"""The demo: start everything, sync the history, then tap live until Ctrl-C, SIGTERM or --duration."""

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
from types import FrameType
from typing import Any

from chaos.proxy import Link
from pgcluster import PgError, PgMissing

from demo import insights
from demo.children import Children
from demo.database import DemoDatabase, stop_leftover
from demo.hubapi import HubAPI, HubError
from demo.stores import DemoDevice, clock_trust_here, fill_history, make_device
from demo.webhooks import WebhookReceiver
from demo.workers import SHARE_GROUP, HubWorkers
from hub.broker import start_local_broker

from simulate import DEMO_LOCATIONS, QUEUE_OUT_THE_DOOR, SimLocation, live_tap

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
# The demo's rules, from the README's simulated table: the recommended shift rule, HappyOrNot's rule beside it
# (29-64 false alarms a week on a steady store), and a kiosk offline after 1 minute (10 by default).
RULES: list[dict[str, Any]] = [
    {"name": "Rise in negative answers against this store's usual (recommended)", "kind": "shift"},
    {"name": "Many negative answers (HappyOrNot: 50% in 15 min)", "kind": "pct_negative"},
    {"name": "Kiosk offline", "kind": "device_offline", "params": {"minutes": 1}},
]


def say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


class Stopped(Exception):
    """SIGTERM or SIGINT: stop everything, in whatever phase the demo is."""


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = args.data_dir.resolve()
        self.children = Children(self.data, ENV)
        self.stop = threading.Event()
        self.live_taps = 0
        self.live_started = 0.0
        self.link: Link | None = None
        self.range: dict[str, str] = {}
        self.queue_at: SimLocation | None = None  # the store whose live taps start with a queue
        self.database = DemoDatabase(self.data, args.postgres)
        self.hubs = HubWorkers(self.children, self.data, args.postgres)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, _stop_on_signal)
        signal.signal(signal.SIGINT, _stop_on_signal)
        stop_leftover(self.data)
        shutil.rmtree(self.data, ignore_errors=True)
        self.data.mkdir(parents=True)
        broker = receiver = None
        try:
            prefer = "embedded" if self.args.embedded_broker else "mosquitto"
            broker, kind = start_local_broker(self.data / "broker", self.args.broker_port or None, prefer)
            say(f"broker: {kind} on {broker.url}" + ("" if kind == "mosquitto" else " (Mosquitto not installed)"))
            if self.args.postgres and kind != "mosquitto":
                say("--postgres runs two hub workers on one MQTT shared subscription, which needs Mosquitto")
                return 1
            receiver = WebhookReceiver(self.data / "webhooks.jsonl", _print_webhook)
            receiver.start()
            db = self.database.start()
            say(f"database: {self.database.describe()}")
            return self._run(broker.url, "5" if kind == "mosquitto" else "3.1.1", receiver, db)
        except Stopped as why:
            say(f"{why}: stopping")
            return 0
        except (PgMissing, PgError) as exc:
            say(f"PostgreSQL could not start: {exc}")
            return 1
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean shutdown, not a second one inside it
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self.stop.set()
            self.children.stop_all()
            self.database.stop()  # pg_ctl daemonized the server: no signal of ours reaches it
            if self.link is not None:
                self.link.close()
            if receiver is not None:
                receiver.stop()
            if broker is not None:
                broker.stop()
            say(f"stopped everything; logs and databases are in {self.data}")

    def _run(self, broker_url: str, version: str, receiver: WebhookReceiver, hub_db: str) -> int:
        if problem := self.hubs.start(broker_url, version, hub_db, self.args.port):
            say(problem)
            return 1
        url, hub = self.hubs.first
        token, admin_token = self._token(hub_db, "analyst"), self._token(hub_db, "admin")
        api, admin = HubAPI(url, token), HubAPI(url, admin_token)
        devices = self._make_devices(broker_url, version)
        if kiosk := insights.kiosk_store(devices):
            insights.log_kiosk_action(kiosk)  # on the kiosk, before its agent starts: it goes up with the history
        started = time.monotonic()
        for d in devices:
            self.children.spawn(f"agent-{d.loc.location_id}", ["edge_agent.cli", "run", "--config", str(d.config)])
        backlog = sum(d.open_store().backlog() for d in devices)
        # Local days run up to a day ahead of UTC (Tokyo, Sydney): ask up to tomorrow.
        start = (datetime.now(UTC) - timedelta(days=self.args.history_days + 1)).date().isoformat()
        end = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        self.range = {"from": start, "to": end}
        say(f"syncing {backlog} taps of history through MQTT to the hub ...")
        deadline = started + 60 + backlog / 2000
        at_hub = 0
        while at_hub < backlog and time.monotonic() < deadline and hub.poll() is None:
            time.sleep(0.1)
            try:
                at_hub = self._counted(api)
            except HubError:
                continue  # a busy hub answers on the next poll
        took = time.monotonic() - started
        if at_hub < backlog:
            say(f"only {at_hub} of {backlog} taps of history reached the hub in {took:.0f} s; the agents keep "
                f"sending them. Their logs and the hub's are in {self.data}")  # fmt: skip
        else:
            say(f"history synced: {at_hub} of {backlog} taps counted at the hub in {took:.1f} s "
                f"({at_hub / took:.0f} taps/s end to end, agent start-up included)")  # fmt: skip
        for rule in RULES:
            admin.post("/api/v1/alerts/rules", {**rule, "webhook_url": receiver.url})
        hq = self._close_the_loop(admin, devices, hub_db, receiver)
        self.queue_at = next((d.loc for d in devices if d.loc.bad_hour is not None and self.args.queue_s > 0), None)
        self.live_started = time.monotonic()
        threading.Thread(target=self._tap_live, args=(devices,), name="live-taps", daemon=True).start()
        self._print_guide(url, token, admin_token, receiver, devices)
        insights.show(say, api, url, token, devices, hq)
        self._print_workers(hub_db)
        return self._watch(api, devices)

    def _close_the_loop(
        self, admin: HubAPI, devices: list[DemoDevice], hub_db: str, receiver: WebhookReceiver
    ) -> tuple[DemoDevice, str] | None:
        """HQ logs the fixed store's action, and that store's weekly digest goes out (webhook + HTML file)."""
        try:
            hq = insights.post_hq_action(admin, devices)
        except HubError as exc:
            say(f"the demo's action could not be logged: {exc}")
            return None
        if hq is not None:
            where = hq[0].loc.location_id
            html = self.data / f"digest-{where}.html"
            if problem := insights.send_digest(ENV, hub_db, where, receiver.url, html):
                say(f"the weekly digest of {where} was not sent: {problem}")
            else:
                say(f"digest:    {where}'s weekly digest went to the webhook receiver; open {html} for the e-mail")
        return hq

    def _print_workers(self, hub_db: str) -> None:
        if not self.args.postgres:
            hub_cli = Path(sys.executable).parent / "touchpoint-hub"
            say(f"to move this hub to PostgreSQL: {hub_cli} db copy --from {hub_db} "
                "--to postgresql://USER@HOST:5432/DATABASE   (see --help; or run scripts/demo --postgres)")  # fmt: skip
            return
        leader = self.hubs.leader()
        for name, url in self.hubs.urls.items():
            role = "leader" if name == leader else "follower"
            say(f"worker {name}: dashboard {url}/   API {url}   ({role}; {url}/healthz says so)")
        say(f"both workers share one PostgreSQL database and the MQTT group $share/{SHARE_GROUP}/: each batch goes to "
            "one of them; the leader alone evaluates alerts, sends webhooks and pushes configs")  # fmt: skip
        if leader is None:
            say("no single leader yet; see the workers' logs")

    def _print_guide(
        self, url: str, token: str, admin_token: str, receiver: WebhookReceiver, devices: list[DemoDevice]
    ) -> None:
        query = f"from={self.range['from']}&to={self.range['to']}"
        curl = f"curl -s -H 'Authorization: Bearer {token}' '{url}/api/v1/scores?{query}'"
        say(f"dashboard: {url}/   (sign in with the admin token below)")
        say(f"hub API:   {url}   (OpenAPI docs: {url}/docs)")
        say(f"token:     {token}   (analyst)")
        say(f"admin:     {admin_token}   (admin: alert rules, dead letters, quarantine)")
        say(f"webhooks:  {receiver.url}   (each alert delivery is printed here as [webhook] and kept in "
            f"{self.data / 'webhooks.jsonl'})")  # fmt: skip
        say(f"try:       {curl}")
        say(f"alerts:    curl -s -H 'Authorization: Bearer {token}' '{url}/api/v1/alerts?state=firing'")
        say(f"devices:   {len(devices)} stores, each a real touchpoint-agent process; live taps go into their stores")
        if self.queue_at is not None:
            where = self.queue_at.location_id
            say(f"{where} has a queue out of the door for {self.args.queue_s:.0f} s (90% negative answers, worse "
                f"than even its usual bad hour at {self.queue_at.bad_hour}:00): watch the alerts fire on "
                f"{url}/locations/{where}")  # fmt: skip
        if self.link is not None:
            say(f"{devices[-1].loc.location_id}'s network drops {self.args.outage_after_s:.0f} s after start-up "
                f"for {self.args.outage_s:.0f} s: watch {url}/devices")  # fmt: skip

    def _token(self, db: str, role: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "hub.cli", "token", "create", "--db", db, "--role", role,
             "--name", f"demo {role}"],
            check=True, capture_output=True, text=True, env=ENV,
        ).stdout  # fmt: skip
        return out.strip().splitlines()[-1]

    def _make_devices(self, broker_url: str, version: str) -> list[DemoDevice]:
        locations = DEMO_LOCATIONS[: self.args.locations]
        trust = clock_trust_here()
        if trust == "rtc":
            say(
                "this machine's clock is not NTP-synchronised (a VM or container?): the demo's kiosks trust it "
                'with [clock] trust = "rtc" in device.toml; a kiosk with "ntp" holds its taps until NTP syncs'
            )
        devices = []
        for i, loc in enumerate(locations):
            url = broker_url
            if i == len(locations) - 1 and not self.args.no_outage and self.args.outage_s > 0:
                host, port = broker_url.rsplit("//", 1)[1].rsplit(":", 1)
                self.link = Link(loc.location_id, host, int(port))  # this store's uplink, which will drop
                self.link.start()
                url = self.link.url
            device = make_device(self.data, i, loc, url, version, trust)
            n = fill_history(device, self.args.history_days, seed=i)
            say(f"{loc.location_id} ({loc.timezone}): {device.device_id} starts with {n} taps of history to sync")
            devices.append(device)
        return devices

    def _tap_live(self, devices: list[DemoDevice]) -> None:
        # A kiosk process of its own would open its store like this, beside the agent's connection.
        stores = {d.loc.location_id: d.open_store() for d in devices}
        rng = random.Random(99)
        rate = self.args.taps_per_second * len(devices)
        while not self.stop.wait(rng.expovariate(rate) if rate > 0 else 1.0):
            if rate <= 0:
                continue
            loc = rng.choice(devices).loc
            queue = loc is self.queue_at and time.monotonic() - self.live_started < self.args.queue_s
            live_tap(stores[loc.location_id], loc, rng, QUEUE_OUT_THE_DOOR if queue else None)
            self.live_taps += 1

    def _counted(self, api: HubAPI) -> int:
        return sum(int(r["n"]) for r in api.get("/api/v1/scores", **self.range)["rows"])

    def _watch(self, api: HubAPI, devices: list[DemoDevice]) -> int:
        limit = self.args.duration if self.args.duration > 0 else float("inf")
        began = time.monotonic()
        say("running" + (f" for {self.args.duration:.0f} s" if self.args.duration > 0 else "; Ctrl-C stops everything"))
        while (elapsed := time.monotonic() - began) < limit:
            time.sleep(min(5.0, max(limit - elapsed, 0.0)))
            if log := self.hubs.exited():
                say(f"the hub exited; see {log}")
                return 1
            self._outage(time.monotonic() - began, devices[-1])
            try:
                at_hub = self._counted(api)
                rows = api.get("/api/v1/devices")["rows"]
                firing = api.get("/api/v1/alerts", state="firing")["rows"]
            except HubError as exc:
                say(f"the hub did not answer: {exc}")
                continue
            online = sum(1 for d in rows if d["online"])
            backlog = sum(int(d.get("backlog") or 0) for d in rows)
            say(f"counted at the hub: {at_hub} | live taps so far: {self.live_taps} | devices online: "
                f"{online} of {len(devices)} (backlog {backlog}) | alerts firing: {len(firing)}")  # fmt: skip
        return 0

    def _outage(self, elapsed: float, device: DemoDevice) -> None:
        if self.link is None:
            return
        down_from = self.args.outage_after_s
        if self.link.healthy and down_from <= elapsed < down_from + self.args.outage_s:
            self.link.cut()
            say(f"{device.loc.location_id}/{device.device_id} lost its network: its taps wait in its store "
                f"until the link is back in {self.args.outage_s:.0f} s")  # fmt: skip
        elif not self.link.healthy and elapsed >= down_from + self.args.outage_s:
            self.link.heal()
            say(f"{device.loc.location_id}/{device.device_id} is back online: its backlog drains to the hub")


def _print_webhook(body: dict[str, Any]) -> None:
    print(f"[webhook] {body.get('text', body)}", flush=True)
