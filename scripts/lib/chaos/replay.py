"""Replayed and reordered batches: copies of batches seen on the broker, published again, shuffled.

A subscriber keeps the most recent batches every device published. A replay
picks some at random (old and new alike) and publishes them again in a random
order, as a broker redelivering after a crash, a duplicated network path or a
buggy gateway would. The hub must ack them as duplicates and count nothing twice.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.protocol import subscription


class Replayer:
    def __init__(self, host: str, port: int, keep: int = 3000) -> None:
        self.seen: deque[tuple[str, bytes]] = deque(maxlen=keep)
        self.published = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="chaos-replayer", protocol=mqtt.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self._host, self._port = host, port

    def start(self) -> None:
        self.client.connect_async(self._host, self._port, keepalive=10)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if not reason.is_failure:
            client.subscribe(subscription("events"), qos=1)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.seen.append((message.topic, bytes(message.payload)))

    def replay(self, count: int, rng: random.Random) -> int:
        """Publish ``count`` captured batches again, in a shuffled order; return how many went out."""
        with self._lock:
            pool = list(self.seen)
        if not pool:
            return 0
        picked = [rng.choice(pool) for _ in range(count)]
        rng.shuffle(picked)
        sent = 0
        for topic_name, payload in picked:
            info = self.client.publish(topic_name, payload, qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                sent += 1
        self.published += sent
        return sent
