"""Saving labels and models on a disk that is full, for tests/slow/test_disk_full.py.

Run as `python tests/disk_full_scenario.py FOLDER MODEL` where FOLDER is a small, empty tmpfs
(test_disk_full.py mounts one in a private mount namespace) and MODEL a .keras file. It fills
FOLDER's disk to the last byte, tries every kind of save, frees the space again, and prints one
JSON object saying what each attempt did and what the store and the registry held before, during
and after. The test asserts on that object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from alpr.training import registry
from alpr.errors import AlprError
from alpr.imageio import encode_png
from alpr.labels.store import LabelStore


def _plate(seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((60, 200)) * 255).astype(np.uint8)


def _snapshot(store: LabelStore) -> dict:
    """Everything a person could lose: the counts and every character's current label."""
    stats = store.stats()
    labels = {str(plate.id): [c.label for c in store.plate_chars(plate.id)] for plate in store.recent_plates(limit=100)}
    return {"plates": stats["plates"], "characters": stats["characters"], "labeled": stats["labeled"], "labels": labels}


def _registry_state(data: Path) -> dict:
    models = registry.models_dir(data)
    return {
        "versions": [v.name for v in registry.versions(data)],
        "active": registry.active_name(data),
        "active_json": (models / registry.ACTIVE_FILE).read_text()
        if (models / registry.ACTIVE_FILE).exists()
        else None,
        "leftovers": sorted(p.name for p in models.iterdir() if p.name.startswith(".")) if models.is_dir() else [],
    }


def _attempt(action) -> str:
    """'ok', or the error's class and message: what the user would be shown."""
    try:
        action()
    except AlprError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:  # the last few bytes, so not even one more page fits
        while True:
            os.write(fd, b"\0")
    except OSError:
        pass
    os.close(fd)
    return filler


def main(folder: Path, model: Path) -> dict:
    import keras

    data = folder / "data"
    out: dict = {}
    store = LabelStore(data)
    for seed in range(2):
        store.add_labeled_plate(_plate(seed), f"ABC12{seed}", plate_crop=True, name=f"plate{seed}")
    first_char = store.plate_chars(store.recent_plates(limit=1)[0].id)[0].id
    store.set_label(first_char, "Z")

    loaded = keras.saving.load_model(model, compile=False, safe_mode=True)
    meta = json.loads(model.with_suffix(".json").read_text())
    first = registry.register(lambda path: shutil.copyfile(model, path), dict(meta), data)
    registry.activate(first.name, data, force=True)

    photo = folder / "plate.png"
    photo.write_bytes(encode_png(_plate(9)))

    out["store_before"] = _snapshot(store)
    out["registry_before"] = _registry_state(data)

    filler = _fill(folder)
    out["free_bytes_when_full"] = shutil.disk_usage(folder).free
    out["set_label"] = _attempt(lambda: store.set_label(first_char, "Q"))
    out["add_plate"] = _attempt(lambda: store.add_labeled_plate(_plate(7), "NEW777", plate_crop=True, name="new"))
    out["undo"] = _attempt(lambda: store.undo_last())
    out["store_while_full"] = _snapshot(store)
    out["register"] = _attempt(lambda: registry.register(lambda path: loaded.save(path), dict(meta), data))
    out["activate"] = _attempt(lambda: registry.activate(registry.SHIPPED, data))
    out["registry_while_full"] = _registry_state(data)
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "alpr",
            "labels",
            "--data-dir",
            str(data),
            "add-plate",
            str(photo),
            "--plate",
            "ABC123",
            "--plate-crop",
        ],
        capture_output=True,
        text=True,
    )
    out["cli_when_full"] = {"status": cli.returncode, "stderr": cli.stderr.strip().splitlines()[-3:]}

    filler.unlink()
    out["set_label_after"] = _attempt(lambda: store.set_label(first_char, "Q"))
    store.close()
    with LabelStore(data) as reopened:
        out["store_after"] = _snapshot(reopened)
    out["register_after"] = _attempt(lambda: registry.register(lambda path: loaded.save(path), dict(meta), data))
    out["registry_after"] = _registry_state(data)
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
