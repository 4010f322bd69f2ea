"""The whole provisioning path, as an installer runs it, and no secret anywhere it should not be.

``broker certs`` -> ``broker config`` -> ``device add --tar`` (as real CLI processes); Mosquitto on
the generated config over TLS; the hub with its generated login and ``registry=enforce``; agents
running the bundles unchanged (one from the directory, one unpacked from the .tar.gz). Every tap
arrives. Then the logs of the whole run (CLI output, hub, agents at --log-level DEBUG, broker at log_type all),
the HQ API's device list and the hub database are searched for every secret of the run.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from hub.storage.sqlite import SqliteStorage
from tests.security.support import GeneratedBroker, SecureHub, traversable_tmp
from tests.support import ENV, Agent, wait_until

TAPS_PER_DEVICE = 40


def cli(log_dir: Path, name: str, *args: str) -> str:
    """Run ``touchpoint-hub ARGS`` as a process, keeping its output as a log of the run."""
    proc = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )
    (log_dir / f"cli-{name}.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"touchpoint-hub {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def record_taps(config_path: Path, n: int) -> None:
    config = load_config(config_path)
    with DeviceStore(config.store.path, config.timezone) as store:
        for i in range(n):
            store.record(i % 4, "default", 4, source="sim")


def test_bundles_work_unchanged_over_tls_and_no_secret_leaks(tmp_path: Path) -> None:
    with traversable_tmp() as root:
        from hub.broker import free_port

        port = free_port()
        logs = tmp_path / "logs"
        logs.mkdir()
        db = root / "hub" / "hub.sqlite"
        db.parent.mkdir()
        cli(logs, "certs", "broker", "certs", "--out", str(root / "certs"), "--host", "127.0.0.1")
        cli(
            logs, "config", "broker", "config", "--db", str(db), "--out", str(root / "mosquitto"),
            "--certs", str(root / "certs"), "--tls-port", str(port), "--hub-env", str(root / "hub.env"),
        )  # fmt: skip
        common = ["--out", str(root / "bundles"), "--store-path", "device.sqlite", "--tar"]
        cli(
            logs, "add-1", "device", "add", "--db", str(db), "--location", "helsinki-central",
            "--broker-url", f"mqtts://127.0.0.1:{port}", "--ca-file", str(root / "certs" / "ca.crt"),
            "--timezone", "Europe/Helsinki", *common,
        )  # fmt: skip
        # The second device relies on the remembered broker URL and CA.
        cli(
            logs, "add-2", "device", "add", "--db", str(db), "--location", "new-york-5th",
            "--timezone", "America/New_York", *common,
        )  # fmt: skip
        bundle_1 = root / "bundles" / "helsinki-central-k01"
        # Device 2 is installed from its archive, as it would be copied to a Pi.
        unpacked = root / "pi-2"
        with tarfile.open(root / "bundles" / "new-york-5th-k01.tar.gz") as tar:
            tar.extractall(unpacked, filter="tar")
        bundle_2 = unpacked / "new-york-5th-k01"
        for bundle in (bundle_1, bundle_2):
            assert stat.S_IMODE((bundle / "broker.pass").stat().st_mode) == 0o600
            assert stat.S_IMODE((bundle / "device.toml").stat().st_mode) == 0o644
        assert stat.S_IMODE((root / "bundles" / "new-york-5th-k01.tar.gz").stat().st_mode) == 0o600
        assert stat.S_IMODE((root / "hub.env").stat().st_mode) == 0o600

        broker = GeneratedBroker(root / "mosquitto", port, logs)
        broker.start()
        login = dict(
            line.split("=", 1) for line in (root / "hub.env").read_text().splitlines() if "=" in line and line[0] != "#"
        )
        assert login["TOUCHPOINT_HUB_REGISTRY"] == "enforce"
        hub = SecureHub(db.parent, login)
        hub.log_path = logs / "hub.log"
        agents: list[Agent] = []
        try:
            hub.start()
            for bundle in (bundle_1, bundle_2):
                record_taps(bundle / "device.toml", TAPS_PER_DEVICE)
                agent = Agent(bundle / "device.toml")
                agent.args[3:3] = ["--log-level", "DEBUG"]
                agent.log_path = logs / f"agent-{bundle.name}.log"
                agent.start()
                agents.append(agent)
            wait_until(
                lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 2 * TAPS_PER_DEVICE,
                30,
                f"all taps at the hub\n{hub.log()[-2000:]}",
            )
            assert sorted(r[0] for r in hub.sql("SELECT DISTINCT location_id FROM events")) == [
                "helsinki-central",
                "new-york-5th",
            ]
            assert hub.sql("SELECT COUNT(*) FROM dead_letters")[0][0] == 0
            devices_text = httpx.get(
                hub.url + "/api/v1/devices", headers={"Authorization": f"Bearer {hub.token('analyst')}"}, timeout=10
            ).text
            assert "helsinki-central-k01" in devices_text and "new-york-5th-k01" in devices_text
            wrong = httpx.get(hub.url + "/api/v1/devices", headers={"Authorization": "Bearer tp_guess"}, timeout=10)
            assert wrong.status_code == 401 and "tp_guess" not in wrong.text
            admin = hub.token("admin")
            assert (
                httpx.get(hub.url + "/api/v1/tokens", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
            )
        finally:
            for agent in agents:
                agent.stop()
            hub.stop()
            broker.stop()

        storage = SqliteStorage(db)
        try:
            hashes = [a.password_hash for a in storage.accounts()]
        finally:
            storage.close()
        secrets = {
            "device 1 password": (bundle_1 / "broker.pass").read_text().strip(),
            "device 2 password": (bundle_2 / "broker.pass").read_text().strip(),
            "hub password": login["TOUCHPOINT_HUB_BROKER_PASSWORD"],
            "analyst token": hub.token("analyst"),
            "admin token": admin,
            **{f"password hash {i}": h for i, h in enumerate(hashes)},
        }
        texts = {p.name: p.read_text(errors="replace") for p in sorted(logs.iterdir()) if p.suffix == ".log"}
        assert {"hub.log", "mosquitto.log", "cli-add-1.log"} <= set(texts)
        agent_logs = [text for name, text in texts.items() if name.startswith("agent-")]
        assert len(agent_logs) == 2 and all(f"connected to mqtts://127.0.0.1:{port}" in t for t in agent_logs)
        texts["GET /api/v1/devices"] = devices_text
        leaks = [f"{what} in {where}" for what, s in secrets.items() for where, text in texts.items() if s in text]
        assert leaks == []
        # At rest the hub keeps only hashes: no password or token appears in its database files.
        raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith("hub.sqlite"))
        at_rest = [what for what, s in secrets.items() if not what.startswith("password hash") and s.encode() in raw]
        assert at_rest == []
