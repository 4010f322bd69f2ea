"""Hub settings: command-line options first, then ``TOUCHPOINT_HUB_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from edge_agent.mqtt import MqttVersion, parse_broker_url, validate_broker_url

ENV_PREFIX = "TOUCHPOINT_HUB_"
BrokerUrl = Annotated[str, AfterValidator(validate_broker_url)]


class HubSettings(BaseModel):
    db: Path = Path("hub.sqlite")
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
    registry: Literal["open", "enforce"] = Field(
        default="open",
        description="Device registry check at ingest. Registered devices must publish on their own location and "
        "must not be revoked; 'enforce' also refuses devices not provisioned with `touchpoint-hub device add`.",
    )

    @property
    def broker_host(self) -> str:
        return parse_broker_url(self.broker_url).host

    @property
    def broker_tls(self) -> bool:
        return parse_broker_url(self.broker_url).tls

    @property
    def broker_port(self) -> int:
        return parse_broker_url(self.broker_url).port

    @classmethod
    def from_env(cls, **overrides: object) -> HubSettings:
        """Environment values, overridden by explicit (non-None) options."""
        values: dict[str, object] = {}
        for name in cls.model_fields:
            env = os.environ.get(ENV_PREFIX + name.upper())
            if env is not None:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
