"""The page's figures: right traces, right hover text, light enough to send to a browser.

Built on real `recognize()` results of synthetic scenes, so the figures are checked against what the
pipeline decided, whatever the current model reads. Expected counts come from the result object.
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from alpr import figures
from alpr.pipeline import recognize
from alpr.synth import render_plate, render_scene, sample_scenes
from alpr.types import REJECT, Box, Candidate, CharCrop, PlateRead, Prediction

GROUPS = [figures.COMPONENTS_REJECTED, figures.COMPONENTS_KEPT, figures.CANDIDATES_REJECTED, figures.CANDIDATES_KEPT]


@pytest.fixture(scope="module")
def rec():
    """Scene 1 of the app's samples: plate-shaped candidates kept and rejected, components of both kinds."""
    _, image = sample_scenes(1, seed=0)[0]
    return recognize(image, country="us", topn=5)


@pytest.fixture(scope="module")
def big_rec():
    """A photo wider than the figure limit, so the figure must downscale it."""
    image, _ = render_scene("7ABC123", np.random.default_rng(3), "us", size=(2000, 1200))
    return recognize(image)


@pytest.fixture(scope="module")
def made_plate():
    """A PlateRead whose predictions are chosen here, one of them "not a character"."""
    crop, _ = render_plate("AB12", np.random.default_rng(0), "us", height=60)
    crop = np.ascontiguousarray(crop[..., :3])
    glyph = np.ones((32, 32), np.float32)
    glyph[6:26, 12:20] = 0.0
    boxes = [Box(10 + 25 * i, 15, 20, 32) for i in range(5)]
    preds = [
        Prediction("A", 0.91, (("A", 0.91), ("4", 0.05), ("R", 0.02))),
        Prediction("B", 0.80, (("B", 0.80), ("8", 0.15))),
        Prediction(REJECT, 0.70, ((REJECT, 0.70), ("I", 0.20))),
        Prediction("1", 0.60, (("1", 0.60), ("I", 0.30), ("7", 0.05), ("T", 0.02), ("L", 0.01))),
        Prediction("2", 0.99, (("2", 0.99),)),
    ]
    return PlateRead(
        box=Box(5, 10, 140, 45),
        crop_box=Box(100, 200, crop.shape[1], crop.shape[0]),
        crop=crop,
        chars=tuple(CharCrop(b, 0, glyph) for b in boxes),
        predictions=tuple(preds),
        candidates=(Candidate("AB12", 41.0, False),),
        binarization="local/dark",
        processing_time_ms=3.0,
    )


def _decoded(trace: go.Image) -> Image.Image:
    header, payload = trace.source.split(",", 1)
    assert header.startswith("data:image/")
    return Image.open(io.BytesIO(base64.b64decode(payload)))


def _by_group(fig: go.Figure, group: str) -> list:
    return [t for t in fig.data if getattr(t, "legendgroup", None) == group]


# ---------------------------------------------------------------------------------- photo figure


def test_photo_figure_has_the_photo_then_outline_and_hover_trace_per_group(rec):
    fig = figures.photo_figure(rec)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 10
    assert isinstance(fig.data[0], go.Image) and fig.data[0].name == "photo"
    assert [t.legendgroup for t in fig.data[1:]] == [g for g in GROUPS for _ in range(2)] + [figures.PLATES]
    assert all(isinstance(t, go.Scatter) for t in fig.data[1:])
    for group in GROUPS:
        outline, hover = _by_group(fig, group)
        assert outline.mode == "lines" and hover.mode == "markers"
        assert outline.name == hover.name
        assert hover.showlegend is False
    # The image spans the photo exactly: boxes in photo pixels land on it.
    image = fig.data[0]
    assert image.dx * _decoded(image).width == pytest.approx(rec.width)
    assert fig.layout.xaxis.range == (0, rec.width) and fig.layout.yaxis.range == (rec.height, 0)


def test_photo_figure_names_and_counts_follow_the_recognition(rec):
    fig = figures.photo_figure(rec)
    kept = [c for c in rec.components if c.kept]
    rejected = [c for c in rec.components if not c.kept]
    assert kept and rejected, "the fixture scene should have components of both kinds"
    expect = {
        figures.COMPONENTS_KEPT: f"Components kept ({len(kept)})",
        figures.COMPONENTS_REJECTED: f"Components rejected ({len(rejected)})",
        figures.CANDIDATES_KEPT: f"Plate candidates kept ({sum(c.kept for c in rec.plate_candidates)})",
        figures.CANDIDATES_REJECTED: f"Plate candidates rejected ({sum(not c.kept for c in rec.plate_candidates)})",
        figures.PLATES: f"Plates read ({len(rec.plates)})",
    }
    for group, name in expect.items():
        assert {t.name for t in _by_group(fig, group)} == {name}
    # One rectangle (5 points and a None break) per box, one hover point per box.
    outline, hover = _by_group(fig, figures.COMPONENTS_KEPT)
    assert len(outline.x) == 6 * len(kept) and len(hover.x) == len(kept)
    assert sum(v is None for v in outline.x) == len(kept)
    outline, hover = _by_group(fig, figures.CANDIDATES_REJECTED)
    assert len(hover.customdata) == sum(not c.kept for c in rec.plate_candidates)


def test_photo_figure_hover_gives_each_component_label_and_reject_reason(rec):
    fig = figures.photo_figure(rec)
    _, hover = _by_group(fig, figures.COMPONENTS_REJECTED)
    rejected = [c for c in rec.components if not c.kept]
    assert len(hover.customdata) == len(rejected)
    for comp, text in zip(rejected, hover.customdata):
        assert f"component {comp.label}" in text
        assert "rejected" in text and comp.reason in text
    _, hover = _by_group(fig, figures.COMPONENTS_KEPT)
    assert all("kept" in t for t in hover.customdata)


def test_photo_figure_hover_gives_each_candidate_source_count_likelihood_and_verdict(rec):
    fig = figures.photo_figure(rec)
    _, hover = _by_group(fig, figures.CANDIDATES_REJECTED)
    rejected = [c for c in rec.plate_candidates if not c.kept]
    assert rejected, "the fixture scene should have rejected plate candidates"
    for cand, text in zip(rejected, hover.customdata):
        assert cand.source in text and cand.binarization in text
        assert f"{cand.char_count} character-like" in text
        assert f"looks like a plate: {cand.likelihood:.0%}" in text
        assert f"rejected: {cand.reason}" in text


def test_photo_figure_outlines_and_labels_each_plate_read(rec):
    fig = figures.photo_figure(rec)
    assert rec.plates, "the fixture scene's plate should be found"
    (plates,) = _by_group(fig, figures.PLATES)
    assert plates.line.width >= 3
    assert len(plates.x) == 6 * len(rec.plates)
    notes = [a for a in fig.layout.annotations if (a.name or "").startswith("plate-")]
    assert len(notes) == len(rec.plates)
    for note, plate in zip(notes, rec.plates):
        assert (plate.plate or "?") in note.text
        assert f"confidence {plate.confidence:.1f}" in note.hovertext


def test_photo_figure_toggles_drop_their_traces(rec):
    assert len(figures.photo_figure(rec, show_components=False).data) == 6
    assert len(figures.photo_figure(rec, show_candidates=False).data) == 6
    bare = figures.photo_figure(rec, show_components=False, show_candidates=False)
    assert [t.name for t in bare.data] == ["photo", f"Plates read ({len(rec.plates)})"]


def test_component_numbers_are_written_on_the_components(rec):
    fig = figures.photo_figure(rec, component_numbers=True)
    _, hover = _by_group(fig, figures.COMPONENTS_KEPT)
    assert hover.mode == "markers+text"
    assert list(hover.text) == [str(c.label) for c in rec.components if c.kept]


def test_photo_figure_downscales_a_wide_photo_but_keeps_photo_coordinates(big_rec):
    assert big_rec.width == 2000
    fig = figures.photo_figure(big_rec)
    shown = _decoded(fig.data[0])
    assert shown.width == figures.MAX_FIGURE_WIDTH
    assert shown.height == round(1200 * figures.MAX_FIGURE_WIDTH / 2000)
    assert fig.data[0].dx * shown.width == pytest.approx(2000)
    xs = [x for t in fig.data[1:] for x in (t.x or ()) if x is not None]
    assert max(xs) > figures.MAX_FIGURE_WIDTH  # boxes were not scaled down with the picture
    assert figures.display_photo(big_rec.image).shape[1] == figures.MAX_FIGURE_WIDTH


def test_photo_figure_is_light_enough_for_the_browser(big_rec):
    assert len(figures.photo_figure(big_rec).to_json()) < 1_500_000


def test_photo_figure_of_a_photo_without_plates():
    blank = np.full((300, 400, 3), 128, np.uint8)
    rec = recognize(blank)
    assert rec.plates == ()
    fig = figures.photo_figure(rec)
    assert len(fig.data) == 10
    assert not fig.layout.annotations
    assert not any(t.showlegend for t in fig.data[1:])  # no legend entries for empty groups


# ---------------------------------------------------------------------------------- plate figure


def test_plate_figure_numbers_each_character_and_hovers_its_reading(rec):
    plate = rec.plates[0]
    fig = figures.plate_figure(plate)
    assert [type(t) for t in fig.data] == [go.Image, go.Scatter, go.Scatter, go.Scatter]
    hover = fig.data[3]
    assert len(hover.customdata) == len(plate.chars)
    for i, (text, pred) in enumerate(zip(hover.customdata, plate.predictions), start=1):
        assert text.startswith(f"character {i}:")
        assert f"{pred.confidence:.0%}" in text or f"{pred.confidence:.1%}" in text
    numbers = [a.text for a in fig.layout.annotations if a.yanchor == "bottom"]
    assert numbers == [str(i) for i in range(1, len(plate.chars) + 1)]
    assert _decoded(fig.data[0]).size == (plate.crop.shape[1], plate.crop.shape[0])


def test_plate_figure_separates_crops_read_as_not_a_character(made_plate):
    fig = figures.plate_figure(made_plate)
    read, noise, hover = fig.data[1], fig.data[2], fig.data[3]
    assert read.name == "characters (4)" and noise.name == "not a character (1)"
    assert len(read.x) == 6 * 4 and len(noise.x) == 6
    assert "<b>A</b> · 91%" in hover.customdata[0] and "then 4 5%, R 2%" in hover.customdata[0]
    assert "character 3: not a character · 70%" in hover.customdata[2]


# ---------------------------------------------------------------------------------- top-k figure


def test_topk_figure_shows_each_crop_above_its_topk_bars(rec):
    plate = rec.plates[0]
    fig = figures.topk_figure(plate)
    n = len(plate.chars)
    assert len(fig.data) == 2 * n
    images = [t for t in fig.data if isinstance(t, go.Image)]
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert len(images) == n and len(bars) == n
    for bar, pred in zip(bars, plate.predictions):
        assert list(bar.x) == pytest.approx([p for _, p in pred.topk[:5]])
        assert list(bar.y) == [("∅" if c == REJECT else c) for c, _ in pred.topk[:5]]
        assert bar.orientation == "h"


def test_topk_figure_limits_bars_to_k_and_names_the_reject_class(made_plate):
    fig = figures.topk_figure(made_plate, k=3)
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert [len(b.x) for b in bars] == [3, 2, 2, 3, 1]
    assert list(bars[2].y) == ["∅", "I"]
    titles = [a.text for a in fig.layout.annotations]
    assert titles[2] == "3: <b>∅</b>"


def test_one_characters_card_holds_its_crop_and_bars_numbered_as_in_the_plate(made_plate):
    whole = figures.topk_figure(made_plate, k=3)
    card = figures.topk_figure(made_plate, k=3, only=2)
    assert [type(t) for t in card.data] == [go.Image, go.Bar]
    assert list(card.data[1].y) == ["∅", "I"] and card.layout.annotations[0].text == "3: <b>∅</b>"
    assert card.layout.width == figures.TOPK_CARD_WIDTH
    # A card has as many bar rows as its own top-k: no blank band under a sure character.
    assert tuple(card.layout.yaxis2.range) == (1.5, -0.5)
    assert tuple(figures.topk_figure(made_plate, k=3, only=4).layout.yaxis2.range) == (0.5, -0.5)
    assert len([t for t in whole.data if isinstance(t, go.Bar)]) == 5


def test_a_crop_the_pipeline_overruled_is_marked_and_its_hover_says_why(made_plate):
    from dataclasses import replace

    note = "a mark at the row's end (32 px tall where the row's characters are 24), not a character; the classifier read 1 at 60%"
    preds = list(made_plate.predictions)
    preds[4] = Prediction(REJECT, 1.0, ((REJECT, 1.0),), note=note)
    plate = replace(made_plate, predictions=tuple(preds))
    titles = [a.text for a in figures.topk_figure(plate).layout.annotations]
    assert titles[4] == "5: <b>∅</b> · end mark" and titles[3] == "4: <b>1</b>"
    hover = next(t for t in figures.plate_figure(plate).data if t.name == "character hover").customdata
    assert escape(note) in hover[4] and "mark" not in hover[3]


def test_topk_figure_of_a_plate_without_characters(made_plate):
    empty = PlateRead(made_plate.box, made_plate.crop_box, made_plate.crop, (), (), (), "none", 0.0)
    fig = figures.topk_figure(empty)
    assert len(fig.data) == 0
    assert "No characters" in fig.layout.annotations[0].text


# -------------------------------------------------------------------------------- timings figure


def test_timings_figure_has_one_bar_per_stage_and_the_total_in_its_title(rec):
    fig = figures.timings_figure(rec)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Bar)
    bar = fig.data[0]
    assert list(bar.y) == ["detect", "segment", "classify", "assemble"]
    assert list(bar.x) == pytest.approx([rec.timings_ms[s] for s in bar.y])
    assert f"{rec.timings_ms['total']:.0f} ms" in fig.layout.title.text


def test_figure_module_does_not_import_streamlit():
    source = open(figures.__file__, encoding="utf-8").read()
    assert "import streamlit" not in source
