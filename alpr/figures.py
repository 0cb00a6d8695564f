"""Plotly figures of a `Recognition`: what the page draws, built without Streamlit.

Each builder takes the result object first and returns a `go.Figure`, so the same pictures can be
checked in tests, saved from a notebook, or drawn by any page. Nothing here decides anything: every
box, colour and hover line comes straight from the result the pipeline returned.

Images go into the figures as data-URI `go.Image(source=...)` traces (JPEG for photos, PNG for the
small crops) rather than as `z` arrays: a 1280 px photo as JSON numbers is ~10 MB, as JPEG ~150 kB.
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from alpr.types import REJECT, Box, PlateRead, Recognition

# Photos wider than this are downscaled for the figure only; boxes stay in photo pixels.
MAX_FIGURE_WIDTH = 1280

# Trace groups of the photo figure, in drawing order (later ones are drawn on top).
COMPONENTS_REJECTED = "components-rejected"
COMPONENTS_KEPT = "components-kept"
CANDIDATES_REJECTED = "candidates-rejected"
CANDIDATES_KEPT = "candidates-kept"
PLATES = "plates"

# Colours chosen to stay visible on both sky and asphalt, and to keep apart in a colour-blind view:
# kept things are blue/green, rejected ones orange/red, the answer a plate-like yellow.
_STYLE = {
    COMPONENTS_REJECTED: dict(color="rgba(239, 83, 80, 0.75)", width=1),
    COMPONENTS_KEPT: dict(color="#00e676", width=1.5),
    CANDIDATES_REJECTED: dict(color="rgba(255, 167, 38, 0.95)", width=1.5, dash="dot"),
    CANDIDATES_KEPT: dict(color="#2979ff", width=2, dash="dash"),
    PLATES: dict(color="#ffd600", width=4),
}
_LABELS = {
    COMPONENTS_REJECTED: "Components rejected",
    COMPONENTS_KEPT: "Components kept",
    CANDIDATES_REJECTED: "Plate candidates rejected",
    CANDIDATES_KEPT: "Plate candidates kept",
    PLATES: "Plates read",
}
CHAR_COLOUR = "#2979ff"
REJECT_COLOUR = "#9e9e9e"
BEST_BAR = "#2979ff"
OTHER_BAR = "#b0bec5"


# --------------------------------------------------------------------------------------- helpers


def _data_uri(pixels: np.ndarray, fmt: str = "PNG") -> str:
    image = Image.fromarray(np.ascontiguousarray(pixels))
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=85)
    else:
        image.save(buffer, format="PNG")
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def display_photo(image: np.ndarray, max_width: int = MAX_FIGURE_WIDTH) -> np.ndarray:
    """The photo as drawn in the figure: unchanged, or resized to `max_width` pixels wide."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image
    size = (max_width, max(1, round(height * max_width / width)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def image_trace(pixels: np.ndarray, width: float, height: float, fmt: str, name: str, **kwargs) -> go.Image:
    """An image stretched over [0, width] x [0, height] in data coordinates, whatever its pixel size,
    so boxes in the original's pixels land on it exactly (a pixel's edges, not its centre, at integers)."""
    dx, dy = width / pixels.shape[1], height / pixels.shape[0]
    return go.Image(
        source=_data_uri(pixels, fmt), x0=dx / 2, y0=dy / 2, dx=dx, dy=dy, name=name, hoverinfo="skip", **kwargs
    )


def rect_path(boxes: list[Box]) -> tuple[list, list]:
    """One polyline through every box, boxes separated by None: one trace instead of n shapes."""
    xs: list = []
    ys: list = []
    for b in boxes:
        xs += [b.x, b.x2, b.x2, b.x, b.x, None]
        ys += [b.y, b.y, b.y2, b.y2, b.y, None]
    return xs, ys


def _boxes_traces(
    group: str, boxes: list[Box], hover: list[str], anchors: list[tuple[float, float]], texts: list[str] | None = None
) -> list[go.Scatter]:
    """Outline trace plus an invisible marker trace carrying the per-box hover text.

    Both traces share a legend group, so clicking the legend entry hides the boxes and their hover.
    """
    style = _STYLE[group]
    name = f"{_LABELS[group]} ({len(boxes)})"
    xs, ys = rect_path(boxes)
    outline = go.Scatter(
        x=xs, y=ys, mode="lines", line=style, name=name, legendgroup=group, showlegend=bool(boxes), hoverinfo="skip"
    )
    hx = [a[0] for a in anchors]
    hy = [a[1] for a in anchors]
    marker_hover = go.Scatter(
        x=hx,
        y=hy,
        mode="markers+text" if texts else "markers",
        text=texts,
        textfont=dict(size=9, color=style["color"]),
        textposition="middle center",
        marker=dict(size=12, color="rgba(0,0,0,0)"),
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        name=name,
        legendgroup=group,
        showlegend=False,
    )
    return [outline, marker_hover]


def _box_text(box: Box) -> str:
    return f"{box.w}×{box.h} px at ({box.x}, {box.y})"


def number_badge(fig: go.Figure, box: Box, number: int, colour: str) -> None:
    """A character's reading-order number on a coloured tag above its box."""
    fig.add_annotation(
        x=box.x + box.w / 2,
        y=box.y,
        yshift=2,
        yanchor="bottom",
        text=str(number),
        showarrow=False,
        font=dict(size=11, color="white"),
        bgcolor=colour,
        borderpad=1,
    )


def char_label(char: str) -> str:
    return "∅" if char == REJECT else char


def pct(p: float) -> str:
    return f"{p:.0%}" if p >= 0.01 else f"{p:.1%}"


def empty_figure(message: str, height: int = 160) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14, color="#6b7280")
    )
    fig.update_layout(
        height=height,
        xaxis_visible=False,
        yaxis_visible=False,
        margin=dict(l=0, r=0, t=0, b=0),
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def image_axes(fig: go.Figure, width: float, height: float, row=None, col=None) -> None:
    """Pixel axes: y down like an image, one data unit as wide as tall, no ticks."""
    y_id = "y" if row is None else fig.get_subplot(row, col).xaxis.anchor
    fig.update_xaxes(
        range=[0, width],
        visible=False,
        showgrid=False,
        zeroline=False,
        constrain="domain",
        scaleanchor=y_id,
        scaleratio=1,
        row=row,
        col=col,
    )
    # Spare height goes below the image, not above it: the picture stays under its legend and title.
    fig.update_yaxes(
        range=[height, 0],
        visible=False,
        showgrid=False,
        zeroline=False,
        constrain="domain",
        constraintoward="top",
        row=row,
        col=col,
    )


# ---------------------------------------------------------------------------------- photo figure


def photo_figure(
    rec: Recognition,
    show_components: bool = True,
    show_candidates: bool = True,
    component_numbers: bool = False,
    max_width: int = MAX_FIGURE_WIDTH,
    shown_width: int = 920,
) -> go.Figure:
    """The photo with what detection looked at and decided, drawn over it.

    Traces, bottom to top: the photo; rejected then kept connected components (outline + hover
    trace each, when `show_components`); rejected then kept plate candidates (same, when
    `show_candidates`); the outlines of the plates read. Each plate read also gets an annotation
    with its text whose hover lists its candidates. `component_numbers` writes each component's
    label on it, the number the hover text and the CLI's debug output use.
    """
    width, height = rec.width, rec.height
    shown = display_photo(rec.image, max_width)
    fig = go.Figure(image_trace(shown, width, height, "JPEG", "photo"))

    if show_components:
        for group, kept in ((COMPONENTS_REJECTED, False), (COMPONENTS_KEPT, True)):
            comps = [c for c in rec.components if c.kept == kept]
            hover = [
                f"<b>component {c.label}</b> · {'kept' if kept else 'rejected'}<br>{escape(c.reason)}"
                f"<br>{_box_text(c.box)}, {c.area} px of ink"
                for c in comps
            ]
            anchors = [(c.box.x + c.box.w / 2, c.box.y + c.box.h / 2) for c in comps]
            numbers = [str(c.label) for c in comps] if component_numbers else None
            fig.add_traces(_boxes_traces(group, [c.box for c in comps], hover, anchors, numbers))

    if show_candidates:
        for group, kept in ((CANDIDATES_REJECTED, False), (CANDIDATES_KEPT, True)):
            cands = [c for c in rec.plate_candidates if c.kept == kept]
            hover = [
                f"<b>plate candidate</b> · {'kept' if kept else 'rejected'}: {escape(c.reason)}"
                f"<br>found as {c.source} on {c.binarization}<br>{c.char_count} character-like components,"
                f" looks like a plate: {c.likelihood:.0%}<br>{_box_text(c.box)}"
                for c in cands
            ]
            # Hover sits on the top-left corner: a candidate's centre is usually a character's centre.
            anchors = [(c.box.x, c.box.y) for c in cands]
            fig.add_traces(_boxes_traces(group, [c.box for c in cands], hover, anchors))

    xs, ys = rect_path([p.box for p in rec.plates])
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line=_STYLE[PLATES],
            name=f"{_LABELS[PLATES]} ({len(rec.plates)})",
            legendgroup=PLATES,
            showlegend=bool(rec.plates),
            hoverinfo="skip",
        )
    )
    for index, plate in enumerate(rec.plates):
        others = "<br>".join(
            f"{escape(c.plate)} · {c.confidence:.1f}{' · template' if c.matches_template else ''}"
            for c in plate.candidates[:5]
        )
        # The text sits above the plate, or below it when there is no room above (it would cover the legend).
        above = plate.box.y > 0.06 * height
        fig.add_annotation(
            x=plate.box.x + plate.box.w / 2,
            y=plate.box.y if above else plate.box.y2,
            yshift=4 if above else -4,
            yanchor="bottom" if above else "top",
            showarrow=False,
            text=f"<b>{escape(plate.plate) or '?'}</b>",
            font=dict(size=16, color="#111111"),
            bgcolor=_STYLE[PLATES]["color"],
            bordercolor="#111111",
            borderwidth=1,
            borderpad=3,
            hovertext=f"plate {index + 1}: {escape(plate.plate)}<br>confidence {plate.confidence:.1f}<br>{others}",
            name=f"plate-{index + 1}",
        )

    image_axes(fig, width, height)
    fig.update_layout(
        # Tall enough that a landscape photo fills a wide column, bounded for portraits and panoramas.
        # Sized for the ~860-970 px a laptop gives the page: a landscape photo fills the width,
        # portraits stay on screen. Extra width or height stays blank rather than cropping the photo.
        # `shown_width`: the column's width in px, so the figure is as tall as the photo drawn in it.
        height=int(np.clip(shown_width * height / width, 240, 760)) + 40,
        margin=dict(l=0, r=0, t=36, b=0),
        # Fixed entry widths: plotly measures legend text before the page's web font has loaded,
        # and entries sized from that measurement overlap once the font arrives.
        legend=dict(
            orientation="h",
            yanchor="bottom",
            y=1.0,
            x=0,
            font=dict(size=12),
            entrywidth=215,
            entrywidthmode="pixels",
            itemclick="toggle",
        ),
        hovermode="closest",
        hoverdistance=12,
        dragmode="zoom",
        plot_bgcolor="rgba(0,0,0,0)",
        uirevision=f"photo-{width}x{height}",  # keep the user's zoom when toggles redraw the figure
    )
    return fig


# ---------------------------------------------------------------------------------- plate figure


def plate_figure(plate: PlateRead, final: list[str | None] | None = None, shown_width: int = 560) -> go.Figure:
    """The plate crop with each segmented character boxed and numbered, its reading under it.

    `final`: the headline plate's character per crop; where it differs from the classifier's own
    class, both are written ("I" and "read 1"), so a template correction is visible on the crop.

    Traces: the crop; outlines of characters read; outlines of crops the classifier called "not a
    character"; one invisible hover trace (predicted character, confidence, the runner-up classes).
    """
    h, w = plate.crop.shape[:2]
    fig = go.Figure(image_trace(plate.crop, w, h, "PNG", "plate crop"))
    pairs = list(zip(plate.chars, plate.predictions))
    read = [c.box for c, p in pairs if p.char != REJECT]
    noise = [c.box for c, p in pairs if p.char == REJECT]
    for boxes, colour, dash, name in (
        (read, CHAR_COLOUR, "solid", "characters"),
        (noise, REJECT_COLOUR, "dot", "not a character"),
    ):
        xs, ys = rect_path(boxes)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line=dict(color=colour, width=2, dash=dash),
                name=f"{name} ({len(boxes)})",
                showlegend=False,
                hoverinfo="skip",
            )
        )
    hover = []
    for i, (c, p) in enumerate(pairs, start=1):
        runners = ", ".join(f"{char_label(k)} {pct(q)}" for k, q in p.topk[1:4])
        what = "not a character" if p.char == REJECT else f"<b>{escape(p.char)}</b>"
        hover.append(
            f"character {i}: {what} · {pct(p.confidence)}"
            + (f"<br>then {runners}" if runners else "")
            + (f"<br>{escape(p.note)}" if p.note else "")
            + f"<br>line {c.line}, {_box_text(c.box)}"
        )
    fig.add_trace(
        go.Scatter(
            x=[c.box.x + c.box.w / 2 for c, _ in pairs],
            y=[c.box.y + c.box.h / 2 for c, _ in pairs],
            mode="markers",
            marker=dict(size=max(10, min(40, h // 3)), color="rgba(0,0,0,0)", symbol="square"),
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            name="character hover",
            showlegend=False,
        )
    )
    # Numbers above the boxes and the reading under the crop, so the figure reads without hovering.
    for i, (c, p) in enumerate(pairs, start=1):
        colour = REJECT_COLOUR if p.char == REJECT else CHAR_COLOUR
        number_badge(fig, c.box, i, colour)
        shown = final[i - 1] if final is not None and final[i - 1] is not None else p.char
        own = "" if shown == p.char else f"<br><span style='font-size:10px'>read {escape(char_label(p.char))}</span>"
        fig.add_annotation(
            x=c.box.x + c.box.w / 2,
            y=h,
            yshift=-4,
            yanchor="top",
            showarrow=False,
            text=f"<b>{escape(char_label(shown))}</b><br><span style='font-size:10px'>{pct(p.confidence)}</span>" + own,
            font=dict(size=15, color=colour),
        )
    image_axes(fig, w, h)
    # As tall as the crop drawn in a column `shown_width` px wide, so no blank band is left under it.
    fig.update_layout(
        height=int(np.clip(shown_width * h / max(w, 1), 60, 240)) + 76,
        margin=dict(l=8, r=8, t=24, b=52),
        plot_bgcolor="rgba(0,0,0,0)",
        hovermode="closest",
        dragmode=False,
        showlegend=False,
    )
    return fig


# ---------------------------------------------------------------------------------- top-k figure


TOPK_CARD_WIDTH = 100  # px of one character's card (only=...): 3 fit a 390 px phone, 8 a 1440 px desktop


def topk_figure(plate: PlateRead, k: int = 5, only: int | None = None) -> go.Figure:
    """One column per character: the 32 px crop the classifier saw, and its top-k classes as bars.

    Traces: for each character, its crop (`go.Image`) and its bars (`go.Bar`), 2 per character.
    "∅" is the "not a character" class. With `only`, the card of that character alone (0-based),
    TOPK_CARD_WIDTH wide, so a page can lay the cards out in rows that wrap on a narrow screen
    (8 columns in one phone-wide figure overlap their labels).
    """
    pairs = list(zip(plate.chars, plate.predictions))
    if not pairs:
        return empty_figure("No characters were segmented on this plate.")
    first = 1
    if only is not None:
        first = only + 1
        pairs = pairs[only : only + 1]
    n = len(pairs)
    slots = max(1, min(k, max(len(p.topk) for _, p in pairs)))
    # Bar rows sized to the longest top-k shown: a confident model lists one class per character,
    # and k empty slots under each bar would read as a broken chart.
    crop_px, bars_px, gap_px = (110 if only is None else 84), 26 * slots + 8, 24
    height = crop_px + bars_px + gap_px + 32
    fig = make_subplots(
        rows=2,
        cols=n,
        row_heights=[crop_px / (crop_px + bars_px), bars_px / (crop_px + bars_px)],
        vertical_spacing=gap_px / (height - 32),
        horizontal_spacing=min(0.04, 0.3 / n),
        # A crop the pipeline overruled (a frame mark at the row's end) says so; the plate figure's hover says why.
        subplot_titles=[
            f"{i}: <b>{escape(char_label(p.char))}</b>" + (" · end mark" if p.note else "")
            for i, (_, p) in enumerate(pairs, start=first)
        ],
    )
    for col, (crop, pred) in enumerate(pairs, start=1):
        glyph = (np.clip(crop.image, 0, 1) * 255).astype(np.uint8)
        side_h, side_w = glyph.shape
        fig.add_trace(image_trace(glyph, side_w, side_h, "PNG", f"crop {col}"), row=1, col=col)
        image_axes(fig, side_w, side_h, row=1, col=col)
        top = pred.topk[:k]
        labels = [char_label(c) for c, _ in top]
        probs = [p for _, p in top]
        fig.add_trace(
            go.Bar(
                x=probs,
                y=labels,
                orientation="h",
                name=f"top-{k} {col}",
                marker_color=[BEST_BAR] + [OTHER_BAR] * (len(top) - 1),
                text=[pct(p) for p in probs],
                # A long bar carries its number inside: outside, "100%" ran past a narrow card's edge.
                textposition=["inside" if p >= 0.6 else "outside" for p in probs],
                insidetextanchor="end",
                cliponaxis=False,
                textfont=dict(size=10),
                hovertemplate="%{y}: %{x:.1%}<extra>character " + str(col) + "</extra>",
                showlegend=False,
            ),
            row=2,
            col=col,
        )
        fig.update_xaxes(range=[0, 1.35], visible=False, fixedrange=True, row=2, col=col)
        # Best on top, and always k bar slots: a sure character has a single class above the
        # top-k threshold, and one bar stretched over the whole cell would look like a different chart.
        fig.update_yaxes(
            type="category",
            categoryorder="array",
            categoryarray=labels,
            range=[slots - 0.5, -0.5],
            fixedrange=True,
            tickfont=dict(size=12),
            ticks="",
            showgrid=False,
            row=2,
            col=col,
        )
    fig.update_annotations(font=dict(size=13))
    fig.update_layout(
        height=height,
        width=TOPK_CARD_WIDTH if only is not None else None,
        margin=dict(l=8, r=8, t=28, b=4),
        bargap=0.25,
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
    )
    return fig


# -------------------------------------------------------------------------------- timings figure

STAGES = ("detect", "segment", "classify", "assemble")


def whole_read_figure(plate: PlateRead) -> go.Figure:
    """The whole-plate reader's read: one bar per character it read, as tall as its confidence,
    the character written on the bar; the character pipeline's string in the title to compare."""
    whole = plate.whole
    if whole is None:
        return empty_figure("No whole-plate reader is installed.", height=120)
    if not whole.text:
        return empty_figure("The whole-plate reader read nothing here.", height=120)
    positions = [f"{i + 1}" for i in range(len(whole.text))]
    fig = go.Figure(
        go.Bar(
            x=positions,
            y=list(whole.confidences),
            text=list(whole.text),
            textposition="inside",
            insidetextanchor="end",
            textfont=dict(size=18, color="white"),
            marker_color=["#2563eb" if c >= 0.9 else "#f59e0b" if c >= 0.5 else "#dc2626" for c in whole.confidences],
            hovertemplate="position %{x}: %{text} at %{y:.0%}<extra></extra>",
            name="whole-plate reader",
        )
    )
    fig.update_layout(
        title=dict(text=f"Whole-plate reader: {whole.text} · characters: {plate.plate or '?'}", font=dict(size=13)),
        height=190,
        margin=dict(l=40, r=10, t=34, b=24),
        yaxis=dict(range=[0, 1], tickformat=".0%", title=None),
        xaxis=dict(title=None, type="category"),
        bargap=0.25,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def timings_figure(rec: Recognition) -> go.Figure:
    """Milliseconds per stage as horizontal bars, in pipeline order; the total is in the title."""
    stages = [s for s in STAGES if s in rec.timings_ms] + sorted(
        s for s in rec.timings_ms if s not in STAGES and s != "total"
    )
    ms = [float(rec.timings_ms[s]) for s in stages]
    fig = go.Figure(
        go.Bar(
            x=ms,
            y=stages,
            orientation="h",
            name="ms per stage",
            marker_color=BEST_BAR,
            text=[f"{v:.0f} ms" if v >= 1 else f"{v:.1f} ms" for v in ms],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f} ms<extra></extra>",
        )
    )
    total = rec.timings_ms.get("total", sum(ms))
    fig.update_yaxes(autorange="reversed", fixedrange=True, ticks="", showgrid=False)
    fig.update_xaxes(range=[0, max(ms + [1.0]) * 1.3], visible=False, fixedrange=True)
    fig.update_layout(
        title=dict(text=f"Time per stage · {total:.0f} ms in all", font=dict(size=14), x=0, xanchor="left"),
        height=60 + 32 * len(stages),
        margin=dict(l=8, r=8, t=36, b=4),
        showlegend=False,
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig
