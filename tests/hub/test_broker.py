"""hub.broker against real brokers: a real Mosquitto process and the embedded amqtt fallback."""

from __future__ import annotations

import os
import pwd
import queue
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub.broker import (
    BrokerStartError,
    EmbeddedBroker,
    MosquittoBroker,
    MosquittoConfig,
    find_mosquitto,
    free_port,
    start_local_broker,
    wait_for_port,
)

needs_mosquitto = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed")
TOPIC = "touchpoint/test/broker"


class Client:
    """A paho 2.x client that waits for CONNACK and PUBACK and queues what it receives."""

    def __init__(self, port: int, protocol: MQTTProtocolVersion = mqtt.MQTTv5) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connects: queue.Queue[Any] = queue.Queue()
        self.subscriptions: list[str] = []
        self.paho = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=protocol)
        self.paho.reconnect_delay_set(min_delay=1, max_delay=1)
        self.paho.on_connect = self._on_connect
        self.paho.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.paho.connect("127.0.0.1", port)
        self.paho.loop_start()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            for topic in self.subscriptions:  # Resubscribe after a broker restart.
                client.subscribe(topic, qos=1)
        self.connects.put(reason)

    def wait_connected(self, timeout: float = 2) -> None:
        reason = self.connects.get(timeout=timeout)
        assert not reason.is_failure, reason

    def subscribe(self, topic: str) -> None:
        self.subscriptions.append(topic)
        done = threading.Event()
        self.paho.on_subscribe = lambda *_a: done.set()
        self.paho.subscribe(topic, qos=1)
        assert done.wait(2), "no SUBACK"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self.paho.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=2)  # Returns on PUBACK for QoS 1.
        assert info.is_published()

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def round_trip(port: int, protocol: MQTTProtocolVersion = mqtt.MQTTv5) -> None:
    sub, pub = Client(port, protocol), Client(port, protocol)
    try:
        sub.wait_connected()
        pub.wait_connected()
        sub.subscribe(TOPIC)
        pub.publish(TOPIC, b'{"score": 3}')
        msg = sub.messages.get(timeout=2)
        assert (msg.topic, msg.payload, msg.qos) == (TOPIC, b'{"score": 3}', 1)
    finally:
        sub.close()
        pub.close()


@pytest.fixture
def traversable_dir() -> Iterator[Path]:
    """A data dir the mosquitto user can reach (pytest's tmp_path sits under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="touchpoint-broker-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    b = MosquittoBroker(MosquittoConfig(free_port(), data_dir=tmp_path))
    b.start()
    yield b
    b.stop()


def test_wait_for_port_times_out_with_clear_message() -> None:
    port = free_port()
    with pytest.raises(TimeoutError, match=f"127.0.0.1:{port}"):
        wait_for_port("127.0.0.1", port, timeout=0.1)


def test_render_has_the_settings_we_rely_on(tmp_path: Path) -> None:
    conf = MosquittoConfig(
        1884, data_dir=tmp_path, persistence=True, acl_file=tmp_path / "acl", extra=["sys_interval 0"]
    ).render()
    lines = conf.splitlines()
    for line in [
        "per_listener_settings false",
        "listener 1884 127.0.0.1",
        "allow_anonymous true",
        "log_dest stdout",
        "persistence true",
        f"persistence_location {tmp_path}/",
        f"acl_file {tmp_path / 'acl'}",
        "max_queued_messages 100000",
        "set_tcp_nodelay true",
        "sys_interval 0",
    ]:
        assert line in lines
    assert not any(line.startswith(("password_file", "user")) for line in lines)
    assert "persistence false" in MosquittoConfig(1884, data_dir=tmp_path).render().splitlines()


@needs_mosquitto
def test_mosquitto_qos1_round_trip_mqtt5(broker: MosquittoBroker) -> None:
    assert broker.running
    assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
    round_trip(broker.port)


@needs_mosquitto
def test_restart_keeps_port_and_clients_reconnect(broker: MosquittoBroker) -> None:
    port, old_pid = broker.port, broker.pid
    client = Client(port)
    try:
        client.wait_connected()
        client.subscribe(TOPIC)
        broker.restart()
        assert broker.port == port
        assert broker.pid != old_pid
        assert broker.running
        client.wait_connected(timeout=3)  # paho's own reconnect, as the edge agent uses it.
        client.publish(TOPIC, b"after restart")
        assert client.messages.get(timeout=2).payload == b"after restart"
    finally:
        client.close()


@needs_mosquitto
def test_kill_then_start_rebinds_the_port(broker: MosquittoBroker) -> None:
    client = Client(broker.port)
    client.wait_connected()
    client.close()
    broker.kill()
    assert not broker.running and broker.pid is None
    broker.start()
    round_trip(broker.port)


@needs_mosquitto
@pytest.mark.parametrize("persistence", [False, True])
@pytest.mark.parametrize("where", ["tmp_path", "traversable"])
def test_retained_message_survives_restart_only_with_persistence(
    persistence: bool, where: str, tmp_path: Path, traversable_dir: Path
) -> None:
    data_dir = tmp_path if where == "tmp_path" else traversable_dir
    broker = MosquittoBroker(MosquittoConfig(free_port(), persistence=persistence, data_dir=data_dir))
    broker.start()
    try:
        pub = Client(broker.port)
        pub.wait_connected()
        pub.publish(TOPIC, b"retained", retain=True)
        pub.close()
        broker.restart()  # SIGTERM: Mosquitto writes mosquitto.db on the way out.

        sub = Client(broker.port)
        sub.wait_connected()
        sub.subscribe(TOPIC)
        try:
            got = sub.messages.get(timeout=0.5 if not persistence else 2).payload
        except queue.Empty:
            got = None
        sub.close()
        assert got == (b"retained" if persistence else None), broker.log_tail()
        assert (data_dir / "mosquitto.db").exists() == persistence
    finally:
        broker.stop()


@needs_mosquitto
@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop only happens as root")
def test_as_root_mosquitto_drops_to_its_user_when_it_can_reach_the_data_dir(traversable_dir: Path) -> None:
    try:
        expected = pwd.getpwnam("mosquitto").pw_uid
    except KeyError:
        pytest.skip("no mosquitto user")
    acl = traversable_dir / "broker.acl"
    acl.write_text(f"topic readwrite {TOPIC}\n")
    acl.chmod(0o600)
    with MosquittoBroker(MosquittoConfig(free_port(), data_dir=traversable_dir, acl_file=acl)) as broker:
        assert broker.pid is not None
        assert os.stat(f"/proc/{broker.pid}").st_uid == expected
        assert "user root" not in broker.conf_path.read_text()
        round_trip(broker.port)  # The ACL was readable after the drop and lets TOPIC through.


@needs_mosquitto
@pytest.mark.parametrize("where", ["tmp_path", "traversable"])
def test_bad_config_raises_with_log_tail(where: str, tmp_path: Path, traversable_dir: Path) -> None:
    data_dir = tmp_path if where == "tmp_path" else traversable_dir
    missing = data_dir / "missing.acl"
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=data_dir, acl_file=missing))
    with pytest.raises(BrokerStartError, match="exited with code") as excinfo:
        broker.start(timeout=3)
    assert "log tail" in str(excinfo.value)
    assert str(missing) in str(excinfo.value)  # Mosquitto's own complaint, from its log.
    assert not broker.running


@needs_mosquitto
def test_start_refuses_a_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(BrokerStartError, match="already in use"):
            MosquittoBroker(MosquittoConfig(port, data_dir=tmp_path)).start()


def test_embedded_broker_qos1_round_trip_mqtt311() -> None:
    with EmbeddedBroker() as broker:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        round_trip(broker.port, mqtt.MQTTv311)


def test_embedded_broker_refuses_mqtt5() -> None:
    """amqtt 0.12.1 implements MQTT 3.1.1 only; a v5 CONNECT gets "unsupported protocol version"."""
    with EmbeddedBroker() as broker:
        client = Client(broker.port, mqtt.MQTTv5)
        try:
            reason = client.connects.get(timeout=2)
            assert reason.is_failure
            assert "protocol version" in str(reason).lower()
        finally:
            client.close()


def test_embedded_broker_stops_and_frees_its_port() -> None:
    broker = EmbeddedBroker()
    broker.start()
    broker.stop()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", broker.port))


def test_start_local_broker_prefers_mosquitto_and_can_be_told_embedded(tmp_path: Path) -> None:
    broker, kind = start_local_broker(tmp_path / "b", prefer="embedded")
    try:
        assert kind == "embedded (amqtt)"
        round_trip(broker.port, mqtt.MQTTv311)
    finally:
        broker.stop()
    if find_mosquitto() is None:
        return
    broker, kind = start_local_broker(tmp_path / "m")
    try:
        assert kind == "mosquitto"
        assert isinstance(broker, MosquittoBroker)
        round_trip(broker.port)
    finally:
        broker.stop()
    with pytest.raises(ValueError):
        start_local_broker(tmp_path, prefer="rabbitmq")


def test_free_ports_lie_below_the_ephemeral_range_so_outgoing_connections_cannot_take_them() -> None:
    from hub.broker.ports import ephemeral_range, port_bindable

    low, _ = ephemeral_range()
    ports = {free_port() for _ in range(20)}
    assert all(p < low and port_bindable("127.0.0.1", p) for p in ports), (low, ports)
    assert len(ports) > 1  # random, so two test processes rarely pick the same one
