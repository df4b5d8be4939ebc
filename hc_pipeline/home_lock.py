"""One writer per HC_HOME: an exclusive `flock` on `<home>/run.lock`, held while the instance opens and runs."""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "run.lock"


class HomeBusy(RuntimeError):
    """Another process holds the HC_HOME lock."""


@contextmanager
def exclusive_home(home: Path, wait_seconds: float = 0.0, poll_seconds: float = 0.2) -> Iterator[Path]:
    """Hold the HC_HOME lock for the block; wait up to `wait_seconds` for it, then raise HomeBusy."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_NAME
    deadline = time.monotonic() + wait_seconds
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise HomeBusy(f"{home} is busy: another `hc-pipeline run` (pid {holder}) holds {path}") from None
                time.sleep(poll_seconds)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
