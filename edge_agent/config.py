"""The device configuration: one TOML file per device, validated by pydantic.

This is the single schema for ``device.toml``; the kiosk, the panel and the
agent all read it through :func:`load_config`. Errors name the bad field and
what was expected, one line per field, so an installer can fix a file from
the message alone.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from edge_agent.clock import ClockTrust
from edge_agent.mqtt import BrokerAddress, BrokerUrl, MqttVersion, parse_broker_url
from edge_agent.protocol import ID_PATTERN, load_zone

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class ConfigError(ValueError):
    """A device config that cannot be used; the message names each bad field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def validate_timezone(value: str) -> str:
    if load_zone(value) is None:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Helsinki')")
    return value


class StoreConfig(_Section):
    path: Path = Path("/var/lib/touchpoint/device.sqlite")
    retention_days: int = Field(default=30, ge=1, le=3650, description="Keep synced raw events this long.")


class BrokerConfig(_Section):
    url: BrokerUrl = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    mqtt_version: MqttVersion = "5"

    @property
    def address(self) -> BrokerAddress:
        return parse_broker_url(self.url)

    @property
    def host(self) -> str:
        return self.address.host

    @property
    def tls(self) -> bool:
        return self.address.tls

    @property
    def port(self) -> int:
        return self.address.port

    def password(self) -> str | None:
        """Read the password file; the secret never lives in device.toml itself."""
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


class SyncConfig(_Section):
    batch_size: int = Field(default=100, ge=1, le=1000)
    max_inflight_batches: int = Field(default=16, ge=1, le=256)
    flush_interval_ms: int = Field(default=100, ge=10, le=10_000)
    ack_timeout_s: float = Field(default=10.0, gt=0, le=600)
    max_backoff_s: float = Field(default=300.0, gt=0, le=86_400)
    status_interval_s: float = Field(default=60.0, gt=0, le=3600)
    session_expiry_s: int = Field(default=7 * 86_400, ge=0, description="Broker keeps our session this long.")


class SurveyDefaults(_Section):
    """The question recorded when no survey has been pushed yet."""

    question_id: Identifier = "default"
    scale: int = Field(default=4)
    response_interval_s: float = Field(default=5.0, ge=0, le=3600)

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: int) -> int:
        if value not in (4, 5, 11):
            raise ValueError(f"must be 4 or 5 (smileys) or 11 (0-10 NPS), got {value}")
        return value


class KioskConfig(_Section):
    """The touchscreen app."""

    fullscreen: bool = True
    rotation: int = Field(default=0, description="0, 90, 180 or 270 degrees")
    default_language: str | None = Field(default=None, description="default: the survey's first language")
    survey_file: Path | None = Field(default=None, description="a survey JSON file; default: pushed or bundled")
    manager_pin_hash: str | None = Field(default=None, description="from `touchpoint-agent pin-hash`")
    idle_timeout_s: float | None = Field(
        default=None, ge=3, le=600, description="back to the question after this idle time; default: the survey's"
    )
    window_size: tuple[int, int] | None = Field(default=None, description="windowed size, e.g. [800, 480]")

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, value: int) -> int:
        if value not in (0, 90, 180, 270):
            raise ValueError(f"must be 0, 90, 180 or 270 (got {value})")
        return value

    @field_validator("manager_pin_hash")
    @classmethod
    def _pin_hash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("scrypt$"):
            raise ValueError("must be a hash made by `touchpoint-agent pin-hash`, never the PIN itself")
        return value


class PanelConfig(_Section):
    """A physical smiley button panel on GPIO (BCM pin numbers), most negative button first."""

    buttons: list[int] = Field(default_factory=list, description="4 or 5 GPIO pins; empty: no panel")
    leds: list[int] | None = Field(default=None, description="one LED pin per button, same order")
    status_led: int | None = None
    debounce_ms: int = Field(default=50, ge=0, le=1000)
    led_on_ms: int = Field(default=400, ge=50, le=5000)
    manager_combo: list[int] = Field(default=[0, -1], description="button indexes held together for the manager")
    manager_hold_s: float = Field(default=5.0, ge=1, le=60)

    @model_validator(mode="after")
    def _pins(self) -> PanelConfig:
        if self.buttons and len(self.buttons) not in (4, 5):
            raise ValueError(f"buttons: a panel has 4 or 5 buttons (got {len(self.buttons)})")
        if self.leds is not None and len(self.leds) != len(self.buttons):
            raise ValueError(f"leds: needs one pin per button ({len(self.buttons)}), got {len(self.leds)}")
        if self.buttons:
            self.combo_indexes()
        pins = [*self.buttons, *(self.leds or []), *([self.status_led] if self.status_led is not None else [])]
        if len(pins) != len(set(pins)):
            raise ValueError(f"a GPIO pin is used twice: {pins}")
        return self

    def combo_indexes(self) -> frozenset[int]:
        """The manager combination as button indexes 0..n-1 (-1 means the last button)."""
        n = len(self.buttons)
        out: set[int] = set()
        for k in self.manager_combo:
            if not -n <= k < n:
                raise ValueError(
                    f"manager_combo: button index {k} does not exist on a {n}-button panel "
                    f"(use 0..{n - 1}, or -1 for the last button)"
                )
            out.add(k % n)
        if not out or len(out) != len(self.manager_combo):
            raise ValueError(f"manager_combo: names the same button twice or none ({self.manager_combo})")
        return frozenset(out)


class ClockConfig(_Section):
    """When the device trusts its wall clock. Taps recorded before it does are held on the device for
    up to an hour, re-dated if the clock becomes trusted in time, else quarantined at the hub."""

    trust: ClockTrust = Field(
        default="ntp",
        description='"ntp": once time sync says the clock is synchronised; "rtc": any plausible date from boot',
    )


class DeviceConfig(_Section):
    device_id: Identifier
    location_id: Identifier
    timezone: str = "UTC"
    store: StoreConfig = StoreConfig()
    broker: BrokerConfig = BrokerConfig()
    sync: SyncConfig = SyncConfig()
    survey: SurveyDefaults = SurveyDefaults()
    kiosk: KioskConfig = KioskConfig()
    panel: PanelConfig = PanelConfig()
    clock: ClockConfig = ClockConfig()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return validate_timezone(value)


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid device config"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(file)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is required"
        elif err["type"] == "extra_forbidden":
            msg = "is not a known setting (check the spelling)"
        elif err["type"] == "string_pattern_mismatch":
            msg = f"must match {ID_PATTERN} (got {err.get('input')!r})"
        # A section-level check names its key first ("manager_combo: ..."): fold it into the field.
        named = re.match(r"^([a-z_]+): (.*)$", msg, re.S)
        if named and err["loc"]:
            field, msg = f"{field}.{named.group(1)}", named.group(2)
        lines.append(f"  {field}: {msg}")
    return "\n".join(lines)


def parse_config(data: dict[str, object], source: str = "device config") -> DeviceConfig:
    try:
        return DeviceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(path: Path | str) -> DeviceConfig:
    """Read and validate ``device.toml``; raise ConfigError with one line per bad field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read device config: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = parse_config(data, str(path))
    # Relative paths are relative to the config file, not to the working directory of a service.
    base = path.parent
    store = config.store.model_copy(update={"path": _resolve(base, config.store.path)})
    broker = config.broker.model_copy(
        update={
            "password_file": _resolve(base, config.broker.password_file),
            "ca_file": _resolve(base, config.broker.ca_file),
        }
    )
    kiosk = config.kiosk.model_copy(update={"survey_file": _resolve(base, config.kiosk.survey_file)})
    return config.model_copy(update={"store": store, "broker": broker, "kiosk": kiosk})


def _resolve(base: Path, value: Path | None) -> Path | None:
    if value is None or value.is_absolute():
        return value
    return (base / value).resolve()
