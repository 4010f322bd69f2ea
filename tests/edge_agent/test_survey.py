"""edge_agent.survey: the bundled survey, follow-up rules, language fallback and parse errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.survey import (
    DEFAULT_STRINGS,
    UI_STRING_KEYS,
    FollowUp,
    Question,
    Reason,
    Survey,
    SurveyError,
    default_survey,
    load_survey,
    parse_survey,
    to_survey,
)


def minimal(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {"languages": ["en"], "question": {"id": "q1", "text": {"en": "How was it?"}}}
    data.update(overrides)
    return data


def test_the_default_survey_is_valid_and_round_trips() -> None:
    survey = default_survey()
    assert parse_survey(survey.to_json()) == survey
    assert to_survey(json.loads(survey.to_json())) == survey
    assert to_survey(survey.to_dict()) == survey
    assert (survey.version, survey.question.id, survey.question.scale) == (0, "default", 4)
    assert (survey.response_interval_s, survey.idle_timeout_s, survey.thank_you_s) == (5.0, 15.0, 3.0)


def test_the_default_survey_speaks_every_language_it_lists() -> None:
    survey = default_survey()
    assert survey.languages == ["en", "fi", "sv"]
    assert set(survey.question.text) == {"en", "fi", "sv"}
    assert survey.question.follow_up is not None
    reasons = survey.question.follow_up.reasons
    assert [r.id for r in reasons] == ["queue", "staff", "cleanliness", "selection", "price", "other"]
    for reason in reasons:
        assert set(reason.text) == {"en", "fi", "sv"}
    for key in UI_STRING_KEYS:
        assert set(DEFAULT_STRINGS[key]) >= {"en", "fi", "sv"}
    assert survey.ui("thank_you", "fi") == "Kiitos!"
    assert survey.text(survey.question.text, "sv") == "Hur var ditt besök i dag?"


def test_text_falls_back_to_the_first_language_then_to_any() -> None:
    survey = Survey(languages=["fi", "en"], question=Question(id="q", text={"fi": "Miten meni?", "en": "How?"}))
    assert survey.text({"fi": "Kiitos", "en": "Thanks"}, "en") == "Thanks"
    assert survey.text({"fi": "Kiitos", "en": "Thanks"}, "de") == "Kiitos"
    assert survey.text({"sv": "Tack"}, "de") == "Tack"
    assert survey.text({}, "en") == ""


def test_ui_strings_can_be_overridden_per_survey() -> None:
    survey = Survey(
        languages=["en"],
        question=Question(id="q", text={"en": "?"}),
        strings={"thank_you": {"en": "Cheers!"}},
    )
    assert survey.ui("thank_you", "en") == "Cheers!"
    assert survey.ui("skip", "en") == "Skip"  # not overridden: the default


@pytest.mark.parametrize(
    ("scale", "ask_for", "asked"),
    [
        (4, None, [0, 1]),
        (5, None, [0, 1]),
        (11, None, [0, 1, 2, 3, 4, 5, 6]),
        (5, [2], [2]),
        (4, [], []),
    ],
)
def test_which_answers_get_the_follow_up(scale: int, ask_for: list[int] | None, asked: list[int]) -> None:
    follow_up = FollowUp(ask_for=ask_for, reasons=[Reason(id="r", text={"en": "R"})])
    question = Question(id="q", scale=scale, text={"en": "?"}, follow_up=follow_up)
    assert [v for v in range(scale) if question.asks_follow_up(v)] == asked


def test_no_follow_up_means_never_asked() -> None:
    question = Question(id="q", text={"en": "?"})
    assert not any(question.asks_follow_up(v) for v in range(4))


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (minimal(languages=[]), "languages"),
        (minimal(languages=["english"]), "languages.0"),
        (minimal(languages=["en", "fi"]), "question.text lacks the survey languages ['fi']"),
        (minimal(question={"id": "q1", "scale": 7, "text": {"en": "?"}}), "question.scale"),
        (minimal(question={"id": "bad id!", "text": {"en": "?"}}), "question.id"),
        (minimal(question={"id": "q1", "text": {"en": ""}}), "question.text.en"),
        (minimal(response_interval_s=-1), "response_interval_s"),
        (minimal(idle_timeout_s=1), "idle_timeout_s"),
        (minimal(version=-1), "version"),
        (minimal(colour="red"), "colour"),
        (minimal(question={"id": "q1", "text": {"en": "?"}, "follow_up": {"reasons": []}}), "question.follow_up"),
        (
            minimal(
                question={
                    "id": "q1",
                    "text": {"en": "?"},
                    "follow_up": {"reasons": [{"id": f"r{i}", "text": {"en": "R"}} for i in range(7)]},
                }
            ),
            "question.follow_up.reasons",
        ),
    ],
)
def test_parse_errors_name_the_field(data: dict[str, object], named: str) -> None:
    with pytest.raises(SurveyError) as info:
        parse_survey(json.dumps(data), "survey.json")
    message = str(info.value)
    assert message.startswith("survey.json: ")
    assert named in message


def test_not_json_is_named_as_such() -> None:
    with pytest.raises(SurveyError, match=r"^pushed: not valid JSON"):
        parse_survey("{", "pushed")


def test_parse_accepts_bytes_and_a_minimal_survey_gets_defaults() -> None:
    survey = parse_survey(json.dumps(minimal()).encode())
    assert (survey.version, survey.question.scale, survey.question.follow_up) == (0, 4, None)


def test_load_survey_reads_a_file_and_names_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "survey.json"
    path.write_text(json.dumps(minimal(version=3)), encoding="utf-8")
    assert load_survey(path).version == 3
    missing = tmp_path / "missing.json"
    with pytest.raises(SurveyError, match=rf"^{missing}: cannot read survey: No such file"):
        load_survey(missing)


def test_surveys_are_immutable() -> None:
    survey = default_survey()
    with pytest.raises(AttributeError, match="immutable"):
        survey.version = 9  # type: ignore[misc]
