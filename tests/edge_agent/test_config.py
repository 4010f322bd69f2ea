"""edge_agent.config: loading device.toml and naming every bad field in the error."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from edge_agent.config import BrokerConfig, ConfigError, DeviceConfig, load_config, parse_config

MINIMAL = """\
device_id = "kiosk-1"
location_id = "store-42"
timezone = "Europe/Helsinki"

[store]
path = "/var/lib/touchpoint/device.sqlite"

[broker]
url = "mqtts://hub.example.com:8883"
username = "kiosk-1"
password_file = "/etc/touchpoint/broker.pw"
"""


def write(tmp_path: Path, text: str, name: str = "device.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    return message


def error_lines(message: str) -> list[str]:
    """The per-field lines, without the header naming the file."""
    return [line.strip() for line in message.splitlines()[1:]]


def test_minimal_valid_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert isinstance(config, DeviceConfig)
    assert config.device_id == "kiosk-1"
    assert config.location_id == "store-42"
    assert config.timezone == "Europe/Helsinki"
    assert config.store.path == Path("/var/lib/touchpoint/device.sqlite")
    assert config.broker.url == "mqtts://hub.example.com:8883"
    assert config.broker.username == "kiosk-1"
    assert config.broker.password_file == Path("/etc/touchpoint/broker.pw")
    # defaults for everything not given
    assert config.store.retention_days == 30
    assert config.sync.batch_size == 100
    assert config.survey.question_id == "default"
    assert config.survey.scale == 4
    assert config.broker.mqtt_version == "5"


def test_load_config_accepts_a_str_path(tmp_path: Path) -> None:
    assert load_config(str(write(tmp_path, MINIMAL))).device_id == "kiosk-1"


def test_only_ids_are_required(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'device_id = "d"\nlocation_id = "l"\n'))
    assert config.timezone == "UTC"
    assert config.broker.url == "mqtt://127.0.0.1:1883"
    assert config.store.path == Path("/var/lib/touchpoint/device.sqlite")


@pytest.mark.parametrize("bad", ["kiosk 1", "kiosk/1", "kiosk.1", "", "k" * 65, "kiösk"])
def test_bad_device_id_is_named(tmp_path: Path, bad: str) -> None:
    message = config_error(tmp_path, MINIMAL.replace('device_id = "kiosk-1"', f'device_id = "{bad}"'))
    assert error_lines(message) == [f"device_id: must match ^[A-Za-z0-9_-]{{1,64}}$ (got {bad!r})"]


def test_bad_location_id_is_named(tmp_path: Path) -> None:
    message = config_error(tmp_path, MINIMAL.replace('"store-42"', '"store 42"'))
    assert error_lines(message) == ["location_id: must match ^[A-Za-z0-9_-]{1,64}$ (got 'store 42')"]


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "Europe/Helsinky", "CET+1", "../etc/passwd"])
def test_unknown_timezone_is_named(tmp_path: Path, bad: str) -> None:
    message = config_error(tmp_path, MINIMAL.replace('"Europe/Helsinki"', f'"{bad}"'))
    assert error_lines(message) == [f"timezone: unknown IANA time zone {bad!r} (e.g. 'Europe/Helsinki')"]


@pytest.mark.parametrize("bad", ["Europe", "America"])
def test_timezone_naming_a_zone_directory_is_a_config_error(tmp_path: Path, bad: str) -> None:
    message = config_error(tmp_path, MINIMAL.replace('"Europe/Helsinki"', f'"{bad}"'))
    assert error_lines(message) == [f"timezone: unknown IANA time zone {bad!r} (e.g. 'Europe/Helsinki')"]


@pytest.mark.parametrize(
    "url",
    ["http://hub.example.com:1883", "https://hub.example.com", "hub.example.com:1883", "mqtt://", "tcp://h:1883"],
)
def test_broker_url_must_be_mqtt(tmp_path: Path, url: str) -> None:
    message = config_error(tmp_path, MINIMAL.replace('"mqtts://hub.example.com:8883"', f'"{url}"'))
    assert error_lines(message) == [f"broker.url: must look like mqtt://host:1883 or mqtts://host:8883 (got {url!r})"]


def test_broker_url_with_a_bad_port(tmp_path: Path) -> None:
    message = config_error(tmp_path, MINIMAL.replace(":8883", ":99999"))
    assert error_lines(message) == ["broker.url: has a bad port (got 'mqtts://hub.example.com:99999')"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (MINIMAL.replace("username =", "usernme ="), "broker.usernme"),
        (MINIMAL.replace("timezone =", "time_zone ="), "time_zone"),
        (MINIMAL.replace("[store]", "[stroe]"), "stroe"),
        (MINIMAL + "\n[sync]\nbatchsize = 5\n", "sync.batchsize"),
    ],
)
def test_misspelled_key_is_not_a_known_setting(tmp_path: Path, text: str, field: str) -> None:
    message = config_error(tmp_path, text)
    assert f"{field}: is not a known setting (check the spelling)" in error_lines(message)


def test_missing_device_id_is_required(tmp_path: Path) -> None:
    message = config_error(tmp_path, MINIMAL.replace('device_id = "kiosk-1"\n', ""))
    assert error_lines(message) == ["device_id: is required"]


def test_several_bad_fields_give_one_line_each(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace('"kiosk-1"\n', '"kiosk 1"\n', 1)
        .replace('"Europe/Helsinki"', '"Nowhere/Town"')
        .replace('"mqtts://hub.example.com:8883"', '"http://hub"')
        .replace('location_id = "store-42"\n', "")
        + "\n[survey]\nscale = 7\n"
    )
    message = config_error(tmp_path, text)
    lines = error_lines(message)
    assert message.splitlines()[0].endswith("invalid device config")
    assert len(lines) == 5
    fields = sorted(line.split(":")[0] for line in lines)
    assert fields == ["broker.url", "device_id", "location_id", "survey.scale", "timezone"]
    assert "location_id: is required" in lines
    assert "survey.scale: must be 4 or 5 (smileys) or 11 (0-10 NPS), got 7" in lines


@pytest.mark.parametrize(
    ("section", "line", "expected"),
    [
        ("store", "retention_days = 0", "store.retention_days: Expected int >= 1 (got 0)"),
        ("sync", "batch_size = 1001", "sync.batch_size: Expected int <= 1000 (got 1001)"),
        ("broker", 'mqtt_version = "4"', "broker.mqtt_version: Expected '5' or '3.1.1', got '4'"),
        ("survey", 'question_id = "q 1"', "survey.question_id: must match ^[A-Za-z0-9_-]{1,64}$ (got 'q 1')"),
    ],
)
def test_section_fields_are_named_with_their_section(tmp_path: Path, section: str, line: str, expected: str) -> None:
    header = f"[{section}]\n"
    text = MINIMAL.replace(header, header + line + "\n") if header in MINIMAL else f"{MINIMAL}\n{header}{line}\n"
    assert error_lines(config_error(tmp_path, text)) == [expected]


def test_invalid_toml(tmp_path: Path) -> None:
    message = config_error(tmp_path, 'device_id = "kiosk-1\nlocation_id = "x"\n')
    assert ": not valid TOML: " in message
    assert "line 1" in message


def test_wrong_type_is_named(tmp_path: Path) -> None:
    message = config_error(tmp_path, MINIMAL.replace('"kiosk-1"\n', "42\n", 1))
    assert error_lines(message) == ["device_id: Expected str, got int"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "device.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: cannot read device config: No such file or directory"


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_parse_config_names_its_source() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"device_id": "d"}, "from-panel")
    assert str(info.value) == "from-panel: invalid device config\n  location_id: is required"


def test_relative_store_path_is_resolved_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc" / "touchpoint"
    etc.mkdir(parents=True)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = MINIMAL.replace('"/var/lib/touchpoint/device.sqlite"', '"../data/device.sqlite"')
    config = load_config(write(etc, text))
    assert config.store.path == tmp_path / "etc" / "data" / "device.sqlite"
    assert config.store.path.is_absolute()


def test_absolute_store_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "store.sqlite"
    config = load_config(write(tmp_path, MINIMAL.replace('"/var/lib/touchpoint/device.sqlite"', f'"{target}"')))
    assert config.store.path == target


def test_relative_password_file_is_resolved_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broker.pw").write_text("s3cret\n", encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(write(tmp_path, MINIMAL.replace('"/etc/touchpoint/broker.pw"', '"broker.pw"')))
    assert config.broker.password() == "s3cret"


# --- BrokerConfig ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, False),
        ("mqtt://broker.lan", "broker.lan", 1883, False),
        ("mqtts://hub.example.com", "hub.example.com", 8883, True),
        ("mqtts://hub.example.com:443", "hub.example.com", 443, True),
        ("mqtt://[::1]:1884", "::1", 1884, False),
    ],
)
def test_broker_host_port_tls(url: str, host: str, port: int, tls: bool) -> None:
    broker = BrokerConfig(url=url)
    assert broker.host == host
    assert broker.port == port
    assert broker.tls is tls


def test_password_reads_the_password_file_and_strips_it(tmp_path: Path) -> None:
    secret = tmp_path / "broker.pw"
    secret.write_text("  hunter2\n", encoding="utf-8")
    assert BrokerConfig(password_file=secret).password() == "hunter2"


def test_no_password_file_means_no_password() -> None:
    assert BrokerConfig().password() is None


def test_password_file_path_in_toml_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "broker.pw"
    secret.write_text("from-file\n", encoding="utf-8")
    config = load_config(write(tmp_path, MINIMAL.replace('"/etc/touchpoint/broker.pw"', f'"{secret}"')))
    assert config.broker.password() == "from-file"
    assert b"from-file" not in msgspec.json.encode(config, enc_hook=str)


def test_the_annotated_example_in_firmware_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "firmware_config" / "examples" / "device.toml"
    config = load_config(example)
    assert config.device_id == "kiosk-001"
    assert config.timezone == "Europe/Helsinki"
    assert config.sync.batch_size == 100
