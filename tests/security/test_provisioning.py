"""Provisioning without a broker: hashes, generated files, registry rules, bundles, certificates, the CLI."""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.config import load_config
from edge_agent.migrate import current_version, migrate
from edge_agent.protocol import Status
from hub.provisioning import registry
from hub.provisioning.acl import render_acl
from hub.provisioning.broker_files import Listener, ReloadError, reload_broker, render_conf
from hub.provisioning.certs import CertPaths
from hub.provisioning.gate import RegistryGate
from hub.provisioning.model import BrokerAccount
from hub.provisioning.passwd import hash_password, render_password_file, verify_password
from hub.storage.base import IncomingBatch, StatusUpdate
from hub.storage.sqlite import SqliteStorage
from hub.storage.sqlite.schema import MIGRATIONS
from tests.security.support import hub_cli_ok, run_hub_cli


@pytest.fixture
def storage(tmp_path: Path) -> SqliteStorage:
    return SqliteStorage(tmp_path / "hub.sqlite")


@pytest.fixture
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    hub_cli_ok("broker", "certs", "--out", str(out), "--host", "hub.example.com", "--host", "10.0.0.5")
    return out


def add(db: Path, out: Path, *args: str) -> tuple[int, str, str]:
    return run_hub_cli("device", "add", "--db", str(db), "--out", str(out), *args)


# --- hashes and generated files ----------------------------------------------


def test_hashes_are_mosquitto_compatible_both_ways(tmp_path: Path) -> None:
    ours = hash_password("s3cret-pass")
    assert ours.startswith("$7$101$") and verify_password("s3cret-pass", ours)
    assert not verify_password("wrong", ours)
    pwfile = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), "dev", "s3cret-pass"], check=True)
    theirs = pwfile.read_text().strip().split(":", 1)[1]
    assert verify_password("s3cret-pass", theirs)
    assert hash_password("x") != hash_password("x"), "salted"


def test_password_file_and_acl_list_only_active_accounts() -> None:
    accounts = [
        BrokerAccount("touchpoint-hub", "hub", hash_password("h"), "t"),
        BrokerAccount("k1", "device", hash_password("a"), "t", location_id="s1"),
        BrokerAccount("k2", "device", hash_password("b"), "t", location_id="s2", revoked_at="t2"),
    ]
    passwd = render_password_file([(a.username, a.password_hash) for a in accounts if a.active])
    assert [line.split(":")[0] for line in passwd.splitlines()[1:]] == ["k1", "touchpoint-hub"]
    acl = render_acl(accounts)
    assert "user k2" not in acl and "s2" not in acl
    assert "user k1\ntopic write touchpoint/v1/s1/k1/events\ntopic write touchpoint/v1/s1/k1/status\n" in acl
    assert "topic write touchpoint/v1/s1/k1/actions\n" in acl  # "You said, we did", logged on the kiosk
    assert "topic read touchpoint/v1/s1/k1/ack\ntopic read touchpoint/v1/s1/k1/config\n" in acl
    assert "user touchpoint-hub\ntopic read touchpoint/v1/+/+/events\n" in acl
    assert "topic write touchpoint/v1/+/+/ack\ntopic write touchpoint/v1/+/+/config\n" in acl
    assert "pattern" not in acl and "#" not in acl.split("\n", 1)[1]
    with pytest.raises(ValueError, match="cannot appear"):
        render_password_file([("a:b", hash_password("x"))])


def test_listener_config_has_no_implicit_plain_listener(certs: Path, tmp_path: Path) -> None:
    text = render_conf(tmp_path, CertPaths(certs), Listener(port=8883, local_port=1884))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    first_listener = next(i for i, line in enumerate(lines) if line.startswith("listener"))
    # Listener options before the first `listener` line make Mosquitto 2.0 open a default one on 1883.
    assert all(not line.startswith("use_username_as_clientid") for line in lines[:first_listener])
    assert "allow_anonymous false" in lines[:first_listener]
    assert "listener 8883" in lines and "listener 1884 127.0.0.1" in lines
    assert lines.count("use_username_as_clientid true") == 2


# --- the registry ------------------------------------------------------------


def test_device_ids_are_numbered_per_location_and_never_reused(storage: SqliteStorage) -> None:
    a, _ = registry.add_device(storage, "store-1")
    b, _ = registry.add_device(storage, "store-1")
    assert (a.username, b.username) == ("store-1-k01", "store-1-k02")
    registry.revoke_device(storage, "store-1-k01")
    assert registry.add_device(storage, "store-1")[0].username == "store-1-k03"
    with pytest.raises(registry.ProvisioningError, match=r"was revoked .* never reused"):
        registry.add_device(storage, "store-1", "store-1-k01")
    with pytest.raises(registry.ProvisioningError, match="touchpoint-hub device rotate store-1-k02"):
        registry.add_device(storage, "store-2", "store-1-k02")
    registry.ensure_hub_account(storage)
    with pytest.raises(registry.ProvisioningError, match="hub's own broker account"):
        registry.add_device(storage, "store-1", "touchpoint-hub")
    with pytest.raises(registry.ProvisioningError, match="must be 1-64 characters"):
        registry.add_device(storage, "store 1")
    with pytest.raises(registry.ProvisioningError, match="already revoked"):
        registry.revoke_device(storage, "store-1-k01")


def test_only_hashes_are_stored(storage: SqliteStorage) -> None:
    account, password = registry.add_device(storage, "store-1")
    hub_password = registry.ensure_hub_account(storage)
    assert hub_password is not None and registry.ensure_hub_account(storage) is None
    stored = {a.username: a.password_hash for a in storage.accounts()}
    assert verify_password(password, stored[account.username])
    assert verify_password(hub_password, stored["touchpoint-hub"])
    assert password not in repr(account), "the hash is kept out of repr() too"
    storage.close()
    raw = b"".join(p.read_bytes() for p in storage.path.parent.glob("hub.sqlite*"))
    assert password.encode() not in raw and hub_password.encode() not in raw


def test_migration_3_upgrades_an_existing_hub_database(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    migrate(db, MIGRATIONS[:2], "hub")
    db.close()
    storage = SqliteStorage(path)
    try:
        assert current_version(storage._writer) == len(MIGRATIONS)  # 3 and later
        assert storage.accounts() == [] and storage.registry_setting("broker_url") is None
    finally:
        storage.close()


def test_the_ingest_gate(storage: SqliteStorage) -> None:
    registry.add_device(storage, "store-1", "k1")
    registry.add_device(storage, "store-1", "gone")
    registry.revoke_device(storage, "gone")
    gate = RegistryGate(storage, "open")
    assert gate.problem("store-1", "k1") is None
    assert gate.problem("store-1", "stranger") is None
    assert "registered at location 'store-1' but published as location 'store-2'" in str(gate.problem("store-2", "k1"))
    assert "was revoked" in str(gate.problem("store-1", "gone"))
    strict = RegistryGate(storage, "enforce")
    assert "not registered" in str(strict.problem("store-1", "stranger"))
    registry.add_device(storage, "store-1", "stranger")
    strict._loaded_at -= 2  # a second later: a miss re-reads the registry at once
    assert strict.problem("store-1", "stranger") is None
    batch = IncomingBatch("k1", "store-2", "b1", [])
    item, letters = gate.screen("touchpoint/v1/store-2/k1/events", b"raw", batch, [])
    assert item is None and letters[0].payload == b"raw" and letters[0].reason.startswith("registry: ")
    status = StatusUpdate(Status(online=True, device_id="k1", location_id="store-1"))
    assert gate.screen("t", b"", status, []) == (status, [])
    assert RegistryGate(object(), "open").problem("x", "y") is None
    with pytest.raises(ValueError, match="needs a storage with a device registry"):
        RegistryGate(object(), "enforce")


# --- bundles and the CLI --------------------------------------------------------


def test_a_bundle_validates_before_anything_is_registered(tmp_path: Path, certs: Path) -> None:
    db = tmp_path / "hub.sqlite"
    SqliteStorage(db).close()
    template = tmp_path / "site.toml"
    template.write_text("[kiosk]\nrotation = 45\n")
    code, _, err = add(
        db, tmp_path / "b", "--location", "store-1", "--broker-url", "mqtts://hub.example.com:8883",
        "--ca-file", str(certs / "ca.crt"), "--timezone", "Europe/Helsinki", "--template", str(template),
    )  # fmt: skip
    assert code == 2
    assert "kiosk.rotation: must be 0, 90, 180 or 270 (got 45)" in err and "(no bundle written)" in err
    assert hub_cli_ok("device", "list", "--db", str(db)).strip().splitlines()[1:] == []
    assert not (tmp_path / "b").exists()

    template.write_text('[broker]\nurl = "mqtt://x:1"\n')
    code, _, err = add(db, tmp_path / "b", "--location", "store-1", "--template", str(template))
    assert code == 2 and "pass --broker-url" in err, "nothing was remembered from the failed attempt"
    code, _, err = add(
        db, tmp_path / "b", "--location", "store-1", "--template", str(template),
        "--broker-url", "mqtt://hub.example.com:1883", "--timezone", "UTC",
    )  # fmt: skip
    assert code == 2 and "broker.url is set per device" in err

    code, _, err = add(
        db, tmp_path / "b", "--location", "store-1", "--broker-url", "mqtts://hub.example.com:8883", "--timezone", "UTC"
    )
    assert code == 2 and "pass --ca-file" in err
    code, _, err = add(db, tmp_path / "b", "--location", "store-1", "--broker-url", "ftp://x")
    assert code == 2 and "--broker-url must look like mqtt://host:1883" in err
    code, _, err = add(
        db, tmp_path / "b", "--location", "store-1", "--broker-url", "mqtts://hub.example.com:8883",
        "--ca-file", str(certs / "ca.crt"),
    )  # fmt: skip
    assert code == 2 and "has no registered time zone yet: pass --timezone" in err
    code, _, err = run_hub_cli("device", "list", "--db", str(tmp_path / "typo.sqlite"))
    assert code == 2 and "no hub database at" in err


def test_a_bundle_from_a_site_template(tmp_path: Path, certs: Path) -> None:
    db = tmp_path / "hub.sqlite"
    SqliteStorage(db).close()
    template = tmp_path / "site.toml"
    template.write_text(
        'timezone = "UTC"\n[kiosk]\nrotation = 180\ndefault_language = "fi"\n'
        "[panel]\nbuttons = [5, 6, 13, 19]\n[sync]\nbatch_size = 50\n"
    )
    out = hub_cli_ok(
        "device", "add", "--db", str(db), "--out", str(tmp_path / "b"), "--location", "helsinki",
        "--broker-url", "mqtts://hub.example.com:8883", "--ca-file", str(certs / "ca.crt"),
        "--timezone", "Europe/Helsinki", "--template", str(template), "--tar",
    )  # fmt: skip
    assert "registered device helsinki-k01 at helsinki" in out
    bundle = tmp_path / "b" / "helsinki-k01"
    config = load_config(bundle / "device.toml")
    assert (config.device_id, config.location_id, config.timezone) == ("helsinki-k01", "helsinki", "Europe/Helsinki")
    assert config.kiosk.rotation == 180 and config.kiosk.default_language == "fi"
    assert config.panel.buttons == [5, 6, 13, 19] and config.sync.batch_size == 50
    assert config.broker.username == "helsinki-k01" and config.broker.password_file == bundle / "broker.pass"
    assert config.broker.ca_file == bundle / "ca.crt"
    assert (bundle / "ca.crt").read_bytes() == (certs / "ca.crt").read_bytes()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in bundle.iterdir()}
    assert modes == {"device.toml": 0o644, "ca.crt": 0o644, "broker.pass": 0o600}
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "b" / "helsinki-k01.tar.gz").stat().st_mode) == 0o600
    # The URL, CA and the location's zone are remembered for the next device of the store.
    out = hub_cli_ok("device", "add", "--db", str(db), "--out", str(tmp_path / "b"), "--location", "helsinki")
    assert "helsinki-k02" in out and "0600" not in out
    second = load_config(tmp_path / "b" / "helsinki-k02" / "device.toml")
    assert second.timezone == "Europe/Helsinki" and second.broker.url == "mqtts://hub.example.com:8883"


def test_device_list_shows_registered_revoked_and_unregistered_devices(storage: SqliteStorage) -> None:
    registry.add_device(storage, "store-1", "k1")
    registry.add_device(storage, "store-1", "k2")
    registry.revoke_device(storage, "k2")
    storage.ingest(
        [], [StatusUpdate(Status(online=True, device_id="rogue", location_id="store-9"))], [], datetime.now(UTC)
    )
    storage.close()
    rows = [json.loads(x) for x in hub_cli_ok("device", "list", "--db", str(storage.path), "--json").splitlines()]
    states = {r["device_id"]: r["state"].split()[0] for r in rows}
    assert states == {"k1": "active", "k2": "revoked", "rogue": "unregistered"}
    assert all("password" not in json.dumps(r) and "$7$" not in json.dumps(r) for r in rows)


def test_broker_config_files_and_hub_login(tmp_path: Path, certs: Path) -> None:
    db, out, env = tmp_path / "hub.sqlite", tmp_path / "mosquitto", tmp_path / "etc" / "hub.env"
    printed = hub_cli_ok(
        "broker", "config", "--db", str(db), "--out", str(out), "--certs", str(certs), "--hub-env", str(env)
    )
    password = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line and line[0] != "#")[
        "TOUCHPOINT_HUB_BROKER_PASSWORD"
    ]
    assert password not in printed
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    for name in ("passwd", "acl", "touchpoint.conf"):
        st = (out / name).stat()
        assert stat.S_IMODE(st.st_mode) == 0o640
        if os.geteuid() == 0:
            assert st.st_gid == pwd.getpwnam("mosquitto").pw_gid, f"{name} must be readable by mosquitto"
    assert stat.S_IMODE((certs / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((certs / "server.key").stat().st_mode) == 0o640
    # Again: the hub login is kept (no new env file needed), the files are rewritten.
    env.unlink()
    code, _, err = run_hub_cli(
        "broker", "config", "--db", str(db), "--out", str(out), "--certs", str(certs), "--hub-env", str(env)
    )
    assert code == 0 and "--rotate-hub-password" in err and not env.exists()
    code, _, err = run_hub_cli("broker", "config", "--db", str(db), "--out", str(out), "--certs", str(tmp_path))
    assert code == 2 and "touchpoint-hub broker certs --out" in err


def test_certs_keep_the_ca_and_name_every_host(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    hub_cli_ok("broker", "certs", "--out", str(out), "--host", "hub.example.com")
    ca = (out / "ca.crt").read_bytes()
    printed = hub_cli_ok("broker", "certs", "--out", str(out), "--host", "mqtt.example.com", "--host", "10.1.2.3")
    assert printed.startswith("kept CA") and (out / "ca.crt").read_bytes() == ca
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(out / "ca.crt"), str(out / "server.crt")], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(out / "server.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in ("DNS:mqtt.example.com", "IP Address:10.1.2.3", "DNS:localhost", "IP Address:127.0.0.1"):
        assert name in text
    hub_cli_ok("broker", "certs", "--out", str(out), "--host", "h", "--new-ca")
    assert (out / "ca.crt").read_bytes() != ca
    code, _, err = run_hub_cli("broker", "certs", "--out", str(out), "--host", "bad host")
    assert code == 2 and "is not a host name" in err


def test_reload_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ReloadError, match="cannot read a Mosquitto pid"):
        reload_broker(pidfile=tmp_path / "none.pid")
    (tmp_path / "stale.pid").write_text("999999999\n")
    with pytest.raises(ReloadError, match="is Mosquitto running"):
        reload_broker(pidfile=tmp_path / "stale.pid")
    assert reload_broker() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand files to another user")
def test_the_cli_as_root_leaves_the_database_to_the_hubs_user(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    home = tmp_path / "state"
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    db = home / "hub.sqlite"
    hub_cli_ok("broker", "certs", "--out", str(tmp_path / "c"), "--host", "h")
    hub_cli_ok(
        "broker", "config", "--db", str(db), "--out", str(tmp_path / "m"), "--certs", str(tmp_path / "c"),
        "--hub-env", str(tmp_path / "hub.env"),
    )  # fmt: skip
    owners = {p.name: (p.stat().st_uid, p.stat().st_gid) for p in home.iterdir()}
    assert owners and set(owners.values()) == {(nobody.pw_uid, nobody.pw_gid)}, owners
