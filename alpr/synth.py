"""Synthetic glyphs, plates and street photos drawn from the bundled fonts.

Why render instead of shipping photos: the classifier needs tens of thousands of labelled character
crops (including "not a character" crops) before it ever sees a real plate, the app needs sample
photos it may redistribute, and the tests need fixtures with known answers. Everything here is
drawn with Pillow from fonts in `alpr/fonts/`, and every random choice comes from the
`np.random.Generator` passed in, so the same seed gives the same pixels on every machine.

Glyphs go through the degradations a real crop goes through (small size, blur, low contrast, noise,
a loose segmenter box) and then through `alpr.segment.normalize_crop`, the classifier's own framing.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from skimage.filters import gaussian

from alpr.errors import InputError
from alpr.segment import normalize_crop
from alpr.types import CLASSES, REJECT, Box

FONTS: tuple[Path, ...] = tuple(sorted((Path(__file__).parent / "fonts").glob("*.ttf")))
# Plate lettering is a heavy sans; the serif and regular faces only train the classifier's tolerance.
_PLATE_FONTS = tuple(f for f in FONTS if "Bold" in f.name and "Serif" not in f.name)

# Width / height of the plate: US 12x6 in, EU 520x110 mm, Mercosul 400x130 mm.
PLATE_ASPECT = {"us": 2.0, "eu": 4.7, "br": 3.08}
# Car width / plate width, so a plate of a given size sits on a car of a believable size.
CAR_PER_PLATE = {"us": 5.9, "eu": 3.5, "br": 4.5}
# Character height / plate height (EU 75 of 110 mm; Mercosul leaves room for its blue band).
_CAP_FRAC = {"us": (0.55, 0.70), "eu": (0.62, 0.70), "br": (0.55, 0.60)}
_STYLES = tuple(PLATE_ASPECT)

_STATES = (
    "CALIFORNIA",
    "TEXAS",
    "FLORIDA",
    "NEW YORK",
    "OHIO",
    "ARIZONA",
    "NEVADA",
    "OREGON",
    "ILLINOIS",
    "GEORGIA",
    "MICHIGAN",
    "VIRGINIA",
    "COLORADO",
    "UTAH",
)
_SLOGANS = (
    "SUNSHINE STATE",
    "LAND OF LINCOLN",
    "EMPIRE STATE",
    "THE LONE STAR STATE",
    "GRAND CANYON STATE",
    "PURE MICHIGAN",
    "DMV.CA.GOV",
    "PEACH STATE",
    "COLORFUL",
)
_EU_CODES = ("D", "F", "NL", "I", "B", "E", "PL", "A", "CZ")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_GLYPH_CAP = 64  # cap height of glyphs before degradation: sharp enough to shrink from


# ---------------------------------------------------------------------------- fonts and warping


@lru_cache(maxsize=256)
def _font(path: Path, cap_px: int) -> ImageFont.FreeTypeFont:
    """A font sized so its capitals are cap_px tall (font size alone differs between families)."""
    probe = ImageFont.truetype(str(path), 200)
    top, bottom = probe.getbbox("H", anchor="ls")[1::2]
    return ImageFont.truetype(str(path), max(1, round(cap_px * 200 / (bottom - top))))


@lru_cache(maxsize=4096)
def _glyph_mask(text: str, path: Path, cap_px: int, stroke: int = 0) -> tuple[Image.Image, int]:
    """Tight "L" ink mask of text and the offset of its top from the baseline (negative = above)."""
    font = _font(path, cap_px)
    pad = cap_px * 2 + stroke
    canvas = Image.new("L", (pad * 2 + round(font.getlength(text)), pad * 2))
    ImageDraw.Draw(canvas).text(
        (pad, pad + cap_px), text, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255
    )
    box = canvas.getbbox() or (pad, pad, pad + 1, pad + cap_px)
    return canvas.crop(box), box[1] - (pad + cap_px)


def perspective_coeffs(dst, src) -> list[float]:
    """Pillow maps each output pixel back into the input, so solve the homography dst -> src."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def _centred(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float]:
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def quad(cx, cy, w, h, angle, yaw=0.0) -> list[tuple[float, float]]:
    """Corners (clockwise from top-left) of a w x h rectangle rotated by angle; yaw makes one side
    taller than the other, the way a plate looks when the camera is off to one side."""
    c, s = math.cos(angle), math.sin(angle)
    pts = [
        (-w / 2, -h / 2 * (1 + yaw)),
        (w / 2, -h / 2 * (1 - yaw)),
        (w / 2, h / 2 * (1 - yaw)),
        (-w / 2, h / 2 * (1 + yaw)),
    ]
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


# ---------------------------------------------------------------------------------------- glyphs


def _char_canvas(char: str, rng: np.random.Generator, augment: bool):
    """A wide canvas with the character, sometimes flanked by neighbours, and a canvas holding only
    the character (its bounding box is what the segmenter would have cut)."""
    path = FONTS[rng.integers(len(FONTS))]
    stroke = int(rng.integers(0, 5)) if augment else 0  # 0-4 px on a 64 px glyph: book to black
    mask, dy = _glyph_mask(char, path, _GLYPH_CAP, stroke)
    size = (_GLYPH_CAP * 5, _GLYPH_CAP * 2)
    ink, focus = Image.new("L", size), Image.new("L", size)
    x, y = (size[0] - mask.width) // 2, size[1] // 2 + _GLYPH_CAP // 2 + dy
    ink.paste(mask, (x, y))
    focus.paste(mask, (x, y))
    # Tightly spaced plates put the next character inside a loose box: show the classifier edges of them.
    if augment and rng.random() < 0.25:
        gap = _GLYPH_CAP * rng.uniform(0.03, 0.15)
        for side in (-1, 1):
            other, ody = _glyph_mask(str(rng.choice(CLASSES)), path, _GLYPH_CAP, stroke)
            ox = x - gap - other.width if side < 0 else x + mask.width + gap
            ink.paste(other, (round(ox), size[1] // 2 + _GLYPH_CAP // 2 + ody), other)
    return ink, focus


def _reject_canvas(rng: np.random.Generator):
    """Things on a plate that a connected-component segmenter mistakes for characters."""
    size = (_GLYPH_CAP * 5, _GLYPH_CAP * 2)
    ink, focus = Image.new("L", size), Image.new("L", size)
    draw, cx, cy, u = ImageDraw.Draw(ink), size[0] / 2, size[1] / 2, _GLYPH_CAP
    kind = rng.integers(10)
    if kind == 0:  # bolt hole or screw head: a disc, or a ring with a slot across it
        r = u * rng.uniform(0.15, 0.3)
        draw.ellipse(_centred(cx, cy, 2 * r, 2 * r), fill=255)
        if rng.random() < 0.5:
            draw.ellipse(_centred(cx, cy, 1.2 * r, 1.2 * r), fill=60)
            draw.line((cx - r * 0.5, cy, cx + r * 0.5, cy), fill=255, width=max(2, round(r * 0.25)))
    elif kind == 1:  # dash between character groups
        draw.rectangle(_centred(cx, cy, u * rng.uniform(0.3, 0.7), u * rng.uniform(0.08, 0.2)), fill=255)
    elif kind == 2:  # a corner of the plate's frame (a bare straight edge would be an honest "I")
        fw, fh = u * rng.uniform(0.4, 1.0), u * rng.uniform(0.8, 1.5)
        sx, sy = rng.choice([-1, 1]), rng.choice([-1, 1])  # which way the frame runs on from the corner
        x, y = cx - sx * fw * 0.3, cy - sy * fh * 0.3
        corner = sorted((x, x + sx * 4 * u)), sorted((y, y + sy * 4 * u))
        draw.rounded_rectangle(
            (corner[0][0], corner[1][0], corner[0][1], corner[1][1]),
            radius=u * 0.3,
            outline=255,
            width=max(3, round(u * rng.uniform(0.06, 0.15))),
        )
        ImageDraw.Draw(focus).rectangle(_centred(cx, cy, fw, fh), fill=255)
        return ink, focus
    elif kind == 3:  # top or bottom third of a real character (a character cut by a bad split)
        mask, _ = _glyph_mask(str(rng.choice(CLASSES)), FONTS[rng.integers(len(FONTS))], u, 2)
        keep = round(mask.height * rng.uniform(0.25, 0.4))
        part = mask.crop(
            (0, 0, mask.width, keep) if rng.random() < 0.5 else (0, mask.height - keep, mask.width, mask.height)
        )
        ink.paste(part, (round(cx - part.width / 2), round(cy - keep / 2)))
    elif kind == 4:  # the state name or slogan: a row of tiny letters, merged into one blob or not
        word = "".join(rng.choice(list(_LETTERS), size=rng.integers(3, 8)))
        mask, _ = _glyph_mask(
            word, FONTS[rng.integers(len(FONTS))], round(u * rng.uniform(0.15, 0.3)), int(rng.integers(0, 2))
        )
        ink.paste(mask, (round(cx - mask.width / 2), round(cy - mask.height / 2)))
    elif kind == 5:  # registration sticker: a filled block with printing on it
        w, h = u * rng.uniform(0.5, 1.2), u * rng.uniform(0.4, 0.9)
        draw.rectangle(_centred(cx, cy, w, h), fill=int(rng.integers(150, 256)))
        for _ in range(rng.integers(2, 6)):
            y = cy + rng.uniform(-h / 2, h / 2)
            draw.line(
                (cx - w * 0.4, y, cx + w * rng.uniform(-0.3, 0.4), y),
                fill=int(rng.integers(0, 100)),
                width=int(rng.integers(2, 5)),
            )
    elif kind == 6:  # blank, textured plate background (ink stays empty; only the box is chosen)
        w, h = u * rng.uniform(0.4, 1.0), u * rng.uniform(0.5, 1.0)
        for _ in range(rng.integers(0, 6)):
            x, y = cx + rng.uniform(-w / 2, w / 2), cy + rng.uniform(-h / 2, h / 2)
            draw.point((x, y), fill=int(rng.integers(60, 200)))
        ImageDraw.Draw(focus).rectangle(_centred(cx, cy, w, h), fill=255)
        return ink, focus
    elif kind == 7:  # a vertical bar far too thick for "1" or "I"
        h = u * rng.uniform(0.6, 1.0)
        draw.rectangle(_centred(cx, cy, h * rng.uniform(0.35, 0.7), h), fill=255)
    elif kind == 8:  # dots: rivets, the EU stars, the dot of a web address
        for _ in range(rng.integers(1, 6)):
            d = u * rng.uniform(0.08, 0.2)
            x, y = cx + rng.uniform(-0.4, 0.4) * u, cy + rng.uniform(-0.4, 0.4) * u
            draw.ellipse(_centred(x, y, d, d), fill=255)
    else:  # a box straddling two characters: right half of one, left half of the next
        path = FONTS[rng.integers(len(FONTS))]
        a, ady = _glyph_mask(str(rng.choice(CLASSES)), path, u, 2)
        b, bdy = _glyph_mask(str(rng.choice(CLASSES)), path, u, 2)
        gap = u * rng.uniform(0.05, 0.25)
        ink.paste(a, (round(cx - gap / 2 - a.width), round(cy + u / 2 + ady)))
        ink.paste(b, (round(cx + gap / 2), round(cy + u / 2 + bdy)))
        fw = gap + (a.width + b.width) * rng.uniform(0.3, 0.5)
        ImageDraw.Draw(focus).rectangle(_centred(cx, cy, fw, u), fill=255)
        return ink, focus
    focus.paste(ink)
    return ink, focus


def _warp_glyph(images, rng: np.random.Generator):
    """Condensed, sheared, slightly rotated and foreshortened: the same warp for every canvas."""
    w, h = images[0].size
    sx, shear = rng.uniform(0.6, 1.0), rng.uniform(-0.15, 0.15)
    angle = math.radians(rng.uniform(-8, 8))
    c, s = math.cos(angle), math.sin(angle)
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = []
    for x, y in src:
        x, y = (x - w / 2) * sx + shear * (y - h / 2), y - h / 2
        dst.append((w / 2 + x * c - y * s + rng.normal(0, 2), h / 2 + x * s + y * c + rng.normal(0, 2)))
    coeffs = perspective_coeffs(dst, src)
    return [im.transform(im.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR) for im in images]


def _photograph(ink: Image.Image, box, rng: np.random.Generator, augment: bool) -> tuple[np.ndarray, Box]:
    """Degrade the ink canvas like a small plate in a photo: grey image (dark ink on light) around
    the box a segmenter would have cut, and that box in the image's pixels."""
    x0, y0, x1, y1 = box
    if not augment:
        return 1.0 - np.asarray(ink, np.float32) / 255.0, Box(x0, y0, x1 - x0, y1 - y0)
    h = y1 - y0
    # A component of a blurred, thresholded glyph is up to ~10% looser or tighter than its ink.
    x0, y0, x1, y1 = np.array([x0, y0, x1, y1], float) + h * rng.uniform(-0.1, 0.1, 4) * [-1, -1, 1, 1]
    # Keep surroundings: normalize_crop reads a margin around the box, where neighbours may show.
    m = 0.5 * h
    window = (round(x0 - m), round(y0 - m), round(x1 + m), round(y1 + m))
    # Far plates give 10-px characters: shrink first, so the later upscale shows the lost detail.
    # The scale follows the plate's character height, so bolts and small print shrink with it.
    scale = rng.uniform(10, 30) / _GLYPH_CAP
    crop = ink.crop(window)
    crop = crop.resize(
        (max(4, round(crop.width * scale)), max(4, round(crop.height * scale))), Image.Resampling.LANCZOS
    )
    a = np.asarray(crop, np.float32) / 255.0
    yy, xx = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    bg = (
        rng.uniform(0.6, 1.0)
        + rng.uniform(-0.15, 0.15) * (xx / a.shape[1] - 0.5)
        + rng.uniform(-0.15, 0.15) * (yy / a.shape[0] - 0.5)
    )
    img = np.clip(bg, 0, 1) * (1.0 - rng.uniform(0.3, 1.0) * a)
    # Mostly in focus, now and then very soft: squaring the draw skews the blur towards sharp.
    img = gaussian(img, sigma=1.2 * rng.random() ** 2, preserve_range=True)
    img = img + rng.normal(0, rng.uniform(0, 0.06), img.shape)
    if rng.random() < 0.3:
        img = _jpeg(np.clip(img * 255, 0, 255).astype(np.uint8), int(rng.integers(20, 75))) / 255.0
    bx, by = round((x0 - window[0]) * scale), round((y0 - window[1]) * scale)
    bw, bh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    box = Box(bx, by, max(1, min(bw, a.shape[1] - bx)), max(1, min(bh, a.shape[0] - by)))
    return np.clip(img, 0, 1).astype(np.float32), box


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


def render_glyph(char: str, rng: np.random.Generator, size: int = 32, augment: bool = True) -> np.ndarray:
    """One classifier input: float32 (size, size) in [0, 1], dark glyph on light background.

    `char` is one of alpr.types.ALL_CLASSES; REJECT renders something that is not a character.
    """
    if char == REJECT:
        ink, focus = _reject_canvas(rng)
    elif char in CLASSES:
        ink, focus = _char_canvas(char, rng, augment)
    else:
        raise InputError(f"no class {char!r}")
    if augment:
        ink, focus = _warp_glyph([ink, focus], rng)
        if rng.random() < 0.2:  # thin strokes: worn paint, or a bold threshold eating the edges
            ink = ink.filter(ImageFilter.MinFilter(3))
    grey, box = _photograph(ink, focus.getbbox() or (0, 0, ink.width, ink.height), rng, augment)
    # The classifier's own framing, so pretraining sees exactly what inference will.
    return normalize_crop(grey, box, size)


# ---------------------------------------------------------------------------------------- plates


def _text(img: Image.Image, text: str, path: Path, cap: float, centre, colour, max_w=None) -> None:
    """Small print (state names, slogans) centred on a point, squeezed to fit max_w."""
    mask, _ = _glyph_mask(text, path, max(2, round(cap)))
    if max_w and mask.width > max_w:
        mask = mask.resize((max(1, round(max_w)), mask.height), Image.Resampling.LANCZOS)
    img.paste(colour, (round(centre[0] - mask.width / 2), round(centre[1] - mask.height / 2)), mask)


def _decorate(img: Image.Image, rng: np.random.Generator, style: str):
    """Background print of each style; returns the area left for the registration and its colour."""
    W, H = img.size
    draw = ImageDraw.Draw(img)
    font = FONTS[rng.integers(len(FONTS))]
    frame = round(H * 0.025)
    if style == "us":
        top = np.array([(215, 230, 250), (250, 240, 210), (245, 245, 245)][rng.integers(3)], float)
        t = np.linspace(0, 1, H)[:, None, None] ** 0.7
        img.paste(Image.fromarray((top * (1 - t) + 250 * t).repeat(W, axis=1).astype(np.uint8)))
        ink = [(25, 40, 110), (20, 20, 25), (140, 25, 35), (20, 75, 45)][rng.integers(4)]
        if rng.random() < 0.7:
            draw.rounded_rectangle((frame, frame, W - frame, H - frame), radius=H * 0.07, outline=ink, width=frame)
        for x in (0.2 * W, 0.8 * W):  # the two mounting holes, shadowed
            draw.ellipse(_centred(x, 0.13 * H, 0.08 * H, 0.08 * H), fill=(70, 70, 75))
        state_ink = [(180, 30, 40), (30, 50, 140), (20, 20, 25)][rng.integers(3)]
        _text(
            img,
            str(rng.choice(_STATES)),
            font,
            H * rng.uniform(0.09, 0.13),
            (W / 2, 0.13 * H),
            state_ink,
            max_w=0.5 * W,
        )
        bottom = 0.9  # clear of the frame, or blur would weld the characters to it
        if rng.random() < 0.6:
            _text(
                img,
                str(rng.choice(_SLOGANS)),
                font,
                H * rng.uniform(0.07, 0.09),
                (W / 2, 0.9 * H),
                state_ink,
                max_w=0.6 * W,
            )
            bottom = 0.84
        return (0.05 * W, 0.23 * H, 0.95 * W, bottom * H), ink
    ink = tuple(int(v) for v in rng.integers(10, 40, 3))
    paper = tuple(int(v) for v in rng.integers(232, 256) - rng.integers(0, 8, 3))
    draw.rectangle((0, 0, W, H), fill=paper)
    blue = (0, int(rng.integers(45, 70)), int(rng.integers(145, 175)))
    if style == "eu":
        band = 0.09 * W
        draw.rectangle((frame, frame, frame + band, H - frame), fill=blue)
        bx = frame + band / 2
        for k in range(12):  # the ring of stars
            a = 2 * math.pi * k / 12
            x, y = bx + 0.13 * H * math.cos(a), 0.33 * H + 0.13 * H * math.sin(a)
            draw.ellipse(_centred(x, y, 0.04 * H, 0.04 * H), fill=(255, 204, 0))
        _text(
            img, str(rng.choice(_EU_CODES)), _PLATE_FONTS[0], 0.2 * H, (bx, 0.72 * H), (255, 255, 255), max_w=band * 0.8
        )
        draw.rounded_rectangle((frame, frame, W - frame, H - frame), radius=H * 0.08, outline=ink, width=frame)
        return (frame + band + 0.05 * H, 0.1 * H, W - 0.06 * H, 0.9 * H), ink
    band = 0.22 * H  # Mercosul: blue band on top with the country name and flag
    draw.rectangle((frame, frame, W - frame, band), fill=blue)
    _text(img, "BRASIL", _PLATE_FONTS[0], 0.09 * H, (W / 2, (frame + band) / 2), (255, 255, 255))
    fx = W - frame - 0.2 * H
    draw.rectangle((fx, frame + 0.04 * H, fx + 0.14 * H, band - 0.04 * H), fill=(0, 150, 60))
    draw.rounded_rectangle((frame, frame, W - frame, H - frame), radius=H * 0.06, outline=ink, width=frame)
    return (0.06 * W, band + 0.05 * H, 0.94 * W, 0.93 * H), ink


def render_plate(
    text: str, rng: np.random.Generator, style: str = "us", height: int = 60
) -> tuple[np.ndarray, list[Box]]:
    """RGB uint8 plate of the given height, and the box of each non-space character, left to right.

    A space renders a wider gap; other characters (a dash) render as themselves and get a box.
    """
    if style not in PLATE_ASPECT:
        raise InputError(f"unknown plate style {style!r}; expected one of {_STYLES}")
    ss = 3  # draw at 3x and shrink: small print and glyph edges come out antialiased
    W, H = round(height * PLATE_ASPECT[style]) * ss, height * ss
    img = Image.new("RGB", (W, H), (255, 255, 255))
    (x0, y0, x1, y1), colour = _decorate(img, rng, style)
    cap = min(H * rng.uniform(*_CAP_FRAC[style]), 0.95 * (y1 - y0))
    path = _PLATE_FONTS[rng.integers(len(_PLATE_FONTS))]
    stroke = int(rng.integers(0, max(1, round(cap * 0.03))))
    glyphs = [None if ch == " " else _glyph_mask(ch, path, round(cap), stroke) for ch in text]
    # Real plates leave clear air between characters; a segmenter needs it after blur, too.
    gap, space = cap * rng.uniform(0.1, 0.2), cap * rng.uniform(0.35, 0.6)
    natural = sum(space if g is None else g[0].width for g in glyphs) + gap * max(0, len(glyphs) - 1)
    # Plate fonts are condensed: squeeze whatever does not fit, and a little even when it does.
    squeeze = min(rng.uniform(0.85, 1.0), (x1 - x0) / max(natural, 1))
    x = x0 + ((x1 - x0) - natural * squeeze) / 2
    baseline = (y0 + y1) / 2 + cap / 2
    boxes = []
    for g in glyphs:
        if g is None:
            x += (space + gap) * squeeze
            continue
        # Plate lettering sits between baseline and cap line: pull descenders ("J", "Q") back inside.
        h, top = (g[0].height, baseline + g[1]) if g[0].height <= cap * 1.04 else (round(cap), baseline - cap)
        mask = g[0].resize((max(1, round(g[0].width * squeeze)), h), Image.Resampling.LANCZOS)
        px, py = round(x), round(top)
        img.paste(colour, (px, py, px + mask.width, py + mask.height), mask)
        boxes.append((px, py, px + mask.width, py + mask.height))
        x += mask.width + gap * squeeze
    img = img.resize((W // ss, H // ss), Image.Resampling.LANCZOS)
    return np.asarray(img), [
        Box(bx0 // ss, by0 // ss, -(-bx1 // ss) - bx0 // ss, -(-by1 // ss) - by0 // ss) for bx0, by0, bx1, by1 in boxes
    ]


def random_plate_text(rng: np.random.Generator, style: str = "us") -> str:
    """A plausible registration: L = letter, D = digit, by the patterns each style uses."""
    patterns = {
        "us": ("LLLDDDD", "DLLLDDD", "LLLDDD", "DDDLLL", "LLDDDD", "LLLDD", "DLLDD", "DDLLDDD"),
        "eu": ("LLDDDLL",),
        "br": ("LLLDLDD", "LLLDDDD"),
    }
    if style not in patterns:
        raise InputError(f"unknown plate style {style!r}; expected one of {_STYLES}")
    pattern = patterns[style][rng.integers(len(patterns[style]))]
    return "".join(str(rng.choice(list(_LETTERS if p == "L" else _DIGITS))) for p in pattern)


# ---------------------------------------------------------------------------------------- scenes


def _rgb(rng: np.random.Generator, lo: int, hi: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))


def street(rng: np.random.Generator, W: int, H: int) -> Image.Image:
    """Sky, buildings with windows, poles, trees and a road: clutter for the detector to ignore."""
    horizon = H * rng.uniform(0.3, 0.5)
    t = np.linspace(0, 1, H)[:, None, None]
    sky = (np.array(_rgb(rng, 110, 190)) + [0, 20, 60]) * (1 - t) + np.array(_rgb(rng, 200, 240)) * t
    img = Image.fromarray(np.clip(sky, 0, 255).repeat(W, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(3, 9)):
        bx, bw, top = W * rng.uniform(-0.1, 1), W * rng.uniform(0.1, 0.35), horizon * rng.uniform(0.05, 0.8)
        wall = _rgb(rng, 90, 200)
        draw.rectangle((bx, top, bx + bw, horizon + 5), fill=wall)
        if rng.random() < 0.7:  # a grid of windows: rows of dark blobs, a classic false text line
            step, win = rng.uniform(12, 30), tuple(max(0, c - int(rng.integers(40, 90))) for c in wall)
            for wy in np.arange(top + step / 2, horizon - step, step):
                for wx in np.arange(bx + step / 3, bx + bw - step / 2, step * 0.9):
                    draw.rectangle((wx, wy, wx + step * 0.45, wy + step * 0.55), fill=win)
    draw.rectangle((0, horizon, W, H), fill=_rgb(rng, 80, 125))
    for k in range(rng.integers(1, 4)):  # lane markings converging to the horizon
        x = W * rng.uniform(0, 1)
        far = W / 2 + (x - W / 2) * 0.1
        draw.polygon(
            [(far, horizon), (far + 2, horizon), (x + 10, H), (x - 10, H)],
            fill=(225, 225, 215) if k else (220, 190, 60),
        )
    for _ in range(rng.integers(0, 4)):
        px, r = W * rng.uniform(0, 1), W * rng.uniform(0.03, 0.08)
        draw.rectangle(
            (px, H * rng.uniform(0, 0.2), px + rng.integers(3, 8), horizon + 20), fill=_rgb(rng, 30, 80)
        )  # lamp post
        draw.ellipse((px - r, horizon - r * 2.5, px + r, horizon), fill=(40, int(rng.integers(80, 130)), 40))
    return img


def car(img: Image.Image, rng: np.random.Generator, cx: float, cy: float, car_w: float, recess) -> None:
    """Rear of a car around a plate centred at (cx, cy). The plate sits in a dark recess so it stands
    out even on a white car, as plates do on real bumpers."""
    car_h = car_w * rng.uniform(0.7, 0.85)
    x0, y0 = cx - car_w / 2, cy - car_h * rng.uniform(0.62, 0.72)

    def at(*f):  # fractions of the car's box to pixels, so the drawing below reads like a sketch
        return [(x0 + car_w * fx, y0 + car_h * fy) for fx, fy in zip(f[::2], f[1::2])]

    body = [
        (235, 235, 235),
        (185, 188, 192),
        (30, 30, 34),
        (165, 30, 30),
        (35, 60, 140),
        (110, 112, 115),
        (40, 80, 55),
        (200, 185, 150),
    ][rng.integers(8)]
    body = tuple(int(np.clip(c + rng.integers(-15, 16), 0, 255)) for c in body)
    shade = tuple(int(c * 0.75) for c in body)
    draw = ImageDraw.Draw(img)
    draw.ellipse(at(-0.05, 0.94, 1.05, 1.06), fill=(25, 25, 28))  # shadow on the road
    for fx in (0.05, 0.78):  # tyres
        draw.rounded_rectangle(at(fx, 0.85, fx + 0.17, 1.02), radius=car_w * 0.02, fill=(18, 18, 20))
    draw.polygon(at(0.2, 0, 0.8, 0, 0.96, 0.4, 0.04, 0.4), fill=body)  # roof and pillars
    draw.polygon(at(0.24, 0.04, 0.76, 0.04, 0.9, 0.38, 0.1, 0.38), fill=_rgb(rng, 25, 70))  # rear window
    draw.rounded_rectangle(at(0, 0.37, 1, 0.92), radius=car_w * 0.05, fill=body)
    draw.line(at(0.05, 0.48, 0.95, 0.48), fill=shade, width=2)  # edge of the boot lid
    ly = rng.uniform(0.42, 0.48)
    for fx in (0.03, 0.8):  # tail lights
        draw.rounded_rectangle(
            at(fx, ly, fx + 0.17, ly + 0.09),
            radius=car_w * 0.015,
            fill=(int(rng.integers(170, 230)), int(rng.integers(15, 50)), 30),
        )
    bumper = min(0.9, (max(y for _, y in recess) - y0) / car_h + 0.03)
    draw.rounded_rectangle(
        at(-0.01, bumper, 1.01, 0.94), radius=car_w * 0.03, fill=_rgb(rng, 30, 60) if rng.random() < 0.5 else shade
    )
    draw.polygon(recess, fill=_rgb(rng, 20, 55))


def render_scene(
    text: str, rng: np.random.Generator, style: str = "us", size: tuple[int, int] = (960, 640)
) -> tuple[np.ndarray, Box]:
    """RGB uint8 photo (height, width, 3) of a car's rear carrying the plate, and the plate's box."""
    if style not in PLATE_ASPECT:
        raise InputError(f"unknown plate style {style!r}; expected one of {_STYLES}")
    W, H = size
    pw = W * rng.uniform(0.12, 0.20)
    ph = pw / PLATE_ASPECT[style]
    cx, cy = W * rng.uniform(0.4, 0.6), H * rng.uniform(0.55, 0.72)
    angle, yaw = math.radians(rng.uniform(-4, 4)), rng.uniform(-0.06, 0.06)
    pad = ph * rng.uniform(0.2, 0.35)
    img = street(rng, W, H)
    car_w = min(W * 0.97, pw * CAR_PER_PLATE[style] * rng.uniform(0.9, 1.1))
    recess = quad(cx, cy, pw + 2 * pad, ph + 2 * pad, angle, yaw)
    car(img, rng, cx + car_w * rng.uniform(-0.02, 0.02), cy, car_w, recess)
    plate, _ = render_plate(text, rng, style, height=max(12, round(ph)))
    src = [(0, 0), (plate.shape[1], 0), (plate.shape[1], plate.shape[0]), (0, plate.shape[0])]
    coeffs = perspective_coeffs(quad(cx, cy, pw, ph, angle, yaw), src)
    layer = (
        Image.fromarray(plate)
        .convert("RGBA")
        .transform(img.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    )
    img.paste(layer, (0, 0), layer)
    ys, xs = np.nonzero(np.asarray(layer)[..., 3] > 127)
    box = Box(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    # The camera: uneven light, a little defocus, sensor noise, sometimes JPEG.
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    yy, xx = np.mgrid[0:H, 0:W]
    light = 1 + rng.uniform(-0.2, 0.2) * (xx / W - 0.5) + rng.uniform(-0.2, 0.2) * (yy / H - 0.5)
    arr = np.asarray(img, np.float32) * light[..., None] + rng.normal(0, rng.uniform(1.5, 5), (H, W, 3))
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        arr = _jpeg(arr, int(rng.integers(60, 93)))
    return arr, box


def sample_scenes(n: int = 4, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """(plate text, RGB photo) pairs cycling through the styles, for the app's sample picker."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        style = _STYLES[i % len(_STYLES)]
        text = random_plate_text(rng, style)
        out.append((text, render_scene(text, rng, style)[0]))
    return out
