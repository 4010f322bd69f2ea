"""``[clock] trust``: one decision of whether the wall clock is trusted, used by taps, report and check."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent import clock, clock_advice
from edge_agent.cli import main
from edge_agent.config import load_config
from edge_agent.report import manager_summary
from edge_agent.store import DeviceStore
from edge_agent.sync import SyncAgent

CONFIG = """\
device_id = "kiosk-1"
location_id = "store-42"
[store]
path = "device.sqlite"
"""
UNSYNCHRONISED_WARNING = (
    "WARNING clock: the kernel reports the clock as not synchronised (no NTP); taps will be held on this "
    "device until it is, and quarantined at the hub after an hour. Fix: enable time sync (`timedatectl "
    "set-ntp true` / systemd-timesyncd or chrony), or if this device has a battery-backed RTC or a correct "
    'host clock set `[clock] trust = "rtc"` in device.toml.'
)


def config_file(tmp_path: Path, trust: str | None) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(CONFIG + ("" if trust is None else f'[clock]\ntrust = "{trust}"\n'), encoding="utf-8")
    return path


def test_trust_defaults_to_ntp(tmp_path: Path) -> None:
    assert load_config(config_file(tmp_path, None)).clock.trust == "ntp"
    assert load_config(config_file(tmp_path, "rtc")).clock.trust == "rtc"


@pytest.mark.parametrize("bad", ['"gps"', '"RTC"', "1"])
def test_a_bad_trust_is_a_config_error_naming_clock_trust(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bad: str
) -> None:
    path = tmp_path / "device.toml"
    path.write_text(CONFIG + f"[clock]\ntrust = {bad}\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[1:] == [f"  clock.trust: Expected 'ntp' or 'rtc', got {bad.replace(chr(34), chr(39))}"]


@pytest.mark.parametrize("trust", ["ntp", "rtc"])
def test_a_date_before_2025_is_never_trusted(monkeypatch: pytest.MonkeyPatch, trust: clock.ClockTrust) -> None:
    monkeypatch.delenv("TOUCHPOINT_CLOCK_OK")
    for wrong in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)):
        assert clock.verdict(trust, wrong) == clock.ClockVerdict(False, "implausible", wrong)


def test_rtc_trust_goes_by_the_date_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOUCHPOINT_CLOCK_OK")
    for fine in (clock.EARLIEST_PLAUSIBLE, datetime(2026, 1, 1, tzinfo=UTC)):
        assert clock.verdict("rtc", fine) == clock.ClockVerdict(True, "rtc", fine)


def test_the_environment_overrides_either_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")
    assert clock.verdict("ntp", datetime(1970, 1, 1, tzinfo=UTC)).ok is True
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "0")
    assert clock.verdict("rtc", datetime(2026, 1, 1, tzinfo=UTC)).why == "forced"
    assert clock.clock_ok("rtc", datetime(2026, 1, 1, tzinfo=UTC)) is False


@pytest.mark.usefixtures("unsynchronised_clock")
def test_on_this_unsynchronised_machine_taps_and_report_follow_the_trust(tmp_path: Path) -> None:
    for trust, trusted in (("ntp", False), ("rtc", True)):
        workdir = tmp_path / trust
        workdir.mkdir()
        with DeviceStore.for_device(load_config(config_file(workdir, trust))) as store:
            assert store.record(3, "default", 4).clock_ok is trusted
            assert manager_summary(store)["sync"]["clock_ok"] is trusted
            assert manager_summary(store.reopen())["sync"]["clock_ok"] is trusted  # the kiosk's reader too
            assert manager_summary(store)["sync"]["clock"] == ("ok" if trusted else "NOT SYNCHRONISED")


def test_the_report_says_a_wrong_date_is_wrong_even_with_rtc_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An RTC that lost its battery reads 1970: trusting the RTC does not make that date right."""
    monkeypatch.delenv("TOUCHPOINT_CLOCK_OK", raising=False)
    monkeypatch.setenv(
        "TOUCHPOINT_CLOCK_OFFSET_S", str(-(clock.now() - datetime(1970, 1, 2, tzinfo=UTC)).total_seconds())
    )
    with DeviceStore.for_device(load_config(config_file(tmp_path, "rtc"))) as store:
        sync = manager_summary(store, "2026-03-10")["sync"]
    assert sync["clock_ok"] is False and sync["clock"] == "WRONG (before 2025)"


def test_the_clock_state_in_a_few_words() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert clock_advice.clock_state(clock.ClockVerdict(True, "rtc", now)) == "ok"
    assert clock_advice.clock_state(clock.ClockVerdict(False, "unsynchronised", now)) == "NOT SYNCHRONISED"
    assert clock_advice.clock_state(clock.ClockVerdict(False, "forced", now)) == "NOT TRUSTED (TOUCHPOINT_CLOCK_OK=0)"


def test_the_check_warning_names_the_cause_and_the_fix() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert clock_advice.check_warning(clock.ClockVerdict(False, "unsynchronised", now)) == UNSYNCHRONISED_WARNING
    wrong = clock_advice.check_warning(clock.ClockVerdict(False, "implausible", datetime(1970, 1, 1, tzinfo=UTC)))
    assert wrong is not None
    assert "the wall clock reads 1970-01-01 00:00 UTC, before 2025-01-01" in wrong
    assert "until the clock is right" in wrong and "trust" not in wrong  # trusting an RTC cannot fix a wrong date
    for why in ("rtc", "timesyncd", "kernel_synced", "kernel_unknown", "forced"):
        assert clock_advice.check_warning(clock.ClockVerdict(True, why, now)) is None


def test_the_agent_note_counts_the_held_taps() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    unsynced = clock.ClockVerdict(False, "unsynchronised", now)
    assert "; holding 1 tap of this boot until it is (each for up to an hour" in clock_advice.agent_note(unsynced, 1)
    assert "; holding 12 taps of this boot" in clock_advice.agent_note(unsynced, 12)
    nothing_yet = clock_advice.agent_note(unsynced, 0)
    assert "; taps will be held until it is (" in nothing_yet
    assert "Fix: enable time sync (`timedatectl set-ntp true`" in nothing_yet
    trusted = clock.ClockVerdict(True, "rtc", now)
    assert clock_advice.agent_note(trusted, 0) == 'clock trusted: [clock] trust = "rtc" and the date is plausible'


def test_the_agent_repeats_its_clock_note_only_while_it_holds_taps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "0")  # the test seam scripts/chaos uses: untrusted on any machine
    agent = SyncAgent(load_config(config_file(tmp_path, "ntp")))
    caplog.set_level(logging.INFO, "touchpoint.agent")
    try:
        agent.note_clock(at_start=False)
        assert caplog.messages == []  # nothing held: nothing to repeat
        agent.note_clock(at_start=True)
        assert caplog.messages[-1].startswith("clock not trusted: TOUCHPOINT_CLOCK_OK=0 is set in the environment;")
        agent.store.record(1, "default", 4)
        agent.store.record(2, "default", 4)
        caplog.clear()
        agent.note_clock(at_start=False)
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        assert "; holding 2 taps of this boot until it is unset (" in caplog.messages[0]
    finally:
        agent.store.close()
