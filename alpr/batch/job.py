"""The facade: expand the inputs, skip what RESULTS holds, read the rest on an engine, write as rows come."""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from alpr.batch.config import DEFAULT, BatchConfig
from alpr.batch.engines import ReadSettings, make_engine
from alpr.batch.inputs import expand_inputs
from alpr.batch.progress import Progress
from alpr.batch.writers import open_writer


@dataclass(frozen=True)
class BatchSummary:
    photos: int  # read by this run
    skipped: int  # already in RESULTS (--resume)
    errors: int
    plates: int
    seconds: float
    engine: str


def model_settings(model: str | None, country: str, topn: int) -> ReadSettings:
    """The driver loads the model once itself: a missing or corrupt model fails here, before any
    worker starts, and its version is what every worker must load too."""
    from alpr import registry
    from alpr.classify import load_classifier

    path = registry.resolve_model(model)
    classifier = load_classifier(path)
    return ReadSettings(None if path is None else str(path.resolve()), classifier.info.version, country, topn)


def run_batch(inputs: list[str], out: str, settings: ReadSettings, engine: str = "local", workers: int = 2,
              address: str | None = None, resume: bool = False, config: BatchConfig = DEFAULT,
              on_rows: Callable[[list], None] | None = None, stream=None) -> BatchSummary:
    """Read every photo of `inputs` not yet in `out` into `out`. `on_rows` sees each chunk's rows
    after they are handed to the writer (the tests stop or kill a worker there)."""
    stream = stream or sys.stderr
    paths = expand_inputs(inputs)
    with open_writer(out, resume, config) as writer:
        todo = [p for p in paths if p not in writer.done]
        progress = Progress(len(todo), len(paths) - len(todo), config.progress_seconds, stream)
        if todo:
            with make_engine(engine, workers, address, config) as runner:
                print(f"batch: {len(todo)} photos on a {runner.describe()}", file=stream, flush=True)
                for rows in runner.run(todo, settings):
                    writer.write(rows)
                    progress.update(rows)
                    if on_rows is not None:
                        on_rows(rows)
    print(progress.finish(out), file=stream, flush=True)
    return BatchSummary(progress.done, progress.skipped, progress.errors, progress.plates, progress.seconds, engine)
