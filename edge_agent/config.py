"""The device configuration: one TOML file per device, validated by msgspec types.

This is the single schema for ``device.toml``; the kiosk, the panel and the
agent all read it through :func:`load_config`. Errors name the bad field and
what was expected, one line per field, so an installer can fix a file from
the message alone.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import Meta, Struct, field

from edge_agent.clock import ClockTrust
from edge_agent.mqtt import BrokerAddress, MqttVersion, parse_broker_url
from edge_agent.protocol import Identifier, load_zone
from edge_agent.validation import Check, Invalid, Problem, check_fields
from edge_agent.validation import convert as _convert


class ConfigError(ValueError):
    """A device config that cannot be used; the message names each bad field."""


class _Section(Struct, forbid_unknown_fields=True, kw_only=True):
    field_checks: ClassVar[dict[str, Check]] = {}

    def __post_init__(self) -> None:
        check_fields(self)


def timezone_problem(value: str) -> str | None:
    if load_zone(value) is None:
        return f"unknown IANA time zone {value!r} (e.g. 'Europe/Helsinki')"
    return None


def validate_timezone(value: str) -> str:
    problem = timezone_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _broker_url_problem(value: str) -> str | None:
    try:
        parse_broker_url(value)
    except ValueError as exc:
        return str(exc)
    return None


def _one_of(*allowed: int, text: str) -> Check:
    return lambda value: None if value in allowed else text.format(value=value)


def _pin_hash_problem(value: str | None) -> str | None:
    if value is not None and not value.startswith("scrypt$"):
        return "must be a hash made by `touchpoint-agent pin-hash`, never the PIN itself"
    return None


class StoreConfig(_Section):
    path: Path = Path("/var/lib/touchpoint/device.sqlite")
    retention_days: Annotated[int, Meta(ge=1, le=3650, description="Keep synced raw events this long.")] = 30


class BrokerConfig(_Section):
    field_checks: ClassVar[dict[str, Check]] = {"url": _broker_url_problem}

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    keepalive_s: Annotated[int, Meta(ge=5, le=3600)] = 30
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
    batch_size: Annotated[int, Meta(ge=1, le=1000)] = 100
    max_inflight_batches: Annotated[int, Meta(ge=1, le=256)] = 16
    flush_interval_ms: Annotated[int, Meta(ge=10, le=10_000)] = 100
    ack_timeout_s: Annotated[float, Meta(gt=0, le=600)] = 10.0
    max_backoff_s: Annotated[float, Meta(gt=0, le=86_400)] = 300.0
    status_interval_s: Annotated[float, Meta(gt=0, le=3600)] = 60.0
    session_expiry_s: Annotated[int, Meta(ge=0, description="Broker keeps our session this long.")] = 7 * 86_400


class SurveyDefaults(_Section):
    """The question recorded when no survey has been pushed yet."""

    field_checks: ClassVar[dict[str, Check]] = {
        "scale": _one_of(4, 5, 11, text="must be 4 or 5 (smileys) or 11 (0-10 NPS), got {value}")
    }

    question_id: Identifier = "default"
    scale: int = 4
    response_interval_s: Annotated[float, Meta(ge=0, le=3600)] = 5.0


_IDLE = "back to the question after this idle time; default: the survey's"
_IDLE_SCREEN = "while unused, show the store's score of the week and its actions (the survey can switch it off too)"
_IDLE_AFTER = "show the idle screen once the question has rested this long; default: the idle timeout"


class KioskConfig(_Section):
    """The touchscreen app."""

    field_checks: ClassVar[dict[str, Check]] = {
        "rotation": _one_of(0, 90, 180, 270, text="must be 0, 90, 180 or 270 (got {value})"),
        "manager_pin_hash": _pin_hash_problem,
    }

    fullscreen: bool = True
    rotation: Annotated[int, Meta(description="0, 90, 180 or 270 degrees")] = 0
    default_language: Annotated[str, Meta(description="default: the survey's first language")] | None = None
    survey_file: Annotated[Path, Meta(description="a survey JSON file; default: pushed or bundled")] | None = None
    manager_pin_hash: Annotated[str, Meta(description="from `touchpoint-agent pin-hash`")] | None = None
    idle_timeout_s: Annotated[float, Meta(ge=3, le=600, description=_IDLE)] | None = None
    window_size: Annotated[tuple[int, int], Meta(description="windowed size, e.g. [800, 480]")] | None = None
    idle_screen: Annotated[bool, Meta(description=_IDLE_SCREEN)] = True
    idle_screen_after_s: Annotated[float, Meta(ge=3, le=3600, description=_IDLE_AFTER)] | None = None


class PanelConfig(_Section):
    """A physical smiley button panel on GPIO (BCM pin numbers), most negative button first."""

    buttons: Annotated[list[int], Meta(description="4 or 5 GPIO pins; empty: no panel")] = field(default_factory=list)
    leds: Annotated[list[int], Meta(description="one LED pin per button, same order")] | None = None
    status_led: int | None = None
    debounce_ms: Annotated[int, Meta(ge=0, le=1000)] = 50
    led_on_ms: Annotated[int, Meta(ge=50, le=5000)] = 400
    manager_combo: Annotated[list[int], Meta(description="button indexes held together for the manager")] = field(
        default_factory=lambda: [0, -1]
    )
    manager_hold_s: Annotated[float, Meta(ge=1, le=60)] = 5.0

    def __post_init__(self) -> None:
        if self.buttons and len(self.buttons) not in (4, 5):
            raise ValueError(f"buttons: a panel has 4 or 5 buttons (got {len(self.buttons)})")
        if self.leds is not None and len(self.leds) != len(self.buttons):
            raise ValueError(f"leds: needs one pin per button ({len(self.buttons)}), got {len(self.leds)}")
        if self.buttons:
            self.combo_indexes()
        pins = [*self.buttons, *(self.leds or []), *([self.status_led] if self.status_led is not None else [])]
        if len(pins) != len(set(pins)):
            raise ValueError(f"a GPIO pin is used twice: {pins}")

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

    trust: Annotated[
        ClockTrust,
        Meta(description='"ntp": once time sync says the clock is synchronised; "rtc": any plausible date from boot'),
    ] = "ntp"


class DeviceConfig(_Section):
    field_checks: ClassVar[dict[str, Check]] = {"timezone": timezone_problem}

    device_id: Identifier
    location_id: Identifier
    timezone: str = "UTC"
    store: StoreConfig = field(default_factory=StoreConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    survey: SurveyDefaults = field(default_factory=SurveyDefaults)
    kiosk: KioskConfig = field(default_factory=KioskConfig)
    panel: PanelConfig = field(default_factory=PanelConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)


def _dec_hook(type_: type, value: Any) -> Any:
    if type_ is Path and isinstance(value, str):
        return Path(value)
    raise TypeError(f"Expected a path (text), got {type(value).__name__}")  # msgspec adds where


_PATTERN = re.compile(r"^Expected str matching regex '(.*)' \(got (.*)\)$", re.S)


def format_problems(problems: list[Problem], source: str) -> str:
    lines = [f"{source}: invalid device config"]
    for where, message in problems:
        if message == "Field required":
            message = "is required"
        elif message.startswith("is not a known field"):
            message = "is not a known setting (check the spelling)"
        elif found := _PATTERN.match(message):
            message = f"must match {found.group(1)} (got {found.group(2)})"
        lines.append(f"  {where or '(file)'}: {message}")
    return "\n".join(lines)


def parse_config(data: dict[str, object], source: str = "device config") -> DeviceConfig:
    try:
        return _convert(data, DeviceConfig, dec_hook=_dec_hook)
    except Invalid as exc:
        raise ConfigError(format_problems(exc.problems, source)) from None


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
    store = msgspec.structs.replace(config.store, path=_resolve(base, config.store.path))
    broker = msgspec.structs.replace(
        config.broker,
        password_file=_resolve(base, config.broker.password_file),
        ca_file=_resolve(base, config.broker.ca_file),
    )
    kiosk = msgspec.structs.replace(config.kiosk, survey_file=_resolve(base, config.kiosk.survey_file))
    return msgspec.structs.replace(config, store=store, broker=broker, kiosk=kiosk)


def _resolve(base: Path, value: Path | None) -> Path | None:
    if value is None or value.is_absolute():
        return value
    return (base / value).resolve()
