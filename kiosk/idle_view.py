"""What the idle screen says: the store's score of the week and its latest actions, in the survey's languages.

No Kivy here: the slides are plain data, so the wording is testable without a window. A survey may
word any of :data:`IDLE_TEXTS` itself in its ``strings`` (same keys); otherwise these defaults apply,
in the survey's language where we have it, else in English.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edge_agent.protocol import Action
from edge_agent.scores import band
from edge_agent.survey import Survey
from edge_agent.week_score import WeekScore

IDLE_TEXTS: dict[str, dict[str, str]] = {
    "idle_week": {
        "en": "Your feedback this week",
        "fi": "Palautteenne t\u00e4ll\u00e4 viikolla",
        "sv": "Er feedback den h\u00e4r veckan",
    },
    "idle_positive": {
        "en": "{pct}% of your answers were positive",
        "fi": "{pct} % vastauksistanne oli my\u00f6nteisi\u00e4",
        "sv": "{pct} % av era svar var positiva",
    },
    "idle_last_week": {
        "en": "Last week: {pct}%",
        "fi": "Viime viikolla: {pct} %",
        "sv": "F\u00f6rra veckan: {pct} %",
    },
    "idle_you_told_us": {
        "en": "You told us: {reason}",
        "fi": "Kerroitte meille: {reason}",
        "sv": "Ni ber\u00e4ttade: {reason}",
    },
    "idle_we_changed": {"en": "What we changed", "fi": "Mit\u00e4 muutimme", "sv": "Vad vi har \u00e4ndrat"},
    "idle_touch": {
        "en": "Touch the screen to give feedback",
        "fi": "Kosketa n\u00e4ytt\u00f6\u00e4 ja anna palautetta",
        "sv": "Tryck p\u00e5 sk\u00e4rmen f\u00f6r att ge feedback",
    },
}


@dataclass(frozen=True)
class Slide:
    """One page of the idle screen in one language; ``figure`` is the big number of a score slide."""

    kind: Literal["score", "action"]
    lang: str
    title: str
    figure: str
    body: str
    hint: str
    band: str = "none"


def idle_text(survey: Survey, key: str, lang: str) -> str:
    """``key`` in ``lang``: the survey's own wording first, then ours, then English."""
    own = survey.strings.get(key)
    if own and lang in own:
        return own[lang]
    return IDLE_TEXTS[key].get(lang) or (own or {}).get(survey.languages[0]) or IDLE_TEXTS[key]["en"]


def _reason_name(survey: Survey, reason_id: str, lang: str) -> str | None:
    follow_up = survey.question.follow_up
    for reason in follow_up.reasons if follow_up else []:
        if reason.id == reason_id:
            return survey.text(reason.text, lang).lower() if lang == "en" else survey.text(reason.text, lang)
    return None


def score_slide(survey: Survey, week: WeekScore, lang: str) -> Slide | None:
    """The week's % positive, with last week's beside it when both weeks have enough answers."""
    pct = week.this_week.pct_positive
    if not week.showable or pct is None:
        return None
    body = idle_text(survey, "idle_positive", lang).format(pct=round(pct))
    before = week.last_week.pct_positive
    if week.comparable and before is not None:
        # No arrow glyphs: the kiosk's bundled font (Roboto) has none, and the two figures say it already.
        body += "\n" + idle_text(survey, "idle_last_week", lang).format(pct=round(before))
    return Slide(
        "score", lang, idle_text(survey, "idle_week", lang), f"{round(pct)}%", body,
        idle_text(survey, "idle_touch", lang), band(week.this_week.happy_index),
    )  # fmt: skip


def action_slide(survey: Survey, action: Action, lang: str) -> Slide:
    """ "You told us: waiting times." over "We opened a second till at lunch." (the reason's name from the survey)."""
    reason = _reason_name(survey, action.reason, lang) if action.reason else None
    title = (
        idle_text(survey, "idle_you_told_us", lang).format(reason=reason)
        if reason
        else idle_text(survey, "idle_we_changed", lang)
    )
    return Slide("action", lang, title, "", action.text_in(lang), idle_text(survey, "idle_touch", lang))


def build_slides(survey: Survey, week: WeekScore | None, actions: Sequence[Action]) -> list[Slide]:
    """Every slide in the survey's first language, then again in each other language; empty: nothing to show."""
    out: list[Slide] = []
    for lang in survey.languages:
        score = score_slide(survey, week, lang) if week is not None else None
        out += [score] if score else []
        out += [action_slide(survey, action, lang) for action in actions]
    return out
