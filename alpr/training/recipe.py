"""Extra real crops for `alpr.train`'s fine-tuning rounds (issue 11), kept out of train.py so that
the trainer's own steps stay readable and the move of train.py into this package stays easy.

* `--ocr-data DIR`: the character crops and box sheets of an `openalpr-train-ocr` folder, training
  part of the split by plate (`ocr_data.split`);
* `--plate-data DIR`: plate crops with a labels.csv where one plate has several crops (the detector
  set: 1,144 crops of 616 plates), harvested like the benchmark crops (segmented, extra segments
  aligned to "not a character" by the current model), training part of the split by plate text.
"""

from __future__ import annotations

import numpy as np

from alpr.training.ocr_data import (
    as_arrays,
    char_accuracy,
    plate_holdout,
    read_ocr_root,
    split,
)


class ExtraCrops:
    """Loads the OCR sources once; harvests the plate folders again each round with the latest model."""

    def __init__(self, ocr_data: str | None, plate_data: list[str], size: int, only: list[str] | None = None):
        self.sources = read_ocr_root(ocr_data, size) if ocr_data else {}
        if only:
            self.sources = {name: samples for name, samples in self.sources.items() if name in only}
        self.plate_items = []
        if plate_data:
            from alpr.data import read_dataset

            self.plate_items = [it for d in plate_data for it in read_dataset(d)]
        train = [s for samples in self.sources.values() for s in split(samples)[0]]
        self.ocr_x, self.ocr_y = as_arrays(train)

    def round(self, classifier, progress=None) -> tuple[np.ndarray, np.ndarray, dict]:
        """(x, y, counts) to add to one fine-tuning round's real crops."""
        from alpr.data import harvest_crops

        xs, ys = [self.ocr_x], [self.ocr_y]
        counts = {"ocr_train": len(self.ocr_y)}
        train_items = [it for it in self.plate_items if not plate_holdout(it)]
        if train_items:
            h = harvest_crops(train_items, classifier, progress=progress)
            if h.labels:
                xs.append(np.stack(h.images))
                ys.append(np.array(h.labels, np.int32))
            counts.update(plate_data_train=len(h.labels), plate_data_plates=h.plates_used)
        if len(self.ocr_y) == 0 and len(ys) == 1:
            return (
                np.zeros((0, classifier.input_size, classifier.input_size), np.float32),
                np.zeros(0, np.int32),
                counts,
            )
        x = np.concatenate([a for a in xs if len(a)])
        y = np.concatenate([b for b in ys if len(b)])
        return x, y, counts

    def report(self, classifier) -> dict:
        """Hold-out accuracy per OCR source, for the model's metadata."""
        return {name: char_accuracy(classifier, split(samples)[1]) for name, samples in self.sources.items()}
