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
    # float32 and flat gathers throughout: this runs once per training sample on the host, and a GPU
    # eats batches faster than a slow augmentation could feed it.
    angle = rng.uniform(-ROTATE, ROTATE, n).astype(np.float32)
    zoom = (1.0 + rng.uniform(-ZOOM, ZOOM, n)).astype(np.float32)  # >1 samples a larger area: the glyph shrinks
    dy = (rng.uniform(-TRANSLATE, TRANSLATE, n) * h).astype(np.float32)
    dx = (rng.uniform(-TRANSLATE, TRANSLATE, n) * w).astype(np.float32)
    cy, cx = np.float32((h - 1) / 2.0), np.float32((w - 1) / 2.0)
    gy = (np.arange(h, dtype=np.float32) - cy)[None, :, None]
    gx = (np.arange(w, dtype=np.float32) - cx)[None, None, :]
    cos, sin = (np.cos(angle) * zoom)[:, None, None], (np.sin(angle) * zoom)[:, None, None]
    sy = np.clip(cos * gy + sin * gx + (cy - dy)[:, None, None], 0, h - 1)
    sx = np.clip(cos * gx - sin * gy + (cx - dx)[:, None, None], 0, w - 1)
    fy, fx = sy - np.floor(sy), sx - np.floor(sx)  # float32 (float32 minus int32 would be float64)
    y0, x0 = sy.astype(np.int32), sx.astype(np.int32)  # floor: the coordinates are clipped to >= 0
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    base = (np.arange(n, dtype=np.int32) * (h * w))[:, None, None]
    flat = np.ascontiguousarray(x, np.float32).reshape(-1)
    r0, r1 = base + y0 * w, base + y1 * w
    a, b, c, d = flat.take(r0 + x0), flat.take(r0 + x1), flat.take(r1 + x0), flat.take(r1 + x1)
    top, bottom = a + (b - a) * fx, c + (d - c) * fx
    return top + (bottom - top) * fy


def batch_order(n: int, batch: int, rng: np.random.Generator, replicas: int = 1) -> list[np.ndarray]:
    """Shuffled indices cut into batches. Under data parallelism every batch must split evenly over
    the devices, so a short last batch is filled up from the start of the shuffle."""
    order = rng.permutation(n)
    if replicas > 1 and n:
        batch = max(replicas, batch - batch % replicas)
        short = -n % batch
        order = np.concatenate([order, np.resize(order, short)]) if short else order
    return [order[i : i + batch] for i in range(0, len(order), batch)]


def make_dataset(x: np.ndarray, y: np.ndarray, batch: int, seed: int, replicas: int = 1, workers: int = 1):
    """A `keras.utils.PyDataset` of augmented (crops[..., None], targets) batches, reshuffled each epoch.
    Each batch draws its warps from (seed, epoch, batch index), so threads (`workers` > 1, for a GPU
    that would otherwise wait on the host) give the same batches as one."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max(10, 2 * workers))
            self.x, self.y = np.asarray(x, np.float32), np.asarray(y)
            self.epoch = 0
            self._order()

        def _order(self):
            self.batches = batch_order(len(self.y), batch, np.random.default_rng([seed, self.epoch]), replicas)

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, i):
            idx = self.batches[i]
            rng = np.random.default_rng([seed, self.epoch, i + 1])
            return augment(self.x[idx], rng)[..., None], self.y[idx]

        def on_epoch_end(self):
            self.epoch += 1
            self._order()

    return Batches()


def pad_to_multiple(x: np.ndarray, k: int) -> np.ndarray:
    """`x` with its last row repeated so its length divides by `k` (prediction split over k devices)."""
    short = -len(x) % k if k > 1 else 0
    return np.concatenate([x, np.repeat(x[-1:], short, axis=0)]) if short and len(x) else x
