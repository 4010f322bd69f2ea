"""Surveys: the question a kiosk asks, its follow-up reasons, languages and timings.

One definition for the kiosk, the panel, the agent (which stores surveys the
hub pushes) and the hub (which versions and assigns them). A kiosk falls back
to the bundled default survey until it has one of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from edge_agent.protocol import ID_PATTERN, describe_error

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
Texts = dict[Lang, Annotated[str, StringConstraints(min_length=1, max_length=300)]]

# Strings every survey needs besides its question, with English defaults.
UI_STRING_KEYS = ("thank_you", "follow_up", "skip")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reason(_Model):
    id: Identifier
    text: Texts


class FollowUp(_Model):
    """Asked after the answers in ``ask_for`` (default: the negative ones), with up to 6 reasons."""

    ask_for: list[int] | None = None
    reasons: list[Reason] = Field(min_length=1, max_length=6)


class Question(_Model):
    id: Identifier
    scale: Literal[4, 5, 11] = 4
    text: Texts
    follow_up: FollowUp | None = None

    def asks_follow_up(self, value: int) -> bool:
        if self.follow_up is None:
            return False
        wanted = self.follow_up.ask_for
        if wanted is None:
            wanted = list(range(7)) if self.scale == 11 else [0, 1]
        return value in wanted


class Survey(_Model):
    version: int = Field(default=0, ge=0)
    languages: list[Lang] = Field(min_length=1)
    question: Question
    strings: dict[str, Texts] = Field(default_factory=dict)
    response_interval_s: float = Field(default=5.0, ge=0, le=3600)
    idle_timeout_s: float = Field(default=15.0, ge=3, le=600)
    thank_you_s: float = Field(default=3.0, ge=0.5, le=60)

    @model_validator(mode="after")
    def _all_languages_present(self) -> Survey:
        missing = [lang for lang in self.languages if lang not in self.question.text]
        if missing:
            raise ValueError(f"question.text lacks the survey languages {missing}")
        return self

    def text(self, texts: dict[str, str], lang: str) -> str:
        """``texts`` in ``lang``, else in the survey's first language, else any."""
        return texts.get(lang) or texts.get(self.languages[0]) or next(iter(texts.values()), "")

    def ui(self, key: str, lang: str) -> str:
        return self.text(self.strings.get(key) or DEFAULT_STRINGS[key], lang)


DEFAULT_STRINGS: dict[str, dict[str, str]] = {
    "thank_you": {"en": "Thank you!", "fi": "Kiitos!", "sv": "Tack!"},
    "follow_up": {
        "en": "What was the main reason?",
        "fi": "Mikä oli tärkein syy?",
        "sv": "Vad var den främsta orsaken?",
    },
    "skip": {"en": "Skip", "fi": "Ohita", "sv": "Hoppa över"},
}


def default_survey() -> Survey:
    """The bundled survey a device shows until it has its own."""
    reasons = [
        ("queue", {"en": "Waiting time", "fi": "Jonotus", "sv": "Väntetid"}),
        ("staff", {"en": "Staff", "fi": "Henkilökunta", "sv": "Personal"}),
        ("cleanliness", {"en": "Cleanliness", "fi": "Siisteys", "sv": "Renlighet"}),
        ("selection", {"en": "Selection", "fi": "Valikoima", "sv": "Sortiment"}),
        ("price", {"en": "Prices", "fi": "Hinnat", "sv": "Priser"}),
        ("other", {"en": "Something else", "fi": "Jokin muu", "sv": "Något annat"}),
    ]
    return Survey(
        version=0,
        languages=["en", "fi", "sv"],
        question=Question(
            id="default",
            scale=4,
            text={
                "en": "How was your visit today?",
                "fi": "Millainen käyntisi oli tänään?",
                "sv": "Hur var ditt besök i dag?",
            },
            follow_up=FollowUp(reasons=[Reason(id=rid, text=text) for rid, text in reasons]),
        ),
    )


class SurveyError(ValueError):
    pass


def parse_survey(data: bytes | str, source: str = "survey") -> Survey:
    try:
        return Survey.model_validate(json.loads(data))
    except json.JSONDecodeError as exc:
        raise SurveyError(f"{source}: not valid JSON: {exc}") from None
    except ValidationError as exc:
        raise SurveyError(f"{source}: {describe_error(exc, limit=10)}") from None


def load_survey(path: Path) -> Survey:
    try:
        return parse_survey(path.read_bytes(), str(path))
    except OSError as exc:
        raise SurveyError(f"{path}: cannot read survey: {exc.strerror}") from None
