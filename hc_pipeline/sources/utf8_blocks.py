"""A landed stream as UTF-8 text, a block or a piece of whole lines at a time, for the readers that stream text."""

import codecs
from collections.abc import Iterator
from typing import BinaryIO

from hc_pipeline.sources.errors import BinaryContent, NotUtf8


def utf8_blocks(stream: BinaryIO, block_bytes: int) -> Iterator[tuple[str, bool]]:
    """Each block's text (a character cut by a block's end comes with the next) and whether it is the last, without
    a leading byte-order mark; BinaryContent at a NUL byte, NotUtf8 at anything else that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    read, start = 0, b""  # bytes read so far, and the first three of them
    while True:
        block = stream.read(block_bytes)
        if b"\x00" in block:
            raise BinaryContent()
        carried, first = decoder.getstate()
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            data = carried + block
            stripped = 3 if first and data[:3] == codecs.BOM_UTF8 else 0  # the decoder skipped it, then failed
            at = read - len(carried) + stripped + error.start
            raise NotUtf8(at - (3 if (start + block)[:3] == codecs.BOM_UTF8 else 0), error.reason) from None
        read += len(block)
        start = (start + block)[:3]
        if not block and (left := decoder.getstate()[0]):  # a file that is the start of a byte-order mark, no more
            raise NotUtf8(read - len(left), "unexpected end of data")
        yield text, not block
        if not block:
            return


def utf8_lines(stream: BinaryIO, block_bytes: int) -> Iterator[tuple[str, bool]]:
    """`utf8_blocks`' text in pieces of whole lines (each ends in a newline but the last, what is left) and whether
    the piece is the last; empty pieces only at the end."""
    pending = ""
    for text, last in utf8_blocks(stream, block_bytes):
        text = pending + text
        cut = len(text) if last else text.rfind("\n") + 1
        if cut or last:
            yield text[:cut], last
        pending = text[cut:]
