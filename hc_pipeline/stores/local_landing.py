"""The landing zone as a local folder, `<root>/landing/<domain>/...`; a file's version is its content's MD5."""

import errno
import hashlib
import io
import os
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from hc_pipeline.stores.digests import CHUNK_BYTES, DigestIndex, md5_stream, stat_stamp
from hc_pipeline.stores.landed import LandedObject, VersionChanged

SETTLE_SECONDS = 2.0


class LocalLanding:
    """Lists, reads and receives landed files; remembers digests so listing reads only new or changed files.

    A file copied into the folder by other means than `put` is taken once it has not changed for `settle_seconds`,
    so a half-copied file never becomes a version; files landed by `put` (atomic rename) are taken at once.
    """

    def __init__(self, root: str | os.PathLike, settle_seconds: float = SETTLE_SECONDS):
        self.root = Path(root)
        self.settle_seconds = settle_seconds
        self.landing = self.root / "landing"
        self.index = DigestIndex(self.root / "index" / "landing-digests.sqlite")
        # Bytes read to compute versions, for tests and benchmarks: unchanged files cost none.
        self.bytes_hashed = 0

    def list_objects(self, domain: str, start_after: str | None = None) -> list[LandedObject]:
        """Every file under `<domain>/` (dot-files included), sorted by key; or only the keys after `start_after`."""
        folder = self.landing / domain
        if not folder.exists():
            return []
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
        known = self.index.load(domain)
        found, fresh, settled_before = [], [], time.time() - self.settle_seconds
        listed = _files(str(self.landing), domain)
        for key, path in listed:
            if start_after and key <= start_after:
                continue
            try:
                stat = os.stat(path)
            except FileNotFoundError:  # deleted since the walk, or a dangling symlink
                continue
            stamp = stat_stamp(stat)
            remembered = known.get(key)
            if remembered and remembered[0] == stamp:
                digest = remembered[1]
            elif stat.st_mtime > settled_before:
                continue  # still being written, perhaps: the next listing looks again
            else:
                with open(path, "rb") as handle:
                    digest, size = md5_stream(handle)
                self.bytes_hashed += size
                fresh.append((key, stamp, digest))
            found.append(LandedObject(key=key, version=digest, last_modified=stat.st_mtime, size=stat.st_size))
        # A partial listing cannot tell which files are gone; a file still settling is not gone.
        gone = set() if start_after else known.keys() - {key for key, _ in listed}
        self.index.update(fresh, gone=gone)
        return found

    def read_bytes(self, key: str, version: str | None = None) -> bytes:
        with self.open(key, version) as handle:
            return handle.read()

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        """The file as a stream; with `version`, reading its end raises if its content is not that version."""
        handle = (self.landing / key).open("rb")
        return io.BufferedReader(_Checked(handle, key, version), CHUNK_BYTES) if version else handle

    def put(self, key: str, data: bytes) -> LandedObject:
        """Land `data` at `key`, replacing any earlier version."""
        return self.put_stream(key, io.BytesIO(data))

    def put_file(self, key: str, source: str | os.PathLike) -> LandedObject:
        """Land the file at `source`, copied in chunks (constant memory)."""
        with open(source, "rb") as handle:
            return self.put_stream(key, handle)

    def put_stream(self, key: str, reader: BinaryIO) -> LandedObject:
        """Copy `reader` to a temp file outside the landing folder, hashing on the way, then rename it in place."""
        target = self.landing / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Outside landing/, so a listing never sees a half-written file; same filesystem, so the rename is atomic.
        temp_folder = self.root / "tmp"
        temp_folder.mkdir(parents=True, exist_ok=True)
        partial = temp_folder / f"{uuid.uuid4().hex}.partial"
        try:
            with partial.open("xb") as sink:
                digest, _ = md5_stream(reader, sink)
            os.replace(partial, target)
        except BaseException as error:
            partial.unlink(missing_ok=True)
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OSError(error.errno, error.strerror, str(target)) from error  # the file landing, not its temp
            raise
        stat = target.stat()
        self.index.update([(key, stat_stamp(stat), digest)])
        return LandedObject(key=key, version=digest, last_modified=stat.st_mtime, size=stat.st_size)

    def uri(self, key: str) -> str:
        return str(self.landing / key)


class _Checked(io.RawIOBase):
    """A landed file read through an MD5: its end raises VersionChanged unless the content is the version read."""

    def __init__(self, handle: BinaryIO, key: str, version: str):
        self._handle, self._key, self._version = handle, key, version
        self._digest = hashlib.md5(usedforsecurity=False)

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        n = self._handle.readinto(target)
        self._digest.update(memoryview(target)[:n])
        if n == 0 and self._digest.hexdigest() != self._version:
            raise VersionChanged(
                f"{self._key}: the file changed after version {self._version} landed; "
                "the new version is its own partition"
            )
        return n

    def close(self) -> None:
        self._handle.close()
        super().close()


def _files(landing: str, domain: str) -> list[tuple[str, str]]:
    """`(key, path)` of every file below `<landing>/<domain>`, sorted by key; symlinked folders not followed."""
    found, pending = [], [domain]
    while pending:
        relative = pending.pop()
        with os.scandir(os.path.join(landing, relative)) as entries:
            for entry in entries:
                key = f"{relative}/{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    pending.append(key)
                else:
                    found.append((key, entry.path))
    return sorted(found)
