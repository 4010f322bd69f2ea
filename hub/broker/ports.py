"""TCP port helpers: brokers in tests, demos and benchmarks must not collide on a fixed port."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

_POLL_S = 0.01


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections (Linux's default if unreadable)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port free on ``host`` now, below the kernel's ephemeral range where there is room.

    A listener's port taken from the ephemeral range can be given to some outgoing connection (an MQTT
    client, an HTTP request) between this call and the listener's bind: on a busy machine that made brokers
    fail with "Address already in use". Below the range only another listener can take it, and the random
    choice makes two callers picking the same port unlikely. Callers that care still check at start-up.
    """
    low, _ = ephemeral_range()
    first = max(10_000, low - 12_000)
    if low - first >= 1000:
        rng = random.Random()
        for _ in range(100):
            port = rng.randrange(first, low)
            if port_bindable(host, port) and not port_open(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        found: int = sock.getsockname()[1]
        return found


def port_open(host: str, port: int) -> bool:
    """Return True if something accepts TCP connections on ``host:port`` right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_bindable(host: str, port: int) -> bool:
    """Return True if a listener could bind ``host:port`` now.

    SO_REUSEADDR is set, as Mosquitto and asyncio do, so TIME_WAIT leftovers of a previous
    broker on the same port do not count as busy; only a live listener does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Block until ``host:port`` accepts connections; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing is listening on {host}:{port} after {timeout:.1f} s")
        time.sleep(_POLL_S)


def wait_for_port_free(host: str, port: int, timeout: float) -> None:
    """Block until ``host:port`` can be bound again (a restart reuses its port); TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while not port_bindable(host, port):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{host}:{port} is still in use after {timeout:.1f} s")
        time.sleep(_POLL_S)
