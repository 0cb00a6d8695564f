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
_CHAR_COLOUR = "#2979ff"
_REJECT_COLOUR = "#9e9e9e"
_BEST_BAR = "#2979ff"
_OTHER_BAR = "#b0bec5"


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


def _image_trace(pixels: np.ndarray, width: float, height: float, fmt: str, name: str, **kwargs) -> go.Image:
    """An image stretched over [0, width] x [0, height] in data coordinates, whatever its pixel size,
    so boxes in the original's pixels land on it exactly (a pixel's edges, not its centre, at integers)."""
    dx, dy = width / pixels.shape[1], height / pixels.shape[0]
    return go.Image(
        source=_data_uri(pixels, fmt), x0=dx / 2, y0=dy / 2, dx=dx, dy=dy, name=name, hoverinfo="skip", **kwargs
    )


def _rect_path(boxes: list[Box]) -> tuple[list, list]:
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
    xs, ys = _rect_path(boxes)
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


def char_label(char: str) -> str:
    return "∅" if char == REJECT else char


def _pct(p: float) -> str:
    return f"{p:.0%}" if p >= 0.01 else f"{p:.1%}"


def _empty(message: str, height: int = 160) -> go.Figure:
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


def _image_axes(fig: go.Figure, width: float, height: float, row=None, col=None) -> None:
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
    fig = go.Figure(_image_trace(shown, width, height, "JPEG", "photo"))

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
                f" score {c.score:.2f}<br>{_box_text(c.box)}"
                for c in cands
            ]
            # Hover sits on the top-left corner: a candidate's centre is usually a character's centre.
            anchors = [(c.box.x, c.box.y) for c in cands]
            fig.add_traces(_boxes_traces(group, [c.box for c in cands], hover, anchors))

    xs, ys = _rect_path([p.box for p in rec.plates])
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

    _image_axes(fig, width, height)
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
    fig = go.Figure(_image_trace(plate.crop, w, h, "PNG", "plate crop"))
    pairs = list(zip(plate.chars, plate.predictions))
    read = [c.box for c, p in pairs if p.char != REJECT]
    noise = [c.box for c, p in pairs if p.char == REJECT]
    for boxes, colour, dash, name in (
        (read, _CHAR_COLOUR, "solid", "characters"),
        (noise, _REJECT_COLOUR, "dot", "not a character"),
    ):
        xs, ys = _rect_path(boxes)
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
        runners = ", ".join(f"{char_label(k)} {_pct(q)}" for k, q in p.topk[1:4])
        what = "not a character" if p.char == REJECT else f"<b>{escape(p.char)}</b>"
        hover.append(
            f"character {i}: {what} · {_pct(p.confidence)}"
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
        colour = _REJECT_COLOUR if p.char == REJECT else _CHAR_COLOUR
        fig.add_annotation(
            x=c.box.x + c.box.w / 2,
            y=c.box.y,
            yshift=2,
            yanchor="bottom",
            text=str(i),
            showarrow=False,
            font=dict(size=11, color="white"),
            bgcolor=colour,
            borderpad=1,
        )
        shown = final[i - 1] if final is not None and final[i - 1] is not None else p.char
        own = "" if shown == p.char else f"<br><span style='font-size:10px'>read {escape(char_label(p.char))}</span>"
        fig.add_annotation(
            x=c.box.x + c.box.w / 2,
            y=h,
            yshift=-4,
            yanchor="top",
            showarrow=False,
            text=f"<b>{escape(char_label(shown))}</b><br><span style='font-size:10px'>{_pct(p.confidence)}</span>"
            + own,
            font=dict(size=15, color=colour),
        )
    _image_axes(fig, w, h)
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


def topk_figure(plate: PlateRead, k: int = 5) -> go.Figure:
    """One column per character: the 32 px crop the classifier saw, and its top-k classes as bars.

    Traces: for each character, its crop (`go.Image`) and its bars (`go.Bar`), 2 per character.
    "∅" is the "not a character" class.
    """
    pairs = list(zip(plate.chars, plate.predictions))
    if not pairs:
        return _empty("No characters were segmented on this plate.")
    n = len(pairs)
    # Bar rows sized to the longest top-k shown: a confident model lists one class per character,
    # and k empty slots under each bar would read as a broken chart.
    slots = max(1, min(k, max(len(p.topk) for _, p in pairs)))
    crop_px, bars_px, gap_px = 110, 26 * slots + 8, 24
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
            for i, (_, p) in enumerate(pairs, start=1)
        ],
    )
    for col, (crop, pred) in enumerate(pairs, start=1):
        glyph = (np.clip(crop.image, 0, 1) * 255).astype(np.uint8)
        side_h, side_w = glyph.shape
        fig.add_trace(_image_trace(glyph, side_w, side_h, "PNG", f"crop {col}"), row=1, col=col)
        _image_axes(fig, side_w, side_h, row=1, col=col)
        top = pred.topk[:k]
        labels = [char_label(c) for c, _ in top]
        probs = [p for _, p in top]
        fig.add_trace(
            go.Bar(
                x=probs,
                y=labels,
                orientation="h",
                name=f"top-{k} {col}",
                marker_color=[_BEST_BAR] + [_OTHER_BAR] * (len(top) - 1),
                text=[_pct(p) for p in probs],
                textposition="outside",
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
        margin=dict(l=8, r=8, t=28, b=4),
        bargap=0.25,
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
    )
    return fig


# -------------------------------------------------------------------------------- timings figure

_STAGES = ("detect", "segment", "classify", "assemble")


def timings_figure(rec: Recognition) -> go.Figure:
    """Milliseconds per stage as horizontal bars, in pipeline order; the total is in the title."""
    stages = [s for s in _STAGES if s in rec.timings_ms] + sorted(
        s for s in rec.timings_ms if s not in _STAGES and s != "total"
    )
    ms = [float(rec.timings_ms[s]) for s in stages]
    fig = go.Figure(
        go.Bar(
            x=ms,
            y=stages,
            orientation="h",
            name="ms per stage",
            marker_color=_BEST_BAR,
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


# ------------------------------------------------------------- label store: plates, crops, counts

_LABELED_COLOUR = "#16a34a"  # a person's or an import's label: training data
_CORRECTED_COLOUR = "#ea580c"  # a person's label that differs from the model's guess


def crop_pixels(image: np.ndarray, size: int = 96) -> np.ndarray:
    """A classifier crop (float in [0, 1]) as uint8 pixels blown up with hard edges, for st.image:
    the browser's smooth upscaling of 32 px would blur exactly the detail a person must judge."""
    grey = (np.clip(np.asarray(image, np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.asarray(Image.fromarray(grey, mode="L").resize((size, size), Image.Resampling.NEAREST))


def _char_state(char) -> tuple[str, str]:
    """(shown label, colour) of a stored character: its effective label, coloured by who gave it."""
    label = char.label if char.label is not None else char.pred_char
    if char.source in ("person", "import"):
        corrected = char.pred_char is not None and char.label != char.pred_char
        return label, _CORRECTED_COLOUR if corrected else _LABELED_COLOUR
    return label, _REJECT_COLOUR if label == REJECT else _CHAR_COLOUR


def stored_plate_figure(photo: np.ndarray | None, scale: float, plate_box: Box | None, chars) -> go.Figure:
    """A stored plate: the plate's part of its photo with each character boxed, numbered and its
    current label written under it (blue: the model's guess, green: labeled, orange: corrected).

    `photo` is the stored (downscaled) photo and `scale` its pixels per original pixel, as
    `LabelStore.photo_image` returns them; boxes are in original pixels. Plates without a photo
    (imported crops) or without characters get a one-line placeholder figure.
    """
    boxes = [c.box for c in chars]
    if photo is None:
        return _empty("No photo is stored for this plate: its character crops are below.", height=90)
    if plate_box is None:
        return _empty("No plate was found in this photo.", height=90)
    region = boxes + [plate_box]
    x0, y0 = min(b.x for b in region), min(b.y for b in region)
    x1, y1 = max(b.x2 for b in region), max(b.y2 for b in region)
    m = int(round(0.25 * max(1, plate_box.h)))
    ph, pw = photo.shape[0] / scale, photo.shape[1] / scale
    x0, y0, x1, y1 = max(0, x0 - m), max(0, y0 - m), min(pw, x1 + m), min(ph, y1 + m)
    sx0, sy0 = int(x0 * scale), int(y0 * scale)
    sx1, sy1 = max(sx0 + 1, int(np.ceil(x1 * scale))), max(sy0 + 1, int(np.ceil(y1 * scale)))
    pixels = photo[sy0:sy1, sx0:sx1]
    w, h = x1 - x0, y1 - y0
    # Small plates are blown up for the figure: a 60 px plate would otherwise be a stamp.
    fig = go.Figure(_image_trace(display_photo(pixels, 900), w, h, "PNG", "plate"))
    hover, hx, hy = [], [], []
    for i, c in enumerate(chars, start=1):
        label, colour = _char_state(c)
        b = c.box.shifted(-int(x0), -int(y0))
        xs, ys = _rect_path([b])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                showlegend=False,
                hoverinfo="skip",
                line=dict(color=colour, width=2, dash="dot" if label == REJECT else "solid"),
            )
        )
        fig.add_annotation(
            x=b.x + b.w / 2,
            y=b.y,
            yshift=2,
            yanchor="bottom",
            text=str(i),
            showarrow=False,
            font=dict(size=11, color="white"),
            bgcolor=colour,
            borderpad=1,
        )
        fig.add_annotation(
            x=b.x + b.w / 2,
            y=h,
            yshift=-4,
            yanchor="top",
            showarrow=False,
            text=f"<b>{escape(char_label(label or '?'))}</b>",
            font=dict(size=16, color=colour),
        )
        guess = (
            f"model: {escape(char_label(c.pred_char))} {_pct(c.pred_conf or 0)}" if c.pred_char else "no model guess"
        )
        who = {"person": "labeled by a person", "import": "imported label", "model": "not reviewed yet"}.get(
            c.source or "", "unlabeled"
        )
        hover.append(f"character {i}: <b>{escape(char_label(label or '?'))}</b> · {who}<br>{guess}")
        hx.append(b.x + b.w / 2)
        hy.append(b.y + b.h / 2)
    fig.add_trace(
        go.Scatter(
            x=hx,
            y=hy,
            mode="markers",
            marker=dict(size=14, color="rgba(0,0,0,0)", symbol="square"),
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            showlegend=False,
        )
    )
    _image_axes(fig, w, h)
    fig.update_layout(
        height=int(np.clip(520 * h / max(w, 1), 120, 260)) + 40,
        margin=dict(l=4, r=4, t=22, b=30),
        plot_bgcolor="rgba(0,0,0,0)",
        hovermode="closest",
        dragmode=False,
        showlegend=False,
    )
    return fig


def label_counts_figure(per_class: dict[str, int], pending: dict[str, int] | None = None) -> go.Figure:
    """Training labels per class as stacked bars: already in a training run, and waiting for the
    next one. Every class is listed, so a class with no examples shows as a gap."""
    pending = pending or {}
    classes = list(per_class)
    waiting = [min(pending.get(c, 0), per_class[c]) for c in classes]
    trained = [per_class[c] - w for c, w in zip(classes, waiting)]
    names = [char_label(c) for c in classes]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=trained,
                name="in a training run",
                marker_color=_OTHER_BAR,
                hovertemplate="%{x}: %{y} trained on<extra></extra>",
            ),
            go.Bar(
                x=names,
                y=waiting,
                name="waiting for training",
                marker_color=_BEST_BAR,
                hovertemplate="%{x}: %{y} waiting for training<extra></extra>",
            ),
        ]
    )
    total = sum(per_class.values())
    fig.update_layout(
        barmode="stack",
        height=300,
        margin=dict(l=8, r=8, t=40, b=8),
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
        title=dict(
            text=f"Labeled characters per class · {total} in all, {sum(waiting)} waiting for training",
            font=dict(size=14),
            x=0,
            xanchor="left",
        ),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
    )
    fig.update_xaxes(type="category", fixedrange=True, tickfont=dict(size=12))
    top = max([t + w for t, w in zip(trained, waiting)] + [1])
    fig.update_yaxes(
        fixedrange=True, gridcolor="#eef0f3", rangemode="tozero", tickformat="d", dtick=1 if top <= 6 else None
    )
    return fig


# ------------------------------------------------------------------------------ evaluation figures


def confusion_figure(counts: dict[tuple[str, str], int], hide_correct: bool = False) -> go.Figure:
    """Per-character confusion matrix as a heatmap: truth down, read across, only classes that occur.

    `hide_correct` blanks the diagonal so the errors, not the (much larger) right reads, set the
    colour scale. Counts come from `alpr.evaluate.char_confusion`.
    """
    if not counts:
        return _empty("No plate was read with as many characters as its label, so no character pairs to count.")
    classes = sorted({t for t, _ in counts} | {p for _, p in counts})
    index = {c: i for i, c in enumerate(classes)}
    z = np.zeros((len(classes), len(classes)))
    for (t, p), n in counts.items():
        z[index[t], index[p]] = n
    shown = z.copy()
    wrong = int(z.sum() - np.trace(z))
    if hide_correct and wrong:  # with no error at all the diagonal stays: an empty grid says nothing
        np.fill_diagonal(shown, 0)
    names = [char_label(c) for c in classes]
    text = [[str(int(v)) if v else "" for v in row] for row in shown]
    row_total = z.sum(axis=1, keepdims=True)
    share = np.divide(z, row_total, out=np.zeros_like(z), where=row_total > 0)
    fig = go.Figure(
        go.Heatmap(
            z=np.where(shown > 0, shown, np.nan),
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            customdata=share,
            colorscale="Blues",
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="truth %{y}, read %{x}: %{z:.0f} (%{customdata:.0%} of %{y})<extra></extra>",
        )
    )
    side = max(320, min(760, 22 * len(classes) + 140))
    fig.update_xaxes(
        title="read as",
        type="category",
        side="top",
        fixedrange=True,
        tickfont=dict(size=11),
        categoryorder="array",
        categoryarray=names,
    )
    fig.update_yaxes(
        title="truth",
        type="category",
        autorange="reversed",
        fixedrange=True,
        tickfont=dict(size=11),
        scaleanchor="x",
        scaleratio=1,
        categoryorder="array",
        categoryarray=names,
    )
    total = int(z.sum())
    title = f"{wrong} of {total} characters read as another class" if wrong else f"All {total} characters read right"
    fig.update_layout(
        height=side,
        margin=dict(l=8, r=8, t=84, b=8),
        plot_bgcolor="rgba(0,0,0,0)",
        dragmode=False,
        title=dict(text=title, font=dict(size=14), x=0, xanchor="left"),
    )
    return fig


def class_accuracy_figure(accuracy: dict[str, tuple[int, int]]) -> go.Figure:
    """Share of each truth class read right, one bar per class, with how many were seen."""
    if not accuracy:
        return _empty("No character pairs to score yet.")
    classes = list(accuracy)
    share = [r / n if n else 0.0 for r, n in accuracy.values()]
    fig = go.Figure(
        go.Bar(
            x=[char_label(c) for c in classes],
            y=share,
            marker_color=[_BEST_BAR if s >= 0.9 else ("#f59e0b" if s >= 0.6 else "#ef4444") for s in share],
            customdata=[[r, n] for r, n in accuracy.values()],
            text=[f"{s:.0%}" for s in share],
            textposition="outside",
            cliponaxis=False,
            textfont=dict(size=10),
            hovertemplate="%{x}: %{customdata[0]} of %{customdata[1]} read right<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", fixedrange=True)
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", fixedrange=True, gridcolor="#eef0f3")
    fig.update_layout(
        height=300, margin=dict(l=8, r=8, t=16, b=8), plot_bgcolor="rgba(0,0,0,0)", dragmode=False, showlegend=False
    )
    return fig


_COMPARE_COLOURS = (_BEST_BAR, "#f59e0b")


def stage_times_figure(runs: dict[str, dict[str, float]]) -> go.Figure:
    """Median milliseconds per pipeline stage, one bar group per stage and one colour per model."""
    if not runs:
        return _empty("No timings.")
    fig = go.Figure()
    for i, (name, stages) in enumerate(runs.items()):
        keys = [s for s in _STAGES if s in stages]
        fig.add_trace(
            go.Bar(
                x=[float(stages[s]) for s in keys],
                y=keys,
                orientation="h",
                name=name,
                marker_color=_COMPARE_COLOURS[i % len(_COMPARE_COLOURS)],
                text=[f"{stages[s]:.1f} ms" for s in keys],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y}: %{x:.1f} ms (median)<extra>" + escape(name) + "</extra>",
            )
        )
    top = max((float(v) for s in runs.values() for v in s.values()), default=1.0)
    fig.update_yaxes(autorange="reversed", fixedrange=True, ticks="", showgrid=False)
    fig.update_xaxes(range=[0, max(top, 1.0) * 1.3], visible=False, fixedrange=True)
    fig.update_layout(
        title=dict(text="Median time per stage, per photo", font=dict(size=14), x=0, xanchor="left"),
        barmode="group",
        height=90 + 34 * len(_STAGES) * len(runs),
        margin=dict(l=8, r=8, t=40, b=4),
        showlegend=len(runs) > 1,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def error_thumbnail(image: np.ndarray, box: Box | None, width: int = 360, aspect: float = 2.0) -> np.ndarray:
    """What a gallery card shows, always `width` x `width / aspect` so cards line up: for a photo,
    the region around the labeled plate (three plates wide, the plate outlined in green); for a plate
    crop, the crop fitted inside on a light background."""
    from PIL import ImageDraw

    rgb = np.asarray(image)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    rgb = np.ascontiguousarray(rgb[..., :3])
    height = max(1, round(width / aspect))
    H, W = rgb.shape[:2]
    if box is not None and box.w > 0 and box.h > 0:
        rw = min(W, max(3 * box.w, int(aspect * 3 * box.h)))
        rh = min(H, max(1, round(rw / aspect)))
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        x0 = int(np.clip(cx - rw / 2, 0, max(0, W - rw)))
        y0 = int(np.clip(cy - rh / 2, 0, max(0, H - rh)))
        region = Image.fromarray(rgb[y0 : y0 + rh, x0 : x0 + rw])
        f = min(width / region.width, height / region.height)
        picture = region.resize(
            (max(1, round(region.width * f)), max(1, round(region.height * f))), Image.Resampling.LANCZOS
        )
        draw = ImageDraw.Draw(picture)
        bx, by = (box.x - x0) * f, (box.y - y0) * f
        draw.rectangle([bx - 2, by - 2, bx + box.w * f + 2, by + box.h * f + 2], outline="#22c55e", width=3)
    else:
        region = Image.fromarray(rgb)
        f = min(width / region.width, height / region.height)
        picture = region.resize(
            (max(1, round(region.width * f)), max(1, round(region.height * f))), Image.Resampling.LANCZOS
        )
    canvas = Image.new("RGB", (width, height), (244, 246, 249))
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    return np.asarray(canvas)
