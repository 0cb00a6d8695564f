"""What training asks of the Keras backend, whichever it is (tensorflow, jax or torch): its name,
the accelerators it sees in words, mixed precision, and data parallelism across several of them.

Everything else in `alpr.training` is Keras 3 only (`keras.ops`, `keras.utils.PyDataset`,
`keras.callbacks`), so the same code trains with `KERAS_BACKEND=tensorflow` (the default here),
`jax` or `torch`; a version saved under one backend loads under another (`.keras` files hold
backend-free weights), and the app reads with TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import dataclass

BACKENDS = ("tensorflow", "jax", "torch")
# float16 needs loss scaling and overflows on large activations; bfloat16 has float32's range, so it
# is the safe half precision where the hardware has it (Ampere and later, TPUs). TensorFlow keeps
# mixed_float16 on its GPUs, as before, where bfloat16 kernels are missing for some ops.
GPU_PRECISION = {"tensorflow": "mixed_float16", "jax": "mixed_bfloat16", "torch": "mixed_bfloat16"}


def name() -> str:
    """The Keras backend this process trains with, without importing a framework when Keras is not
    loaded yet (KERAS_BACKEND wins over ~/.keras/keras.json, as in Keras)."""
    import sys

    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


@dataclass(frozen=True)
class Devices:
    backend: str
    accelerators: tuple[str, ...]  # GPU/TPU names, one per device; empty on a CPU
    cpus: int  # host devices the backend sees (2 with XLA_FLAGS=--xla_force_host_platform_device_count=2)

    @property
    def line(self) -> str:
        """ "GPU: NVIDIA H200" or "CPU: no GPU found", as the model metadata keeps it."""
        return ("GPU: " + ", ".join(self.accelerators)) if self.accelerators else "CPU: no GPU found"

    @property
    def count(self) -> int:
        """Devices a data-parallel run splits each batch over."""
        return len(self.accelerators) or self.cpus


def devices() -> Devices:
    """The devices the current backend computes on."""
    backend = name()
    if backend == "tensorflow":
        from alpr.classify import quiet_tensorflow

        quiet_tensorflow()
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        names = tuple(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
        return Devices(backend, names, 1)
    if backend == "jax":
        import jax

        accel = tuple(getattr(d, "device_kind", d.platform) for d in jax.devices() if d.platform != "cpu")
        return Devices(backend, accel, 0 if accel else len(jax.devices("cpu")))
    if backend == "torch":
        import torch

        names = tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Devices(backend, names, 1)
    return Devices(backend, (), 1)


def version() -> str:
    """ "TensorFlow 2.21.0", "JAX 0.10.2", "PyTorch 2.x": the framework under Keras, for run logs."""
    backend = name()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module is None:
        return backend
    mod = __import__(module)
    label = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}[backend]
    return f"{label} {mod.__version__}"


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
