"""Plotly figures of what a person reviews: stored plates and their crops, label counts (the Relabel
page), and evaluations: confusion matrices, per-class accuracy, stage times, error thumbnails (the
Evaluate and Train pages). The figures of one read live in `alpr.figures`, whose helpers these use."""

from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from alpr import figures
from alpr.types import REJECT, Box

# ------------------------------------------------------------- label store: plates, crops, counts

LABELED_COLOUR = "#16a34a"  # a person's or an import's label: training data
CORRECTED_COLOUR = "#ea580c"  # a person's label that differs from the model's guess


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
        return label, CORRECTED_COLOUR if corrected else LABELED_COLOUR
    return label, figures.REJECT_COLOUR if label == REJECT else figures.CHAR_COLOUR


def stored_plate_figure(photo: np.ndarray | None, scale: float, plate_box: Box | None, chars) -> go.Figure:
    """A stored plate: the plate's part of its photo with each character boxed, numbered and its
    current label written under it (blue: the model's guess, green: labeled, orange: corrected).

    `photo` is the stored (downscaled) photo and `scale` its pixels per original pixel, as
    `LabelStore.photo_image` returns them; boxes are in original pixels. Plates without a photo
    (imported crops) or without characters get a one-line placeholder figure.
    """
    boxes = [c.box for c in chars]
    if photo is None:
        return figures.empty_figure("No photo is stored for this plate: its character crops are below.", height=90)
    if plate_box is None:
        return figures.empty_figure("No plate was found in this photo.", height=90)
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
    fig = go.Figure(figures.image_trace(figures.display_photo(pixels, 900), w, h, "PNG", "plate"))
    hover, hx, hy = [], [], []
    for i, c in enumerate(chars, start=1):
        label, colour = _char_state(c)
        b = c.box.shifted(-int(x0), -int(y0))
        xs, ys = figures.rect_path([b])
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
        figures.number_badge(fig, b, i, colour)
        fig.add_annotation(
            x=b.x + b.w / 2,
            y=h,
            yshift=-4,
            yanchor="top",
            showarrow=False,
            text=f"<b>{escape(figures.char_label(label or '?'))}</b>",
            font=dict(size=16, color=colour),
        )
        guess = (
            f"model: {escape(figures.char_label(c.pred_char))} {figures.pct(c.pred_conf or 0)}"
            if c.pred_char
            else "no model guess"
        )
        who = {"person": "labeled by a person", "import": "imported label", "model": "not reviewed yet"}.get(
            c.source or "", "unlabeled"
        )
        hover.append(f"character {i}: <b>{escape(figures.char_label(label or '?'))}</b> · {who}<br>{guess}")
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
    figures.image_axes(fig, w, h)
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
    names = [figures.char_label(c) for c in classes]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=trained,
                name="in a training run",
                marker_color=figures.OTHER_BAR,
                hovertemplate="%{x}: %{y} trained on<extra></extra>",
            ),
            go.Bar(
                x=names,
                y=waiting,
                name="waiting for training",
                marker_color=figures.BEST_BAR,
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
        return figures.empty_figure(
            "No plate was read with as many characters as its label, so no character pairs to count."
        )
    classes = sorted({t for t, _ in counts} | {p for _, p in counts})
    index = {c: i for i, c in enumerate(classes)}
    z = np.zeros((len(classes), len(classes)))
    for (t, p), n in counts.items():
        z[index[t], index[p]] = n
    shown = z.copy()
    wrong = int(z.sum() - np.trace(z))
    if hide_correct and wrong:  # with no error at all the diagonal stays: an empty grid says nothing
        np.fill_diagonal(shown, 0)
    names = [figures.char_label(c) for c in classes]
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
    # Square cells shrink the axes' domain, not their range, from the left and top: the labels stay
    # beside the cells instead of at the far edge of an empty band (they were squeezed into the
    # middle third of a wide column).
    fig.update_xaxes(
        title="read as",
        type="category",
        side="top",
        constrain="domain",
        constraintoward="left",
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
        constrain="domain",
        constraintoward="top",
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
        return figures.empty_figure("No character pairs to score yet.")
    classes = list(accuracy)
    share = [r / n if n else 0.0 for r, n in accuracy.values()]
    fig = go.Figure(
        go.Bar(
            x=[figures.char_label(c) for c in classes],
            y=share,
            marker_color=[figures.BEST_BAR if s >= 0.9 else ("#f59e0b" if s >= 0.6 else "#ef4444") for s in share],
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


_COMPARE_COLOURS = (figures.BEST_BAR, "#f59e0b")


def stage_times_figure(runs: dict[str, dict[str, float]]) -> go.Figure:
    """Median milliseconds per pipeline stage, one bar group per stage and one colour per model."""
    if not runs:
        return figures.empty_figure("No timings.")
    stages = [s for s in figures.STAGES if any(s in times for times in runs.values())]
    values = {name: [float(times.get(s, 0.0)) for s in stages] for name, times in runs.items()}
    return _bar_groups(
        "Median time per stage, per photo", stages, values, "{:.1f} ms", "%{y}: %{x:.1f} ms (median)", 34, 1.3
    )


def miss_kinds_figure(runs: dict[str, dict[str, int]], names: dict[str, str]) -> go.Figure:
    """How many files each model read right and how the others went, one bar per kind of result
    (`names`: kind -> words, in order) and one colour per model; kinds no model has are left out."""
    kinds = [k for k in names if any(counts.get(k, 0) for counts in runs.values())]
    if not kinds:
        return figures.empty_figure("No files read.")
    values = {name: [counts.get(k, 0) for k in kinds] for name, counts in runs.items()}
    return _bar_groups(
        "Every file, by how it went", [names[k] for k in kinds], values, "{}", "%{y}: %{x} files", 30, 1.25
    )


def _bar_groups(
    title: str, rows: list[str], runs: dict[str, list[float]], text: str, hover: str, row_height: int, headroom: float
) -> go.Figure:
    """Horizontal bars, one group per row and one colour per model, each labeled `text.format(value)`."""
    fig = go.Figure()
    for i, (name, values) in enumerate(runs.items()):
        fig.add_trace(
            go.Bar(
                x=values,
                y=rows,
                orientation="h",
                name=name,
                marker_color=_COMPARE_COLOURS[i % len(_COMPARE_COLOURS)],
                text=[text.format(v) for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=hover + "<extra>" + escape(name) + "</extra>",
            )
        )
    top = max((v for values in runs.values() for v in values), default=1.0)
    fig.update_yaxes(autorange="reversed", fixedrange=True, ticks="", showgrid=False)
    fig.update_xaxes(range=[0, max(top, 1.0) * headroom], visible=False, fixedrange=True)
    fig.update_layout(
        title=dict(text=title, font=dict(size=14), x=0, xanchor="left"),
        barmode="group",
        height=90 + row_height * len(rows) * len(runs),
        margin=dict(l=8, r=8, t=40, b=4),
        showlegend=len(runs) > 1,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def confidence_figure(runs: dict[str, list[tuple[str, int, int]]]) -> go.Figure:
    """Share of plates read right in each band of shown confidence (`scorecard.confidence_bands`,
    highest first), one colour per model: an honest confidence puts each bar inside its band."""
    if not any(n for bands in runs.values() for _, n, _ in bands):
        return figures.empty_figure("No plates read.")
    fig = go.Figure()
    for i, (name, bands) in enumerate(runs.items()):
        low_first = bands[::-1]
        fig.add_trace(
            go.Bar(
                x=[label for label, _, _ in low_first],
                y=[right / n if n else None for _, n, right in low_first],
                name=name,
                showlegend=len(runs) > 1,
                marker_color=_COMPARE_COLOURS[i % len(_COMPARE_COLOURS)],
                text=[f"{right} of {n}" if n else "none" for _, n, right in low_first],
                # Inside the bar's top where it fits: the band's tick sits just above a good bar.
                textposition="auto",
                insidetextanchor="end",
                cliponaxis=False,
                textfont=dict(size=10),
                hovertemplate="shown %{x}: %{y:.0%} right<extra>" + escape(name) + "</extra>",
            )
        )
    # What each band promises, as a grey tick at its middle: a bar that reaches it is honest.
    labels = [label for label, _, _ in next(iter(runs.values()))[::-1]]
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=[_band_middle(label) for label in labels],
            mode="markers",
            name="the band's middle",
            marker=dict(symbol="line-ew", size=30, line=dict(width=2, color="#64748b")),
            hovertemplate="shown %{x}: %{y:.0%} right would be honest<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", fixedrange=True, title=dict(text="confidence shown", font=dict(size=11)))
    fig.update_yaxes(range=[0, 1.15], tickformat=".0%", fixedrange=True, gridcolor="#eef0f3")
    fig.update_layout(
        title=dict(text="Plates read right, by the confidence shown", font=dict(size=14), x=0, xanchor="left"),
        barmode="group",
        height=360,
        margin=dict(l=8, r=8, t=40, b=8),
        showlegend=True,
        legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, xanchor="left"),
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def _band_middle(label: str) -> float | None:
    """What a confidence band promises, as a share: "80-89%" -> 0.85, "90-100%" -> 0.95; None for
    an open band ("under 60%")."""
    if "-" not in label:
        return None
    low, high = (int(x) for x in label.rstrip("%").split("-"))
    return (low + (high if high == 100 else high + 1)) / 200


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
