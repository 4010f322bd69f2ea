"""Reading a screenshot of the X screen: where the kiosk drew what, found by the colours of kiosk/ui/theme.py.

The boot-path test clicks where things are *shown*, not where the widget tree
says they are: a window at the wrong place or size moves the picture, and then
these readers find nothing or the clicks miss. Each reader returns None when
the screenshot is not (yet) that screen, so a test can poll until it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from PIL import Image, ImageChops

from kiosk.ui import theme
from kiosk.ui.pinpad import KEYS

STEP = 4  # blobs are found on a grid of STEP x STEP blocks: fast in pure Python, precise enough to click
MIN_AREA = 900  # px: smaller same-coloured specks (text strokes, anti-aliasing) are not things to click
RGB = tuple[int, int, int]


def rgb8(colour: theme.RGBA) -> RGB:
    return (round(colour[0] * 255), round(colour[1] * 255), round(colour[2] * 255))


WHITE = rgb8(theme.SURFACE)  # buttons, reason chips and PIN keys are filled with it
FACES = [rgb8(c) for c in theme.FACE_COLOURS[4]]  # most negative first, as values are stored


@dataclass(frozen=True)
class Blob:
    """A connected patch of one colour: its bounding box in screen pixels and how many pixels it has."""

    left: int
    top: int
    right: int
    bottom: int
    area: int

    @property
    def center(self) -> tuple[int, int]:
        return ((self.left + self.right) // 2, (self.top + self.bottom) // 2)

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def roundish(self) -> bool:
        """Square-ish and well filled, as a disc is; text and bars are not."""
        return abs(self.width - self.height) <= 2 * STEP and self.area >= 0.6 * self.width * self.height


def _mask(image: Image.Image, colour: RGB, tolerance: int) -> Image.Image:
    out: Image.Image | None = None
    for band, value in zip(image.convert("RGB").split(), colour, strict=True):
        match = band.point(lambda v, c=value: 255 if abs(v - c) <= tolerance else 0)
        out = match if out is None else ImageChops.multiply(out, match)
    assert out is not None
    return out


def blobs(image: Image.Image, colour: RGB, tolerance: int = 3, min_area: int = MIN_AREA) -> list[Blob]:
    """Every patch of ``colour`` of at least ``min_area`` pixels, top to bottom, then left to right."""
    small = _mask(image, colour, tolerance).reduce(STEP)
    width = small.width
    on = {i for i, v in enumerate(small.tobytes()) if v >= 192}  # blocks at least 3/4 that colour
    found = []
    while on:
        stack = [on.pop()]
        cells = list(stack)
        while stack:
            i = stack.pop()
            x = i % width
            for j in (i - 1 if x > 0 else -1, i + 1 if x < width - 1 else -1, i - width, i + width):
                if j in on:
                    on.remove(j)
                    stack.append(j)
                    cells.append(j)
        xs = [c % width for c in cells]
        ys = [c // width for c in cells]
        blob = Blob(min(xs) * STEP, min(ys) * STEP, (max(xs) + 1) * STEP, (max(ys) + 1) * STEP, len(cells) * STEP**2)
        if blob.area >= min_area:
            found.append(blob)
    return sorted(found, key=lambda b: (b.top, b.left))


def rows(found: list[Blob]) -> list[list[Blob]]:
    """``found`` grouped into rows (centres within half a blob's height), each left to right."""
    out: list[list[Blob]] = []
    for blob in sorted(found, key=lambda b: b.center[1]):
        if out and abs(out[-1][0].center[1] - blob.center[1]) < blob.height / 2:
            out[-1].append(blob)
        else:
            out.append([blob])
    return [sorted(row, key=lambda b: b.left) for row in out]


def _faces_shown(image: Image.Image) -> list[Blob]:
    return [b for colour in FACES for b in blobs(image, colour) if b.roundish]


# --- one reader per screen ---------------------------------------------------


def question(image: Image.Image) -> list[Blob] | None:
    """The four faces, most negative first: one disc of each face colour, in a row, red to green."""
    faces = [[b for b in blobs(image, colour) if b.roundish] for colour in FACES]
    if any(len(f) != 1 for f in faces):
        return None
    row = [f[0] for f in faces]
    same_row = max(b.center[1] for b in row) - min(b.center[1] for b in row) <= 2 * STEP
    in_order = all(a.right < b.left for a, b in pairwise(row))
    return row if same_row and in_order else None


def follow_up(image: Image.Image, reasons: int) -> list[Blob] | None:
    """The reason chips in reading order (white, no faces on screen), when all ``reasons`` are shown."""
    if _faces_shown(image):
        return None
    chips = [b for row in rows(blobs(image, WHITE)) for b in row]
    return chips if len(chips) == reasons else None


def thank_you(image: Image.Image) -> Blob | None:
    """The green tick disc, alone: no other face colour on screen."""
    if any(blobs(image, colour) for colour in FACES[:-1]):
        return None
    ticks = [b for b in blobs(image, FACES[-1]) if b.roundish]
    return ticks[0] if len(ticks) == 1 else None


def error(image: Image.Image) -> Blob | None:
    """The amber warning triangle, with no faces on screen."""
    signs = blobs(image, rgb8(theme.WARNING))
    return signs[0] if len(signs) == 1 and not _faces_shown(image) else None


def pin_pad(image: Image.Image) -> dict[str, Blob] | None:
    """The PIN keys by name: a 3-3-3-3 grid on the right half, white but for the blue OK at the bottom right."""
    half = image.width / 2
    keys = [b for b in blobs(image, WHITE) if b.left > half]
    ok = [b for b in blobs(image, rgb8(theme.ACCENT)) if b.left > half]
    grid = rows(keys + ok)
    if len(ok) != 1 or [len(r) for r in grid] != [3, 3, 3, 3] or grid[-1][-1] != ok[0]:
        return None
    return dict(zip(KEYS, [b for row in grid for b in row], strict=True))


def pin_dots(image: Image.Image) -> int:
    """How many digits the pad says were typed: filled dark discs on its left half."""
    half = image.width / 2
    return sum(1 for b in blobs(image, rgb8(theme.INK), min_area=200) if b.roundish and b.right < half)


def manager(image: Image.Image) -> Blob | None:
    """The red "Exit kiosk" button that only the manager view has."""
    exits = blobs(image, rgb8(theme.DANGER))
    return exits[0] if len(exits) == 1 else None


def manager_buttons(image: Image.Image) -> tuple[Blob, Blob] | None:
    """The manager view's "Log an action" (the one accent-coloured button) and Back (white, left of Exit)."""
    exit_button = manager(image)
    accents = blobs(image, rgb8(theme.ACCENT))
    if exit_button is None or len(accents) != 1:
        return None
    same_row = [
        b
        for b in blobs(image, WHITE)
        if abs(b.center[1] - exit_button.center[1]) <= STEP and b.right <= exit_button.left
    ]
    return (accents[0], max(same_row, key=lambda b: b.left)) if same_row else None


def chips(image: Image.Image, count: int) -> list[Blob] | None:
    """Exactly ``count`` white buttons in reading order, with no faces, no Exit and no accent colour on screen."""
    if _faces_shown(image) or blobs(image, rgb8(theme.DANGER)) or blobs(image, rgb8(theme.ACCENT)):
        return None
    found = [b for row in rows(blobs(image, WHITE)) for b in row]
    return found if len(found) == count else None


def idle(image: Image.Image) -> Blob | None:
    """The idle screen's accent band across the top of the screen, and no faces."""
    bands = [b for b in blobs(image, rgb8(theme.ACCENT)) if b.top <= STEP and b.width >= 0.95 * image.width]
    return bands[0] if len(bands) == 1 and not _faces_shown(image) else None
