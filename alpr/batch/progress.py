"""Progress on stderr: done/total, photos per second and time left.

On a terminal one line is redrawn; in a log file (or a pipe) a plain line every
`BatchConfig.progress_seconds`, so a long batch shows it moves without burying the log.
"""

from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    def __init__(self, total: int, skipped: int = 0, every_s: float = 10.0, stream=None, tty: bool | None = None):
        self.total, self.skipped, self.every_s = total, skipped, every_s
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.done = self.errors = self.plates = 0
        self.t0 = self._last = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        left = self.total - self.done
        eta = format_duration(left / self.rate) if self.rate else "?"
        skipped = f" ({self.skipped} done before)" if self.skipped else ""
        return (
            f"batch {self.done}/{self.total} photos{skipped}, {self.errors} unusable, "
            f"{self.rate:.2f} photos/s, ETA {eta}"
        )

    def update(self, rows) -> None:
        self.done += len(rows)
        self.errors += sum(r.error is not None for r in rows)
        self.plates += sum(len(r.plates) for r in rows)
        now = time.perf_counter()
        if self.tty:
            self.stream.write(f"\r{self.line()}\033[K")
            self.stream.flush()
        elif now - self._last >= self.every_s:
            print(self.line(), file=self.stream, flush=True)
            self._last = now

    def finish(self, out: str) -> str:
        if self.tty:
            self.stream.write("\r\033[K")
        return (
            f"batch done: {self.done} photos read ({self.errors} unusable, {self.plates} plates) in "
            f"{format_duration(self.seconds)}, {self.rate:.2f} photos/s"
            f"{f'; {self.skipped} skipped, already in {out}' if self.skipped else ''}; results in {out}"
        )
