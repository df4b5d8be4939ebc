"""Temporary folders for spills, named after the process that made them so that a killed one's are removed."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "hc_pipeline-"


@contextlib.contextmanager
def scratch_folder(kind: str) -> Iterator[Path]:
    """A new folder `hc_pipeline-<kind>-<pid>-*` in the temporary directory, removed when the block ends.

    The folders of `kind` that a process no longer running left behind (killed, out of memory) are removed first:
    a spill of a large file's keys or of a report's sort holds hundreds of megabytes.
    """
    remove_orphans(kind)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{kind}-{os.getpid()}-") as folder:
        yield Path(folder)


def remove_orphans(kind: str) -> list[Path]:
    """Remove the `kind` folders whose process has ended; the ones removed."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}{kind}-*-*"):
        pid = folder.name.removeprefix(f"{PREFIX}{kind}-").split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
