"""The agent connects over TLS and verifies the broker against the bundle's CA; a wrong CA fails clearly."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_agent.config import BrokerConfig, ConfigError
from edge_agent.connection import FailureLog, build_client, describe_refusal
from tests.security.support import Device, Fleet, hub_cli_ok
from tests.support import ENV, Agent, wait_until


def copy_bundle(device: Device, to: Path, **replace: str) -> Path:
    shutil.copytree(device.bundle, to)
    config = to / "device.toml"
    text = config.read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    config.write_text(text)
    return config


def run_agent(config: Path, expect_in_log: str) -> str:
    agent = Agent(config)
    agent.start()
    try:
        wait_until(lambda: expect_in_log in agent.log(), 15, f"{expect_in_log!r} in the agent log")
        return agent.log()
    finally:
        agent.stop()


def test_the_unchanged_bundle_connects_over_tls(fleet: Fleet) -> None:
    device = fleet.devices["kiosk-a"]
    log = run_agent(device.config, f"connected to mqtts://127.0.0.1:{fleet.port}")
    assert "ERROR" not in log
    assert fleet.broker is not None
    assert "as kiosk-a (p5, c0, k30, u'kiosk-a')" in fleet.broker.log()


def test_a_wrong_ca_fails_with_a_clear_error_and_never_connects(fleet: Fleet) -> None:
    hub_cli_ok("broker", "certs", "--out", str(fleet.root / "other-ca"), "--host", "127.0.0.1")
    config = copy_bundle(fleet.devices["kiosk-a"], fleet.root / "wrong-ca")
    shutil.copy(fleet.root / "other-ca" / "ca.crt", config.parent / "ca.crt")
    log = run_agent(config, "TLS: cannot verify the broker")
    line = next(x for x in log.splitlines() if "TLS: cannot verify the broker" in x)
    assert " ERROR " in line
    assert f"mqtts://127.0.0.1:{fleet.port}" in line
    assert "certificate verify failed" in line or "self-signed certificate" in line
    assert f"check broker.ca_file ({config.parent / 'ca.crt'})" in line
    assert log.count("TLS: cannot verify the broker") == 1, "repeats are rate-limited"
    assert "connected to" not in log
    assert fleet.broker is not None
    assert "as kiosk-a" not in fleet.broker.log()


def test_a_host_not_in_the_certificate_is_refused_by_name(fleet: Fleet) -> None:
    url = f"mqtts://127.0.0.1:{fleet.port}"
    config = copy_bundle(fleet.devices["kiosk-a"], fleet.root / "wrong-host", **{url: url.replace(".0.0.1", ".0.0.2")})
    log = run_agent(config, "TLS: cannot verify the broker")
    assert "the broker's certificate does not name '127.0.0.2'" in log
    assert "connected to" not in log


def test_a_missing_ca_file_or_password_file_is_a_config_error(fleet: Fleet) -> None:
    config = copy_bundle(fleet.devices["kiosk-a"], fleet.root / "no-ca")
    (config.parent / "ca.crt").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "run", "--config", str(config)],
        capture_output=True, text=True, env=ENV, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"broker.ca_file: cannot read {config.parent / 'ca.crt'}: No such file or directory" in proc.stderr
    with pytest.raises(ConfigError, match=r"broker.password_file: cannot read .*nope"):
        build_client(BrokerConfig(password_file=Path("/nonexistent/nope")), "d")
    bad_pem = config.parent / "ca.crt"
    bad_pem.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"broker\.ca_file: .* is not a PEM CA certificate"):
        build_client(BrokerConfig(url="mqtts://h:8883", ca_file=bad_pem), "d")


def test_a_refused_login_names_the_settings_to_check() -> None:
    broker = BrokerConfig(url="mqtts://hub:8883", username="kiosk-a")
    text = describe_refusal("Not authorized", broker)
    assert "check broker.username (kiosk-a) and broker.password_file" in text
    assert "revoked" in text


def test_repeated_failures_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    log = FailureLog(logging.getLogger("test.failures"), repeat_s=3600)
    with caplog.at_level(logging.WARNING, "test.failures"):
        for _ in range(5):
            log.report(logging.WARNING, "down")
        log.report(logging.ERROR, "different")
        log.reset()
        log.report(logging.WARNING, "down")
    assert [r.getMessage() for r in caplog.records] == ["down", "different", "down"]


def test_a_failure_still_going_on_is_logged_again_with_its_count(caplog: pytest.LogCaptureFixture) -> None:
    log = FailureLog(logging.getLogger("test.failures"), repeat_s=0.05)
    with caplog.at_level(logging.WARNING, "test.failures"):
        log.report(logging.WARNING, "down")
        log.report(logging.WARNING, "down")
        time.sleep(0.06)
        log.report(logging.WARNING, "down")
    assert [r.getMessage() for r in caplog.records] == ["down", "down (also 1 times since it was last logged)"]
