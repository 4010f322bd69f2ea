"""``touchpoint-hub device ...`` and ``touchpoint-hub broker config|certs``: the provisioning commands.

hub/cli.py only wires these in; the handlers live here. Output says what was
done and what to do next; no password or hash is ever printed or logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Protocol, cast

from edge_agent.config import ConfigError, validate_timezone
from edge_agent.mqtt import parse_broker_url
from hub.provisioning import broker_files, bundle, registry
from hub.provisioning.certs import CertError, CertPaths, make_certs
from hub.provisioning.files import db_owner, keep_db_owner
from hub.provisioning.model import RegistryStore
from hub.storage import open_storage, postgres_url
from hub.storage.base import Storage

DEFAULT_BROKER_DIR = Path("/etc/mosquitto/touchpoint")
DEFAULT_CERTS_DIR = Path("/etc/touchpoint/certs")
DEFAULT_HUB_ENV = Path("/etc/touchpoint/hub.env")
DB_ENV = "TOUCHPOINT_HUB_DB"

DEVICE_EPILOG = """examples:
  touchpoint-hub device add --db hub.sqlite --location helsinki-central --out bundles/ \\
      --broker-url mqtts://hub.example.com:8883 --ca-file /etc/touchpoint/certs/ca.crt --tar
  touchpoint-hub device add --db hub.sqlite --location helsinki-central --out bundles/   # remembers URL and CA
  touchpoint-hub device list --db hub.sqlite
  touchpoint-hub device rotate --db hub.sqlite helsinki-central-k01 --out bundles/
  touchpoint-hub device revoke --db hub.sqlite helsinki-central-k01
"""

BROKER_EPILOG = """examples:
  touchpoint-hub broker --port 1883                     # a local trial broker (no TLS, anonymous)
  touchpoint-hub broker certs --out /etc/touchpoint/certs --host hub.example.com
  touchpoint-hub broker config --db hub.sqlite --out /etc/mosquitto/touchpoint \\
      --reload-pidfile /run/mosquitto/mosquitto.pid
"""

# Settings remembered in the hub database between runs.
KEY_BROKER_URL = "broker_url"
KEY_CA_FILE = "ca_file"
KEY_BROKER_DIR = "broker_dir"
KEY_PIDFILE = "broker_pidfile"


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        default=os.environ.get(DB_ENV, "hub.sqlite"),
        help=f"the hub's SQLite file or postgresql:// URL (default: ${DB_ENV} or hub.sqlite)",
    )


def _reload_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reload-pid", type=int, metavar="PID", help="SIGHUP this Mosquitto process afterwards")
    p.add_argument(
        "--broker-dir",
        type=Path,
        help="Mosquitto files to update (default: the --out of the last `broker config`)",
    )


def _bundle_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="write the bundle to OUT/<device id>/")
    p.add_argument("--tar", action="store_true", help="also write OUT/<device id>.tar.gz (0600)")
    p.add_argument("--broker-url", help="mqtts://HOST:8883 the device connects to (remembered for next time)")
    p.add_argument("--ca-file", type=Path, help="ca.crt from `broker certs` (remembered for next time)")
    p.add_argument("--timezone", help="the store's IANA zone (default: the location's registered zone)")
    p.add_argument(
        "--store-path",
        type=Path,
        default=bundle.DEFAULT_STORE,
        help=f"the device's SQLite store (default {bundle.DEFAULT_STORE}; relative: next to device.toml)",
    )
    p.add_argument("--template", type=Path, help="a device.toml with site-wide [kiosk], [panel], ... settings")


def add_device_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    device = sub.add_parser(
        "device",
        help="provision, list, rotate or revoke devices (broker credentials and bundles)",
        description="The device registry: each device gets its own broker login, bound to its own topics.",
        epilog=DEVICE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a device and write its bundle (device.toml, ca.crt, broker.pass)")
    _db_arg(add)
    add.add_argument("--location", required=True, help="the location (store) id the device belongs to")
    add.add_argument("--device", help="the device id (default: <location>-k01, -k02, ...)")
    _bundle_args(add)
    _reload_args(add)
    rotate = actions.add_parser("rotate", help="issue new credentials and a new bundle for a registered device")
    _db_arg(rotate)
    rotate.add_argument("device_id")
    _bundle_args(rotate)
    _reload_args(rotate)
    revoke = actions.add_parser("revoke", help="disable a device at the broker and at the hub, for good")
    _db_arg(revoke)
    revoke.add_argument("device_id")
    _reload_args(revoke)
    listing = actions.add_parser("list", help="registered devices, revoked ones and unregistered ones seen by the hub")
    _db_arg(listing)
    listing.add_argument("--json", action="store_true", help="print JSON lines instead of a table")


def add_broker_actions(broker: argparse.ArgumentParser) -> None:
    broker.description = (
        "Without ACTION: run a local trial broker (anonymous, no TLS). "
        "certs and config: set up the production broker (TLS, per-device logins and ACL)."
    )
    broker.epilog = BROKER_EPILOG
    broker.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = broker.add_subparsers(dest="broker_command", required=False, metavar="ACTION")
    certs = actions.add_parser(
        "certs",
        help="create the broker's CA and TLS server certificate (keeps an existing CA)",
        description="Create ca.crt/ca.key (once) and server.crt/server.key for the broker's host names.",
    )
    certs.add_argument("--out", type=Path, required=True, help="directory for ca.crt, ca.key, server.crt, server.key")
    certs.add_argument(
        "--host", action="append", required=True, help="a name (or IP) devices use to reach the broker; repeatable"
    )
    certs.add_argument("--new-ca", action="store_true", help="replace the CA: every device then needs a new bundle")
    config = actions.add_parser(
        "config",
        help="write Mosquitto's password file, ACL and TLS listener config from the device registry",
        description="Generate the broker's files from the registry, create the hub's own broker login, reload.",
    )
    _db_arg(config)
    config.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_BROKER_DIR,
        help=f"for passwd, acl, touchpoint.conf (default {DEFAULT_BROKER_DIR})",
    )
    config.add_argument(
        "--certs",
        type=Path,
        default=DEFAULT_CERTS_DIR,
        help=f"the `broker certs --out` dir (default {DEFAULT_CERTS_DIR})",
    )
    config.add_argument("--tls-port", type=int, default=8883, help="the devices' TLS listener (default 8883)")
    config.add_argument("--bind", help="bind the TLS listener to this address only (default: every interface)")
    config.add_argument("--local-port", type=int, help="also a loopback-only plain listener, for a hub on this host")
    config.add_argument("--hub-user", default=registry.DEFAULT_HUB_USER, help="the hub's broker login name")
    config.add_argument(
        "--hub-env", type=Path, default=DEFAULT_HUB_ENV, help=f"hub login file (default {DEFAULT_HUB_ENV})"
    )
    config.add_argument("--hub-broker-url", help="what the hub connects to (default mqtts://localhost:TLS_PORT)")
    config.add_argument("--rotate-hub-password", action="store_true", help="issue a new password for the hub login")
    config.add_argument("--reload-pid", type=int, metavar="PID", help="SIGHUP this Mosquitto process afterwards")
    config.add_argument(
        "--reload-pidfile",
        type=Path,
        help=f"SIGHUP the pid in this file, now and after every device change (Debian: {broker_files.DEBIAN_PIDFILE})",
    )


def _setup_logging() -> None:
    """Warnings only: the commands print what they did themselves."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)


class HubStore(Storage, RegistryStore, Protocol):
    """What provisioning needs of the hub's storage (either backend has it all)."""

    def location_timezone(self, location_id: str) -> str | None: ...


class _HubDb:
    """The hub database, opened as root without taking a SQLite file away from the hub's service user."""

    def __init__(self, db: str, must_exist: bool = True) -> None:
        url = postgres_url(db)
        self.db = None if url is not None else Path(db)
        if self.db is not None and must_exist and not self.db.exists():
            raise registry.ProvisioningError(
                f"no hub database at {db}: pass --db (or set ${DB_ENV}); `touchpoint-hub broker config` creates it"
            )
        self.owner = None if self.db is None else db_owner(self.db)
        self.storage = cast(HubStore, open_storage(url or db))
        if self.db is not None:
            keep_db_owner(self.db, self.owner)

    def close(self) -> None:
        self.storage.close()
        if self.db is not None:
            keep_db_owner(self.db, self.owner)


def run_device(args: argparse.Namespace) -> int:
    _setup_logging()
    try:
        hub_db = _HubDb(args.db)
    except registry.ProvisioningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    storage = hub_db.storage
    try:
        if args.device_command == "list":
            return _list(storage, args.json)
        if args.device_command == "revoke":
            account = registry.revoke_device(storage, args.device_id)
            print(f"revoked device {account.username} at {account.location_id}: the hub refuses its messages now")
            return _apply_to_broker(storage, args)
        return _issue(storage, args)
    except (registry.ProvisioningError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (broker_files.ReloadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        hub_db.close()


def _remembered(storage: HubStore, key: str, given: str | None) -> str | None:
    if given is not None:
        storage.set_registry_setting(key, given)
        return given
    return storage.registry_setting(key)


def _issue(storage: HubStore, args: argparse.Namespace) -> int:
    """``device add`` and ``device rotate``: check every input first, then register, then write the bundle."""
    if args.device_command == "add":
        location_id, device_id = args.location, args.device
    else:
        current = registry.device_account(storage, args.device_id)
        location_id, device_id = current.location_id or "", args.device_id
    broker_url = args.broker_url or storage.registry_setting(KEY_BROKER_URL)
    if broker_url is None:
        raise ConfigError("pass --broker-url mqtts://HOST:8883 (it is remembered after the first device)")
    try:
        parse_broker_url(broker_url)
    except ValueError as exc:
        raise ConfigError(f"--broker-url {exc}") from None
    ca_text = str(args.ca_file.resolve()) if args.ca_file else storage.registry_setting(KEY_CA_FILE)
    tz_key = f"timezone:{location_id}"
    timezone = args.timezone or storage.location_timezone(location_id) or storage.registry_setting(tz_key)
    if timezone is None:
        raise ConfigError(
            f"location {location_id!r} has no registered time zone yet: pass --timezone, e.g. Europe/Helsinki"
        )
    try:
        validate_timezone(timezone)
    except ValueError as exc:
        raise ConfigError(f"--timezone: {exc}") from None
    spec = bundle.BundleSpec(
        device_id=device_id or registry.next_device_id(storage, location_id),
        location_id=location_id,
        timezone=timezone,
        broker_url=broker_url,
        ca_file=Path(ca_text) if ca_text else None,
        store_path=args.store_path,
        template=args.template,
    )
    bundle.check_broker(spec)
    bundle.device_table(spec)  # the config validates before anything is registered
    target = args.out / spec.device_id
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} already exists and is not empty; move it away first")
    _remembered(storage, KEY_BROKER_URL, args.broker_url)
    _remembered(storage, tz_key, timezone)
    _remembered(storage, KEY_CA_FILE, str(args.ca_file.resolve()) if args.ca_file else None)
    if args.device_command == "add":
        account, password = registry.add_device(storage, location_id, spec.device_id)
        print(f"registered device {account.username} at {location_id}")
    else:
        account, password = registry.rotate_device(storage, device_id)
        print(f"issued new credentials for device {account.username}; its old bundle stops working")
    made = bundle.write_bundle(args.out, spec, password, archive=args.tar)
    print(f"bundle: {made.directory}/ ({', '.join(p.name for p in sorted(made.directory.iterdir()))})")
    if made.archive is not None:
        print(f"archive: {made.archive}")
    print(f"next: copy it to the device and run firmware_config/pi/setup-pi.sh --bundle {made.directory.name}")
    return _apply_to_broker(storage, args)


def _apply_to_broker(storage: HubStore, args: argparse.Namespace) -> int:
    directory = args.broker_dir or (Path(d) if (d := storage.registry_setting(KEY_BROKER_DIR)) else None)
    if directory is None:
        print("broker: not configured yet; run `touchpoint-hub broker config` to apply this to Mosquitto")
        return 0
    broker_files.write_auth_files(storage, directory)
    pidfile = storage.registry_setting(KEY_PIDFILE)
    pid = broker_files.reload_broker(args.reload_pid, Path(pidfile) if pidfile and not args.reload_pid else None)
    if pid is None:
        print(f"broker: updated {directory}; reload Mosquitto to apply: systemctl reload mosquitto (or kill -HUP)")
    else:
        print(f"broker: updated {directory} and reloaded Mosquitto (pid {pid})")
    return 0


def _list(storage: HubStore, as_json: bool) -> int:
    seen = {str(d["device_id"]): d for d in storage.devices()}
    rows: list[dict[str, object]] = []
    for acc in storage.accounts():
        if acc.role != "device":
            continue
        status = seen.pop(acc.username, {})
        state = f"revoked {acc.revoked_at}" if acc.revoked_at else "active"
        rows.append(_row(acc.username, acc.location_id, state, acc.created_at, status))
    for device_id, status in sorted(seen.items()):
        rows.append(_row(device_id, status.get("location_id"), "unregistered", None, status))
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return 0
    header = ("DEVICE", "LOCATION", "STATE", "PROVISIONED", "ONLINE", "LAST SEEN")
    table = [header] + [tuple("-" if row[k] is None else str(row[k]) for k in _LIST_KEYS) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return 0


_LIST_KEYS = ("device_id", "location_id", "state", "provisioned_at", "online", "last_seen")


def _row(
    device_id: str, location: object, state: str, created: str | None, status: dict[str, object]
) -> dict[str, object]:
    return {
        "device_id": device_id,
        "location_id": location,
        "state": state,
        "provisioned_at": created,
        "online": status.get("online"),
        "last_seen": status.get("last_seen"),
    }


def run_broker_action(args: argparse.Namespace) -> int:
    _setup_logging()
    try:
        if args.broker_command == "certs":
            paths, created = make_certs(args.out, args.host, new_ca=args.new_ca)
            print(f"{'created' if created else 'kept'} CA {paths.ca_cert} (key {paths.ca_key}, 0600: keep it safe)")
            print(f"server certificate {paths.server_cert} for {', '.join(args.host)} (+ localhost)")
            if args.new_ca:
                print("the CA is new: every device needs a new bundle (touchpoint-hub device rotate)")
            return 0
        return _broker_config(args)
    except (CertError, registry.ProvisioningError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (broker_files.ReloadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _broker_config(args: argparse.Namespace) -> int:
    out: Path = args.out.resolve()
    certs = CertPaths(args.certs.resolve())
    listener = broker_files.Listener(port=args.tls_port, bind=args.bind, local_port=args.local_port)
    hub_db = _HubDb(args.db, must_exist=False)
    storage = hub_db.storage
    try:
        conf = broker_files.write_conf(out, certs, listener)
        password = registry.ensure_hub_account(storage, args.hub_user, rotate=args.rotate_hub_password)
        passwd, acl = broker_files.write_auth_files(storage, out)
        storage.set_registry_setting(KEY_BROKER_DIR, str(out))
        if args.reload_pidfile is not None:
            storage.set_registry_setting(KEY_PIDFILE, str(args.reload_pidfile.resolve()))
        print(f"wrote {conf}, {passwd} and {acl}")
        if password is not None:
            hub_url = args.hub_broker_url or (
                f"mqtt://127.0.0.1:{args.local_port}" if args.local_port else f"mqtts://localhost:{args.tls_port}"
            )
            ca = None if hub_url.startswith("mqtt://") else certs.ca_cert
            env = broker_files.write_hub_env(args.hub_env, hub_url, args.hub_user, password, ca)
            print(f"hub login {args.hub_user}: {env} (0600; EnvironmentFile= of touchpoint-hub.service)")
        elif not args.hub_env.exists():
            print(
                f"warning: hub login {args.hub_user} exists but {args.hub_env} does not; "
                "re-run with --rotate-hub-password to write a new one",
                file=sys.stderr,
            )
        pid = broker_files.reload_broker(args.reload_pid, args.reload_pidfile)
        if pid is not None:
            print(f"reloaded Mosquitto (pid {pid})")
        else:
            print(f"next: ln -sf {conf} /etc/mosquitto/conf.d/{broker_files.CONF_NAME} && systemctl restart mosquitto")
    finally:
        hub_db.close()
    return 0
