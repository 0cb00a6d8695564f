"""Plotly figures of a training run, built from its metrics.jsonl rows (see `alpr.finetune`).

Kept apart from `alpr.figures` (pictures of a recognition); the confusion matrix and per-class
bars reuse its builders so every page draws them alike.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from alpr import figures, review_figures
from alpr.training.records import EpochRow
from alpr.types import ALL_CLASSES

TRAIN_COLOUR = "#2563eb"
VAL_COLOUR = "#f59e0b"
ACTIVE_COLOUR = "#6b7280"


def curves_figure(
    rows: list[EpochRow], planned_epochs: int | None = None, active_accuracy: float | None = None
) -> go.Figure:
    """Loss and accuracy per epoch, training and validation, side by side; stages marked.

    `planned_epochs` fixes the x axis so the curves grow into it; `active_accuracy` draws the model
    active now (on the same validation set) as a dotted line to beat."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.08)
    x = [r.global_epoch for r in rows]
    hover = [f"{r.stage} epoch {r.epoch}/{r.epochs}" for r in rows]
    for col, (train_key, val_key, fmt) in enumerate((("loss", "val_loss", ".4f"), ("acc", "val_acc", ".1%")), start=1):
        for key, name, colour, dash in (
            (train_key, "training", TRAIN_COLOUR, "solid"),
            (val_key, "validation", VAL_COLOUR, "solid"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[getattr(r, key) for r in rows],
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    mode="lines+markers",
                    line=dict(color=colour, width=2.5, dash=dash),
                    marker=dict(size=7),
                    customdata=hover,
                    hovertemplate=f"%{{customdata}}<br>{name} %{{y:{fmt}}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    best = [r for r in rows if r.best]
    if best:
        b = best[-1]
        fig.add_trace(
            go.Scatter(
                x=[b.global_epoch],
                y=[b.val_acc],
                mode="markers",
                name="best epoch (kept)",
                marker=dict(symbol="star", size=15, color=VAL_COLOUR, line=dict(color="#92400e", width=1)),
                hovertemplate="best validation loss: this epoch's weights are kept<extra></extra>",
            ),
            row=1,
            col=2,
        )
    if active_accuracy is not None:
        fig.add_hline(
            y=active_accuracy,
            line=dict(color=ACTIVE_COLOUR, dash="dot", width=1.5),
            row=1,
            col=2,
            annotation_text=f"active model {active_accuracy:.1%}",
            annotation_position="bottom right",
            annotation_font=dict(size=11, color=ACTIVE_COLOUR),
        )
    # Stage boundaries: where the frozen layers changed.
    for prev, row in zip(rows, rows[1:]):
        if row.stage != prev.stage:
            for col in (1, 2):
                fig.add_vline(
                    x=prev.global_epoch + 0.5, line=dict(color="#9ca3af", dash="dash", width=1), row=1, col=col
                )
    stages = []
    for r in rows:
        if not stages or stages[-1][0] != r.stage:
            stages.append((r.stage, r.global_epoch))
    end = max(planned_epochs or 0, max(x, default=1))
    fig.update_xaxes(
        title="epoch", range=[0.5, end + 0.5], dtick=1 if end <= 20 else None, gridcolor="#eef0f3", zeroline=False
    )
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=False, rangemode="tozero", row=1, col=1)
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=False, tickformat=".1%", row=1, col=2)
    names = " → ".join(_STAGE_NAMES.get(s, s) for s, _ in stages)
    fig.update_layout(
        height=340,
        margin=dict(l=8, r=8, t=56, b=8),
        plot_bgcolor="rgba(0,0,0,0)",
        hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.1, x=1, xanchor="right"),
        title=dict(
            text=f"Stages: {names}" if names else "", font=dict(size=13, color="#4b5563"), x=0, xanchor="left", y=0.98
        ),
    )
    return fig


_STAGE_NAMES = {"pretrain": "pretrain on glyphs", "head": "head (features frozen)", "top": "top block unfrozen"}


def confusion_figure(matrix: list[list[int]], hide_correct: bool = False) -> go.Figure:
    """The run's validation confusion matrix (rows truth, columns read, in ALL_CLASSES order)."""
    counts = {}
    for i, row in enumerate(matrix or []):
        for j, n in enumerate(row):
            if n:
                counts[(ALL_CLASSES[i], ALL_CLASSES[j])] = int(n)
    involved = {c for (t, p) in counts if t != p for c in (t, p)}
    if not hide_correct or not involved:
        return review_figures.confusion_figure(counts, hide_correct=hide_correct)
    # Only the classes involved in a mistake: 37 rows of blanks would hide the few that matter.
    total, wrong = sum(counts.values()), sum(n for (t, p), n in counts.items() if t != p)
    fig = review_figures.confusion_figure(
        {k: n for k, n in counts.items() if k[0] in involved and k[1] in involved}, True
    )
    fig.update_layout(title_text=f"{wrong} of {total} validation crops read as another class · the classes involved")
    return fig


def per_class_figure(
    per_class: dict[str, dict], baseline: dict[str, dict] | None = None, baseline_name: str = "active model"
) -> go.Figure:
    """Validation accuracy per class as bars; the active model's as markers when given."""
    accuracy = {c: (round(v["accuracy"] * v["n"]), v["n"]) for c, v in per_class.items()}
    fig = review_figures.class_accuracy_figure(accuracy)
    if fig.data:
        fig.data[0].name = "this run"
    if baseline and per_class:
        classes = [c for c in per_class if c in baseline]
        fig.add_trace(
            go.Scatter(
                x=[figures.char_label(c) for c in classes],
                y=[baseline[c]["accuracy"] for c in classes],
                mode="markers",
                name=baseline_name,
                marker=dict(symbol="line-ew-open", size=18, color="#111827", line=dict(width=2.5)),
                hovertemplate=f"%{{x}}: {baseline_name} %{{y:.0%}}<extra></extra>",
            )
        )
        fig.update_layout(showlegend=True, legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"))
    return fig


def throughput_figure(rows: list[EpochRow]) -> go.Figure:
    """Training samples per second and learning rate per epoch."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = [r.global_epoch for r in rows]
    fig.add_trace(
        go.Bar(
            x=x,
            y=[r.samples_per_s for r in rows],
            name="samples/s",
            marker_color="#b0bec5",
            hovertemplate="epoch %{x}: %{y:.0f} samples/s<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[r.lr for r in rows],
            name="learning rate",
            mode="lines+markers",
            line=dict(color=TRAIN_COLOUR),
            hovertemplate="epoch %{x}: lr %{y:.1e}<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_yaxes(title="samples/s", secondary_y=False, gridcolor="#eef0f3", rangemode="tozero")
    fig.update_yaxes(title="learning rate", secondary_y=True, type="log", showgrid=False, exponentformat="e")
    fig.update_xaxes(title="epoch", dtick=1 if len(x) <= 20 else None)
    fig.update_layout(
        height=260,
        margin=dict(l=8, r=8, t=24, b=8),
        plot_bgcolor="rgba(0,0,0,0)",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
    )
    return fig


def reader_figure(epochs: list[dict]) -> go.Figure:
    """The whole-plate reader's fine-tune: CTC loss and exact plates on its validation strips, per epoch
    (the rows plate_reader_train writes: epoch, loss, val_exact, seconds)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("CTC loss", "Exact plates"), horizontal_spacing=0.1)
    x = [int(r["epoch"]) for r in epochs]
    for col, key, colour, hover in (
        (1, "loss", TRAIN_COLOUR, "loss %{y:.3f}"),
        (2, "val_exact", VAL_COLOUR, "%{y:.1%} exact"),
    ):
        trace = go.Scatter(
            x=x,
            y=[r[key] for r in epochs],
            mode="lines+markers",
            line=dict(color=colour),
            hovertemplate=f"epoch %{{x}}: {hover}<extra></extra>",
        )
        fig.add_trace(trace, row=1, col=col)
    fig.update_yaxes(rangemode="tozero", gridcolor="#eef0f3", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", gridcolor="#eef0f3", row=1, col=2)
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_layout(
        height=260,
        margin=dict(l=8, r=8, t=32, b=8),
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
    )
    return fig
