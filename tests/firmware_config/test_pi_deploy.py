"""Raspberry Pi deployment: the systemd units verify, the shell scripts pass shellcheck, the setup
script stages a correct install, the health check runs, and the agent speaks systemd's watchdog."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from edge_agent import sdnotify
from tests.security.support import hub_cli_ok
from tests.support import REAL_CLOCK_ENV

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_config"
UNITS = sorted((FIRMWARE / "systemd").glob("*.service")) + sorted((FIRMWARE / "systemd").glob("*.timer"))
SCRIPTS = sorted((FIRMWARE / "pi").glob("*.sh"))
PREFIX = "/opt/touchpoint"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (apt-get install {'systemd' if 'systemd' in tool else tool})")
    return path


def unit(name: str) -> str:
    return (FIRMWARE / "systemd" / name).read_text()


def test_shell_scripts_pass_shellcheck() -> None:
    assert SCRIPTS, "no scripts found"
    proc = subprocess.run([need("shellcheck"), "-x", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_systemd_units_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on the units, with /opt/touchpoint pointing at stand-in executables."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    for exe in (
        "touchpoint-agent",
        "touchpoint-kiosk-x",
        "touchpoint-panel",
        "touchpoint-healthcheck",
        "touchpoint-hub",
    ):
        path = prefix / "bin" / exe
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    staged = []
    for source in UNITS:
        target = tmp_path / source.name
        target.write_text(source.read_text().replace(PREFIX, str(prefix)))
        staged.append(str(target))
    proc = subprocess.run([need("systemd-analyze"), "verify", *staged], capture_output=True, text=True, cwd=tmp_path)
    # verify exits 0 on unknown keys but says so on stderr: any message about our files is a failure.
    messages = [line for line in (proc.stdout + proc.stderr).splitlines() if "touchpoint" in line]
    assert proc.returncode == 0 and messages == [], proc.stdout + proc.stderr


def test_units_restart_forever_and_wait_for_time_sync_where_it_matters() -> None:
    for name in ("touchpoint-agent.service", "touchpoint-kiosk.service", "touchpoint-panel.service"):
        text = unit(name)
        assert "Restart=always" in text and "StartLimitIntervalSec=0" in text, name
        assert "time-sync.target" in text.split("[Service]")[0], name
        assert "User=touchpoint" in text, f"{name} must not run as root"
    agent = unit("touchpoint-agent.service")
    assert "Type=notify" in agent and "WatchdogSec=" in agent
    assert "Requires=" not in agent, "the agent must start without network or time sync (taps are stored offline)"
    kiosk = unit("touchpoint-kiosk.service")
    assert "Conflicts=getty@tty1.service touchpoint-panel.service" in kiosk and "TTYPath=/dev/tty1" in kiosk
    journald = unit("journald-touchpoint.conf")
    assert "SystemMaxUse=64M" in journald and "RuntimeMaxUse=" in journald
    x = (FIRMWARE / "pi" / "kiosk-x.sh").read_text()
    assert "-nocursor" in x and "-s 0 -dpms" in x and "-nolisten tcp" in x


def test_the_kiosk_session_defaults_to_the_pi_install() -> None:
    """The boot-path test points kiosk-session.sh elsewhere; on the Pi, with nothing set, it runs the install."""
    session = (FIRMWARE / "pi" / "kiosk-session.sh").read_text()
    assert 'TOUCHPOINT_BIN="${TOUCHPOINT_BIN:-/opt/touchpoint/bin}"' in session
    assert 'TOUCHPOINT_CONFIG="${TOUCHPOINT_CONFIG:-/etc/touchpoint/device.toml}"' in session
    assert 'TOUCHPOINT_DISPLAY_ENV="${TOUCHPOINT_DISPLAY_ENV:-/etc/touchpoint/display.env}"' in session
    assert 'exec "$TOUCHPOINT_BIN/touchpoint-kiosk" --config "$TOUCHPOINT_CONFIG"' in session
    assert "xinit /opt/touchpoint/bin/touchpoint-kiosk-session" in (FIRMWARE / "pi" / "kiosk-x.sh").read_text()


def make_bundle(tmp_path: Path) -> Path:
    db = tmp_path / "hub.sqlite"
    from hub.storage.sqlite import SqliteStorage

    SqliteStorage(db).close()
    hub_cli_ok("broker", "certs", "--out", str(tmp_path / "certs"), "--host", "hub.example.com")
    hub_cli_ok(
        "device", "add", "--db", str(db), "--location", "helsinki-central", "--out", str(tmp_path / "bundles"),
        "--broker-url", "mqtts://hub.example.com:8883", "--ca-file", str(tmp_path / "certs" / "ca.crt"),
        "--timezone", "Europe/Helsinki",
    )  # fmt: skip
    return tmp_path / "bundles" / "helsinki-central-k01"


def run_setup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(FIRMWARE / "pi" / "setup-pi.sh"), *args], capture_output=True, text=True)


def test_setup_script_stages_a_kiosk(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    root = tmp_path / "pi"
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "cmdline.txt").write_text("console=tty1 root=PARTUUID=1 rootwait\n")
    proc = run_setup("--bundle", str(bundle), "--root", str(root), "--rotation", "90")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    etc = root / "etc" / "touchpoint"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in etc.iterdir()}
    assert modes == {"device.toml": 0o640, "broker.pass": 0o600, "ca.crt": 0o644, "display.env": 0o644}
    assert (etc / "broker.pass").read_text() == (bundle / "broker.pass").read_text()
    for name in ("touchpoint-agent.service", "touchpoint-kiosk.service", "touchpoint-health.timer"):
        assert (root / "etc" / "systemd" / "system" / name).read_text() == unit(name)
    assert "SystemMaxUse" in (root / "etc" / "systemd" / "journald.conf.d" / "touchpoint.conf").read_text()
    touch = (root / "etc" / "X11" / "xorg.conf.d" / "40-touchpoint-touch.conf").read_text()
    assert 'Option "CalibrationMatrix" "0 1 0 -1 0 1 0 0 1"' in touch
    assert (etc / "display.env").read_text() == "XRANDR_ROTATE=right\n"
    assert "needs_root_rights=yes" in (root / "etc" / "X11" / "Xwrapper.config").read_text()
    assert (root / "boot" / "firmware" / "cmdline.txt").read_text().strip().endswith("rootwait consoleblank=0")
    for exe in ("touchpoint-kiosk-x", "touchpoint-kiosk-session", "touchpoint-healthcheck"):
        assert os.access(root / "opt" / "touchpoint" / "bin" / exe, os.X_OK)
    out = proc.stdout
    assert "would run: systemctl set-default multi-user.target" in out
    assert (
        "would run: systemctl enable touchpoint-agent.service touchpoint-health.timer touchpoint-kiosk.service" in out
    )
    # Running it again changes nothing that matters (idempotent boot line).
    assert run_setup("--bundle", str(bundle), "--root", str(root), "--rotation", "90").returncode == 0
    assert (root / "boot" / "firmware" / "cmdline.txt").read_text().count("consoleblank=0") == 1


def test_setup_script_stages_a_panel_and_refuses_bad_input(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    root = tmp_path / "pi"
    proc = run_setup("--bundle", str(bundle), "--root", str(root), "--mode", "panel")
    assert proc.returncode == 0, proc.stderr
    assert "enable touchpoint-agent.service touchpoint-health.timer touchpoint-panel.service" in proc.stdout
    assert not (root / "etc" / "X11").exists()
    bad = run_setup("--bundle", str(bundle), "--root", str(root), "--rotation", "45")
    assert bad.returncode == 2 and "--rotation must be 0, 90, 180 or 270" in bad.stderr
    assert "--bundle is required" in run_setup("--root", str(root)).stderr
    assert "a device bundle?" in run_setup("--bundle", str(tmp_path), "--root", str(root)).stderr
    assert "usage: setup-pi.sh" in run_setup("--help").stdout


def health_check_setup(tmp_path: Path, base_env: Mapping[str, str]) -> tuple[Path, dict[str, str]]:
    """A bundle's device.toml with its store under ``tmp_path``, and healthcheck.sh's environment for it."""
    config = make_bundle(tmp_path) / "device.toml"
    config.write_text(config.read_text().replace("/var/lib/touchpoint/device.sqlite", str(tmp_path / "d.sqlite")))
    return config, {
        **base_env,
        "TOUCHPOINT_CONFIG": str(config),
        "TOUCHPOINT_PREFIX": str(Path(sys.executable).parent.parent),
        "TOUCHPOINT_STATE": str(tmp_path),
    }


def test_health_check_reports_each_check(tmp_path: Path) -> None:
    config, env = health_check_setup(tmp_path, os.environ)
    script = str(FIRMWARE / "pi" / "healthcheck.sh")
    ok = subprocess.run(["bash", script], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok: device config valid and store writable" in ok.stdout and "ok: disk space" in ok.stdout
    env["TOUCHPOINT_MAX_DISK_PCT"] = "0"
    config.write_text(config.read_text().replace("[broker]", "[broker]\nkeepalive_s = 1"))
    bad = subprocess.run(["bash", script], capture_output=True, text=True, env=env)
    assert bad.returncode == 1
    assert "FAIL: device config valid and store writable" in bad.stdout and "broker.keepalive_s" in bad.stdout
    assert "FAIL: disk space for the store" in bad.stdout


@pytest.mark.usefixtures("unsynchronised_clock")
def test_health_check_passes_but_shows_the_clock_warning(tmp_path: Path) -> None:
    _config, env = health_check_setup(tmp_path, REAL_CLOCK_ENV)
    done = subprocess.run(["bash", str(FIRMWARE / "pi" / "healthcheck.sh")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr  # taps are still recorded: a warning, not a failure
    lines = done.stdout.splitlines()
    assert lines[0] == "ok: device config valid and store writable"
    assert lines[1].startswith("WARNING clock: the kernel reports the clock as not synchronised (no NTP); ")
    assert lines[1].endswith('set `[clock] trust = "rtc"` in device.toml.')
    assert lines[-1] == "touchpoint-healthcheck: healthy"


def test_the_agent_speaks_systemds_notify_and_watchdog_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "60000000")
        assert sdnotify.notify("READY=1")
        watchdog = sdnotify.Watchdog()
        assert watchdog.interval_s == 30.0
        watchdog.ping()
        watchdog.ping()  # within the interval: not sent again
        assert server.recv(64) == b"READY=1"
        assert server.recv(64) == b"WATCHDOG=1"
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.recv(64)
    monkeypatch.delenv("NOTIFY_SOCKET")
    monkeypatch.delenv("WATCHDOG_USEC")
    assert not sdnotify.notify("READY=1") and sdnotify.Watchdog().interval_s is None
