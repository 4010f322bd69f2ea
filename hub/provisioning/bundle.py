"""The device bundle: everything one kiosk needs to reach the hub, in one directory.

``<out>/<device_id>/``:

- ``device.toml``: identity, broker URL and login name, store path (0644);
- ``ca.crt``: the CA the broker's certificate is verified against (0644);
- ``broker.pass``: the device's broker password, the only copy anywhere (0600).

Optionally also ``<out>/<device_id>.tar.gz`` (0600) holding that directory.
The paths in device.toml are relative to it, so the directory works wherever
it is copied (the Pi setup script puts it in /etc/touchpoint/).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.config import ConfigError, parse_config
from edge_agent.mqtt import parse_broker_url
from hub.provisioning.files import PUBLIC, SECRET, log, write_file
from hub.provisioning.toml_out import TomlTable, dumps

CONFIG_NAME = "device.toml"
PASSWORD_NAME = "broker.pass"
CA_NAME = "ca.crt"
DEFAULT_STORE = Path("/var/lib/touchpoint/device.sqlite")
# Keys a template may not set: they come from the registry and the bundle itself.
_OWNED = {("device_id",), ("location_id",), ("broker", "url"), ("broker", "username"), ("broker", "password_file")}


@dataclass(frozen=True)
class DeviceBundle:
    directory: Path
    config: Path
    password_file: Path
    ca_file: Path | None
    archive: Path | None


@dataclass(frozen=True)
class BundleSpec:
    device_id: str
    location_id: str
    timezone: str
    broker_url: str
    ca_file: Path | None
    store_path: Path = DEFAULT_STORE
    template: Path | None = None


def read_template(path: Path) -> TomlTable:
    """A site-wide device.toml whose [kiosk], [panel], [sync], ... settings every bundle starts from."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read template: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for key in _OWNED:
        table: Any = data
        for part in key[:-1]:
            table = table.get(part, {}) if isinstance(table, dict) else {}
        if isinstance(table, dict) and key[-1] in table:
            raise ConfigError(f"{path}: {'.'.join(key)} is set per device by `device add`; remove it from the template")
    return data


def device_table(spec: BundleSpec) -> TomlTable:
    """The device.toml content as a table; validated with the device's own schema before it is written."""
    template = read_template(spec.template) if spec.template else {}
    data: TomlTable = {k: v for k, v in template.items() if not isinstance(v, dict)}
    data.update({"device_id": spec.device_id, "location_id": spec.location_id, "timezone": spec.timezone})
    data = {"device_id": spec.device_id, "location_id": spec.location_id, **data}  # ids first, for readers
    sections: dict[str, TomlTable] = {k: dict(v) for k, v in template.items() if isinstance(v, dict)}
    store = sections.setdefault("store", {})
    store["path"] = str(spec.store_path)
    broker = sections.setdefault("broker", {})
    broker.update({"url": spec.broker_url, "username": spec.device_id, "password_file": PASSWORD_NAME})
    if spec.ca_file is not None:
        broker["ca_file"] = CA_NAME
    data.update(sections)
    try:
        parse_config(data, f"device.toml for {spec.device_id}")
    except ConfigError as exc:
        raise ConfigError(f"{exc}\n(no bundle written)") from None
    return data


def check_broker(spec: BundleSpec) -> None:
    address = parse_broker_url(spec.broker_url)
    if address.tls and spec.ca_file is None:
        raise ConfigError(
            f"{spec.broker_url} uses TLS: pass --ca-file (ca.crt from `touchpoint-hub broker certs`) so the "
            "device can verify the broker"
        )
    if spec.ca_file is not None and not spec.ca_file.is_file():
        raise ConfigError(f"--ca-file {spec.ca_file} does not exist")
    if not address.tls:
        log.warning("%s is not TLS: the device's password and taps cross the network in clear text", spec.broker_url)


def write_bundle(out: Path, spec: BundleSpec, password: str, *, archive: bool = False) -> DeviceBundle:
    """Write ``out/<device_id>/`` (and ``out/<device_id>.tar.gz``); the password only into the 0600 file."""
    check_broker(spec)
    table = device_table(spec)
    directory = out / spec.device_id
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory} already exists and is not empty; move it away first")
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    header = (
        f"Touchpoint device {spec.device_id} at {spec.location_id}, made by `touchpoint-hub device add`.\n"
        "Install: copy this directory to /etc/touchpoint/ on the device (docs/install-checklist.md).\n"
        "Reference of every key: docs/device-config.md. Paths are relative to this file."
    )
    config = write_file(directory / CONFIG_NAME, dumps(table, header), PUBLIC)
    secret = write_file(directory / PASSWORD_NAME, password + "\n", SECRET)
    ca = None
    if spec.ca_file is not None:
        ca = directory / CA_NAME
        shutil.copyfile(spec.ca_file, ca)
        os.chmod(ca, PUBLIC)
    tarball = _archive(out, directory) if archive else None
    log.info("wrote the bundle of device %s to %s%s", spec.device_id, directory, f" and {tarball}" if tarball else "")
    return DeviceBundle(directory, config, secret, ca, tarball)


def _archive(out: Path, directory: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.iterdir()):
            info = tar.gettarinfo(str(path), arcname=f"{directory.name}/{path.name}")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with path.open("rb") as f:
                tar.addfile(info, f)
    return write_file(out / f"{directory.name}.tar.gz", buffer.getvalue(), SECRET)
