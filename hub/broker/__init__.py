"""Local MQTT brokers for the hub CLI, demo, tests, chaos tool and benchmarks.

Mosquitto is what production uses; the embedded amqtt broker is a slower, MQTT 3.1.1-only fallback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from hub.broker.embedded import EmbeddedBroker, run_embedded_forever
from hub.broker.mosquitto import BrokerStartError, MosquittoBroker, MosquittoConfig, find_mosquitto
from hub.broker.ports import free_port, wait_for_port, wait_for_port_free

__all__ = [
    "BrokerStartError",
    "EmbeddedBroker",
    "LocalBroker",
    "MosquittoBroker",
    "MosquittoConfig",
    "find_mosquitto",
    "free_port",
    "run_embedded_forever",
    "start_local_broker",
    "wait_for_port",
    "wait_for_port_free",
]

KIND_MOSQUITTO = "mosquitto"
KIND_EMBEDDED = "embedded (amqtt)"


class LocalBroker(Protocol):
    """What callers may rely on whichever broker they got."""

    @property
    def url(self) -> str: ...

    @property
    def port(self) -> int: ...

    def start(self, timeout: float = 10) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...


def start_local_broker(data_dir: Path, port: int | None = None, prefer: str = "mosquitto") -> tuple[LocalBroker, str]:
    """Start Mosquitto if installed (unless ``prefer="embedded"``), else amqtt; return (broker, kind).

    ``kind`` is "mosquitto" or "embedded (amqtt)": amqtt only speaks MQTT 3.1.1, so callers may need it.
    """
    if prefer not in ("mosquitto", "embedded"):
        raise ValueError(f"prefer must be 'mosquitto' or 'embedded', not {prefer!r}")
    host = "127.0.0.1"
    if port is None:
        port = free_port(host)
    if prefer == "mosquitto" and find_mosquitto() is not None:
        mosquitto = MosquittoBroker(MosquittoConfig(port, host=host, data_dir=Path(data_dir)))
        mosquitto.start()
        return mosquitto, KIND_MOSQUITTO
    embedded = EmbeddedBroker(port=port, host=host)
    embedded.start()
    return embedded, KIND_EMBEDDED
