"""edge_agent.cli.main, called in-process: tap, report, check, config errors and help."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge_agent import __version__
from edge_agent.cli import main

CONFIG = """\
device_id = "kiosk-1"
location_id = "store-42"
timezone = "Europe/Helsinki"

[store]
path = "data/device.sqlite"

[broker]
url = "mqtt://127.0.0.1:1883"
username = "kiosk-1"
password_file = "/etc/touchpoint/broker.pw"
"""


@pytest.fixture(autouse=True)
def _clock_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def tap(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> dict[str, object]:
    code, out, err = run(capsys, "tap", "--config", str(config), *extra)
    assert code == 0, err
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def stored_day(config: Path) -> str:
    conn = sqlite3.connect(str(config.parent / "data" / "device.sqlite"))
    try:
        days = {r[0] for r in conn.execute("SELECT local_day FROM events")}
    finally:
        conn.close()
    assert len(days) == 1
    return str(days.pop())


def test_tap_prints_json_and_stores_the_tap(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    first = tap(capsys, config, "--value", "3")
    second = tap(capsys, config, "-c", str(config), "--value", "0")
    assert first["stored"] is True
    assert first["value"] == 3
    assert isinstance(first["seq"], int) and second["seq"] == first["seq"] + 1
    assert isinstance(first["id"], str) and len(first["id"]) == 36
    db = config.parent / "data" / "device.sqlite"  # relative to the config file
    conn = sqlite3.connect(str(db))
    try:
        rows = conn.execute("SELECT id, value, scale, question_id, source, tz FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    assert rows == [
        (first["id"], 3, 4, "default", "cli", "Europe/Helsinki"),
        (second["id"], 0, 4, "default", "cli", "Europe/Helsinki"),
    ]


def test_tap_with_question_scale_reason_and_source(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    args = ("--value", "10", "--question", "nps", "--scale", "11", "--reason", "staff", "--source", "button")
    result = tap(capsys, config, *args)
    conn = sqlite3.connect(str(config.parent / "data" / "device.sqlite"))
    try:
        row = conn.execute("SELECT question_id, scale, value, reason, source FROM events WHERE id = ?", (result["id"],))
        assert row.fetchone() == ("nps", 11, 10, "staff", "button")
    finally:
        conn.close()


def test_tap_with_a_value_outside_the_scale_fails(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, "tap", "--config", str(config), "--value", "4")
    assert code == 1
    assert out == ""
    assert err.strip() == "error: value must be 0..3 on a 4-point scale, got 4"


def test_report_json_counts_match_taps(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    for value in ("3", "3", "1", "0", "3"):
        tap(capsys, config, "--value", value)
    tap(capsys, config, "--value", "7", "--question", "nps", "--scale", "11")
    code, out, err = run(capsys, "report", "--config", str(config), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["day"] == stored_day(config)
    assert report["timezone"] == "Europe/Helsinki"
    by_question = {q["question_id"]: q for q in report["questions"]}
    assert set(by_question) == {"default", "nps"}
    assert by_question["default"]["counts"] == [1, 1, 0, 3]
    assert by_question["default"]["n"] == 5
    assert by_question["default"]["scale"] == 4
    assert by_question["nps"]["counts"] == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert by_question["nps"]["n"] == 1
    assert "nps" in by_question["nps"] and "nps" not in by_question["default"]
    assert report["sync"] == {
        "connected": False,
        "backlog": 6,
        "synced": 0,
        "rejected": 0,
        "last_sync": None,
        "clock_ok": True,
        "clock": "ok",
    }


def test_report_of_another_day_is_empty(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    tap(capsys, config, "--value", "2")
    code, out, _ = run(capsys, "report", "--config", str(config), "--json", "--day", "2001-01-01")
    assert code == 0
    report = json.loads(out)
    assert report["day"] == "2001-01-01"
    assert report["questions"] == []
    assert report["sync"]["backlog"] == 1


def test_report_text(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    for value in ("3", "2", "3"):
        tap(capsys, config, "--value", value)
    day = stored_day(config)
    code, out, err = run(capsys, "report", "--config", str(config), "--day", day)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Touchpoint store-42 / kiosk-1 - {day} (Europe/Helsinki)"
    assert "  question default (4-point), n = 3" in lines
    assert "    counts (most negative first): 0 0 1 2" in lines
    assert any(line.startswith("    Happy Index ") for line in lines)
    assert "    (fewer than 30 answers: treat with care)" in lines
    assert lines[-1] == "  sync: not connected, backlog 3, synced 0, rejected 0, last sync never, clock ok"


def test_report_text_without_answers(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = run(capsys, "report", "--config", str(config))
    assert code == 0
    assert out.splitlines()[1] == "  no answers yet today"


def test_check_prints_ok(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, "check", "--config", str(config))
    assert code == 0, err
    store = (config.parent / "data" / "device.sqlite").resolve()
    assert out.strip() == (
        f"ok: device kiosk-1 at store-42 (Europe/Helsinki), store {store} (backlog 0), broker mqtt://127.0.0.1:1883"
    )
    assert store.exists()


def test_check_reports_the_backlog(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    tap(capsys, config, "--value", "1")
    tap(capsys, config, "--value", "1")
    _, out, _ = run(capsys, "check", "--config", str(config))
    assert "(backlog 2)" in out


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ('device_id = "kiosk-1"', 'device_id = "kiosk 1"', "  device_id: must match"),
        ('"Europe/Helsinki"', '"Mars/Base"', "  timezone: unknown IANA time zone 'Mars/Base'"),
        ('url = "mqtt://', 'url = "http://', "  broker.url: must look like mqtt://host:1883"),
        ("username =", "usrname =", "  broker.usrname: is not a known setting (check the spelling)"),
        ('location_id = "store-42"\n', "", "  location_id: is required"),
    ],
)
@pytest.mark.parametrize("command", ["check", "tap", "report", "run"])
def test_bad_config_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, replace: str, by: str, expected: str
) -> None:
    path = tmp_path / "device.toml"
    path.write_text(CONFIG.replace(replace, by), encoding="utf-8")
    extra = ["--value", "1"] if command == "tap" else []
    code, out, err = run(capsys, command, "--config", str(path), *extra)
    assert code == 2
    assert out == ""
    assert err.splitlines()[0] == f"{path}: invalid device config"
    assert any(line.startswith(expected) for line in err.splitlines()[1:]), err
    assert not (tmp_path / "data").exists()  # no store was created


def test_missing_config_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "check", "--config", str(tmp_path / "missing.toml"))
    assert code == 2
    assert "missing.toml: cannot read device config" in err


def test_zone_directory_as_timezone_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "device.toml"
    path.write_text(CONFIG.replace('"Europe/Helsinki"', '"Europe"'), encoding="utf-8")
    code, _, err = run(capsys, "check", "--config", str(path))
    assert code == 2
    assert "timezone:" in err


@pytest.mark.parametrize("argv", [["--help"], ["tap", "--help"], ["report", "-h"]])
def test_help_exits_0(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: touchpoint-agent")
    if argv == ["--help"]:
        for command in ("run", "tap", "report", "check"):
            assert command in out
        assert "examples:" in out
        assert "exit status: 0 done (check: the device is ready; a warning on stderr" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"touchpoint-agent {__version__}"


@pytest.mark.parametrize("argv", [[], ["tap"], ["tap", "--config", "x.toml"], ["fly"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: touchpoint-agent" in capsys.readouterr().err
