"""Draw Enphase Local's brand images into custom_components/enphase_local/brand/.

    python scripts/make_brand.py           # write the PNGs
    python scripts/make_brand.py --check   # exit 1 if the committed PNGs differ

Home Assistant (2026.3 and later) serves a custom integration's icons and logos
from its ``brand`` folder. The artwork is our own and deliberately generic: a sun
above a tilted solar panel, and for the logo the word LOCAL drawn from strokes
(no font, so nothing depends on the fonts a machine has). The ``dark_`` variants
draw the panel frame and the letters light, for dark themes.

Everything is drawn from fixed geometry at four times the size and scaled down,
so every run produces the same pixels.
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import math
from pathlib import Path
import sys

from PIL import Image, ImageChops, ImageDraw

BRAND_DIR = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "enphase_local"
    / "brand"
)
SUPERSAMPLE = 4
ICON_SIZE = (256, 256)
LOGO_SIZE = (768, 256)
"""The logo is three icon squares wide: the glyph, then the word."""

type RGBA = tuple[int, int, int, int]
type Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours of one variant."""

    sun: RGBA
    cells: RGBA
    lines: RGBA
    letters: RGBA


LIGHT = Palette(
    sun=(247, 178, 27, 255),
    cells=(44, 112, 190, 255),
    lines=(22, 48, 78, 255),
    letters=(22, 48, 78, 255),
)
DARK = Palette(
    sun=(250, 190, 50, 255),
    cells=(66, 138, 220, 255),
    lines=(226, 234, 244, 255),
    letters=(236, 241, 247, 255),
)


class Canvas:
    """Draw in units of the image height; (0, 0) is the top left corner."""

    def __init__(self, size: tuple[int, int]) -> None:
        """Start a transparent image ``SUPERSAMPLE`` times ``size``."""
        self.size = size
        self.unit = size[1] * SUPERSAMPLE
        self.image = Image.new(
            "RGBA", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), (0, 0, 0, 0)
        )
        self.draw = ImageDraw.Draw(self.image)

    def px(self, point: Point) -> tuple[float, float]:
        """Return a point in pixels."""
        return (point[0] * self.unit, point[1] * self.unit)

    def width(self, units: float) -> int:
        """Return a stroke width in whole pixels."""
        return max(1, round(units * self.unit))

    def disc(self, centre: Point, radius: float, colour: RGBA) -> None:
        """Fill a circle."""
        x, y = self.px(centre)
        r = radius * self.unit
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def stroke(self, points: list[Point], weight: float, colour: RGBA) -> None:
        """Draw a polyline with round caps and joints."""
        self.draw.line(
            [self.px(point) for point in points],
            fill=colour,
            width=self.width(weight),
            joint="curve",
        )
        for point in points:
            self.disc(point, weight / 2, colour)

    def polygon(self, points: list[Point], colour: RGBA) -> None:
        """Fill a polygon."""
        self.draw.polygon([self.px(point) for point in points], fill=colour)

    def arc(
        self,
        box: tuple[float, float, float, float],
        start: float,
        end: float,
        weight: float,
        colour: RGBA,
    ) -> None:
        """Draw an elliptical arc (degrees clockwise from three o'clock), round caps."""
        left, top, right, bottom = box
        self.draw.arc(
            (left * self.unit, top * self.unit, right * self.unit, bottom * self.unit),
            start,
            end,
            fill=colour,
            width=self.width(weight),
        )
        # The stroke lies inside the box: its centre line is half a stroke in.
        centre = ((left + right) / 2, (top + bottom) / 2)
        radii = ((right - left - weight) / 2, (bottom - top - weight) / 2)
        for angle in (start, end):
            radians = math.radians(angle)
            self.disc(
                (
                    centre[0] + radii[0] * math.cos(radians),
                    centre[1] + radii[1] * math.sin(radians),
                ),
                weight / 2,
                colour,
            )

    def finish(self) -> Image.Image:
        """Return the image at its real size (scaled with premultiplied alpha)."""
        small = self.image.convert("RGBa").resize(self.size, Image.Resampling.LANCZOS)
        return small.convert("RGBA")


def lerp(a: Point, b: Point, t: float) -> Point:
    """Return the point a fraction ``t`` of the way from ``a`` to ``b``."""
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def draw_glyph(canvas: Canvas, palette: Palette, left: float) -> None:
    """Draw the sun and the panel in the unit square starting at ``left``."""
    sun = (left + 0.64, 0.27)
    for ray in range(8):
        angle = math.radians(ray * 45 + 22.5)
        inner, outer = 0.19, 0.245
        canvas.stroke(
            [
                (sun[0] + inner * math.cos(angle), sun[1] + inner * math.sin(angle)),
                (sun[0] + outer * math.cos(angle), sun[1] + outer * math.sin(angle)),
            ],
            0.045,
            palette.sun,
        )
    canvas.disc(sun, 0.145, palette.sun)

    # A panel seen from the front and below: narrower at the top.
    top_left, top_right = (left + 0.17, 0.50), (left + 0.83, 0.50)
    bottom_left, bottom_right = (left + 0.04, 0.95), (left + 0.96, 0.95)
    canvas.polygon([top_left, top_right, bottom_right, bottom_left], palette.cells)
    weight = 0.034
    columns, rows = 4, 2
    for column in range(1, columns):
        t = column / columns
        canvas.stroke(
            [lerp(top_left, top_right, t), lerp(bottom_left, bottom_right, t)],
            weight * 0.7,
            palette.lines,
        )
    for row in range(1, rows):
        t = row / rows
        canvas.stroke(
            [lerp(top_left, bottom_left, t), lerp(top_right, bottom_right, t)],
            weight * 0.7,
            palette.lines,
        )
    canvas.stroke(
        [top_left, top_right, bottom_right, bottom_left, top_left],
        weight,
        palette.lines,
    )


@dataclass(frozen=True, slots=True)
class Pen:
    """What the letters are drawn with."""

    canvas: Canvas
    weight: float
    colour: RGBA

    def stroke(self, points: list[Point]) -> None:
        """Draw a polyline."""
        self.canvas.stroke(points, self.weight, self.colour)

    def arc(
        self, box: tuple[float, float, float, float], start: float, end: float
    ) -> None:
        """Draw an elliptical arc."""
        self.canvas.arc(box, start, end, self.weight, self.colour)


@dataclass(frozen=True, slots=True)
class Letter:
    """A stroked capital: its width, and how to draw it at (left, top, height)."""

    width: float
    draw: Callable[[Pen, float, float, float], None]


def _letter_l(pen: Pen, x: float, top: float, height: float) -> None:
    half = pen.weight / 2
    pen.stroke(
        [
            (x + half, top + half),
            (x + half, top + height - half),
            (x + 0.5 * height - half, top + height - half),
        ]
    )


def _letter_o(pen: Pen, x: float, top: float, height: float) -> None:
    pen.arc((x, top, x + 0.86 * height, top + height), 0, 360)


def _letter_c(pen: Pen, x: float, top: float, height: float) -> None:
    pen.arc((x, top, x + 0.84 * height, top + height), 42, 318)


def _letter_a(pen: Pen, x: float, top: float, height: float) -> None:
    half = pen.weight / 2
    width = 0.84 * height
    apex = (x + width / 2, top + half)
    left_foot = (x + half, top + height - half)
    right_foot = (x + width - half, top + height - half)
    pen.stroke([left_foot, apex, right_foot])
    bar = 0.64
    pen.stroke([lerp(apex, left_foot, bar), lerp(apex, right_foot, bar)])


WORD = (
    Letter(0.50, _letter_l),
    Letter(0.86, _letter_o),
    Letter(0.84, _letter_c),
    Letter(0.84, _letter_a),
    Letter(0.50, _letter_l),
)
"""LOCAL; widths in units of the letter height."""


def draw_word(canvas: Canvas, palette: Palette, left: float, right: float) -> None:
    """Draw LOCAL between ``left`` and ``right``, centred on the image's height."""
    gap = 0.16
    span = sum(letter.width for letter in WORD) + gap * (len(WORD) - 1)
    height = min((right - left) / span, 0.5)
    pen = Pen(canvas, 0.2 * height, palette.letters)
    x = right - span * height
    top = 0.5 - height / 2
    for letter in WORD:
        letter.draw(pen, x, top, height)
        x += (letter.width + gap) * height


def draw_icon(size: tuple[int, int], palette: Palette) -> Image.Image:
    """Return the square icon."""
    canvas = Canvas(size)
    draw_glyph(canvas, palette, 0.0)
    return canvas.finish()


def draw_logo(size: tuple[int, int], palette: Palette) -> Image.Image:
    """Return the landscape logo: the glyph, then the word."""
    canvas = Canvas(size)
    draw_glyph(canvas, palette, 0.0)
    draw_word(canvas, palette, 1.12, size[0] / size[1] - 0.03)
    return canvas.finish()


def brand_images() -> dict[str, Image.Image]:
    """Return every brand image by file name."""
    images: dict[str, Image.Image] = {}
    for prefix, palette in (("", LIGHT), ("dark_", DARK)):
        for scale, suffix in ((1, ""), (2, "@2x")):
            icon = (ICON_SIZE[0] * scale, ICON_SIZE[1] * scale)
            logo = (LOGO_SIZE[0] * scale, LOGO_SIZE[1] * scale)
            images[f"{prefix}icon{suffix}.png"] = draw_icon(icon, palette)
            images[f"{prefix}logo{suffix}.png"] = draw_logo(logo, palette)
    return images


def differs(expected: Image.Image, path: Path) -> bool:
    """Return True unless ``path`` holds exactly the pixels of ``expected``."""
    if not path.is_file():
        return True
    with Image.open(path) as stored:
        if stored.size != expected.size or stored.mode != expected.mode:
            return True
        return ImageChops.difference(stored, expected).getbbox() is not None


def main(argv: list[str] | None = None) -> int:
    """Write the brand images, or with --check compare them with the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a committed image differs from the drawing",
    )
    parser.add_argument(
        "--out", type=Path, default=BRAND_DIR, help="folder to write or check"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    stale = []
    images = brand_images()
    for name, image in images.items():
        path = out / name
        if args.check:
            if differs(image, path):
                stale.append(name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG", optimize=True)
        print(f"wrote {path} ({image.width}x{image.height})")
    if stale:
        print(
            f"out of date in {out}: {', '.join(stale)} (run python scripts/make_brand.py)",
            file=sys.stderr,
        )
        return 1
    if args.check:
        print(f"{len(images)} brand images in {out} are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
