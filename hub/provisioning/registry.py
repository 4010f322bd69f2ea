"""Registry operations: provision, rotate and revoke device accounts, and the hub's own account.

Every function works on a :class:`~hub.provisioning.model.RegistryStore` and
returns the plain password only to its caller, which writes it once to a
0600 file. Nothing here logs a password or a hash.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from edge_agent.protocol import format_ts, is_valid_id
from hub.provisioning.model import BrokerAccount, RegistryStore
from hub.provisioning.passwd import generate_password, hash_password

log = logging.getLogger("touchpoint.hub.provisioning")

DEFAULT_HUB_USER = "touchpoint-hub"
MAX_ID = 64


class ProvisioningError(ValueError):
    """A registry operation that cannot be done; the message says why and what to do instead."""


def now_ts() -> str:
    return format_ts(datetime.now(UTC))


def _check_id(kind: str, value: str) -> None:
    if not is_valid_id(value):
        raise ProvisioningError(f"{kind} {value!r} must be 1-64 characters of A-Z a-z 0-9 _ -")


def next_device_id(store: RegistryStore, location_id: str) -> str:
    """``<location>-k01``, ``<location>-k02``, ...: the first number not yet taken (revoked ids stay taken)."""
    _check_id("location", location_id)
    taken = {a.username for a in store.accounts()}
    for n in range(1, 10_000):
        suffix = f"-k{n:02d}"
        candidate = location_id[: MAX_ID - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise ProvisioningError(f"no free device id left for location {location_id!r}; pass --device")


def add_device(store: RegistryStore, location_id: str, device_id: str | None = None) -> tuple[BrokerAccount, str]:
    """Register a device at ``location_id`` with a new broker password; return (account, password)."""
    _check_id("location", location_id)
    device_id = device_id or next_device_id(store, location_id)
    _check_id("device", device_id)
    existing = store.account(device_id)
    if existing is not None:
        if existing.role == "hub":
            raise ProvisioningError(f"{device_id!r} is the hub's own broker account; choose another device id")
        if existing.revoked_at:
            raise ProvisioningError(
                f"device {device_id!r} was revoked at {existing.revoked_at}; a revoked id is never reused, "
                "so give the replacement kiosk a new --device id"
            )
        raise ProvisioningError(
            f"device {device_id!r} is already registered at {existing.location_id}; to re-issue its "
            f"credentials (a lost bundle, a re-imaged Pi) run: touchpoint-hub device rotate {device_id}"
        )
    password = generate_password()
    account = BrokerAccount(device_id, "device", hash_password(password), now_ts(), location_id=location_id)
    store.add_account(account)
    log.info("registered device %s at location %s", device_id, location_id)
    return account, password


def rotate_device(store: RegistryStore, device_id: str) -> tuple[BrokerAccount, str]:
    """A new password for an active device (the old one stops working at the next broker reload)."""
    account = device_account(store, device_id)
    if account.revoked_at:
        raise ProvisioningError(f"device {device_id!r} was revoked at {account.revoked_at}; add a new device instead")
    password = generate_password()
    at = now_ts()
    store.set_account_password(device_id, hash_password(password), at)
    log.info("issued new broker credentials for device %s", device_id)
    updated = store.account(device_id)
    assert updated is not None
    return updated, password


def revoke_device(store: RegistryStore, device_id: str) -> BrokerAccount:
    """Revoke a device: the hub refuses its messages now, the broker after its next reload."""
    account = device_account(store, device_id)
    if account.revoked_at:
        raise ProvisioningError(f"device {device_id!r} is already revoked (at {account.revoked_at})")
    store.revoke_account(device_id, now_ts())
    log.info("revoked device %s at location %s", device_id, account.location_id)
    updated = store.account(device_id)
    assert updated is not None
    return updated


def device_account(store: RegistryStore, device_id: str) -> BrokerAccount:
    account = store.account(device_id)
    if account is None or account.role != "device":
        raise ProvisioningError(f"no device {device_id!r} in the registry (see: touchpoint-hub device list)")
    return account


def ensure_hub_account(store: RegistryStore, username: str = DEFAULT_HUB_USER, rotate: bool = False) -> str | None:
    """Create (or, with ``rotate``, re-key) the hub's ingest account; return its new password, else None."""
    _check_id("hub user", username)
    existing = store.account(username)
    if existing is not None and existing.role != "hub":
        raise ProvisioningError(f"{username!r} is a device's broker account; choose another --hub-user")
    if existing is not None and existing.revoked_at:
        raise ProvisioningError(f"hub account {username!r} was revoked; choose another --hub-user")
    if existing is not None and not rotate:
        return None
    password = generate_password()
    if existing is None:
        store.add_account(BrokerAccount(username, "hub", hash_password(password), now_ts()))
        log.info("created the hub's broker account %s", username)
    else:
        store.set_account_password(username, hash_password(password), now_ts())
        log.info("issued a new password for the hub's broker account %s", username)
    return password
