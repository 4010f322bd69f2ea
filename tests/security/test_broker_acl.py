"""No kiosk may speak for another: the generated password file and ACL, enforced by a real Mosquitto over TLS."""

from __future__ import annotations

import re
import time

from edge_agent.protocol import topic
from tests.security.support import Client, Fleet

NOT_AUTHORIZED = "Not authorized"  # MQTT v5 reason code 0x87
ACCEPTED = ("Success", "No matching subscribers")  # 0x00 and 0x10 both mean the broker took it


def device_client(fleet: Fleet, device_id: str, client_id: str | None = None) -> Client:
    device = fleet.devices[device_id]
    client = Client(fleet.port, device_id, device.password, fleet.ca, client_id or device_id)
    assert client.connected() == "Success"
    return client


def hub_client(fleet: Fleet) -> Client:
    login = fleet.hub_login()
    client = Client(
        fleet.port, login["TOUCHPOINT_HUB_BROKER_USERNAME"], login["TOUCHPOINT_HUB_BROKER_PASSWORD"], fleet.ca
    )
    assert client.connected() == "Success"
    return client


def test_a_device_may_publish_only_on_its_own_topics(fleet: Fleet) -> None:
    a = device_client(fleet, "kiosk-a")
    try:
        assert a.publish(topic("store-1", "kiosk-a", "events"), b"{}") in ACCEPTED
        assert a.publish(topic("store-1", "kiosk-a", "status"), b"{}", retain=True) in ACCEPTED
        # Device A speaking as device B: refused by the broker with a v5 reason code.
        assert a.publish(topic("store-2", "kiosk-b", "events"), b"{}") == NOT_AUTHORIZED
        assert a.publish(topic("store-2", "kiosk-b", "status"), b"{}", retain=True) == NOT_AUTHORIZED
        # ... nor as itself at another store, nor as an unknown device in its own store.
        assert a.publish(topic("store-2", "kiosk-a", "events"), b"{}") == NOT_AUTHORIZED
        assert a.publish(topic("store-1", "kiosk-x", "events"), b"{}") == NOT_AUTHORIZED
        # ... nor as the hub: it cannot forge acks or configs, not even its own.
        assert a.publish(topic("store-1", "kiosk-a", "ack"), b"{}") == NOT_AUTHORIZED
        assert a.publish(topic("store-2", "kiosk-b", "config"), b"{}") == NOT_AUTHORIZED
    finally:
        a.close()
    denied = [line for line in fleet.broker.log().splitlines() if "Denied PUBLISH from kiosk-a" in line]  # type: ignore[union-attr]
    assert len(denied) == 6, "\n".join(denied)


def test_a_device_cannot_read_another_devices_acks_or_events(fleet: Fleet) -> None:
    a = device_client(fleet, "kiosk-a")
    b = device_client(fleet, "kiosk-b")
    hub = hub_client(fleet)
    try:
        assert hub.subscribe("touchpoint/v1/+/+/events") == ["Granted QoS 1"]
        a.subscribe("touchpoint/v1/#")  # granted, but only what A may read is delivered
        a.subscribe(topic("store-2", "kiosk-b", "ack"))
        assert hub.publish(topic("store-2", "kiosk-b", "ack"), b"for-b") == "Success"
        assert hub.publish(topic("store-1", "kiosk-a", "ack"), b"for-a") == "Success"
        assert b.publish(topic("store-2", "kiosk-b", "events"), b"from-b") == "Success"
        got = a.messages(wait=1.5)
        assert {payload for _, payload in got} == {b"for-a"}, got
        assert (topic("store-2", "kiosk-b", "events"), b"from-b") in hub.messages(wait=1)
    finally:
        for c in (a, b, hub):
            c.close()


def test_a_device_cannot_take_over_another_devices_session(fleet: Fleet) -> None:
    b = device_client(fleet, "kiosk-b")
    a = device_client(fleet, "kiosk-a", client_id="kiosk-b")  # A claims B's client id
    try:
        assert b.publish(topic("store-2", "kiosk-b", "events"), b"still-me") in ACCEPTED
        assert [e for e in list(b.events.queue) if e[0] == "disconnect"] == []
        # use_username_as_clientid: the broker names A's session after A's login, not B's.
        assert re.search(r"New client connected from \S+ as kiosk-a \(.*u'kiosk-a'\)", fleet.broker.log())  # type: ignore[union-attr]
    finally:
        a.close()
        b.close()


def test_no_login_no_entry(fleet: Fleet) -> None:
    attempts = {
        "anonymous": Client(fleet.port, None, None, fleet.ca),
        "wrong password": Client(fleet.port, "kiosk-a", "not-the-password", fleet.ca),
        "B's password for A": Client(fleet.port, "kiosk-a", fleet.devices["kiosk-b"].password, fleet.ca),
        "unknown user": Client(fleet.port, "kiosk-z", fleet.devices["kiosk-a"].password, fleet.ca),
    }
    try:
        for name, client in attempts.items():
            assert client.connected() == NOT_AUTHORIZED, name
    finally:
        for client in attempts.values():
            client.close()


def test_the_broker_listens_only_on_its_tls_port(fleet: Fleet) -> None:
    plain = Client(fleet.port, "kiosk-a", fleet.devices["kiosk-a"].password, ca=None)
    try:
        time.sleep(2)
        seen = list(plain.events.queue)
        assert ("connect", "Success") not in seen, "a plain MQTT client got a CONNACK from the TLS listener"
    finally:
        plain.close()
    opened = re.findall(r"Opening ipv[46] listen socket on port (\d+)", fleet.broker.log())  # type: ignore[union-attr]
    assert set(opened) == {str(fleet.port)}, opened
