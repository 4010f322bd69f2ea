"""TCP port helpers: brokers in tests, demos and benchmarks must not collide on a fixed port."""

from __future__ import annotations

import socket
import time

_POLL_S = 0.01


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port the OS just reported free on ``host``.

    Another process can still take it before we bind; callers that care check again at start-up.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


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
