"""``touchpoint-agent check`` on this machine's real clock, run as an installer runs it: a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.edge_agent.test_clock_trust import CONFIG, UNSYNCHRONISED_WARNING
from tests.support import REAL_CLOCK_ENV


def check(tmp_path: Path, trust: str | None) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "device.toml"
    path.write_text(CONFIG + ("" if trust is None else f'[clock]\ntrust = "{trust}"\n'), encoding="utf-8")
    args = [sys.executable, "-m", "edge_agent.cli", "check", "--config", str(path)]
    return subprocess.run(args, capture_output=True, text=True, env=REAL_CLOCK_ENV, timeout=60, check=False)


@pytest.mark.usefixtures("unsynchronised_clock")
@pytest.mark.parametrize("trust", [None, "ntp"])
def test_check_warns_with_the_fix_where_taps_would_be_held(tmp_path: Path, trust: str | None) -> None:
    done = check(tmp_path, trust)
    assert done.returncode == 0, done.stderr  # a warning, not a config error: the device still records taps
    assert done.stdout.startswith("ok: device kiosk-1 at store-42 (UTC), store ")
    assert done.stderr.splitlines() == [UNSYNCHRONISED_WARNING]


def test_check_with_rtc_trust_does_not_warn(tmp_path: Path) -> None:
    done = check(tmp_path, "rtc")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("ok: device kiosk-1")


def test_check_help_says_a_warning_keeps_exit_0() -> None:
    args = [sys.executable, "-m", "edge_agent.cli", "check", "--help"]
    out = subprocess.run(args, capture_output=True, text=True, env=REAL_CLOCK_ENV, timeout=60, check=True).stdout
    assert "a warning does not change the exit status" in " ".join(out.split())
