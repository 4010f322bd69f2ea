"""Touch widgets drawn with Kivy graphics only: no image files, no web fonts, crisp at any size.

The smileys are canvas ellipses and a mouth line whose curve runs from frown
to smile, so a 4-, 5- or 11-point survey needs no artwork.
"""

from __future__ import annotations

import math
from typing import Any

from kivy.graphics import Color, Ellipse, Line, RoundedRectangle, Triangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui import theme
from kiosk.ui.theme import RGBA

# The face is drawn at this share of its square cell, leaving room to grow when chosen.
FACE_SHARE = 0.86
PRESSED_SHARE = 0.80


def _shade(colour: RGBA, factor: float) -> RGBA:
    return (colour[0] * factor, colour[1] * factor, colour[2] * factor, colour[3])


def draw_face(widget: Widget, cx: float, cy: float, r: float, colour: RGBA, curve: float) -> None:
    """A smiley of radius ``r`` on ``widget.canvas``: ``curve`` -1 is a deep frown, +1 a wide smile."""
    with widget.canvas:
        Color(0, 0, 0, 0.10)
        Ellipse(pos=(cx - r, cy - r * 1.06), size=(2 * r, 2 * r))
        Color(*colour)
        Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r))
        Color(*_shade(colour, 0.82))
        Line(circle=(cx, cy, r), width=max(1.0, r * 0.035))
        Color(*theme.FACE_INK)
        eye_w, eye_h = r * 0.17, r * 0.25
        for side in (-1, 1):
            Ellipse(pos=(cx + side * r * 0.34 - eye_w / 2, cy + r * 0.12), size=(eye_w, eye_h))
        if curve <= -0.99:  # the most negative face also has sad brows (raised inside: unhappy, not angry)
            for side in (-1, 1):
                x0, x1 = cx + side * r * 0.52, cx + side * r * 0.20
                Line(points=[x0, cy + r * 0.44, x1, cy + r * 0.54], width=max(1.0, r * 0.05), cap="round")
        half_w = r * 0.46
        depth = r * 0.24 * curve
        base = cy - r * 0.38 - depth * 0.35
        # The corners (t = +-1) sit at base; the middle dips by depth for a smile and rises for a frown.
        points: list[float] = []
        for i in range(21):
            t = -1 + i / 10
            points += [cx + t * half_w, base - depth * (1 - t * t)]
        Line(points=points, width=max(1.5, r * 0.075), cap="round", joint="round")


class FlatButton(ButtonBehavior, Label):  # type: ignore[misc]
    """A rounded, flat, high-contrast button; ``selected`` fills it (language switch, PIN pad)."""

    fill = ListProperty([*theme.SURFACE])
    ink = ListProperty([*theme.INK])
    border = ListProperty([*theme.OUTLINE])
    selected = BooleanProperty(False)
    radius = NumericProperty(12)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("halign", "center")
        kwargs.setdefault("valign", "middle")
        super().__init__(**kwargs)
        self.bind(
            pos=self._redraw,
            size=self._redraw,
            state=self._redraw,
            selected=self._redraw,
            fill=self._redraw,
            ink=self._redraw,
        )
        self._redraw()

    def _redraw(self, *_: Any) -> None:
        self.text_size = (max(1.0, self.width - 16), None)
        fill: RGBA = tuple(self.ink if self.selected else self.fill)
        self.color = list(self.fill if self.selected else self.ink)
        if self.state == "down":
            fill = _shade(fill, 0.85)
        radius = min(self.radius, self.height / 2)
        self.canvas.before.clear()
        with self.canvas.before:
            Color(0, 0, 0, 0.07)
            RoundedRectangle(pos=(self.x, self.y - 2), size=self.size, radius=[radius])
            Color(*self.border)
            RoundedRectangle(pos=self.pos, size=self.size, radius=[radius])
            Color(*fill)
            RoundedRectangle(pos=(self.x + 2, self.y + 2), size=(self.width - 4, self.height - 4), radius=[radius - 1])


class FaceIcon(Widget):  # type: ignore[misc]
    """A face for ``value`` on the ``points``-point scale, filling its square cell (also used in charts)."""

    chosen = BooleanProperty(False)

    def __init__(self, value: int, points: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = value
        self.points = points
        self.bind(pos=self._redraw, size=self._redraw, chosen=self._redraw)

    @property
    def face_diameter(self) -> float:
        """The drawn face at rest: what the shopper aims at."""
        return float(min(self.width, self.height) * FACE_SHARE)

    def _share(self) -> float:
        return 1.0 if self.chosen else FACE_SHARE

    def _redraw(self, *_: Any) -> None:
        r = min(self.width, self.height) / 2 * self._share()
        cx, cy = self.center
        self.canvas.clear()
        if self.chosen:
            with self.canvas:
                Color(*theme.ACCENT)
                Line(circle=(cx, cy, r * 0.98), width=max(2.0, r * 0.06))
            r *= 0.88
        colour = theme.face_colour(self.value, self.points)
        draw_face(self, cx, cy, r, colour, theme.mouth_curve(self.value, self.points))


class SmileyButton(ButtonBehavior, FaceIcon):  # type: ignore[misc]
    """One answer face; shrinks a little while pressed, grows with a ring once its answer is stored."""

    def __init__(self, value: int, points: int, **kwargs: Any) -> None:
        super().__init__(value=value, points=points, **kwargs)
        self.bind(state=self._redraw)

    def _share(self) -> float:
        if not self.chosen and self.state == "down":
            return PRESSED_SHARE
        return super()._share()


class NumberButton(FlatButton):
    """A 0-10 answer: a numbered tile coloured from red (0) to green (10)."""

    chosen = BooleanProperty(False)

    def __init__(self, value: int, points: int, **kwargs: Any) -> None:
        colour = theme.face_colour(value, points)
        ink = theme.FACE_INK if colour in (theme.YELLOW, theme.LIGHT_GREEN) else (1.0, 1.0, 1.0, 1.0)  # contrast
        super().__init__(text=str(value), bold=True, fill=list(colour), ink=list(ink), border=list(colour), **kwargs)
        self.value = value
        self.points = points
        self.bind(chosen=self._redraw)

    def _redraw(self, *_: Any) -> None:
        super()._redraw()
        if self.chosen:
            with self.canvas.before:
                Color(*theme.ACCENT)
                Line(rounded_rectangle=(self.x - 4, self.y - 4, self.width + 8, self.height + 8, 14), width=3)


class Dots(Widget):  # type: ignore[misc]
    """Filled circles for the digits typed on the PIN pad, never the digits themselves."""

    count = NumericProperty(0)
    slots = NumericProperty(4)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, count=self._redraw, slots=self._redraw)

    def _redraw(self, *_: Any) -> None:
        slots = max(int(self.slots), int(self.count))
        r = min(self.height * 0.3, self.width / (slots * 3))
        gap = r * 3
        x0 = self.center_x - gap * (slots - 1) / 2
        self.canvas.clear()
        with self.canvas:
            for i in range(slots):
                x = x0 + i * gap
                if i < self.count:
                    Color(*theme.INK)
                    Ellipse(pos=(x - r, self.center_y - r), size=(2 * r, 2 * r))
                else:
                    Color(*theme.OUTLINE)
                    Line(circle=(x, self.center_y, r), width=2)


class CheckMark(Widget):  # type: ignore[misc]
    """A green disc with a white tick: "your answer is saved", the same for every answer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_: Any) -> None:
        r = min(self.width, self.height) / 2 * FACE_SHARE
        cx, cy = self.center
        self.canvas.clear()
        with self.canvas:
            Color(0, 0, 0, 0.10)
            Ellipse(pos=(cx - r, cy - r * 1.06), size=(2 * r, 2 * r))
            Color(*theme.GREEN)
            Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r))
            Color(1, 1, 1, 1)
            tick = [cx - r * 0.45, cy + r * 0.02, cx - r * 0.12, cy - r * 0.32, cx + r * 0.48, cy + r * 0.30]
            Line(points=tick, width=max(2.0, r * 0.11), cap="round", joint="round")


class WarningSign(Widget):  # type: ignore[misc]
    """An amber triangle with an exclamation mark: the error state, readable from across the aisle."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_: Any) -> None:
        side = min(self.width, self.height / math.sin(math.radians(60)))
        h = side * math.sin(math.radians(60))
        cx, y0 = self.center_x, self.center_y - h / 2
        self.canvas.clear()
        with self.canvas:
            Color(*theme.WARNING)
            Triangle(points=[cx - side / 2, y0, cx + side / 2, y0, cx, y0 + h])
            Color(*theme.FACE_INK)
            Line(points=[cx, y0 + h * 0.36, cx, y0 + h * 0.70], width=max(2.0, side * 0.045), cap="round")
            dot = side * 0.09
            Ellipse(pos=(cx - dot / 2, y0 + h * 0.12), size=(dot, dot))


def fit_text(label: Label, width: float, height: float, font_size: float, min_size: float = 12.0) -> None:
    """Place ``label`` in a ``width`` x ``height`` box, shrinking its font until the wrapped text fits.

    Survey texts come from HQ in any length and language; clipping one would look broken.
    """
    width, height = max(1.0, width), max(1.0, height)
    label.size = (width, height)
    label.text_size = (width, None)
    size = max(font_size, min_size)
    while True:
        label.font_size = size
        label.texture_update()
        tw, th = label.texture_size
        if (th <= height and tw <= width) or size <= min_size:
            break
        size = max(min_size, size * 0.92)
    label.text_size = (width, height)
