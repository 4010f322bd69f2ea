"""touchpoint-panel: the screenless button station, in-process and as a real process without Kivy.

The Kivy-free check is a real environment, not an import hook: the console
script runs under ``python -S`` (no site-packages at all) with PYTHONPATH set
to the repository plus a directory of symlinks to exactly the distributions
the panel needs (the base dependencies and gpiozero, with their own
requirements, read from installed metadata). Kivy is installed in the project
venv but simply is not on that path, so any import of it, direct or through
kiosk.app, fails the run; a control run proves ``import kivy`` fails there.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from edge_agent.survey import Question, Survey
from kiosk.panel_cli import main, open_station, serve
from kiosk.survey_source import PUSHED_SURVEY_KEY

REPO = Path(__file__).resolve().parents[2]
PANEL = """\
[panel]
buttons = [5, 6, 13, 19]
leds = [20, 21, 22, 23]
status_led = 24
led_on_ms = 50
"""


def write_config(tmp_path: Path, panel: str = PANEL, head: str = "") -> Path:
    path = tmp_path / "device.toml"
    path.write_text(
        f'{head}device_id = "panel-1"\nlocation_id = "store-9"\ntimezone = "Europe/Helsinki"\n'
        f'[store]\npath = "data/device.sqlite"\n{panel}',
        encoding="utf-8",
    )
    return path


pytestmark = pytest.mark.usefixtures("panel_clock_ok")


# --- in-process: what a press does at a screenless station ------------------------


def test_a_station_records_presses_and_syncs_negative_ones_at_once(
    tmp_path: Path, factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "touchpoint")
    config = load_config(write_config(tmp_path))
    station = open_station(config, tick_s=None)
    try:
        factory.pin(6).drive_low()  # value 1: the default survey would ask a follow-up
        factory.pin(6).drive_high()
        store = station.store
        pending = store.pending_after(0, 10)
        # No screen, no follow-up: the hold is released at once, with no reason.
        assert [(e["value"], e["source"], e["reason"]) for e in pending] == [(1, "button", None)]
        assert any(re.search(r"button 1: recorded value 1, id [0-9a-f-]{36}, seq \d+$", m) for m in caplog.messages)
    finally:
        station.close()
    conn = sqlite3.connect(str(tmp_path / "data" / "device.sqlite"))  # relative to device.toml
    try:
        assert conn.execute("SELECT value, source, hold_until FROM events").fetchall() == [(1, "button", None)]
    finally:
        conn.close()


def test_serve_picks_up_a_pushed_survey_and_stops_on_request(
    tmp_path: Path, factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "touchpoint")
    config = load_config(write_config(tmp_path))
    station = open_station(config, tick_s=None)
    stop = threading.Event()
    runner = threading.Thread(target=serve, args=(station, stop, 0.02))
    runner.start()
    try:
        pushed = Survey(
            version=9, languages=["en"], question=Question(id="exit-door", scale=5, text={"en": "How was it?"})
        )
        with DeviceStore(config.store.path, config.timezone) as agent:
            agent.set_meta(PUSHED_SURVEY_KEY, pushed.to_json())
            deadline = time.monotonic() + 5
            while station.survey.current() != pushed and time.monotonic() < deadline:
                time.sleep(0.01)
        assert station.survey.current() == pushed
        time.sleep(0.05)
        # A 5-point question on a 4-button panel: said loudly, and presses are refused, not misrecorded.
        assert any("5-point question but the panel has 4 buttons" in m for m in caplog.messages)
        factory.pin(13).drive_low()
        factory.pin(13).drive_high()
        assert station.store.backlog() == 0
    finally:
        stop.set()
        runner.join(5)
        station.close()
    assert not runner.is_alive()


# --- arguments and configuration errors ------------------------------------------------


def test_help_explains_the_station(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--config", "GPIOZERO_PIN_FACTORY", "mock", "manager", "touchpoint-agent run"):
        assert text in out


@pytest.mark.parametrize(
    ("panel", "named"),
    [
        ("[panel]\nbuttons = [5, 6, 13]\n", "panel.buttons: a panel has 4 or 5 buttons (got 3)"),
        ("[panel]\nbuttons = [5, 6, 13, 19]\ndebounce_ms = -5\n", "panel.debounce_ms:"),
        ("[panel]\nbuttons = [5, 6, 13, 19]\nbuton = 1\n", "panel.buton: is not a known setting"),
        ("", "panel.buttons: is empty, so this device has no button panel"),
        ("[panel]\nbuttons = []\n", "panel.buttons: is empty"),
        ("[panel]\nbuttons = [5, 6, 13, 19]\nmanager_combo = [0, 9]\n", "panel.manager_combo: button index 9"),
        ("[panel]\nbuttons = [5, 6, 13, 99]\n", "panel: 99 is not a valid pin"),
    ],
)
def test_config_errors_exit_2_naming_the_field(
    tmp_path: Path, factory: MockFactory, capsys: pytest.CaptureFixture[str], panel: str, named: str
) -> None:
    config = write_config(tmp_path, panel)
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert str(config) in err


def test_a_missing_id_and_a_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "device.toml"
    path.write_text('location_id = "s"\n' + PANEL)
    assert main(["-c", str(path)]) == 2
    assert "device_id: is required" in capsys.readouterr().err
    assert main(["-c", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read device config" in capsys.readouterr().err


def test_an_unopenable_store_exits_1(tmp_path: Path, factory: MockFactory, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").write_text("a file where the store's directory should be")
    assert main(["-c", str(write_config(tmp_path))]) == 1
    assert "cannot open device store" in capsys.readouterr().err


# --- a real process, with no Kivy anywhere on its path ------------------------------------


def _dist_closure(roots: list[str]) -> dict[str, md.Distribution]:
    """Installed distributions needed by ``roots``, following requirements that need no extra."""
    found: dict[str, md.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # a requirement for other Python versions
        found[key] = dist
        for req in dist.requires or []:
            if "extra ==" not in req:
                match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
                assert match is not None
                todo.append(match.group(0))
    return found


@pytest.fixture(scope="module")
def kivy_free_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding only the panel's dependency closure (symlinks into the venv)."""
    base = [r.split(";")[0] for r in md.requires("touchpoint") or [] if "extra ==" not in r]
    dists = _dist_closure([re.split(r"[<>=!~ \[]", r, maxsplit=1)[0] for r in base] + ["gpiozero"])
    assert "gpiozero" in dists and "msgspec" in dists
    assert "pydantic" not in dists  # the device needs no pydantic
    assert "kivy" not in dists
    site = tmp_path_factory.mktemp("kivy-free-site")
    for dist in dists.values():
        tops = set()
        for f in dist.files or []:
            first = f.parts[0]
            if first == ".." or first.endswith(".pth") or first == "__pycache__":
                continue
            tops.add(first)
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return site


def kivy_free_env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KIVY"))}
    env.update(
        PYTHONPATH=f"{site}{os.pathsep}{REPO}",
        GPIOZERO_PIN_FACTORY="mock",
        TOUCHPOINT_CLOCK_OK="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def console_script() -> Path:
    found = shutil.which("touchpoint-panel", path=str(Path(sys.executable).parent))
    assert found, "touchpoint-panel is not installed in the venv (pip install -e .)"
    return Path(found)


def test_kivy_really_is_missing_from_that_environment(kivy_free_path: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import gpiozero, msgspec, kiosk.panel_cli; import kivy"],
        env=kivy_free_env(kivy_free_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 1
    assert "ModuleNotFoundError: No module named 'kivy'" in probe.stderr  # and nothing failed before it


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_console_script_runs_without_kivy_and_stops_cleanly(
    tmp_path: Path, kivy_free_path: Path, sig: signal.Signals
) -> None:
    config = write_config(tmp_path)
    log_path = tmp_path / "panel.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-S", str(console_script()), "--config", str(config), "--refresh-s", "0.2"],
            env=kivy_free_env(kivy_free_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "running" not in log_path.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        text = log_path.read_text()
        assert proc.poll() is None, f"touchpoint-panel exited early:\n{text}"
        assert "touchpoint-panel 0.1.0 running: device panel-1 at store-9" in text, text
        assert "panel ready: buttons on GPIO [5, 6, 13, 19]" in text
        time.sleep(0.3)  # at least one survey refresh round
        proc.send_signal(sig)
        assert proc.wait(15) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    assert f"received {sig.name}, stopping" in text
    assert text.rstrip().endswith("stopped")
    assert "Traceback" not in text
    assert (tmp_path / "data" / "device.sqlite").exists()


def test_the_console_script_refuses_a_bad_config_with_exit_2(tmp_path: Path, kivy_free_path: Path) -> None:
    config = write_config(tmp_path, "[panel]\nbuttons = [5, 6]\n")
    done = subprocess.run(
        [sys.executable, "-S", str(console_script()), "--config", str(config)],
        env=kivy_free_env(kivy_free_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "panel.buttons: a panel has 4 or 5 buttons (got 2)" in done.stderr
