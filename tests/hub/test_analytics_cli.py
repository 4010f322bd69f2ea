"""``touchpoint-hub location add|list|update`` and ``token create --region``, run in-process on a real file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.cli import main
from hub.cli_locations import parse_hours


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_hours_takes_days_and_ranges() -> None:
    assert parse_hours("mon-wed=08:00-21:00,sun=10:00-24:00") == {
        "mon": ["08:00", "21:00"],
        "tue": ["08:00", "21:00"],
        "wed": ["08:00", "21:00"],
        "sun": ["10:00", "24:00"],
    }
    for bad, message in [
        ("mon 08:00-21:00", "is not DAYS=HH:MM-HH:MM"),
        ("monday=08:00-21:00", "days are mon, tue"),
        ("fri-mon=08:00-21:00", "runs forward"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_hours(bad)


def test_location_add_list_update(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "hub.sqlite")
    code, out, _ = run(
        capsys, "location", "add", "--db", db, "--id", "hel-1", "--name", "Helsinki Central",
        "--region", "nordics/helsinki", "--timezone", "Europe/Helsinki", "--hours", "mon-fri=08:00-21:00",
    )  # fmt: skip
    assert code == 0 and "registered location hel-1" in out and "registered\tmon 08:00-21:00" in out
    code, _, err = run(capsys, "location", "add", "--db", db, "--id", "hel-1", "--name", "X", "--timezone", "UTC")
    assert code == 1 and "error: location 'hel-1' is already registered" in err
    code, out, _ = run(
        capsys, "location", "update", "--db", db, "hel-1", "--timezone", "Europe/Stockholm", "--clear-hours"
    )
    assert code == 0 and out.splitlines()[-1].split("\t") == [
        "hel-1", "Helsinki Central", "nordics/helsinki", "Europe/Stockholm", "registered", "-",
    ]  # fmt: skip
    code, out, _ = run(capsys, "location", "list", "--db", db, "--region", "nordics", "--json")
    assert code == 0 and json.loads(out)["timezone"] == "Europe/Stockholm"
    code, out, _ = run(capsys, "location", "list", "--db", db, "--region", "americas")
    assert code == 0 and out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "--id", "a", "--name", "A", "--timezone", "Mars/Base"], "--timezone: 'Mars/Base' is not an IANA"),
        (["add", "--id", "a", "--name", "A", "--timezone", "UTC", "--region", "EU"], "--region: 'EU' is not a region"),
        (["add", "--id", "a b", "--name", "A", "--timezone", "UTC"], "--id: String should match pattern"),
        (["add", "--id", "a", "--name", "A", "--timezone", "UTC", "--hours", "mon=9-17"], "--hours: mon: times"),
        (["add", "--id", "a", "--name", "A", "--timezone", "UTC", "--hours", "mon"], "--hours: 'mon' is not DAYS"),
        (["update", "a"], "nothing to change: give --name"),
        (["update", "a", "--name", ""], "--name: String should have at least 1 character"),
        (["list", "--region", "Nope"], "--region: 'Nope' is not a region path"),
    ],
)
def test_location_errors_name_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "location", argv[0], "--db", str(tmp_path / "hub.sqlite"), *argv[1:])
    assert code == 2 and message in err


def test_update_of_an_unknown_or_unregistered_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "location", "update", "--db", str(tmp_path / "hub.sqlite"), "nowhere", "--name", "x")
    assert code == 1 and "error: unknown location 'nowhere'" in err


def test_token_region_must_be_a_region_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "hub.sqlite")
    code, _, err = run(capsys, "token", "create", "--db", db, "--role", "analyst", "--region", "Nordics")
    assert code == 2 and "--region: 'Nordics' is not a region path" in err
    code, out, _ = run(capsys, "token", "create", "--db", db, "--role", "analyst", "--region", "nordics/finland")
    assert code == 0 and out.splitlines()[-1].startswith("tp_")
