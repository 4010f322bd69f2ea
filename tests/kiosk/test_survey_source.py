"""kiosk.survey_source.SurveySource on real files and a real device store: precedence, reloads, bad input."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from edge_agent.config import DeviceConfig, parse_config
from edge_agent.store import DeviceStore
from edge_agent.survey import Question, Survey, default_survey
from kiosk.survey_source import PUSHED_SURVEY_KEY, SurveySource, fallback_survey

LOGGER = "touchpoint.survey"


def make_survey(question_id: str, version: int, scale: Literal[4, 5, 11] = 4) -> Survey:
    text = {"en": f"{question_id}?", "fi": f"{question_id}?"}
    return Survey(version=version, languages=["en", "fi"], question=Question(id=question_id, scale=scale, text=text))


class SurveyFile:
    """A survey JSON file whose every write gets a later mtime (file systems tick coarser than our writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime_ns = 1_700_000_000 * 10**9

    def write(self, text: str) -> None:
        self.path.write_text(text, encoding="utf-8")
        self._mtime_ns += 10**9
        os.utime(self.path, ns=(self._mtime_ns, self._mtime_ns))

    def put(self, survey: Survey) -> None:
        self.write(survey.to_json())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeviceStore]:
    s = DeviceStore(tmp_path / "device.sqlite")
    yield s
    s.close()


def config(tmp_path: Path, survey_file: Path | None = None, **survey: object) -> DeviceConfig:
    data: dict[str, object] = {
        "device_id": "kiosk-1",
        "location_id": "store-1",
        "store": {"path": str(tmp_path / "device.sqlite")},
        "survey": survey,
    }
    if survey_file is not None:
        data["kiosk"] = {"survey_file": str(survey_file)}
    return parse_config(data)


def test_without_file_or_push_it_is_the_bundled_survey_with_the_configs_question(
    tmp_path: Path, store: DeviceStore
) -> None:
    plain = SurveySource(config(tmp_path), store)
    assert plain.current() == default_survey()
    tuned = SurveySource(config(tmp_path, question_id="entrance", scale=5, response_interval_s=2.5), store)
    survey = tuned.current()
    assert (survey.question.id, survey.question.scale, survey.response_interval_s) == ("entrance", 5, 2.5)
    assert survey.question.text == default_survey().question.text
    assert survey == fallback_survey(config(tmp_path, question_id="entrance", scale=5, response_interval_s=2.5))
    assert tuned.refresh() is False
    assert "bundled default survey" in tuned.describe()


def test_the_file_is_used_and_reloaded_only_when_it_changes(tmp_path: Path, store: DeviceStore) -> None:
    f = SurveyFile(tmp_path / "survey.json")
    f.put(make_survey("checkout", 1))
    source = SurveySource(config(tmp_path, f.path), store)
    assert source.current().question.id == "checkout"
    assert source.current() is source.current()  # cached, no I/O
    assert source.refresh() is False
    f.put(make_survey("checkout", 2))
    assert source.refresh() is True
    assert source.current().version == 2
    assert source.refresh() is False
    assert f"file {f.path}" in source.describe()


def test_an_atomic_replace_with_the_same_size_and_mtime_is_noticed(tmp_path: Path, store: DeviceStore) -> None:
    path = tmp_path / "survey.json"
    path.write_text(make_survey("aaaa", 1).to_json())
    source = SurveySource(config(tmp_path, path), store)
    old = path.stat()
    new = tmp_path / "survey.json.tmp"
    new.write_text(make_survey("bbbb", 1).to_json())
    os.utime(new, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert new.stat().st_size == old.st_size
    new.replace(path)
    assert source.refresh() is True
    assert source.current().question.id == "bbbb"


def test_a_bad_file_keeps_the_previous_survey_and_is_logged_once(
    tmp_path: Path, store: DeviceStore, caplog: pytest.LogCaptureFixture
) -> None:
    f = SurveyFile(tmp_path / "survey.json")
    f.put(make_survey("checkout", 1))
    source = SurveySource(config(tmp_path, f.path), store)
    caplog.set_level(logging.INFO, LOGGER)
    f.write('{"version": 2, "languages": ["en"], "question": {"id": "checkout", "scale": 7, "text": {"en": "?"}}}')
    assert source.refresh() is False
    assert source.current() == make_survey("checkout", 1)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(f.path) in errors[0] and "question.scale" in errors[0] and "keeping the current survey" in errors[0]
    assert source.refresh() is False  # same bad file: no new log line every poll
    f.write("{not json")
    assert source.refresh() is False
    assert source.current().version == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "not valid JSON" in errors[1]
    f.put(make_survey("checkout", 3))
    assert source.refresh() is True
    assert source.current().version == 3


def test_a_bad_or_missing_file_at_start_falls_back_to_the_bundled_survey(
    tmp_path: Path, store: DeviceStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    missing = tmp_path / "nowhere.json"
    source = SurveySource(config(tmp_path, missing), store)
    assert source.current() == default_survey()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and str(missing) in errors[0] and "cannot read survey" in errors[0]
    SurveyFile(missing).put(make_survey("late", 1))
    assert source.refresh() is True
    assert source.current().question.id == "late"


def test_a_pushed_survey_wins_over_the_file_and_withdrawing_it_falls_back(tmp_path: Path, store: DeviceStore) -> None:
    f = SurveyFile(tmp_path / "survey.json")
    f.put(make_survey("from-file", 1))
    source = SurveySource(config(tmp_path, f.path), store)
    # The agent runs in another process with its own connection.
    with DeviceStore(store.path) as agent:
        agent.set_meta(PUSHED_SURVEY_KEY, make_survey("from-hub", 7).to_json())
        assert source.refresh() is True
        assert source.current() == make_survey("from-hub", 7)
        assert "the hub (pushed)" in source.describe()
        f.put(make_survey("from-file", 2))  # a newer file does not override the hub
        assert source.refresh() is False
        assert source.current().question.id == "from-hub"
        agent.set_meta(PUSHED_SURVEY_KEY, "")  # withdrawn
        assert source.refresh() is True
        assert source.current() == make_survey("from-file", 2)


def test_a_pushed_survey_wins_over_the_bundled_one(tmp_path: Path, store: DeviceStore) -> None:
    store.set_meta(PUSHED_SURVEY_KEY, make_survey("from-hub", 3, scale=5).to_json())
    source = SurveySource(config(tmp_path), store)
    assert source.current() == make_survey("from-hub", 3, scale=5)


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ("{oops", "not valid JSON"),
        ('{"languages": ["en"], "question": {"id": "q", "text": {"en": "?"}}, "colour": "red"}', "colour"),
        ('{"languages": ["en", "sv"], "question": {"id": "q", "text": {"en": "?"}}}', "lacks the survey languages"),
    ],
)
def test_a_bad_pushed_survey_keeps_the_previous_one_and_names_the_problem(
    tmp_path: Path, store: DeviceStore, caplog: pytest.LogCaptureFixture, payload: str, named: str
) -> None:
    store.set_meta(PUSHED_SURVEY_KEY, make_survey("good", 1).to_json())
    source = SurveySource(config(tmp_path), store)
    caplog.set_level(logging.INFO, LOGGER)
    store.set_meta(PUSHED_SURVEY_KEY, payload)
    assert source.refresh() is False
    assert source.refresh() is False
    assert source.current() == make_survey("good", 1)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert PUSHED_SURVEY_KEY in errors[0] and named in errors[0]
    store.set_meta(PUSHED_SURVEY_KEY, make_survey("good", 2).to_json())
    assert source.refresh() is True
    assert source.current().version == 2


def test_the_key_is_the_documented_one() -> None:
    assert PUSHED_SURVEY_KEY == "pushed_survey"


def test_the_agents_own_writer_and_this_reader_agree(tmp_path: Path, store: DeviceStore) -> None:
    """Contract with edge_agent.config_push: what the agent stores from the hub is what the panel asks."""
    from edge_agent import config_push

    assert config_push.PUSHED_SURVEY_KEY == PUSHED_SURVEY_KEY
    source = SurveySource(config(tmp_path), store)
    pushed = make_survey("from-hub", 12, scale=5)
    with DeviceStore(store.path) as agent:
        assert config_push.store_pushed_config(agent, config_push.encode_config("s-12", pushed)) is True
        assert source.refresh() is True
        assert source.current() == pushed
        assert config_push.store_pushed_config(agent, config_push.encode_config(None, None)) is True  # withdrawn
        assert source.refresh() is True
        assert source.current() == default_survey()


def test_the_device_idle_timeout_overrides_the_surveys(tmp_path: Path) -> None:
    from edge_agent.config import parse_config
    from edge_agent.store import DeviceStore
    from kiosk.survey_source import SurveySource

    config = parse_config(
        {
            "device_id": "d",
            "location_id": "l",
            "store": {"path": str(tmp_path / "s.sqlite")},
            "kiosk": {"idle_timeout_s": 7},
        }
    )
    with DeviceStore(config.store.path) as store:
        source = SurveySource(config, store)
        assert source.current().idle_timeout_s == 7
        source.close()
