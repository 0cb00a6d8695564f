"""The data of a fine-tuning run: the label store's labeled crops (held out by plate), labeled
folders, rendered glyphs and replayed unlabeled crops, frozen in the run folder so a resume reads
the same arrays. A mixin of `alpr.training.finetune.Trainer`."""

from __future__ import annotations

import os

import numpy as np

from alpr.training import registry
from alpr.training.datasets import (
    held_out,
    held_out_plates,
    read_training_folder,
    render_glyph_set,
    split_replay,
)
from alpr import priors
from alpr.types import ALL_CLASSES


# Replay: crops the app stored with the model's guess and nobody labeled train towards the base
# model's own probabilities for them (distillation, soft targets): see finetune.py.
REPLAY_SCAN = 60000  # unlabeled crops read from the store at most


class TrainingData:
    # ---- data ----
    def _data(self, size: int, classifier) -> dict:
        path = self.run_dir / "data.npz"
        if self.resume and path.is_file():
            with np.load(path) as z:
                data = {k: (z[k].astype(np.float32) / 255.0 if k.startswith("x_") else z[k]) for k in z.files}
            data["last_label_id"] = int(data["last_label_id"])
            data.setdefault("x_rep", np.zeros((0, size, size), np.float32))
            data.setdefault("y_rep", np.zeros((0, len(ALL_CLASSES)), np.float32))
            data.setdefault(
                "c_store_tr", np.zeros(len(data["y_store_tr"]), bool)
            )  # runs from before corrections counted
            for part in ("tr", "va"):  # runs from before plates were kept
                data.setdefault(f"p_store_{part}", np.full(len(data[f"y_store_{part}"]), -1, np.int64))
            data.setdefault("c_store_va", np.zeros(len(data["y_store_va"]), bool))
            data.setdefault("x_rv", np.zeros((0, size, size), np.float32))  # runs from before replay validated
            data.setdefault("y_rv", np.zeros((0,), np.int64))
            self.log(f"data: the run's frozen arrays ({path.name})")
            return data
        cfg = self.cfg
        empty_x, empty_y = np.zeros((0, size, size), np.float32), np.zeros((0,), np.int64)
        data = {"last_label_id": 0}
        x, y, fixed = empty_x, empty_y, np.zeros(0, bool)
        plates = np.zeros(0, np.int64)
        data["x_rep"], data["y_rep"] = empty_x, np.zeros((0, len(ALL_CLASSES)), np.float32)
        if cfg.use_store:
            from alpr.labels.store import LabelStore

            with LabelStore.open(self.folder) as store:
                data["last_label_id"] = store.last_label_id()  # before reading: later labels stay pending
                x, y, fixed = store.training_set(size)
                plates = store.training_plate_ids()
                self.format_priors = priors.to_json(priors.from_store(store))
                unlabeled = store.review_queue(limit=REPLAY_SCAN, status="unreviewed") if cfg.replay else []
            self.log(f"label store: {len(y)} labeled characters, {len(unlabeled)} unlabeled")
            if unlabeled:
                data["x_rep"], data["y_rep"] = self._replay(unlabeled, size, classifier)
        data["x_rep"], data["y_rep"], data["x_rv"], data["y_rv"] = split_replay(data["x_rep"], data["y_rep"])
        val = held_out_plates(plates) if cfg.use_store and len(plates) == len(y) else held_out(x)
        data.update(
            x_store_tr=x[~val], y_store_tr=y[~val], c_store_tr=fixed[~val], x_store_va=x[val], y_store_va=y[val]
        )
        if len(plates) == len(y):  # which plate each crop is on, for the "what it learnt" table
            data.update(p_store_tr=plates[~val], p_store_va=plates[val], c_store_va=fixed[val])
        xs_tr, ys_tr, xs_va, ys_va = [empty_x], [empty_y], [empty_x], [empty_y]
        for folder in cfg.datasets:
            (xt, yt), (xv, yv) = read_training_folder(folder, size, classifier, self.log)
            xs_tr.append(xt), ys_tr.append(yt), xs_va.append(xv), ys_va.append(yv)
            self.guard.check()
        data.update(
            x_ds_tr=np.concatenate(xs_tr),
            y_ds_tr=np.concatenate(ys_tr),
            x_ds_va=np.concatenate(xs_va),
            y_ds_va=np.concatenate(ys_va),
        )
        data["x_gl_tr"], data["y_gl_tr"] = render_glyph_set(cfg.glyphs_per_class, size, cfg.seed + 2)
        data["x_gl_va"], data["y_gl_va"] = render_glyph_set(max(2, cfg.glyphs_per_class // 4), size, cfg.seed + 3)
        if cfg.base == "glyphs":
            data["x_pre"], data["y_pre"] = render_glyph_set(cfg.pretrain_glyphs_per_class, size, cfg.seed + 1)
        else:
            data["x_pre"], data["y_pre"] = empty_x, empty_y
        # Quantized to 8 bits (as the store keeps crops) and used quantized, so a resume sees the same pixels.
        for k in list(data):
            if k.startswith("x_"):
                data[k] = np.round(np.clip(data[k], 0, 1) * 255).astype(np.uint8)
        tmp = self.run_dir / "data.tmp.npz"
        np.savez(tmp, **{k: (np.asarray(v) if k != "last_label_id" else np.int64(v)) for k, v in data.items()})
        os.replace(tmp, path)
        return {k: (v.astype(np.float32) / 255.0 if k.startswith("x_") else v) for k, v in data.items()}

    def _replay(self, chars, size: int, classifier):
        """Unlabeled crops with the base model's (else the active one's) probabilities for them, as
        soft targets; at most `replay_max`, drawn at random with the run's seed."""
        images = np.stack([c.image for c in chars if c.image.shape == (size, size)]) if chars else None
        if images is None or not len(images):
            return np.zeros((0, size, size), np.float32), np.zeros((0, len(ALL_CLASSES)), np.float32)
        if len(images) > self.cfg.replay_max:
            keep = np.sort(np.random.default_rng(self.cfg.seed).choice(len(images), self.cfg.replay_max, replace=False))
            images = images[keep]
        if classifier is None:
            classifier = registry.load_active(self.folder)[0]
        probs = classifier.probabilities(images).astype(np.float32)
        self.log(f"replay: {len(images)} unlabeled crops train towards the base model's own probabilities")
        return images, probs
