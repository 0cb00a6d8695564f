"""Stage 5: plates a person taught the reader, recognised when they are seen again.

A character classifier cannot learn what its crops do not show: an O and a 0 drawn alike, a plate
cut into six segments for seven characters. A person who corrects a plate knows its whole text,
so every plate a person confirmed or corrected is remembered with what it looks like: a small
grey signature of the plate's box. When a later read looks like a remembered plate (normalised
cross-correlation of the signatures) *and* its text is a few edits from the remembered text, the
remembered text becomes the read's first candidate, and the read says which plate it recalled and
how alike they were, so the page can show why. Both conditions must hold: a plate of the same
design with other characters looks alike but reads differently, and a different plate that reads
alike looks different.

A fine-tune writes the memory of the store's plates beside the model it registers
(`char_cnn.plates.npz`); `alpr.classify.load_classifier` loads it with the model, and the pipeline
asks it about every read. The shipped model has none, so nothing changes until a person teaches it.

    memory = PlateMemory.from_photos([(photo, box, "ABC1234", "us", plate_id), ...])
    memory.save(folder / "char_cnn.plates.npz")
    recalled = PlateMemory.load(path).recall(read, "us")   # a Recalled, or None
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from alpr.config import DEFAULT, MemoryConfig
from alpr.errors import ModelError
from alpr.types import Box, PlateRead, Recalled

MEMORY_SUFFIX = ".plates.npz"


def memory_path(model_path: str | Path) -> Path:
    """Where a model's plate memory lives: beside it, `char_cnn.keras` -> `char_cnn.plates.npz`."""
    return Path(model_path).with_suffix(MEMORY_SUFFIX)


def signature(image: np.ndarray, box: Box, config: MemoryConfig = DEFAULT.memory) -> np.ndarray | None:
    """The plate's look, as the memory compares it: the box's grey pixels scaled to a fixed size,
    blurred a little (a box a few pixels off must still match), zero mean and unit norm. None for a
    box outside the image or too small to say anything."""
    from skimage.filters import gaussian
    from skimage.transform import resize

    h, w = image.shape[:2]
    x0, y0 = max(0, int(box.x)), max(0, int(box.y))
    x1, y1 = min(w, int(box.x + box.w)), min(h, int(box.y + box.h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    region = image[y0:y1, x0:x1]
    grey = region.mean(axis=2) if region.ndim == 3 else region
    small = resize(grey.astype(np.float32), config.signature_shape, anti_aliasing=True, preserve_range=True)
    small = gaussian(small, sigma=config.signature_blur, preserve_range=True)
    small = small - small.mean()
    norm = float(np.linalg.norm(small))
    if norm < 1e-6:  # a flat patch: no look to compare
        return None
    return (small / norm).astype(np.float32)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class PlateMemory:
    """Remembered plates: their signatures, texts, regions, box aspects and store ids."""

    def __init__(
        self,
        signatures: np.ndarray,
        texts: Iterable[str],
        regions: Iterable[str],
        aspects: Iterable[float],
        plate_ids: Iterable[int],
        config: MemoryConfig = DEFAULT.memory,
    ):
        self.signatures = np.asarray(signatures, np.float32).reshape(-1, *config.signature_shape)
        self.texts = [str(t) for t in texts]
        self.regions = [str(r).lower() for r in regions]
        self.aspects = np.asarray(list(aspects), np.float32)
        self.plate_ids = [int(i) for i in plate_ids]
        self.config = config
        if not len(self.texts) == len(self.regions) == len(self.aspects) == len(self.plate_ids) == len(self.signatures):
            raise ModelError("a plate memory's arrays have different lengths; train again to write a new one")

    def __len__(self) -> int:
        return len(self.texts)

    def taught(self) -> list[tuple[int, str]]:
        """(plate id, text) of every remembered plate."""
        return list(zip(self.plate_ids, self.texts))

    @classmethod
    def from_photos(
        cls, plates: Iterable[tuple[np.ndarray, Box, str, str, int]], config: MemoryConfig = DEFAULT.memory
    ) -> "PlateMemory":
        """A memory of (photo, plate box in its pixels, text, region, plate id); plates whose box
        shows nothing to compare are left out."""
        kept = []
        for image, box, text, region, plate_id in plates:
            sig = signature(image, box, config)
            if sig is not None and text:
                kept.append((sig, text, region or "", box.w / max(box.h, 1), plate_id))
        if not kept:
            return cls(np.zeros((0, *config.signature_shape), np.float32), [], [], [], [], config)
        sigs, texts, regions, aspects, ids = zip(*kept)
        return cls(np.stack(sigs), texts, regions, aspects, ids, config)

    def recall(self, read: PlateRead, region: str) -> Recalled | None:
        """The remembered plate this read shows, or None. Among the remembered plates of this
        region whose box has about the same shape: the best-looking one that either looks alike
        (`min_similarity`) and reads alike (at most `max_edits`), or is the very same plate image
        (`same_plate_similarity`), however badly the read went: a plate cut into the wrong pieces
        reads far from its text but still looks like itself."""
        if not len(self):
            return None
        box = _relative(read.box, read.crop_box)
        plain = signature(read.crop, box, self.config)
        if plain is None:
            return None
        # One comparison with every remembered plate first; the 27 shifted views only for those
        # that read alike or already look nearly the same.
        looks = np.tensordot(self.signatures, plain, axes=([1, 2], [0, 1]))
        aspect = read.box.w / max(read.box.h, 1)
        near = []
        for k, text in enumerate(self.texts):
            if self.regions[k] and self.regions[k] != region.lower():
                continue
            if abs(np.log(aspect / max(float(self.aspects[k]), 1e-3))) > self.config.max_aspect_log_ratio:
                continue
            edits = edit_distance(read.plate, text)
            if edits <= self.config.max_edits or looks[k] >= self.config.same_plate_similarity - self.config.jitter:
                near.append((k, edits))
        if not near:
            return None
        views = _jittered(read.crop, box, self.config)
        best: Recalled | None = None
        for k, edits in near:
            similarity = float(np.tensordot(views, self.signatures[k], axes=([1, 2], [0, 1])).max())
            alike = similarity >= self.config.min_similarity and edits <= self.config.max_edits
            if (alike or similarity >= self.config.same_plate_similarity) and (
                best is None or similarity > best.similarity
            ):
                best = Recalled(self.plate_ids[k], self.texts[k], round(similarity, 3), edits)
        return best

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            signatures=self.signatures.astype(np.float16),
            texts=np.array(self.texts, dtype=str),
            regions=np.array(self.regions, dtype=str),
            aspects=self.aspects,
            plate_ids=np.array(self.plate_ids, np.int64),
        )

    @classmethod
    def load(cls, path: str | Path, config: MemoryConfig = DEFAULT.memory) -> "PlateMemory":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(
                    z["signatures"].astype(np.float32), z["texts"], z["regions"], z["aspects"], z["plate_ids"], config
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"plate memory {path} is unreadable ({exc}); train again to write a new one") from None


def _jittered(image: np.ndarray, box: Box, config: MemoryConfig) -> np.ndarray:
    """Signatures of the box moved and scaled a little (`jitter` of its size each way): a read
    boxes the same plate a few pixels differently from one model or photo to the next."""
    j = config.jitter
    views = []
    for scale in (1 - j, 1.0, 1 + j):
        w, h = box.w * scale, box.h * scale
        for dx in (-j, 0.0, j):
            for dy in (-j, 0.0, j):
                x = box.x + (box.w - w) / 2 + dx * box.w
                y = box.y + (box.h - h) / 2 + dy * box.h
                sig = signature(image, Box(round(x), round(y), round(w), round(h)), config)
                if sig is not None:
                    views.append(sig)
    return np.stack(views) if views else np.zeros((0, *config.signature_shape), np.float32)


def _relative(box: Box, crop_box: Box) -> Box:
    return Box(box.x - crop_box.x, box.y - crop_box.y, box.w, box.h)
