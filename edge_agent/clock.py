"""What the device knows about its own clock.

A Raspberry Pi has no RTC: it can boot at a wrong time and jump later when
NTP syncs. Each event records whether the clock was trustworthy, the boot it
happened in and the monotonic time since boot, so it can be re-dated later.

Whether the clock is trustworthy is decided in one place, :func:`verdict`, for
the device's ``[clock] trust``: ``"ntp"`` trusts it once the kernel (or
systemd-timesyncd) says it is synchronised; ``"rtc"`` trusts any plausible
date from boot (a battery-backed RTC, or a VM or container with a correct
host clock), where no NTP status may ever appear.
"""

from __future__ import annotations

import ctypes
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

# A wall clock before this is certainly wrong (the Pi's fake-hwclock or 1970).
EARLIEST_PLAUSIBLE = datetime(2025, 1, 1, tzinfo=UTC)
_TIME_ERROR = 5  # adjtimex(2): clock not synchronized
_TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")


class _Timex(ctypes.Structure):
    # struct timex is 208 bytes on 64-bit Linux; we only read the return code.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 204)]


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    # The C library the interpreter already runs on (dlopen(NULL)): no ldconfig run, and no ctypes.util
    # import (with subprocess and shutil) in the agent, which must stay lean on a Pi Zero.
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _kernel_says_synchronized() -> bool | None:
    """adjtimex(2) in read-only mode; None where it is unavailable."""
    libc = _libc()
    if libc is None:
        return None
    try:
        buf = _Timex()
        state = libc.adjtimex(ctypes.byref(buf))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return bool(state != _TIME_ERROR)


def now() -> datetime:
    """The device's wall clock, UTC. Everything that stamps a tap reads it here.

    The one test seam for a wrong clock: ``TOUCHPOINT_CLOCK_OFFSET_S`` (seconds, may be negative)
    shifts it, as a Pi that booted at the wrong time would see it. ``scripts/chaos`` sets it per
    device process, together with ``TOUCHPOINT_CLOCK_OK`` and ``TOUCHPOINT_BOOT_ID``.
    """
    wall = datetime.now(UTC)
    offset = os.environ.get("TOUCHPOINT_CLOCK_OFFSET_S")
    return wall + timedelta(seconds=float(offset)) if offset else wall


_device_now = now  # the parameters below shadow the name

# ``[clock] trust`` in device.toml: what makes a wall clock trustworthy on this device.
ClockTrust = Literal["ntp", "rtc"]
# Why a verdict is what it is; edge_agent/clock_advice.py turns it into words and a fix.
Why = Literal["forced", "implausible", "rtc", "timesyncd", "kernel_synced", "kernel_unknown", "unsynchronised"]


@dataclass(frozen=True)
class ClockVerdict:
    ok: bool
    why: Why
    now: datetime  # the wall clock the verdict was made on


def verdict(trust: ClockTrust, now: datetime | None = None) -> ClockVerdict:
    """Whether the wall clock can be trusted for bucketing taps into days, and why.

    ``TOUCHPOINT_CLOCK_OK=1|0`` overrides the check (tests, ``scripts/chaos``).
    """
    now = now or _device_now()
    forced = os.environ.get("TOUCHPOINT_CLOCK_OK")
    if forced in ("0", "1"):
        return ClockVerdict(forced == "1", "forced", now)
    if now < EARLIEST_PLAUSIBLE:
        return ClockVerdict(False, "implausible", now)
    if trust == "rtc":
        return ClockVerdict(True, "rtc", now)
    if _TIMESYNC_FLAG.exists():
        return ClockVerdict(True, "timesyncd", now)
    synced = _kernel_says_synchronized()
    # Where the kernel cannot tell (no adjtimex), a plausible date is the best we know.
    if synced is None:
        return ClockVerdict(True, "kernel_unknown", now)
    return ClockVerdict(synced, "kernel_synced" if synced else "unsynchronised", now)


def clock_ok(trust: ClockTrust, now: datetime | None = None) -> bool:
    """``verdict(trust, now).ok``: what a tap records as ``clock_ok``."""
    return verdict(trust, now).ok


def boot_id() -> str:
    """The kernel's id of this boot; a fresh random id where the kernel has none.

    ``TOUCHPOINT_BOOT_ID`` overrides it, so a test can fake a reboot without rebooting.
    """
    return os.environ.get("TOUCHPOINT_BOOT_ID") or _kernel_boot_id()


@lru_cache(maxsize=1)
def _kernel_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return str(uuid.uuid4())


def monotonic_ms() -> int:
    """Milliseconds since boot, immune to wall-clock jumps."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) // 1_000_000


def uuid7(now_ms: int | None = None) -> str:
    """A time-ordered UUID (RFC 9562 v7), so the hub's unique index grows at its right edge."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
