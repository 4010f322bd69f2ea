"""Broker accounts: the device registry's records.

A registry entry is a broker account: one per device (its username is its
device id and it is bound to one location) plus the hub's own ingest account.
Only the Mosquitto hash of each password is stored, never the password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AccountRole = Literal["device", "hub"]


@dataclass(frozen=True)
class BrokerAccount:
    username: str
    role: AccountRole
    password_hash: str = field(repr=False)
    created_at: str
    location_id: str | None = None
    rotated_at: str | None = None
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def device_id(self) -> str | None:
        return self.username if self.role == "device" else None
