"""Training batches for every Keras backend: a `keras.utils.PyDataset` of shuffled crops with
NumPy augmentation (no tf.data, so a JAX or PyTorch run needs no TensorFlow).

The augmentation is the one the Keras layers did before (RandomTranslation 0.06, RandomZoom 0.12,
RandomRotation 0.02 of a turn, nearest fill, bilinear), as one random affine warp per crop drawn
from the run's seed: a resumed epoch sees the same batches on any backend.
"""
from __future__ import annotations

import math

import numpy as np

TRANSLATE = 0.06  # of the crop's side: segmentation boxes are off by about this much
ZOOM = 0.12  # a glyph fills its box more or less tightly from one plate style to the next
ROTATE = 0.02 * 2 * math.pi  # radians: plates photographed slightly rolled


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, h, w) crops in [0, 1] -> each warped by a random shift, zoom and rotation about its centre,
    sampled bilinearly with the border pixels repeated outside (fill "nearest")."""
    n, h, w = x.shape
    if not n:
        return x
    angle = rng.uniform(-ROTATE, ROTATE, n)
    zoom = 1.0 + rng.uniform(-ZOOM, ZOOM, n)  # >1 samples a larger area: the glyph shrinks
    dy = rng.uniform(-TRANSLATE, TRANSLATE, n) * h
    dx = rng.uniform(-TRANSLATE, TRANSLATE, n) * w
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float32) - cy, np.arange(w, dtype=np.float32) - cx, indexing="ij")
    cos, sin = (np.cos(angle) * zoom)[:, None, None], (np.sin(angle) * zoom)[:, None, None]
    sy = np.clip(cos * gy + sin * gx + cy - dy[:, None, None], 0, h - 1)
    sx = np.clip(-sin * gy + cos * gx + cx - dx[:, None, None], 0, w - 1)
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (sy - y0).astype(np.float32), (sx - x0).astype(np.float32)
    b = np.arange(n)[:, None, None]
    top = x[b, y0, x0] * (1 - fx) + x[b, y0, x1] * fx
    bottom = x[b, y1, x0] * (1 - fx) + x[b, y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def batch_order(n: int, batch: int, rng: np.random.Generator, replicas: int = 1) -> list[np.ndarray]:
    """Shuffled indices cut into batches. Under data parallelism every batch must split evenly over
    the devices, so a short last batch is filled up from the start of the shuffle."""
    order = rng.permutation(n)
    if replicas > 1 and n:
        batch = max(replicas, batch - batch % replicas)
        short = -n % batch
        order = np.concatenate([order, np.resize(order, short)]) if short else order
    return [order[i:i + batch] for i in range(0, len(order), batch)]


def make_dataset(x: np.ndarray, y: np.ndarray, batch: int, seed: int, replicas: int = 1):
    """A `keras.utils.PyDataset` of augmented (crops[..., None], targets) batches, reshuffled each epoch."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.x, self.y = np.asarray(x, np.float32), np.asarray(y)
            self.epoch = 0
            self._order()

        def _order(self):
            self.rng = np.random.default_rng([seed, self.epoch])
            self.batches = batch_order(len(self.y), batch, self.rng, replicas)

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, i):
            idx = self.batches[i]
            return augment(self.x[idx], self.rng)[..., None], self.y[idx]

        def on_epoch_end(self):
            self.epoch += 1
            self._order()

    return Batches()


def pad_to_multiple(x: np.ndarray, k: int) -> np.ndarray:
    """`x` with its last row repeated so its length divides by `k` (prediction split over k devices)."""
    short = -len(x) % k if k > 1 else 0
    return np.concatenate([x, np.repeat(x[-1:], short, axis=0)]) if short and len(x) else x
