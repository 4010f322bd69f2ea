"""Survey push end to end: HQ API -> hub -> retained MQTT config -> agent -> device store -> kiosk -> events."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import load_config
from edge_agent.recorder import Recorder
from edge_agent.store import DeviceStore
from edge_agent.survey import Survey, parse_survey
from tests.conftest import AgentFactory
from tests.support import Hub, wait_until

pytestmark = pytest.mark.integration
PUSHED_SURVEY_KEY = "pushed_survey"


def survey_body(text: str) -> dict[str, Any]:
    return {
        "languages": ["en", "fi"],
        "question": {
            "id": "checkout",
            "scale": 4,
            "text": {"en": text, "fi": "Miten kassalla sujui?"},
            "follow_up": {"reasons": [{"id": "queue", "text": {"en": "Waiting time", "fi": "Jonotus"}}]},
        },
    }


def pushed(config_path: Path) -> Survey | str | None:
    """The survey in a device store's meta: a Survey, '' once withdrawn, None if never pushed."""
    conn = sqlite3.connect(load_config(config_path).store.path, timeout=10)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (PUSHED_SURVEY_KEY,)).fetchone()
    except sqlite3.OperationalError:
        return None  # the agent has not created its store yet
    finally:
        conn.close()
    if row is None or not row[0]:
        return None if row is None else ""
    return parse_survey(row[0])


def pushed_version(config_path: Path) -> int | None:
    survey = pushed(config_path)
    return survey.version if isinstance(survey, Survey) else None


def online(hub: Hub, device_id: str) -> bool:
    return any(d["device_id"] == device_id and d["online"] for d in hub.get("/api/v1/devices")["rows"])


def test_assigned_survey_reaches_running_later_and_returning_devices(hub: Hub, make_agent: AgentFactory) -> None:
    agent_a, config_a = make_agent("dev-a", "store-1")
    agent_other, config_other = make_agent("dev-x", "store-2")
    agent_a.start()
    agent_other.start()
    wait_until(lambda: online(hub, "dev-a") and online(hub, "dev-x"), 15, "both agents to report online")

    created = hub.request("POST", "/api/v1/surveys", json={"survey_id": "checkout", "body": survey_body("v1?")})
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assigned = hub.request("PUT", "/api/v1/surveys/checkout/assignments", json={"locations": ["store-1"]})
    assert assigned.status_code == 200, assigned.text
    started = time.monotonic()
    wait_until(lambda: pushed_version(config_a) == 1, 10, "the running agent to store survey version 1")
    print(f"survey reached the running agent's store {time.monotonic() - started:.2f} s after the assignment")
    wait_until(lambda: "received survey checkout version 1" in agent_a.log(), 5, "the agent to log what it received")

    # A new version while dev-a is off: the retained config is waiting when it comes back.
    agent_a.stop()
    second = hub.request("POST", "/api/v1/surveys", json={"survey_id": "checkout", "body": survey_body("v2?")})
    assert second.json()["version"] == 2
    agent_b, config_b = make_agent("dev-b", "store-1")  # a device the hub has never seen
    agent_b.start()
    agent_a.start()
    wait_until(lambda: pushed_version(config_a) == 2, 15, "the returning agent to get version 2")
    wait_until(lambda: pushed_version(config_b) == 2, 15, "the new agent to get version 2")
    assert pushed(config_other) is None, "a device at an unassigned location must keep its own survey"

    detail = hub.get("/api/v1/surveys/checkout", role="admin")
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["latest"]["body"]["question"]["text"]["en"] == "v2?"
    wait_until(
        lambda: (
            {d["device_id"]: d["up_to_date"] for d in hub.get("/api/v1/surveys/checkout", role="admin")["devices"]}
            == {"dev-a": True, "dev-b": True}
        ),
        10,
        "device_configs to record both pushes",
    )

    # The kiosk shows the pushed question, and each tap records the version it answered.
    survey_source = pytest.importorskip("kiosk.survey_source")
    config = load_config(config_b)
    with DeviceStore(config.store.path, config.timezone) as store:
        source = survey_source.SurveySource(config, store)
        current = source.current()
        assert (current.question.id, current.version, current.question.text["en"]) == ("checkout", 2, "v2?")
        recorder = Recorder(store, source.current)
        tap = recorder.tap(0, "touch")
        assert tap.follow_up  # the pushed survey's follow-up; answering it releases the tap to sync
        assert recorder.answer_follow_up(tap, "queue")
        source.close()
    assert tap.event.survey_version == 2
    wait_until(
        lambda: (
            hub.sql("SELECT question_id, survey_version, reason FROM events WHERE id = ?", (tap.event.id,))
            == [("checkout", 2, "queue")]
        ),
        15,
        "the tap to reach the hub with its survey version",
    )

    # Unassigning withdraws it: the device falls back to its own survey.
    cleared = hub.request("PUT", "/api/v1/surveys/checkout/assignments", json={"locations": [], "regions": []})
    assert cleared.status_code == 200
    wait_until(lambda: pushed(config_a) == "", 10, "the withdrawal to reach dev-a")
    with DeviceStore(config.store.path, config.timezone) as store:
        wait_until(lambda: pushed(config_b) == "", 10, "the withdrawal to reach dev-b")
        source = survey_source.SurveySource(config, store)
        assert source.current().question.id == "default"
        source.close()


def test_survey_api_rejects_bad_input_naming_the_field(hub: Hub) -> None:
    bad = hub.request("POST", "/api/v1/surveys", json={"survey_id": "s", "body": {"languages": ["en"]}})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "body.question: Field required"
    mismatch = hub.request(
        "POST", "/api/v1/surveys", json={"survey_id": "s", "body": {**survey_body("x"), "languages": ["en", "sv"]}}
    )
    assert "question.text lacks the survey languages ['sv']" in mismatch.json()["detail"]
    assert hub.request("GET", "/api/v1/surveys/nope").status_code == 404
    assert hub.request("PUT", "/api/v1/surveys/nope/assignments", json={}).status_code == 404
    hub.request("POST", "/api/v1/surveys", json={"survey_id": "s", "body": survey_body("x")}).raise_for_status()
    region = hub.request("PUT", "/api/v1/surveys/s/assignments", json={"regions": ["nordics/"], "locations": ["a b"]})
    assert region.status_code == 422 and region.json()["detail"].startswith("locations.0: 'a b'")
    assert hub.request("POST", "/api/v1/surveys", role="analyst", json={}).status_code == 403


def test_the_deepest_assigned_region_decides(hub: Hub, make_agent: AgentFactory) -> None:
    for location, region in (("hel-1", "nordics/finland"), ("sto-1", "nordics/sweden")):
        registered = hub.request(
            "POST", "/api/v1/locations",
            json={"location_id": location, "name": location, "timezone": "Europe/Helsinki", "region": region},
        )  # fmt: skip
        assert registered.status_code == 201, registered.text
    for survey_id, text in (("nordic", "Hur var det?"), ("finnish", "Miten meni?")):
        hub.request(
            "POST", "/api/v1/surveys", json={"survey_id": survey_id, "body": survey_body(text)}
        ).raise_for_status()
    hub.request("PUT", "/api/v1/surveys/nordic/assignments", json={"regions": ["nordics"]}).raise_for_status()
    hub.request("PUT", "/api/v1/surveys/finnish/assignments", json={"regions": ["nordics/finland"]}).raise_for_status()
    agent_hel, config_hel = make_agent("dev-hel", "hel-1")
    agent_sto, config_sto = make_agent("dev-sto", "sto-1")
    agent_hel.start()
    agent_sto.start()

    def question(config_path: Path) -> str | None:
        survey = pushed(config_path)
        return survey.question.text["en"] if isinstance(survey, Survey) else None

    wait_until(lambda: question(config_hel) == "Miten meni?", 15, "hel-1 to get its region's own survey")
    wait_until(lambda: question(config_sto) == "Hur var det?", 15, "sto-1 to get the parent region's survey")
