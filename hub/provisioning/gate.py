"""The hub's own check of who is speaking, behind the broker's ACL.

The broker should already stop a device from publishing on another's topics.
If it is misconfigured anyway, the hub refuses (dead-letters, never acks) any
batch or status whose topic names

- a registered device at a location other than its registered one;
- a revoked device;
- with ``registry = "enforce"``, a device the registry does not know.

``open`` (the default, for trials and the demo) accepts unknown devices, but
registered ones are always checked. The registry is cached for a few seconds
so the check costs no query per message; a ``device revoke`` takes effect at
the hub within that time, at the broker on its reload.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal, TypeVar

from hub.provisioning.model import RegistryStore
from hub.storage.base import DeadLetter, IncomingBatch, StatusUpdate
from hub.storage.base_actions import IncomingActions

log = logging.getLogger("touchpoint.hub.registry")

RegistryMode = Literal["open", "enforce"]
T = TypeVar("T")
REFRESH_S = 5.0
MISS_REFRESH_S = 1.0


@dataclass(frozen=True)
class _Entry:
    location_id: str | None
    revoked_at: str | None


class RegistryGate:
    def __init__(self, storage: object, mode: RegistryMode = "open") -> None:
        self.mode = mode
        self._store = storage if isinstance(storage, RegistryStore) else None
        if self._store is None and mode == "enforce":
            raise ValueError("registry=enforce needs a storage with a device registry")
        self._devices: dict[str, _Entry] = {}
        self._loaded_at = float("-inf")

    def _refresh(self, now: float) -> None:
        assert self._store is not None
        self._devices = {
            a.username: _Entry(a.location_id, a.revoked_at) for a in self._store.accounts() if a.role == "device"
        }
        self._loaded_at = now

    def _lookup(self, device_id: str) -> _Entry | None:
        now = time.monotonic()
        if now - self._loaded_at >= REFRESH_S:
            self._refresh(now)
        entry = self._devices.get(device_id)
        if entry is None and self.mode == "enforce" and now - self._loaded_at >= MISS_REFRESH_S:
            self._refresh(now)  # a device provisioned a moment ago
            entry = self._devices.get(device_id)
        return entry

    def problem(self, location_id: str, device_id: str) -> str | None:
        """Why messages on this device's topic are refused, or None when they may be ingested."""
        if self._store is None:
            return None
        entry = self._lookup(device_id)
        if entry is None:
            if self.mode == "enforce":
                return (
                    f"registry: device {device_id!r} is not registered at this hub (registry=enforce); "
                    "provision it with `touchpoint-hub device add`"
                )
            return None
        if entry.revoked_at is not None:
            return f"registry: device {device_id!r} was revoked at {entry.revoked_at}; its messages are refused"
        if entry.location_id != location_id:
            return (
                f"registry: device {device_id!r} is registered at location {entry.location_id!r} but published "
                f"as location {location_id!r}"
            )
        return None

    def screen(self, topic: str, payload: bytes, item: T, dead: list[DeadLetter]) -> tuple[T | None, list[DeadLetter]]:
        """Pass ``classify``'s result through, or turn a refused batch or status into a dead letter."""
        if isinstance(item, IncomingBatch | IncomingActions):
            ids = (item.location_id, item.device_id)
        elif isinstance(item, StatusUpdate):
            ids = (item.status.location_id, item.status.device_id)
        else:
            return item, dead
        reason = self.problem(*ids)
        if reason is None:
            return item, dead
        # The event-level letters belong to a batch we refuse as a whole: keep one letter with the raw payload.
        return None, [DeadLetter(topic, reason, payload)]
