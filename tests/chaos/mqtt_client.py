"""A plain MQTT v5 client for the chaos tests: publishes at QoS 1 and collects the hub's acks."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.protocol import Ack, decode, subscription
from hub.broker import MosquittoBroker


class Publisher:
    def __init__(self, broker: MosquittoBroker) -> None:
        self.acks: list[Ack] = []
        self._lock = threading.Lock()
        version = CallbackAPIVersion.VERSION2
        self.client = mqtt.Client(callback_api_version=version, client_id="fuzzer", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(subscription("ack"), qos=1)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.acks.append(decode(message.payload, Ack))

    def publish(self, topic_name: str, payload: bytes) -> None:
        self.client.publish(topic_name, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
