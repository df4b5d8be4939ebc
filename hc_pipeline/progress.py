"""What a long `run` shows while it works: one line per file (n of N, rows, rows/s), live on a terminal, then one for
the domain's reports."""

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextvars import ContextVar
from typing import TextIO, TypeVar

CLEAR_LINE = "\r\x1b[K"
BAR_WIDTH = 20
REDRAW_SECONDS = 0.2

Frame = TypeVar("Frame", bound=Sized)
# (phase, rows so far, rows in all or None): how the steps of the file in hand report rows as they go
Advance = Callable[[str, int, "int | None"], None]
_ADVANCE: ContextVar[Advance | None] = ContextVar("hc_progress", default=None)


@contextlib.contextmanager
def shown_to(advance: Advance | None) -> Iterator[None]:
    """While the block runs (steps in this process), `counted` reports to `advance`."""
    token = _ADVANCE.set(advance)
    try:
        yield
    finally:
        _ADVANCE.reset(token)


def counted(frames: Iterable[Frame], phase: str, total: int | None = None) -> Iterator[Frame]:
    """The frames unchanged; each one's rows reported, once the consumer is done with it, to whoever shows them."""
    advance = _ADVANCE.get()
    if advance is None:
        yield from frames
        return
    rows = 0
    advance(phase, rows, total)
    for frame in frames:
        yield frame
        rows += len(frame)
        advance(phase, rows, total)


class FileProgress:
    """Progress over the files of one domain; on a terminal the file in hand shows until its line replaces it."""

    def __init__(self, out: TextIO, domain: str, total: int, clock: Callable[[], float] = time.monotonic):
        self.out, self.domain, self.total, self.clock = out, domain, total, clock
        self.live = out.isatty()
        self.done = 0
        self._started = 0.0
        self._key = ""
        self._phase: tuple[str, float] = ("", 0.0)  # the phase shown and when it began
        self._drawn = 0.0

    def start(self, key: str) -> None:
        """The next file begins."""
        self._started, self._key, self._phase = self.clock(), key, ("", 0.0)
        if self.live:
            self.out.write(f"{CLEAR_LINE}{self._prefix()} {key} ...")
            self.out.flush()

    def finish(self, key: str, rows: int | None, outcome: str, seconds: float | None = None) -> None:
        """The file ended with `rows` read (None if unknown) and its outcome (`curated`, `stopped by checks`, ...);
        `seconds` it took when it shared a run (else since `start`)."""
        seconds = max(self.clock() - self._started if seconds is None else seconds, 1e-6)
        told = "" if rows is None else f": {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)"
        self.out.write(f"{CLEAR_LINE if self.live else ''}{self._prefix()} {key}{told}, {outcome}\n")
        self.out.flush()
        self.done += 1

    def reports_start(self) -> None:
        """The domain's reports begin: over the whole lake, they can take as long as a large file."""
        self._started = self.clock()
        if self.live:
            self.out.write(f"{CLEAR_LINE}{self.domain}: reports ...")
            self.out.flush()

    def reports_finish(self, outcome: str) -> None:
        """The reports ended: `refreshed`, or `not refreshed` (the error goes to stderr)."""
        seconds = self.clock() - self._started
        self.out.write(f"{CLEAR_LINE if self.live else ''}{self.domain}: reports {outcome} in {seconds:.1f} s\n")
        self.out.flush()

    def advance(self, phase: str, rows: int, total: int | None) -> None:
        """On a terminal, redraw the file's line with its phase's rows, as a bar when their total is known."""
        if not self.live:
            return
        now = self.clock()
        if phase != self._phase[0]:
            self._phase = (phase, now)
        elif now - self._drawn < REDRAW_SECONDS and rows != total:
            return
        self._drawn = now
        rate = f" ({rows / (now - self._phase[1]):,.0f} rows/s)" if rows and now > self._phase[1] else ""
        if total:
            filled = BAR_WIDTH * min(rows, total) // total
            shown = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {100 * rows // total}% of {total:,} rows"
        else:
            shown = f"{rows:,} rows"
        self.out.write(f"{CLEAR_LINE}{self._prefix()} {self._key}: {phase} {shown}{rate}")
        self.out.flush()

    def _prefix(self) -> str:
        return f"{self.domain}: file {self.done + 1} of {self.total}:"
