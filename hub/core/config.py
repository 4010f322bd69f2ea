"""Hub settings: command-line options first, then ``TOUCHPOINT_HUB_*`` environment variables, then defaults.

pydantic-settings reads the environment; :func:`settings_from` adds the
command-line layer and :func:`settings_errors` says where a bad value came
from (the option or the variable), so an operator can find it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge_agent.mqtt import MqttVersion, parse_broker_url, validate_broker_url

ENV_PREFIX = "TOUCHPOINT_HUB_"
POSTGRES_SCHEMES = ("postgresql", "postgres")
Backend = Literal["sqlite", "postgresql"]
BrokerUrl = Annotated[str, AfterValidator(validate_broker_url)]


def database_backend(db: str) -> Backend:
    """``postgresql`` for a ``postgresql://`` (or ``postgres://``) URL, else ``sqlite`` (a file path)."""
    scheme = db.split("://", 1)[0].lower() if "://" in db else ""
    return "postgresql" if scheme in POSTGRES_SCHEMES else "sqlite"


def validate_db(db: str) -> str:
    """A SQLite path is taken as given; a URL must be a PostgreSQL URL that parses."""
    if not db.strip():
        raise ValueError("must be a SQLite file path or a postgresql://user@host:port/name URL, not empty")
    if "://" not in db:
        return db
    scheme = db.split("://", 1)[0].lower()
    if scheme not in POSTGRES_SCHEMES:
        raise ValueError(f"unsupported database URL scheme {scheme!r}: use a SQLite file path or postgresql://...")
    try:
        parts = urlsplit(db)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"not a valid PostgreSQL URL: {exc}") from None
    if any(c.isspace() for c in db):
        raise ValueError("not a valid PostgreSQL URL: it contains whitespace")
    if parts.path.strip("/").count("/"):
        raise ValueError(f"not a valid PostgreSQL URL: {parts.path!r} is not one database name")
    return db


def redact_db(db: str) -> str:
    """The database setting with any password replaced, for logs."""
    if database_backend(db) != "postgresql":
        return db
    parts = urlsplit(db)
    if parts.password is None:
        return db
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _path_to_str(value: object) -> object:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


DatabaseSetting = Annotated[str, BeforeValidator(_path_to_str), AfterValidator(validate_db)]


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    db: DatabaseSetting = Field(
        default="hub.sqlite", description="SQLite file path or postgresql://user@host:port/name URL", repr=False
    )
    broker_url: BrokerUrl = "mqtt://127.0.0.1:1883"
    broker_username: str | None = None
    broker_password: str | None = Field(default=None, repr=False)
    broker_ca_file: Path | None = None
    mqtt_version: MqttVersion = "5"
    client_id: str = "touchpoint-hub"
    share_group: str | None = Field(
        default=None,
        description="Join a shared subscription ($share/<group>/...) to run several hub workers.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_group_messages: int = Field(default=200, ge=1, le=10_000)
    session_expiry_s: int = Field(default=86_400, ge=0)
    log_level: str = "info"
    # --- alerts, webhooks and /metrics (HQ operations) ---
    alert_interval_s: float = Field(default=5.0, gt=0, le=3600, description="How often alert rules are evaluated.")
    webhook_retry_base_s: float = Field(
        default=5.0, gt=0, le=3600, description="First webhook retry delay; doubles per attempt, with jitter."
    )
    webhook_max_attempts: int = Field(default=8, ge=1, le=100, description="Attempts before a delivery is failed.")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    metrics_auth: bool = Field(default=False, description="Require an API token on /metrics (default: open).")
    leader_retry_s: float = Field(
        default=2.0, gt=0, le=60, description="How often a follower worker tries to take over singleton work."
    )
    # --- weekly digest e-mail (touchpoint-hub digest send): TOUCHPOINT_HUB_SMTP_* ---
    smtp_host: str | None = Field(default=None, description="SMTP server for digest e-mails; none: no e-mail.")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="Default 587 (starttls), 465 (ssl), 25.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="STARTTLS on a plain connection, implicit TLS (SMTPS), or neither."
    )
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_from: str | None = Field(default=None, description="The digest's From address (default touchpoint@<host>).")
    smtp_timeout_s: float = Field(default=30.0, gt=0, le=300)
    digest_interval_s: float = Field(
        default=60.0, gt=0, le=3600, description="How often the leader looks for scheduled digests that are due."
    )
    registry: Literal["open", "enforce"] = Field(
        default="open",
        description="Device registry check at ingest. Registered devices must publish on their own location and "
        "must not be revoked; 'enforce' also refuses devices not provisioned with `touchpoint-hub device add`.",
    )

    @property
    def backend(self) -> Backend:
        return database_backend(self.db)

    @property
    def broker_host(self) -> str:
        return parse_broker_url(self.broker_url).host

    @property
    def broker_tls(self) -> bool:
        return parse_broker_url(self.broker_url).tls

    @property
    def broker_port(self) -> int:
        return parse_broker_url(self.broker_url).port


def settings_from(options: Mapping[str, object]) -> HubSettings:
    """Command-line ``options`` (None = not given) over the environment over the defaults."""
    given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    return HubSettings(**given)


def settings_errors(exc: ValidationError, options: Mapping[str, object]) -> list[str]:
    """One line per bad value, naming the field and where it came from: the option or the environment variable."""
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        name = str(err["loc"][0]) if err["loc"] else ""
        if options.get(name) is not None:
            source = f" (from --{name.replace('_', '-')})"
        elif (ENV_PREFIX + name.upper()) in os.environ:
            source = f" (from {ENV_PREFIX}{name.upper()})"
        else:
            source = ""
        message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{field}{source}: {message}")
    return lines
