"""A provisioned fleet for the security tests: real Mosquitto on the generated files, over TLS.

Everything is made the way an installer makes it, with the real commands
(``touchpoint-hub broker certs``, ``broker config``, ``device add``), and
Mosquitto runs the generated ``touchpoint.conf`` unchanged through
``include_dir``, as Debian's mosquitto.conf includes /etc/mosquitto/conf.d.
The work directory is world-traversable, so Mosquitto (started as root) drops
to its own user and must be able to read the generated files itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.broker import find_mosquitto, free_port, wait_for_port
from hub.cli import main as hub_cli
from tests.support import ENV, Hub, wait_until


def run_hub_cli(*args: str) -> tuple[int, str, str]:
    """``touchpoint-hub ARGS`` in this process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = hub_cli(list(args))
    return code, out.getvalue(), err.getvalue()


def hub_cli_ok(*args: str) -> str:
    code, out, err = run_hub_cli(*args)
    assert code == 0, f"touchpoint-hub {' '.join(args)} exited {code}:\n{out}\n{err}"
    return out


@contextlib.contextmanager
def traversable_tmp(prefix: str = "tp-security-") -> Iterator[Path]:
    """A temp dir the mosquitto user can reach (pytest's tmp_path sits under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class GeneratedBroker:
    """Mosquitto started from a minimal main conf that includes the generated broker directory."""

    def __init__(self, broker_dir: Path, port: int, workdir: Path) -> None:
        self.broker_dir = broker_dir
        self.port = port
        self.workdir = workdir
        self.conf = workdir / "mosquitto-main.conf"
        self.log_path = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = find_mosquitto()
        assert exe is not None, "mosquitto is not installed (scripts/test installs it)"
        # What Debian's /etc/mosquitto/mosquitto.conf contributes, minus persistence and its log file.
        self.conf.write_text(
            f"persistence false\nlog_dest stderr\nlog_type all\ninclude_dir {self.broker_dir}\n", encoding="utf-8"
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for_port("127.0.0.1", self.port, 10)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"generated broker did not start:\n{self.log()}") from None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Device:
    device_id: str
    location_id: str
    bundle: Path

    @property
    def config(self) -> Path:
        return self.bundle / "device.toml"

    @property
    def password(self) -> str:
        return (self.bundle / "broker.pass").read_text().strip()


@dataclass
class Fleet:
    """A hub database with a broker config, certificates and provisioned devices."""

    root: Path
    port: int
    devices: dict[str, Device] = field(default_factory=dict)
    broker: GeneratedBroker | None = None

    @property
    def db(self) -> Path:
        return self.root / "hub" / "hub.sqlite"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def broker_dir(self) -> Path:
        return self.root / "mosquitto"

    @property
    def hub_env(self) -> Path:
        return self.root / "hub.env"

    @property
    def ca(self) -> Path:
        return self.certs / "ca.crt"

    def setup(self) -> None:
        (self.root / "hub").mkdir(parents=True, exist_ok=True)
        hub_cli_ok("broker", "certs", "--out", str(self.certs), "--host", "127.0.0.1")
        hub_cli_ok(
            "broker", "config", "--db", str(self.db), "--out", str(self.broker_dir), "--certs", str(self.certs),
            "--tls-port", str(self.port), "--hub-env", str(self.hub_env),
        )  # fmt: skip

    def add(self, device_id: str, location_id: str, tz: str = "Europe/Helsinki", *extra: str) -> Device:
        args = ["device", "add", "--db", str(self.db), "--location", location_id, "--device", device_id]
        args += ["--out", str(self.root / "bundles"), "--broker-url", f"mqtts://127.0.0.1:{self.port}"]
        args += ["--ca-file", str(self.ca), "--timezone", tz, "--store-path", "device.sqlite", *extra]
        if self.broker is not None:
            args += ["--reload-pid", str(self.broker.pid)]
        hub_cli_ok(*args)
        device = Device(device_id, location_id, self.root / "bundles" / device_id)
        self.devices[device_id] = device
        return device

    def start_broker(self) -> GeneratedBroker:
        self.broker = GeneratedBroker(self.broker_dir, self.port, self.root)
        self.broker.start()
        return self.broker

    def hub_login(self) -> dict[str, str]:
        values = {}
        for line in self.hub_env.read_text().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key] = value
        return values


class Client:
    """A paho MQTT v5 client over TLS that queues every callback, for asserting on reason codes."""

    def __init__(
        self, port: int, username: str | None, password: str | None, ca: Path | None, client_id: str = ""
    ) -> None:
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.paho = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            self.paho.username_pw_set(username, password)
        if ca is not None:
            self.paho.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.paho.reconnect_delay_set(1, 1)
        self.paho.on_connect = lambda _c, _u, _f, rc, _p: self.events.put(("connect", str(rc)))
        self.paho.on_connect_fail = lambda _c, _u: self.events.put(("connect_fail", repr(sys.exc_info()[1])))
        self.paho.on_disconnect = lambda _c, _u, _f, rc, _p: self.events.put(("disconnect", str(rc)))
        self.paho.on_publish = lambda _c, _u, mid, rc, _p: self.events.put(("puback", mid, str(rc)))
        self.paho.on_subscribe = lambda _c, _u, mid, rcs, _p: self.events.put(("suback", mid, [str(r) for r in rcs]))
        self.paho.on_message = lambda _c, _u, m: self.events.put(("message", m.topic, bytes(m.payload)))
        self.paho.connect_async("127.0.0.1", port)
        self.paho.loop_start()

    def next(self, kind: str, timeout: float = 5) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} within {timeout} s")
            event = self.events.get(timeout=left)
            if event[0] == kind:
                return event

    def connected(self) -> str:
        return str(self.next("connect")[1])

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> str:
        """Publish at QoS 1 and return the PUBACK's reason code as text."""
        info = self.paho.publish(topic, payload, qos=1, retain=retain)
        while True:
            event = self.next("puback")
            if event[1] == info.mid:
                return str(event[2])

    def subscribe(self, topic: str) -> list[str]:
        _, mid = self.paho.subscribe(topic, qos=1)
        while True:
            event = self.next("suback")
            if event[1] == mid:
                return list(event[2])

    def messages(self, wait: float) -> list[tuple[str, bytes]]:
        """Messages received within ``wait`` seconds."""
        got = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if event[0] == "message":
                got.append((event[1], event[2]))
        return got

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


class SecureHub(Hub):
    """The hub process with its broker login from hub.env, as touchpoint-hub.service runs it."""

    def __init__(self, workdir: Path, login: dict[str, str]) -> None:
        super().__init__(workdir, login["TOUCHPOINT_HUB_BROKER_URL"])
        self.env = {**ENV, **login}  # after Process.__init__, which sets the default environment

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_until(self._connected, 20, f"hub at {self.url} to connect over TLS\n{self.log()[-2000:]}")


def new_fleet(root: Path) -> Fleet:
    fleet = Fleet(root, free_port())
    fleet.setup()
    return fleet
