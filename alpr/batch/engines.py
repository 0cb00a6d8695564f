"""Where the reading runs. Every engine runs the same `read_chunk` on chunks of paths and yields
each chunk's rows as it completes, so rows are the same whatever the engine; only their order
(completion order) differs.

    LocalEngine  a process pool on this machine (spawned processes: TensorFlow does not survive fork)
    DaskEngine   a Dask distributed cluster: `Client(address)` to join one, else a LocalCluster

Each worker process loads the model once, on its first chunk (`_classifier`, a per-process cache),
and checks it is the version the driver asked for: workers of a cluster reading another model
would give other rows. A chunk lost with its worker (killed, out of memory) is run again by the
engine; the driver writes a chunk's rows only when its task completes, so a retried chunk is never
written twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice

from alpr.batch.config import DEFAULT, BatchConfig
from alpr.batch.rows import PhotoRow, read_photo
from alpr.errors import AlprError, ModelError

ENGINES = ("local", "dask")


class EngineError(AlprError):
    """The engine cannot start: Dask not installed, the cluster address unreachable."""


@dataclass(frozen=True)
class ReadSettings:
    """What every worker needs to read a photo the same way; small and picklable."""

    model_path: str | None  # None: the model shipped inside each worker's own alpr install
    model_version: str  # what the driver loaded; a worker that loads another refuses to read
    country: str = "us"
    topn: int = 10
    runtime: str | None = None  # "keras" or "onnx" (alpr/runtime.py); None: from the model file's suffix


_classifiers: dict[ReadSettings, object] = {}


def _classifier(settings: ReadSettings):
    if settings not in _classifiers:
        from alpr.classify import load_classifier

        try:
            classifier = load_classifier(settings.model_path, runtime=settings.runtime)
        except ModelError as exc:
            raise ModelError(
                f"on worker {os.uname().nodename} (pid {os.getpid()}): {exc}; every worker must "
                "read the model file at the same path (see docs/batch.md)"
            ) from None
        if classifier.info.version != settings.model_version:
            raise ModelError(
                f"worker {os.uname().nodename} loaded model version {classifier.info.version}, "
                f"the batch reads with {settings.model_version}; install the same alpr on every worker"
            )
        _classifiers[settings] = classifier
    return _classifiers[settings]


def _ignore_ctrl_c() -> None:
    """Pool processes leave Ctrl-C to the driver, which saves what was read and stops them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def read_chunk(paths: list[str], settings: ReadSettings) -> list[PhotoRow]:
    """The task every engine runs: a chunk of paths into rows (bad photos are rows with an error)."""
    classifier = _classifier(settings)
    return [read_photo(p, classifier, settings.country, settings.topn) for p in paths]


def chunks(paths: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(paths)
    while chunk := list(islice(it, size)):
        yield chunk


class LocalEngine:
    name = "local"

    def __init__(self, workers: int, config: BatchConfig = DEFAULT):
        self.workers, self.config = workers, config
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self):
        import multiprocessing

        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_ctrl_c
        )
        return self

    def __exit__(self, exc_type=None, *exc) -> None:
        if exc_type is KeyboardInterrupt:
            # Ctrl-C: the chunks running would be thrown away; stop their processes now rather
            # than wait for them (the pool's own shutdown would).
            for process in list(self._pool._processes.values()):
                process.terminate()
        self._pool.shutdown(wait=exc_type is None, cancel_futures=True)

    def describe(self) -> str:
        return f"local process pool of {self.workers} worker(s)"

    def run(self, paths: Iterable[str], settings: ReadSettings) -> Iterator[list[PhotoRow]]:
        limit = self.workers * (1 + self.config.in_flight_per_worker)
        pending = set()
        for chunk in chunks(paths, self.config.chunk_size):
            pending.add(self._pool.submit(read_chunk, chunk, settings))
            if len(pending) >= limit:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (f.result() for f in done)


class DaskEngine:
    name = "dask"

    def __init__(self, workers: int, address: str | None = None, config: BatchConfig = DEFAULT):
        self.workers, self.address, self.config = workers, address, config
        self.client = self._cluster = None

    def __enter__(self):
        distributed = import_dask()
        try:
            if self.address:
                self.client = distributed.Client(self.address, timeout="20s")
            else:
                # Only this machine may reach a cluster it starts: 127.0.0.1, no dashboard.
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self.client = distributed.Client(self._cluster)
        except OSError as exc:
            self.__exit__()
            raise EngineError(
                f"cannot reach the Dask scheduler at {self.address or 'a new LocalCluster'}: {exc}"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def describe(self) -> str:
        n = len(self.client.scheduler_info(n_workers=-1)["workers"])
        return f"Dask cluster at {self.client.scheduler.address} with {n} worker(s)"

    def run(self, paths: Iterable[str], settings: ReadSettings) -> Iterator[list[PhotoRow]]:
        from distributed import as_completed

        # Scheduled when a slot frees, not all at once: a million paths never sit in the
        # scheduler's memory, and a cluster that grows gets more work as it does.
        slots = max(self.workers, len(self.client.scheduler_info(n_workers=-1)["workers"]))
        limit = slots * (1 + self.config.in_flight_per_worker)
        todo = chunks(paths, self.config.chunk_size)

        # pure=False: two identical chunks are two tasks; retries: an exception on a worker
        # (not a death: the scheduler reruns a dead worker's tasks on its own, up to
        # distributed.scheduler.allowed-failures times) gets another try.
        def submit(chunk):
            return self.client.submit(read_chunk, chunk, settings, pure=False, retries=2)

        queue = as_completed([submit(c) for c in islice(todo, limit)])
        for future in queue:
            rows = future.result()
            future.release()
            nxt = next(todo, None)
            if nxt is not None:
                queue.add(submit(nxt))
            yield rows


def import_dask():
    """distributed, or a one-line EngineError saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise EngineError(
            f"--engine dask needs Dask distributed, which is not installed ({exc}): "
            "pip install 'dask[distributed]', or run with --engine local"
        ) from None
    return distributed


def make_engine(name: str, workers: int, address: str | None = None, config: BatchConfig = DEFAULT):
    if name == "local":
        if address:
            raise EngineError("--address joins a cluster: it needs --engine dask")
        return LocalEngine(workers, config)
    if name == "dask":
        return DaskEngine(workers, address, config)
    raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
