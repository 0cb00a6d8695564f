"""The process's deep-learning framework, in facts both reading and training ask for: which Keras
backend runs (tensorflow, jax or torch), the devices it computes on, in words, and TensorFlow
imported without its start-up chatter.

Ground floor: it imports no other alpr module and no framework until a function is called, so the
reading stages (`classify`, `runtime`) and `training` can all build on it without reaching into
each other.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

BACKENDS = ("tensorflow", "jax", "torch")


def name() -> str:
    """The Keras backend this process runs, without importing a framework when Keras is not
    loaded yet (KERAS_BACKEND wins over ~/.keras/keras.json, as in Keras)."""
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def version() -> str:
    """ "TensorFlow 2.21.0", "JAX 0.10.2", "PyTorch 2.x": the framework under Keras, for run logs."""
    backend = name()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module is None:
        return backend
    mod = __import__(module)
    label = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}[backend]
    return f"{label} {mod.__version__}"


def quiet_tensorflow(always: bool = False) -> None:
    """Import TensorFlow with its C++ start-up lines (absl, oneDNN) kept off the user's stderr.

    TF_CPP_MIN_LOG_LEVEL does not silence them in TF 2.21, and a CLI that promises one-line
    messages cannot print six lines of noise first. Import errors still raise as usual.
    """
    if "tensorflow" in sys.modules:
        return
    if (
        name() != "tensorflow" and not always
    ):  # a JAX or PyTorch run never loads TensorFlow (the GPU machine may lack it)
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


def describe_device() -> str:
    """The device the Keras backend computes on, in words: the GPU's name, or "CPU: no GPU found"."""
    return devices().line
