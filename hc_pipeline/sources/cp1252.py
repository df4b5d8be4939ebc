"""A landed CSV in Windows-1252, the encoding spreadsheets on Windows save, as the UTF-8 stream the readers take."""

import codecs
import io
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pandas as pd

from hc_pipeline.sources.errors import NotStreamable
from hc_pipeline.stores.digests import CHUNK_BYTES

BLOCK_BYTES = 8 << 20

Streamer = Callable[[BinaryIO, str], Iterator[pd.DataFrame]]


class _AsUtf8(io.RawIOBase):
    """The landed bytes decoded as Windows-1252 block by block (one byte is one character), re-encoded as UTF-8."""

    def __init__(self, head: bytes, rest: BinaryIO, block_bytes: int):
        self._rest, self._block, self._pending = rest, block_bytes, _utf8_of(head)

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._pending:
            block = self._rest.read(self._block)
            if not block:
                return 0
            self._pending = _utf8_of(block)
        n = min(len(target), len(self._pending))
        target[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _utf8_of(block: bytes) -> memoryview:
    try:
        return memoryview(block.decode("cp1252").encode())
    except UnicodeDecodeError:
        # A byte Windows-1252 leaves undefined: the whole-file reader decodes the file as Latin-1.
        raise NotStreamable() from None


def _starts_as_utf8(head: bytes, more: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=not more)
    except UnicodeDecodeError:
        return False
    return True


def from_cp1252(read: Streamer, block_bytes: int | None = None) -> Streamer:
    """`read` over a file that is not UTF-8, decoded as Windows-1252 as the whole-file reader decodes it.

    A file that starts as UTF-8 is copied to a temporary file while the rest is checked, and read from there if a
    later byte is not UTF-8. NotStreamable for a UTF-8 file, or, possibly after some batches, at a byte
    Windows-1252 leaves undefined.
    """

    def stream(handle: BinaryIO, source_file: str) -> Iterator[pd.DataFrame]:
        block = block_bytes or BLOCK_BYTES
        head = handle.read(block)
        if not _starts_as_utf8(head, more=len(head) == block):
            yield from read(io.BufferedReader(_AsUtf8(head, handle, block), CHUNK_BYTES), source_file)
            return
        with tempfile.TemporaryFile() as spool:
            spool.write(head)
            if _utf8_to_the_end(head, handle, spool, block):
                raise NotStreamable(source_file)
            spool.seek(0)
            yield from read(io.BufferedReader(_AsUtf8(b"", spool, block), CHUNK_BYTES), source_file)

    return stream


def _utf8_to_the_end(head: bytes, rest: BinaryIO, spool: BinaryIO, block_bytes: int) -> bool:
    """Whether `head` and the rest of the stream are UTF-8 text, the rest copied to `spool` on the way."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid = True
    decoder.decode(head)
    while block := rest.read(block_bytes):
        spool.write(block)
        if valid:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                valid = False
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return valid
