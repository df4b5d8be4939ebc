"""Writes that readers see whole or not at all, locally and on S3."""

import contextlib
import errno
import glob
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from upath import UPath

from hc_pipeline.stores.names import bounded_name


@contextlib.contextmanager
def written_whole(path: UPath) -> Iterator[BinaryIO]:
    """A handle whose bytes become `path` when the block ends; on any error nothing is left behind.

    Locally: a hidden partial file beside `path`, renamed into place; partials of `path` that a killed process left
    are removed first (one file is written by one step at a time). On S3: s3fs sends one PutObject below its
    block size (50 MB) and a multipart upload above it; S3 shows neither until it is complete, and an upload the
    block abandons is discarded (a lifecycle rule should abort any a killed process leaves).
    """
    local = path.protocol in ("", "file", "local")
    hidden = f".{bounded_name(path.name, 120)}"
    target = path.with_name(f"{hidden}.{uuid.uuid4().hex}.partial") if local else path
    if local:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{glob.escape(hidden)}.*.partial"):
            stale.unlink(missing_ok=True)
    sink = target.open("wb")
    try:
        yield sink
        sink.close()
        if local:
            target.rename(path)
    except BaseException as error:
        discard = None if local else getattr(sink, "discard", None)  # an s3fs upload not yet completed
        with contextlib.suppress(Exception):  # closing may fail the same way (a full disk)
            discard() if discard else sink.close()
        if local:
            target.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            # Name the file being written, not its hidden temporary twin.
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
