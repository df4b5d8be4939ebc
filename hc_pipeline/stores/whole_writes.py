"""Writes that readers see whole or not at all, locally and on S3."""

import contextlib
import errno
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from upath import UPath

from hc_pipeline.stores.names import bounded_name


@contextlib.contextmanager
def written_whole(path: UPath) -> Iterator[BinaryIO]:
    """A handle whose bytes become `path` when the block ends; on any error nothing is left behind.

    Locally: a hidden partial file beside `path`, renamed into place. On S3: s3fs sends one PutObject below its
    block size (50 MB) and a multipart upload above it; S3 shows neither until it is complete, and an upload the
    block abandons is discarded (a lifecycle rule should abort any a killed process leaves).
    """
    local = path.protocol in ("", "file", "local")
    target = path.with_name(f".{bounded_name(path.name, 120)}.{uuid.uuid4().hex}.partial") if local else path
    if local:
        path.parent.mkdir(parents=True, exist_ok=True)
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
