"""A landed stream as UTF-8 text, a block at a time, for the readers that stream text."""

import codecs
from collections.abc import Iterator
from typing import BinaryIO

from hc_pipeline.sources.errors import BinaryContent, NotStreamable


def utf8_blocks(stream: BinaryIO, block_bytes: int) -> Iterator[tuple[str, bool]]:
    """Each block's text (a character cut by a block's end comes with the next) and whether it is the last, without
    a leading byte-order mark; BinaryContent at a NUL byte, NotStreamable at anything else that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    while True:
        block = stream.read(block_bytes)
        if b"\x00" in block:
            raise BinaryContent()
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError:
            raise NotStreamable() from None
        yield text, not block
        if not block:
            return
