"""Remembered MD5s of landed files, by key and stat stamp, so a listing reads only new or changed files."""

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1 << 20


def stat_stamp(stat: os.stat_result) -> str:
    """What changes whenever a file's content may have: size, mtime, ctime and inode."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def md5_stream(reader: BinaryIO, sink: BinaryIO | None = None) -> tuple[str, int]:
    """The MD5 (hex) and length of everything `reader` yields, copied to `sink` on the way; constant memory."""
    digest, size = hashlib.md5(usedforsecurity=False), 0
    while chunk := reader.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest(), size


class DigestIndex:
    """A small sqlite table `key -> (stamp, md5)`; when it cannot be read or written, listing just hashes."""

    def __init__(self, path: Path):
        self.path = path

    @contextlib.contextmanager
    def _connection(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as con, con:
            con.execute("CREATE TABLE IF NOT EXISTS digests (key TEXT PRIMARY KEY, stamp TEXT, md5 TEXT)")
            yield con

    def load(self, domain: str) -> dict[str, tuple[str, str]]:
        """Every remembered `key -> (stamp, md5)` under `<domain>/`."""
        prefix = f"{domain}/"
        try:
            with self._connection() as con:
                rows = con.execute(
                    "SELECT key, stamp, md5 FROM digests WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
                ).fetchall()
        except (sqlite3.Error, OSError):
            return {}
        return {key: (stamp, md5) for key, stamp, md5 in rows}

    def update(self, fresh: Iterable[tuple[str, str, str]], gone: Iterable[str] = ()) -> None:
        """Remember `(key, stamp, md5)` rows and forget keys no longer landed."""
        fresh, gone = list(fresh), [(key,) for key in gone]
        if not fresh and not gone:
            return
        with contextlib.suppress(sqlite3.Error, OSError), self._connection() as con:
            con.executemany("INSERT OR REPLACE INTO digests (key, stamp, md5) VALUES (?, ?, ?)", fresh)
            con.executemany("DELETE FROM digests WHERE key = ?", gone)
