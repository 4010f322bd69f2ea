"""Ready-made action texts per follow-up reason, for logging an action on the kiosk's touchscreen.

A Pi touchscreen has no keyboard, and typing on an on-screen one in a busy shop is slow and error
prone; the manager picks the reason, then one of these sentences, which come in the survey's languages
so shoppers read them in theirs. Custom wording is logged at HQ (``POST /api/v1/actions``) and reaches
the kiosk with its config. No Kivy here.
"""

from __future__ import annotations

Texts = dict[str, str]

GENERAL: list[Texts] = [
    {
        "en": "We have looked into your feedback and made changes.",
        "fi": "K\u00e4vimme palautteenne l\u00e4pi ja teimme muutoksia.",
        "sv": "Vi har g\u00e5tt igenom er feedback och gjort f\u00f6r\u00e4ndringar.",
    },
    {
        "en": "We have trained our team on what you told us.",
        "fi": "Koulutimme henkil\u00f6kuntamme palautteenne pohjalta.",
        "sv": "Vi har utbildat personalen utifr\u00e5n det ni ber\u00e4ttade.",
    },
]

PRESETS: dict[str, list[Texts]] = {
    "queue": [
        {
            "en": "We opened a second till at lunch.",
            "fi": "Avasimme toisen kassan lounasaikaan.",
            "sv": "Vi \u00f6ppnade en andra kassa vid lunch.",
        },
        {
            "en": "More staff at the tills at busy hours.",
            "fi": "Lis\u00e4\u00e4 henkil\u00f6kuntaa kassoilla ruuhka-aikoina.",
            "sv": "Mer personal i kassorna under rusningstid.",
        },
        {
            "en": "Self-service checkouts are now open.",
            "fi": "Itsepalvelukassat ovat nyt k\u00e4yt\u00f6ss\u00e4.",
            "sv": "Sj\u00e4lvscanningskassorna \u00e4r nu \u00f6ppna.",
        },
    ],
    "staff": [
        {
            "en": "More staff on the floor to help you.",
            "fi": "Lis\u00e4\u00e4 henkil\u00f6kuntaa myym\u00e4l\u00e4ss\u00e4 auttamassa.",
            "sv": "Mer personal i butiken som kan hj\u00e4lpa er.",
        },
        GENERAL[1],
    ],
    "cleanliness": [
        {
            "en": "We clean more often during the day.",
            "fi": "Siivoamme useammin p\u00e4iv\u00e4n aikana.",
            "sv": "Vi st\u00e4dar oftare under dagen.",
        },
        {
            "en": "New cleaning rounds every hour.",
            "fi": "Uudet siivouskierrokset joka tunti.",
            "sv": "Nya st\u00e4drundor varje timme.",
        },
    ],
    "selection": [
        {
            "en": "We added products you asked for.",
            "fi": "Lis\u00e4simme tuotteita, joita toivoitte.",
            "sv": "Vi har lagt till varor som ni efterfr\u00e5gade.",
        },
        {
            "en": "Shelves are now restocked more often.",
            "fi": "Hyllyt t\u00e4ytet\u00e4\u00e4n nyt useammin.",
            "sv": "Hyllorna fylls nu p\u00e5 oftare.",
        },
    ],
    "price": [
        {
            "en": "New weekly offers on everyday products.",
            "fi": "Uudet viikkotarjoukset arjen tuotteisiin.",
            "sv": "Nya veckoerbjudanden p\u00e5 vardagsvaror.",
        },
        {
            "en": "Prices are now clearer on the shelves.",
            "fi": "Hinnat n\u00e4kyv\u00e4t nyt selke\u00e4mmin hyllyiss\u00e4.",
            "sv": "Priserna syns nu tydligare p\u00e5 hyllorna.",
        },
    ],
}
MAX_PRESETS = 3


def presets(reason_id: str | None, languages: list[str]) -> list[Texts]:
    """Up to :data:`MAX_PRESETS` texts for ``reason_id`` (or general ones), each in those of ``languages`` we have.

    A text we lack in every one of the survey's languages is offered in English.
    """
    out = []
    for texts in (PRESETS.get(reason_id or "", []) or GENERAL)[:MAX_PRESETS]:
        mine = {lang: texts[lang] for lang in languages if lang in texts}
        out.append(mine or {"en": texts["en"]})
    return out


def main_text(texts: Texts, languages: list[str]) -> str:
    """The action's ``text``: in the survey's first language we have it in."""
    return next((texts[lang] for lang in languages if lang in texts), next(iter(texts.values())))
