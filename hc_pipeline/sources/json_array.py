"""The elements of a JSON text that is one array, parsed a block of the text at a time."""

import codecs
import json
import re
from collections.abc import Iterator
from typing import BinaryIO

from hc_pipeline.sources.errors import NotStreamable

_SPACE = re.compile(r"[ \t\n\r]*")
# Text past this that still does not parse as a value goes to the whole-file reader (an error, or a huge value).
LONGEST_VALUE = 16 << 20


class _Text:
    """The stream's UTF-8 text from `at` on, topped up a block at a time; anything but clean UTF-8 ends it."""

    def __init__(self, stream: BinaryIO, block_bytes: int):
        self.stream, self.block_bytes = stream, block_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self.text, self.at, self.ended = "", 0, False

    def more(self) -> None:
        """Drop what was read and append the next block."""
        block = self.stream.read(self.block_bytes)
        self.ended = not block
        if b"\x00" in block:
            raise NotStreamable()
        try:
            self.text = self.text[self.at :] + self.utf8.decode(block, final=self.ended)
        except UnicodeDecodeError:
            raise NotStreamable() from None
        self.at = 0

    def next_char(self) -> str:
        """The next character that is not JSON whitespace ('' at the end), moving `at` to it."""
        while True:
            self.at = _SPACE.match(self.text, self.at).end()
            if self.at < len(self.text) or self.ended:
                return self.text[self.at : self.at + 1]
            self.more()


def array_elements(stream: BinaryIO, decoder: json.JSONDecoder, block_bytes: int) -> Iterator[list]:
    """The array's values as `decoder` parses them, in lists of about `block_bytes` of text.

    Raises NotStreamable, possibly after some lists, for any text that is not exactly one non-empty array of
    valid JSON in clean UTF-8, or with a value longer than LONGEST_VALUE characters (a whole-file reader then says
    what it is); a value is never cut at a block's end.
    """
    source = _Text(stream, block_bytes)
    source.more()
    if source.next_char() != "[":
        raise NotStreamable()
    source.at += 1
    if source.next_char() in ("]", ""):
        raise NotStreamable()
    values, taken = [], 0
    while True:
        try:
            value, end = decoder.raw_decode(source.text, source.at)
        except json.JSONDecodeError:
            end = None
        except (RecursionError, ValueError):  # nested too deeply, NaN, an int past Python's digit limit
            raise NotStreamable() from None
        if end is None or (end == len(source.text) and not source.ended):  # cut at the block's end, maybe
            if source.ended or len(source.text) - source.at > LONGEST_VALUE:
                raise NotStreamable()
            source.more()
            continue
        values.append(value)
        taken += end - source.at
        source.at = end
        separator = source.next_char()
        source.at += 1
        if separator == "]":
            break
        if separator != "," or source.next_char() in ("]", ""):
            raise NotStreamable()
        if taken >= block_bytes:
            yield values
            values, taken = [], 0
    if source.next_char():
        raise NotStreamable()  # more after the array: the whole-file reader says what
    yield values
