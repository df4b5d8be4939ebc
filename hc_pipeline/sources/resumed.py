"""A landed stream whose first bytes were read to tell its format: those bytes again, then the rest."""

import io
from typing import BinaryIO

from hc_pipeline.stores.digests import CHUNK_BYTES


class _Resumed(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO):
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if self._head:  # in parts when it is longer than the read
            data, self._head = self._head[: len(target)], self._head[len(target) :]
        else:
            data = self._rest.read(len(target))
        n = len(data)
        target[:n] = data
        return n


def resumed(head: bytes, rest: BinaryIO) -> BinaryIO:
    """`head` then `rest` as one buffered stream (`read(n)` gives n bytes until the end)."""
    return io.BufferedReader(_Resumed(head, rest), CHUNK_BYTES)
