"""The device registry's records and what provisioning needs from the hub's storage.

A registry entry is a broker account: one per device (its username is its
device id and it is bound to one location) plus the hub's own ingest account.
Only the Mosquitto hash of each password is stored, never the password.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hub.domain.accounts import AccountRole, BrokerAccount

__all__ = ["AccountRole", "BrokerAccount", "RegistryStore"]


@runtime_checkable
class RegistryStore(Protocol):
    """Implemented by both storage backends (:class:`hub.storage.sql.registry.SqlRegistry`)."""

    def add_account(self, account: BrokerAccount) -> None: ...

    def accounts(self) -> list[BrokerAccount]: ...

    def account(self, username: str) -> BrokerAccount | None: ...

    def set_account_password(self, username: str, password_hash: str, at: str) -> bool: ...

    def revoke_account(self, username: str, at: str) -> bool: ...

    def registry_setting(self, key: str) -> str | None: ...

    def set_registry_setting(self, key: str, value: str) -> None: ...
