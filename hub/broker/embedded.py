"""An in-process amqtt broker, so the hub and tests still work on machines without Mosquitto.

amqtt 0.12.1 speaks MQTT 3.1.1 only: it answers an MQTT v5 (or v3.1) CONNECT with CONNACK
"unacceptable protocol version". Clients of this broker must use ``protocol=MQTTv311``; v5-only
features (PUBACK reason codes such as "Not authorized") are unavailable. It is also about 3x
slower than Mosquitto, keeps no persistence and has no ACLs configured here: a fallback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from hub.broker.ports import free_port

log = logging.getLogger(__name__)


def amqtt_config(host: str, port: int) -> dict[str, Any]:
    """amqtt 0.12 config: one TCP listener and anonymous auth, without the $SYS and packet-log plugins.

    The new-style ``plugins`` mapping avoids amqtt's deprecated ``auth``/``sys_interval`` keys.
    """
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    """amqtt's Broker on its own event loop in a daemon thread, with MosquittoBroker's start/stop surface."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._error is None

    def start(self, timeout: float = 10) -> None:
        """Start the broker thread and return once amqtt listens (or raise what went wrong)."""
        if self.running:
            raise RuntimeError(f"embedded broker already running on {self.url}")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"amqtt-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"embedded amqtt broker did not start on {self.url} within {timeout:.1f} s")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError(f"embedded amqtt broker failed to start on {self.url}: {self._error}") from (self._error)
        log.info("embedded amqtt broker listening on %s", self.url)

    def stop(self, timeout: float = 10) -> None:
        """Shut amqtt down cleanly and join its thread."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # The loop already closed.
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("embedded amqtt broker thread did not exit within %.1f s", timeout)
        self._thread = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedBroker(url={self.url!r}, running={self.running})"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # Reported to start() instead of dying silently in the thread.
            self._error = exc
        finally:
            self._loop = None
            self._stop_event = None
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        await _serve_until(self.host, self.port, self._stop_event, on_started=self._ready.set)


async def _serve_until(host: str, port: int, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> None:
    """Run an amqtt broker on ``host:port`` until ``stop`` is set, then shut it down."""
    from amqtt.broker import Broker  # Imported late: amqtt is an optional (hub extra) dependency.

    broker = Broker(amqtt_config(host, port))
    await broker.start()
    try:
        if on_started is not None:
            on_started()
        await stop.wait()
    finally:
        await broker.shutdown()


def run_embedded_forever(host: str, port: int) -> None:
    """Serve an amqtt broker in the foreground until Ctrl-C or SIGTERM (for ``touchpoint-hub broker``)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await _serve_until(host, port, stop, on_started=lambda: log.info("amqtt listening on %s:%s", host, port))

    asyncio.run(main())
