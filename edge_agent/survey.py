"""Surveys: the question a kiosk asks, its follow-up reasons, languages and timings.

One definition for the kiosk, the panel, the agent (which stores surveys the
hub pushes) and the hub (which versions and assigns them). A kiosk falls back
to the bundled default survey until it has one of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct, field

from edge_agent.protocol import Identifier, Language
from edge_agent.validation import Invalid, convert, describe

Lang = Language  # defined with the wire protocol, which action texts share
Texts = dict[Lang, Annotated[str, Meta(min_length=1, max_length=300)]]

# Strings every survey needs besides its question, with English defaults.
UI_STRING_KEYS = ("thank_you", "follow_up", "skip")


class Reason(Struct, frozen=True, forbid_unknown_fields=True):
    id: Identifier
    text: Texts


class FollowUp(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Asked after the answers in ``ask_for`` (default: the negative ones), with up to 6 reasons."""

    ask_for: list[int] | None = None
    reasons: Annotated[list[Reason], Meta(min_length=1, max_length=6)]


class Question(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
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


class Survey(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: Annotated[int, Meta(ge=0)] = 0
    languages: Annotated[list[Lang], Meta(min_length=1)]
    question: Question
    strings: dict[str, Texts] = field(default_factory=dict)
    response_interval_s: Annotated[float, Meta(ge=0, le=3600)] = 5.0
    idle_timeout_s: Annotated[float, Meta(ge=3, le=600)] = 15.0
    thank_you_s: Annotated[float, Meta(ge=0.5, le=60)] = 3.0
    # HQ's switch for every kiosk showing this survey: the idle screen (the store's score of the week and
    # its latest actions). A device can switch it off on its own too (kiosk.idle_screen in device.toml).
    idle_screen: bool = True

    def __post_init__(self) -> None:
        missing = [lang for lang in self.languages if lang not in self.question.text]
        if missing:
            raise ValueError(f"question.text lacks the survey languages {missing}")

    def text(self, texts: dict[str, str], lang: str) -> str:
        """``texts`` in ``lang``, else in the survey's first language, else any."""
        return texts.get(lang) or texts.get(self.languages[0]) or next(iter(texts.values()), "")

    def ui(self, key: str, lang: str) -> str:
        return self.text(self.strings.get(key) or DEFAULT_STRINGS[key], lang)

    def to_json(self) -> str:
        """The survey as JSON, every field included: how it is stored and compared."""
        return msgspec.json.encode(self).decode()

    def to_dict(self) -> dict[str, object]:
        """The survey as JSON-ready Python values."""
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


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


def to_survey(data: object) -> Survey:
    """Validate parsed JSON as a survey; :class:`Invalid` names every bad field."""
    return convert(data, Survey)


def parse_survey(data: bytes | str, source: str = "survey") -> Survey:
    try:
        return to_survey(msgspec.json.decode(data))
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SurveyError(f"{source}: not valid JSON: {exc}") from None
    except Invalid as exc:
        raise SurveyError(f"{source}: {describe(exc.problems, limit=10)}") from None


def load_survey(path: Path) -> Survey:
    try:
        return parse_survey(path.read_bytes(), str(path))
    except OSError as exc:
        raise SurveyError(f"{path}: cannot read survey: {exc.strerror}") from None
