"""Training batches and backend choices that every Keras backend shares (no TensorFlow needed)."""

import numpy as np

from alpr.synth import render_glyph
from alpr.framework import Devices
from alpr.training.backend import precision_policy
from alpr.training.batches import augment, batch_order, make_dataset, pad_to_multiple


def _glyphs(n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([render_glyph("A8O0"[i % 4], rng, 32) for i in range(n)])


def test_augmentation_moves_a_glyph_a_little_and_keeps_its_pixels_in_range():
    x = _glyphs(16)
    out = augment(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    changed = np.abs(out - x).mean(axis=(1, 2))
    assert (changed > 0.001).all()  # every crop warped
    # a small warp: the crop is still much closer to itself than to another glyph
    assert np.abs(out[0] - x[0]).mean() < np.abs(x[0] - x[1]).mean()


def test_augmentation_is_the_same_for_the_same_seed():
    x = _glyphs(4)
    assert np.array_equal(augment(x, np.random.default_rng(3)), augment(x, np.random.default_rng(3)))


def test_under_data_parallelism_every_batch_splits_evenly_over_the_devices():
    batches = batch_order(161, 128, np.random.default_rng(0), replicas=2)
    assert [len(b) for b in batches] == [128, 128]
    assert set(np.concatenate(batches)) == set(range(161))  # every sample, the short batch filled up
    assert [len(b) for b in batch_order(161, 64, np.random.default_rng(0))] == [64, 64, 33]


def test_the_dataset_yields_augmented_crops_with_a_channel_and_their_targets():
    x, y = _glyphs(10), np.arange(10)
    ds = make_dataset(x, y, batch=4, seed=0)
    assert len(ds) == 3
    xb, yb = ds[0]
    assert xb.shape == (4, 32, 32, 1) and sorted(yb) == sorted(set(yb))
    first = [ds[i][1].tolist() for i in range(len(ds))]
    ds.on_epoch_end()
    assert [ds[i][1].tolist() for i in range(len(ds))] != first  # reshuffled for the next epoch


def test_padding_for_prediction_repeats_the_last_row():
    x = np.arange(5)[:, None]
    assert pad_to_multiple(x, 2).ravel().tolist() == [0, 1, 2, 3, 4, 4]
    assert pad_to_multiple(x, 1).ravel().tolist() == [0, 1, 2, 3, 4]


def test_half_precision_only_on_accelerators_bfloat16_under_jax():
    assert precision_policy("auto", Devices("jax", ("NVIDIA H200",), 0)) == "mixed_bfloat16"
    assert precision_policy("auto", Devices("tensorflow", ("NVIDIA H200",), 1)) == "mixed_float16"
    assert precision_policy("auto", Devices("jax", (), 2)) == "float32"
    assert precision_policy("mixed_bfloat16", Devices("jax", (), 1)) == "mixed_bfloat16"
    assert Devices("jax", (), 2).count == 2 and Devices("jax", (), 2).line == "CPU: no GPU found"
