"""The facade: expand the inputs, skip what RESULTS holds, read the rest on an engine, write as rows come."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


def model_settings(model: str | None, country: str, topn: int, runtime: str | None = None) -> ReadSettings:
    """Which model every worker must load, by path and version. Only the metadata is read here:
    the driver never loads TensorFlow (it may run on a small machine beside the cluster); each
    worker loads and checks the model itself, and the first chunk fails in one line if it cannot."""
    import json

    from alpr.training import registry
    from alpr.classify import DEFAULT_MODEL, metadata_path
    from alpr.errors import ModelError
    from alpr.runtime import onnx_file_for, runtime_for

    path = registry.resolve_model(model)
    model_file = Path(path or DEFAULT_MODEL).resolve()
    try:
        version = str(json.loads(metadata_path(model_file).read_text()).get("version", model_file.stem))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot read the metadata of the model {model_file}: {exc}; "
            "`python -m alpr models list` shows the usable versions"
        ) from None
    if runtime_for(model_file, runtime) == "onnx":
        onnx_file_for(model_file)  # missing: say so now, not once per worker
    return ReadSettings(None if path is None else str(model_file), version, country, topn, runtime)


def run_batch(
    inputs: list[str],
    out: str,
    settings: ReadSettings,
    engine: str = "local",
    workers: int = 2,
    address: str | None = None,
    resume: bool = False,
    config: BatchConfig = DEFAULT,
    on_rows: Callable[[list], None] | None = None,
    stream=None,
    paths: list[str] | None = None,
) -> BatchSummary:
    """Read every photo of `inputs` not yet in `out` into `out`. `on_rows` sees each chunk's rows
    after they are handed to the writer (the tests stop or kill a worker there). `paths`: the inputs
    already expanded (the CLI expands them first, to fail fast, and a million paths once is enough)."""
    stream = stream or sys.stderr
    paths = paths if paths is not None else expand_inputs(inputs)
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
