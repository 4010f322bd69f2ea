"""Colours, sizes and the shopper-facing texts the survey itself does not carry.

Everything is proportional to the window so one layout works on the 800x480
Raspberry Pi display, a 1280x800 panel and rotated portrait screens; touch
targets never shrink below :func:`min_target` (15 mm on the glass).
"""

from __future__ import annotations

from kivy.metrics import mm

RGBA = tuple[float, float, float, float]

BACKGROUND: RGBA = (0.976, 0.969, 0.949, 1)
INK: RGBA = (0.137, 0.161, 0.204, 1)
MUTED: RGBA = (0.42, 0.45, 0.50, 1)
SURFACE: RGBA = (1, 1, 1, 1)
OUTLINE: RGBA = (0.80, 0.81, 0.83, 1)
ACCENT: RGBA = (0.145, 0.388, 0.922, 1)
FACE_INK: RGBA = (0.16, 0.13, 0.11, 1)
WARNING: RGBA = (0.953, 0.612, 0.071, 1)
DANGER: RGBA = (0.80, 0.20, 0.18, 1)

RED: RGBA = (0.898, 0.224, 0.208, 1)
ORANGE: RGBA = (0.961, 0.498, 0.090, 1)
YELLOW: RGBA = (0.992, 0.796, 0.165, 1)
LIGHT_GREEN: RGBA = (0.545, 0.765, 0.290, 1)
GREEN: RGBA = (0.180, 0.620, 0.310, 1)

# Most negative first, as values are stored.
FACE_COLOURS: dict[int, tuple[RGBA, ...]] = {
    4: (RED, ORANGE, LIGHT_GREEN, GREEN),
    5: (RED, ORANGE, YELLOW, LIGHT_GREEN, GREEN),
}
BAND_COLOURS: dict[str, RGBA] = {"red": RED, "amber": ORANGE, "green": GREEN, "none": OUTLINE}

MIN_TARGET_MM = 15.0

# Shown by the kiosk itself, not defined by a survey; first language of the survey falls back to English.
KIOSK_TEXTS: dict[str, dict[str, str]] = {
    "save_failed": {
        "en": "Sorry, we could not save your answer \u2014 please tell staff.",
        "fi": "Valitettavasti vastaustasi ei voitu tallentaa \u2014 kerrothan henkil\u00f6kunnalle.",
        "sv": "Tyv\u00e4rr kunde vi inte spara ditt svar \u2014 s\u00e4g till personalen.",
    },
    "not_ready": {
        "en": "Sorry, this feedback point is not working right now \u2014 please tell staff.",
        "fi": "Valitettavasti t\u00e4m\u00e4 palautepiste ei nyt toimi \u2014 kerrothan henkil\u00f6kunnalle.",
        "sv": "Tyv\u00e4rr fungerar den h\u00e4r feedbackpunkten inte just nu \u2014 s\u00e4g till personalen.",
    },
}


def kiosk_text(key: str, lang: str) -> str:
    texts = KIOSK_TEXTS[key]
    return texts.get(lang) or texts["en"]


def min_target() -> float:
    """The smallest touch target in pixels: 15 mm at the display's density."""
    return float(mm(MIN_TARGET_MM))


def unit(width: float, height: float) -> float:
    """Scale factor against the 800x480 reference screen (480x800 when rotated), by the tighter dimension."""
    ref_w, ref_h = (800.0, 480.0) if width >= height else (480.0, 800.0)
    return max(0.5, min(width / ref_w, height / ref_h))


def face_colour(value: int, scale: int) -> RGBA:
    colours = FACE_COLOURS.get(scale)
    if colours is None:  # 0-10: red through green in proportion
        colours = FACE_COLOURS[5]
        return colours[round(value / (scale - 1) * (len(colours) - 1))]
    return colours[value]


def mouth_curve(value: int, scale: int) -> float:
    """-1 (deep frown) .. +1 (wide smile) for button ``value`` of ``scale``."""
    return -1.0 + 2.0 * value / (scale - 1)
