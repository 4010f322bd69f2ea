"""systemd's notify protocol, without a dependency: READY=1 at start, WATCHDOG=1 while healthy.

With ``Type=notify`` and ``WatchdogSec=`` in touchpoint-agent.service, systemd
restarts the agent if its main loop stops pinging (a hang, not only a crash).
Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time


def notify(state: str) -> bool:
    """Send ``state`` to systemd; False when not run by systemd (or the socket is gone)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError:
        return False
    return True


class Watchdog:
    """Ping at half of systemd's ``WATCHDOG_USEC``; ``ping()`` is cheap to call on every loop."""

    def __init__(self) -> None:
        usec = os.environ.get("WATCHDOG_USEC", "")
        self.interval_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._next = 0.0

    def ping(self) -> None:
        if self.interval_s is None:
            return
        now = time.monotonic()
        if now >= self._next:
            notify("WATCHDOG=1")
            self._next = now + self.interval_s
