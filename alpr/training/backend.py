"""What training asks of the Keras backend, whichever it is (tensorflow, jax or torch): mixed
precision, and data parallelism across several devices (the backend's name and its devices are
`alpr.framework`'s, which reading shares).

Everything else in `alpr.training` is Keras 3 only (`keras.ops`, `keras.utils.PyDataset`,
`keras.callbacks`), so the same code trains with `KERAS_BACKEND=tensorflow` (the default here),
`jax` or `torch`; a version saved under one backend loads under another (`.keras` files hold
backend-free weights), and the app reads with TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib.util

from alpr.framework import Devices

# float16 needs loss scaling and overflows on large activations; bfloat16 has float32's range, so it
# is the safe half precision where the hardware has it (Ampere and later, TPUs). TensorFlow keeps
# mixed_float16 on its GPUs, as before, where bfloat16 kernels are missing for some ops.
GPU_PRECISION = {"tensorflow": "mixed_float16", "jax": "mixed_bfloat16", "torch": "mixed_bfloat16"}


def precision_policy(requested: str, found: Devices) -> str:
    """The Keras dtype policy a run uses: "auto" means half precision on accelerators, float32 on CPUs."""
    if requested != "auto":
        return requested
    return GPU_PRECISION.get(found.backend, "mixed_bfloat16") if found.accelerators else "float32"


class Parallel:
    """Data parallelism over `found`'s devices, entered once before the model is built:
    JAX: `keras.distribution.DataParallel` (each batch split over the devices, weights replicated);
    TensorFlow with more than one GPU: `MirroredStrategy`; otherwise one device. `replicas` is how many
    ways a batch splits: the global batch is the per-device batch times it, and a batch must split evenly."""

    def __init__(self, found: Devices):
        import keras

        self.kind, self.replicas, self._strategy = "one device", 1, None
        if found.backend == "jax" and found.count > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel())
            self.kind, self.replicas = f"keras.distribution.DataParallel over {found.count} devices", found.count
        elif found.backend == "tensorflow" and len(found.accelerators) > 1:
            import tensorflow as tf

            self._strategy = tf.distribute.MirroredStrategy()
            self.replicas = self._strategy.num_replicas_in_sync
            self.kind = f"tf.distribute.MirroredStrategy over {self.replicas} GPUs"

    def scope(self):
        """Where variables are made and the model compiled (MirroredStrategy needs it; DataParallel is global)."""
        return self._strategy.scope() if self._strategy is not None else contextlib.nullcontext()


def tensorboard_available() -> bool:
    """TensorBoard event files need TensorFlow's summary ops or the `tensorboard` package."""
    return any(importlib.util.find_spec(m) is not None for m in ("tensorflow", "tensorboard"))
