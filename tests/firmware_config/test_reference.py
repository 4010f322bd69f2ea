"""The device config schema: the annotated example, the generated reference, and one message per bad field."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from edge_agent.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "firmware_config" / "examples" / "device.toml"


def generator() -> ModuleType:
    path = ROOT / "firmware_config" / "gen_reference.py"
    spec = importlib.util.spec_from_file_location("gen_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_reference", module)
    spec.loader.exec_module(module)
    return module


def test_the_reference_doc_is_up_to_date() -> None:
    gen = generator()
    assert gen.OUTPUT.read_text(encoding="utf-8") == gen.render(), (
        "docs/device-config.md is stale: run .venv/bin/python firmware_config/gen_reference.py"
    )


def test_every_key_is_in_the_annotated_example_and_the_reference() -> None:
    gen = generator()
    keys = gen.leaf_keys()
    comments = gen.example_comments()
    assert [k for k in keys if k not in comments] == [], "add these keys, with a comment, to the example"
    assert [k for k in comments if k not in keys] == [], "the example documents keys the schema does not have"
    doc = gen.OUTPUT.read_text(encoding="utf-8")
    for key in keys:
        section, _, name = key.rpartition(".")
        assert re.search(rf"^\| `{name}` \|", doc.split(f"## [{section}]")[-1] if section else doc, re.M), key
    assert "**required**" in doc and "| `device_id` |" in doc


def test_the_example_is_valid_and_has_kiosk_and_panel_sections(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "\n[kiosk]\n" in text and "\n[panel]\n" in text
    # Uncomment every optional key: the fully filled-in example must be valid too.
    filled = re.sub(r"^# (\w+ = )", r"\1", text, flags=re.M)
    filled = filled.replace('"scrypt$16384$8$1$..."', '"scrypt$16384$8$1$c2FsdA==$aGFzaA=="')
    (tmp_path / "device.toml").write_text(filled, encoding="utf-8")
    (tmp_path / "broker.pass").write_text("x\n")
    config = load_config(tmp_path / "device.toml")
    assert config.kiosk.default_language == "fi" and config.kiosk.idle_timeout_s == 15.0
    assert config.panel.buttons == [5, 6, 13, 19] and config.panel.leds == [12, 16, 20, 21]
    assert config.broker.ca_file == tmp_path / "ca.crt"


def test_a_bad_config_gets_one_line_per_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "device.toml"
    path.write_text(
        'device_id = "kiosk 1"\nlocation_id = "s"\ntimezone = "Mars/Base"\n'
        '[broker]\nurl = "http://hub"\nkeepalive_s = 1\n'
        '[kiosk]\nrotation = 45\nmanager_pin_hash = "1234"\nidle_timeout_s = 1\nfullscren = true\n'
        "[panel]\nbuttons = [5, 6, 13]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: invalid device config"
    fields = [line.strip().split(":", 1)[0] for line in lines[1:]]
    assert fields == [
        "device_id", "timezone", "broker.url", "broker.keepalive_s", "kiosk.rotation", "kiosk.manager_pin_hash",
        "kiosk.idle_timeout_s", "kiosk.fullscren", "panel.buttons",
    ]  # fmt: skip
    text = "\n".join(lines)
    assert "must be 0, 90, 180 or 270 (got 45)" in text
    assert "never the PIN itself" in text
    assert "kiosk.fullscren: is not a known setting (check the spelling)" in text
    assert "a panel has 4 or 5 buttons (got 3)" in text
    assert "must look like mqtt://host:1883 or mqtts://host:8883" in text
