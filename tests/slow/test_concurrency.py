"""The recognition path under several threads at once, as Streamlit runs it: every browser session's
script runs in its own thread, and all of them share one cached classifier and one label store.

A thread that reads a photo must get exactly what a lone thread gets, nothing one thread writes may
be lost, and the process-wide things the path touches (the model, the warning filters) must come
out as one thread would leave them.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from alpr import pipeline
from alpr.imageio import encode_png, load_image
from alpr.pipeline import recognize
from alpr.labels.store import LabelStore
from alpr.synth import sample_scenes
from alpr.types import Box, Candidate, CharCrop, PlateRead, Prediction, Recognition

from conftest import make_plate

THREADS = 4  # the load test's browser sessions


def _decisions(rec: Recognition) -> tuple:
    """Everything `recognize` decided about a photo, without the timings (which differ every run)."""
    candidates = tuple(
        (c.box, c.source, c.binarization, c.char_count, c.score, c.kept, c.reason) for c in rec.plate_candidates
    )
    plates = tuple(
        (p.box, p.crop_box, p.binarization, tuple(c.box for c in p.chars), p.predictions, p.candidates)
        for p in rec.plates
    )
    return rec.scale, rec.components, candidates, plates


def _run_at_once(work, args: list) -> list:
    """work(arg) for every arg on THREADS threads that all start together, results in order."""
    barrier = threading.Barrier(THREADS)

    def started(i: int):
        if i < THREADS:
            barrier.wait(timeout=60)  # the first calls begin together, not one after the other
        return work(args[i])

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(started, range(len(args))))


# --- recognize ---------------------------------------------------------------------------------


def test_recognize_from_four_threads_reads_each_photo_as_one_thread_does(classifier):
    photos = [image for _, image in sample_scenes(8, seed=7)]  # two of each plate style, and more
    alone = [_decisions(recognize(image, classifier=classifier)) for image in photos]

    together = _run_at_once(
        lambda i: _decisions(recognize(photos[i], classifier=classifier)), list(range(len(photos))) * 2
    )  # every photo twice, by different threads

    assert together == alone * 2
    assert any(plates for *_, plates in alone)  # the comparison covered reads, not only empty photos


def test_default_classifier_is_loaded_once_when_threads_ask_at_the_same_moment(monkeypatch):
    loads = []

    def slow_load():
        loads.append(threading.get_ident())
        time.sleep(0.2)  # a real load takes seconds: long enough for every thread to arrive
        return object()

    monkeypatch.setattr(pipeline, "_default_reader", None)
    monkeypatch.setattr(pipeline, "load_classifier", slow_load)

    got = _run_at_once(lambda _: pipeline.default_classifier(), list(range(THREADS)))

    assert len(loads) == 1
    assert all(g is got[0] for g in got)


def test_the_app_model_load_is_logged_once_when_sessions_ask_at_the_same_moment(caplog):
    from alpr.app import models as appstate
    from alpr.classify import DEFAULT_MODEL

    appstate._load_classifier.clear()  # as in a fresh server process
    path, modified = str(DEFAULT_MODEL), (DEFAULT_MODEL.stat().st_mtime_ns,)
    with caplog.at_level(logging.INFO, logger="alpr.app"):
        got = _run_at_once(lambda _: appstate._load_classifier(path, modified, "keras"), list(range(THREADS)))

    loaded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("loaded character model")]
    assert len(loaded) == 1
    assert loaded[0].startswith(f"loaded character model {got[0].info.version} from {path} in ")
    assert all(g is got[0] for g in got)  # one model shared by every session


def test_decoding_in_four_threads_leaves_the_warning_filters_as_they_were():
    photos = [encode_png(image) for _, image in sample_scenes(4, seed=3)]
    before = list(warnings.filters)

    # Without the decode lock, overlapping catch_warnings blocks restored each other's filter lists
    # and left Pillow's "ignore" and "error" filters in place for the rest of the process.
    images = _run_at_once(load_image, photos * 10)

    assert warnings.filters == before
    assert [i.shape for i in images] == [(640, 960, 3)] * 40


# --- label store -------------------------------------------------------------------------------


def _read_by_model(image: np.ndarray, read: str) -> Recognition:
    """A Recognition of one plate whose model read `read` at 0.6 per character, like the app stores."""
    chars = tuple(
        CharCrop(Box(5 + 15 * i, 4, 12, 22), 0, np.full((32, 32), (i + 1) / 20, np.float32)) for i in range(len(read))
    )
    preds = tuple(Prediction(ch, 0.6, ((ch, 0.6), ("_", 0.4))) for ch in read)
    box = Box(40, 30, 15 * len(read) + 10, 30)
    plate = PlateRead(
        box, box, np.zeros((30, box.w, 3), np.uint8), chars, preds, (Candidate(read, 60.0, True),), "local/dark", 1.0
    )
    tiny = np.zeros((2, 2), np.float32)
    return Recognition(image, tiny, 1.0, tiny.astype(np.int32), (), (), (plate,), "us", 10)


def test_four_threads_adding_labels_to_one_store_lose_none(tmp_path):
    rounds = 5

    def session(n: int) -> list[tuple]:
        """What one app session does: store reads, correct a character, type a whole plate, look."""
        done = []
        for k in range(rounds):
            seed = 100 * n + k
            photo = np.random.default_rng(seed).integers(0, 256, (90, 120, 3), dtype=np.uint8)
            [read_id] = store.add_recognition(photo, _read_by_model(photo, "ABC123"), f"read-{seed}.png", "m1")
            first = store.plate_chars(read_id)[0]
            fix = "XYZW"[n]  # each session its own letter, none of them the model's "A"
            store.set_label(first.id, fix, author=f"session-{n}")
            text = f"T{n}X{k}"
            typed = store.add_labeled_plate(
                make_plate(text, seed).image, text, plate_crop=True, name=f"typed-{seed}.png", author=f"session-{n}"
            )
            store.stats(), store.recent_plates(10), store.review_queue()  # readers in between
            done.append((read_id, first.id, fix, typed.plate_id, text))
        return done

    with LabelStore.open(tmp_path / "data") as store:  # one store shared by all, as the app caches it
        results = _run_at_once(session, list(range(THREADS)))
        writes = [w for per_session in results for w in per_session]
        assert len(writes) == THREADS * rounds
        for read_id, char_id, fix, typed_id, text in writes:
            first = store.plate_chars(read_id)[0]
            assert (first.id, first.label, first.source) == (char_id, fix, "person")
            assert store.plate(typed_id).text_confirmed == text
        assert store.stats()["plates"] == 2 * THREADS * rounds
        assert len({w[0] for w in writes} | {w[3] for w in writes}) == 2 * THREADS * rounds  # no id given twice
