"""The demo's hub: one ``touchpoint-hub serve`` on SQLite, or with ``--postgres`` two workers sharing the database.

The two workers listen on ports of their own and join one MQTT shared subscription
(``$share/demo/``), so each batch goes to one of them; exactly one is the leader (``/healthz``
``role``) and alone evaluates alerts, sends webhooks and pushes configs.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from demo.children import Children
from demo.hubapi import HubAPI, HubError
from hub.broker import free_port

SHARE_GROUP = "demo"
LEADER_WAIT_S = 15


class HubWorkers:
    def __init__(self, children: Children, data: Path, postgres: bool) -> None:
        self.children = children
        self.data = data
        self.postgres = postgres
        self.urls: dict[str, str] = {}  # worker name -> base URL
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, broker_url: str, version: str, db: str, port: int) -> str | None:
        """Start the worker(s) and wait until each serves and is connected; None, or why not."""
        names = ["hub-1", "hub-2"] if self.postgres else ["hub"]
        for i, name in enumerate(names):
            own_port = (port if i == 0 else 0) or free_port()
            args = ["hub.cli", "serve", "--db", db, "--broker", broker_url, "--port", str(own_port),
                    "--mqtt-version", version]  # fmt: skip
            if self.postgres:
                args += ["--share-group", SHARE_GROUP, "--client-id", f"demo-{name}", "--leader-retry-s", "1"]
            self.urls[name] = f"http://127.0.0.1:{own_port}"
            self.procs[name] = self.children.spawn(name, args)
        for name, url in self.urls.items():
            if not _wait_hub(HubAPI(url), self.procs[name]):
                return f"the hub did not start; see {self.data / f'{name}.log'}"
        return None

    @property
    def first(self) -> tuple[str, subprocess.Popen[bytes]]:
        name = next(iter(self.urls))
        return self.urls[name], self.procs[name]

    def exited(self) -> str | None:
        """The log of a worker that is no longer running, if any."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return str(self.data / f"{name}.log")
        return None

    def leader(self) -> str | None:
        """The worker whose /healthz says leader, once exactly one does (an election takes a second or two)."""
        deadline = time.monotonic() + LEADER_WAIT_S
        while time.monotonic() < deadline:
            roles = {name: _role(url) for name, url in self.urls.items()}
            leaders = [name for name, role in roles.items() if role == "leader"]
            if len(leaders) == 1:
                return leaders[0]
            time.sleep(0.3)
        return None


def _role(url: str) -> str | None:
    try:
        role = HubAPI(url).get("/healthz").get("role")
    except HubError:
        return None
    return str(role) if role else None


def _wait_hub(api: HubAPI, hub: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and hub.poll() is None:
        try:
            if api.get("/healthz").get("mqtt_connected"):
                return True
        except HubError:
            pass
        time.sleep(0.2)
    return False
