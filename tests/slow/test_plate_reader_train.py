"""The whole-plate reader reads a plate the character pipeline cannot cut: glyphs that touch.

A short run (`train` with `init`: the shipped reader's weights, a few hundred rendered plates whose
characters touch) must read such a plate it never saw exactly, while the character pipeline cuts it
into another number of pieces than it has characters. Rendered plates only; ~1 minute on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from alpr import plate_reader as pr
from alpr.pipeline import recognize
from alpr.synth import random_plate_text, render_plate
from alpr.training.plate_reader_train import Plate, ReaderTrainConfig, train
from alpr.types import Box

pytestmark = pytest.mark.skipif(not pr.DEFAULT_MODEL.is_file(), reason="no shipped whole-plate reader to start from")


def touching(text: str, seed: int) -> tuple[np.ndarray, Box]:
    """A US plate of `text` with the air between its characters cut out, and its lettering's box."""
    rgb, boxes = render_plate(text, np.random.default_rng(seed), "us", height=60)
    pieces = [rgb[:, : boxes[0].x]] + [rgb[:, b.x : b.x2] for b in boxes] + [rgb[:, boxes[-1].x2 :]]
    image = np.ascontiguousarray(np.concatenate(pieces, axis=1))
    top, bottom = min(b.y for b in boxes), max(b.y2 for b in boxes)
    return image, Box(boxes[0].x, top, sum(b.w for b in boxes), bottom - top)


def miscut_plate() -> tuple[np.ndarray, Box, str]:
    """The first rendered touching plate of 7 characters the character pipeline cuts into another count."""
    rng = np.random.default_rng(7)
    for seed in range(30):
        text = random_plate_text(rng, "us")
        if len(text) != 7:
            continue
        image, box = touching(text, 1000 + seed)
        read = recognize(image, "us", plate_crop=True, plate_reader=False).plates
        if not read or len(read[0].chars) != len(text):
            return image, box, text
    raise AssertionError("no rendered touching plate was miscut in 30 tries")


def test_a_short_run_reads_a_plate_whose_touching_glyphs_the_character_pipeline_miscuts(tmp_path):
    image, box, text = miscut_plate()
    rng = np.random.default_rng(0)
    plates = []
    for i in range(384):
        t = random_plate_text(rng, "us")
        img, b = touching(t, i)
        grey = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        plates.append(Plate(grey, b, t, "synth/touching"))
    out = tmp_path / "plate_reader.keras"
    config = ReaderTrainConfig(epochs=3, synth_plates=0, synth_per_epoch=0, val_synth=30, learning_rate=5e-4)
    report = train(out, None, None, config, log=lambda line: None, init=pr.DEFAULT_MODEL, synth=plates)
    assert len(report.epochs) == 3 and report.counts == {"synth/touching": 384}

    reader = pr.load_plate_reader(out)
    whole = reader.read([pr.strip(image, box)])[0]
    assert whole.text == text
    assert len(whole.confidences) == len(text)
    # ... and its CTC likelihood prefers the true string to one with a character lost.
    assert pr.log_likelihood(whole.log_probs, text) > pr.log_likelihood(whole.log_probs, text[:3] + text[4:])
