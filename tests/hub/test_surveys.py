"""Surveys: input validation, effective-survey resolution, versioned storage and the config message."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from edge_agent.config_push import (
    PUSHED_SURVEY_KEY,
    ConfigMessageError,
    encode_config,
    parse_config,
    store_pushed_config,
)
from edge_agent.store import DeviceStore
from edge_agent.survey import default_survey, parse_survey
from hub.services.surveys import Resolver, SurveyInputError, check_targets, parse_survey_body
from hub.storage.base import Storage
from hub.storage.base_surveys import Assignment, DeviceTarget, SurveyVersion

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def body(question_id: str = "checkout", text: str = "How was checkout?") -> dict[str, Any]:
    return {"languages": ["en"], "question": {"id": question_id, "scale": 4, "text": {"en": text}}}


def version(survey_id: str, n: int) -> SurveyVersion:
    return SurveyVersion(survey_id, n, "{}", "t", None)


# --- input validation --------------------------------------------------------------


def test_posted_body_is_a_survey_whose_version_the_hub_sets() -> None:
    survey = parse_survey_body({**body(), "version": 42})
    assert survey.version == 0  # ignored: the store numbers versions
    assert survey.question.id == "checkout"


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"languages": ["en"]}, "body.question: Field required"),
        ({**body(), "languages": ["en", "fi"]}, "question.text lacks the survey languages ['fi']"),
        ({**body(), "question": {"id": "has space", "text": {"en": "x"}}}, "body.question.id"),
        ({**body(), "colour": "red"}, "body.colour: is not a known field"),
        ({**body(), "question": {"id": "q", "scale": 7, "text": {"en": "x"}}}, "body.question.scale"),
    ],
)
def test_bad_bodies_name_the_field(bad: dict[str, Any], names: str) -> None:
    with pytest.raises(SurveyInputError, match=re.escape(names)):
        parse_survey_body(bad)


def test_targets_are_location_ids_and_region_paths() -> None:
    check_targets(["store-1"], ["nordics", "nordics/finland"])
    with pytest.raises(SurveyInputError, match=r"locations\.1: 'bad id'"):
        check_targets(["ok", "bad id"], [])
    with pytest.raises(SurveyInputError, match=r"regions\.0: region 'nordics//x'"):
        check_targets([], ["nordics//x"])


# --- effective survey ------------------------------------------------------------------


def resolver(*assigned: tuple[str, str, str]) -> Resolver:
    rows = [Assignment(kind, target, sid, "t") for kind, target, sid in assigned]  # type: ignore[arg-type]
    latest = {sid: version(sid, 3) for _, _, sid in assigned}
    return Resolver(rows, latest)


def test_own_assignment_beats_any_region() -> None:
    r = resolver(("location", "hel-1", "local"), ("region", "nordics", "nordic"))
    assert r.survey_id_for("hel-1", "nordics/finland") == "local"


def test_deepest_assigned_region_wins() -> None:
    r = resolver(("region", "nordics", "nordic"), ("region", "nordics/finland", "finnish"))
    assert r.survey_id_for("hel-1", "nordics/finland/helsinki") == "finnish"
    assert r.survey_id_for("sto-1", "nordics/sweden") == "nordic"


def test_region_prefixes_match_whole_segments_only() -> None:
    r = resolver(("region", "nordics", "nordic"))
    assert r.survey_id_for("x", "nordicsx") is None
    assert r.survey_id_for("x", None) is None


def test_effective_is_the_latest_version_or_none() -> None:
    r = resolver(("location", "hel-1", "local"))
    assert r.effective(DeviceTarget("dev-1", "hel-1", None)).key == ("local", 3)
    assert r.effective(DeviceTarget("dev-2", "tyo-1", None)).key == (None, None)


# --- storage -------------------------------------------------------------------------


def test_versions_count_up_per_survey_and_the_body_carries_its_version(storage: Storage) -> None:
    survey = parse_survey_body(body())
    assert storage.add_survey_version("a", survey, "me", NOW).version == 1
    second = storage.add_survey_version("a", survey, "me", NOW)
    assert storage.add_survey_version("b", survey, None, NOW).version == 1
    assert second.version == 2
    assert parse_survey(second.body).version == 2
    assert [v.version for v in storage.survey_versions("a")] == [1, 2]
    assert {k: v.version for k, v in storage.latest_surveys().items()} == {"a": 2, "b": 1}
    assert storage.survey_versions("nope") == []


def test_assigning_replaces_this_surveys_targets_and_takes_over_others(storage: Storage) -> None:
    storage.replace_assignments("a", ["s1", "s2"], ["nordics"], NOW)
    storage.replace_assignments("b", ["s2"], [], NOW)
    storage.replace_assignments("a", ["s1"], [], NOW)
    got = {(x.target_kind, x.target): x.survey_id for x in storage.assignments()}
    assert got == {("location", "s1"): "a", ("location", "s2"): "b"}


def test_published_configs_are_recorded_per_device(storage: Storage) -> None:
    storage.record_published("dev-1", "a", 1, NOW)
    storage.record_published("dev-1", "a", 2, NOW)
    storage.record_published("dev-2", None, None, NOW)
    sent = storage.published_configs()
    assert (sent["dev-1"].survey_id, sent["dev-1"].version) == ("a", 2)
    assert sent["dev-2"].survey_id is None


# --- the config message and the agent side ------------------------------------------------


def test_config_message_round_trips() -> None:
    survey = replace(default_survey(), version=4)
    message = parse_config(encode_config("main", survey))
    assert message.survey == survey
    assert message.survey_id == "main"
    withdrawn = parse_config(encode_config("main", None))
    assert withdrawn.survey is None


def test_the_documented_config_example_is_valid() -> None:
    match = re.search(r"<!-- example-config -->\s*```json\n(.*?)```", DOCS.read_text(), re.S)
    assert match, "docs/protocol.md lost its example config"
    message = parse_config(match.group(1).encode())
    assert message.survey is not None and message.survey.version == 3


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json", "malformed JSON"),
        (b'{"v": 2, "survey": null}', "v: Expected 1, got 2"),
        (b'{"v": 1, "survey": {"languages": ["en"]}}', "survey.question: Field required"),
    ],
)
def test_invalid_config_messages_name_the_problem(payload: bytes, error: str) -> None:
    with pytest.raises(ConfigMessageError, match=re.escape(error)):
        parse_config(payload)


def test_agent_stores_a_valid_survey_and_keeps_it_over_an_invalid_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "touchpoint.agent.config")
    survey = replace(default_survey(), version=2)
    with DeviceStore(tmp_path / "d.sqlite") as store:
        assert store_pushed_config(store, encode_config("main", survey))
        assert "received survey main version 2" in caplog.text
        assert not store_pushed_config(store, encode_config("main", survey))  # same again: no change
        assert not store_pushed_config(store, b'{"v": 1, "survey": {"version": -1}}')
        assert "ignored an invalid config" in caplog.text
        assert parse_survey(store.meta(PUSHED_SURVEY_KEY) or "") == survey
        assert store_pushed_config(store, encode_config("main", None))
        assert store.meta(PUSHED_SURVEY_KEY) == ""


def test_pushed_survey_key_matches_the_kiosk() -> None:
    survey_source = pytest.importorskip("kiosk.survey_source")
    assert survey_source.PUSHED_SURVEY_KEY == PUSHED_SURVEY_KEY
    assert json.loads(encode_config("x", None))["survey"] is None
