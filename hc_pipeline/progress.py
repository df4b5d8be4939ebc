"""What a long `run` shows while it works: one line per file (n of N, rows, rows/s), live on a terminal."""

import time
from collections.abc import Callable
from typing import TextIO

CLEAR_LINE = "\r\x1b[K"


class FileProgress:
    """Progress over the files of one domain; on a terminal the file in hand shows until its line replaces it."""

    def __init__(self, out: TextIO, domain: str, total: int, clock: Callable[[], float] = time.monotonic):
        self.out, self.domain, self.total, self.clock = out, domain, total, clock
        self.live = out.isatty()
        self.done = 0
        self._started = 0.0

    def start(self, key: str) -> None:
        """The next file begins."""
        self._started = self.clock()
        if self.live:
            self.out.write(f"{CLEAR_LINE}{self._prefix()} {key} ...")
            self.out.flush()

    def finish(self, key: str, rows: int | None, outcome: str, seconds: float | None = None) -> None:
        """The file ended with `rows` read (None if unknown) and its outcome (`curated`, `stopped by checks`, ...);
        `seconds` it took when it shared a run (else since `start`)."""
        seconds = max(self.clock() - self._started if seconds is None else seconds, 1e-6)
        counted = "" if rows is None else f": {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)"
        self.out.write(f"{CLEAR_LINE if self.live else ''}{self._prefix()} {key}{counted}, {outcome}\n")
        self.out.flush()
        self.done += 1

    def _prefix(self) -> str:
        return f"{self.domain}: file {self.done + 1} of {self.total}:"
