"""Hub settings: command-line options first, then ``TOUCHPOINT_HUB_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from edge_agent.mqtt import BrokerUrl, MqttVersion, parse_broker_url

ENV_PREFIX = "TOUCHPOINT_HUB_"


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
