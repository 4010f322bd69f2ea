"""Building paho-mqtt 2.x clients the same way on the device and at the hub."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MqttVersion = Literal["5", "3.1.1"]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://host[:1883]`` or ``mqtts://host[:8883]``; ValueError with the expected form otherwise."""
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
        raise ValueError(f"must look like mqtt://host:1883 or mqtts://host:8883 (got {url!r})")
    try:
        port = parsed.port
    except ValueError as exc:
        raise ValueError(f"has a bad port (got {url!r})") from exc
    tls = parsed.scheme == "mqtts"
    return BrokerAddress(parsed.hostname, port or (8883 if tls else 1883), tls)


def validate_broker_url(url: str) -> str:
    parse_broker_url(url)
    return url


def make_client(
    client_id: str,
    *,
    version: MqttVersion = "5",
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    tls: bool = False,
    manual_ack: bool = False,
    clean: bool = False,
) -> mqtt.Client:
    """A client with a persistent session (``clean``: a session that ends with the connection).

    MQTT v5 by default, so a refused publish comes back with a reason code;
    3.1.1 for brokers that speak nothing newer (the embedded amqtt fallback).
    """
    if version == "5":
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    else:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean,
            manual_ack=manual_ack,
        )
    if username is not None:
        client.username_pw_set(username, password)
    if tls or ca_file is not None:
        client.tls_set(ca_certs=str(ca_file) if ca_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    # Short: a store back online should drain within seconds, and a refused connect costs the broker little.
    client.reconnect_delay_set(min_delay=1, max_delay=5)
    return client


def session_kwargs(version: MqttVersion, expiry_s: int, clean: bool = False) -> dict[str, Any]:
    """``connect()`` arguments asking the broker to keep our session across outages (``clean``: not to)."""
    if version != "5":
        return {}  # 3.1.1: clean_session was set on the client
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0 if clean else expiry_s
    return {"clean_start": clean, "properties": props}
