"""The elements of the one array a JSON text holds (the text itself, or a wrapper object's one list), parsed a
block of the text at a time."""

import json
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from hc_pipeline.sources.errors import NotStreamable
from hc_pipeline.sources.utf8_blocks import utf8_blocks

_SPACE = re.compile(r"[ \t\n\r]*")
# Text past this that still does not parse as a value goes to the whole-file reader (an error, or a huge value).
LONGEST_VALUE = 16 << 20


class _Text:
    """The stream's UTF-8 text from `at` on, topped up a block at a time; anything but clean UTF-8 ends it."""

    def __init__(self, stream: BinaryIO, decoder: json.JSONDecoder, block_bytes: int):
        self.blocks, self.decoder, self.block_bytes = utf8_blocks(stream, block_bytes), decoder, block_bytes
        self.text, self.at, self.ended = "", 0, False

    def more(self) -> None:
        """Drop what was read and append the next block."""
        block, self.ended = next(self.blocks)
        self.text, self.at = self.text[self.at :] + block, 0

    def next_char(self) -> str:
        """The next character that is not JSON whitespace ('' at the end), moving `at` to it."""
        while True:
            self.at = _SPACE.match(self.text, self.at).end()
            if self.at < len(self.text) or self.ended:
                return self.text[self.at : self.at + 1]
            self.more()

    def value(self) -> tuple[object, int]:
        """The JSON value at `at` and its length in characters, moving past it; one cut by the end of the text read
        so far is parsed again with the next block."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.at)
            except json.JSONDecodeError:
                end = None
            except (RecursionError, ValueError):  # nested too deeply, NaN, an int past Python's digit limit
                raise NotStreamable() from None
            if end is not None and (end < len(self.text) or self.ended):
                length, self.at = end - self.at, end
                return value, length
            if self.ended or len(self.text) - self.at > LONGEST_VALUE:
                raise NotStreamable()
            self.more()

    def separator(self, closing: str) -> bool:
        """Past a ',' (True: another item follows) or `closing` (False); anything else is not for streaming."""
        found = self.next_char()
        self.at += 1
        if found == closing:
            return False
        if found != "," or self.next_char() in (closing, ""):
            raise NotStreamable()
        return True

    def elements(self) -> Iterator[list]:
        """The values of the non-empty array at `at`, in lists of about a block of text; ends past its ']'."""
        self.at += 1
        if self.next_char() in ("]", ""):
            raise NotStreamable()
        values, taken = [], 0
        while True:
            value, length = self.value()
            values.append(value)
            taken += length
            if not self.separator("]"):
                break
            if taken >= self.block_bytes:
                yield values
                values, taken = [], 0
        yield values


def array_elements(
    stream: BinaryIO, decoder: json.JSONDecoder, block_bytes: int, wrapper_key: Callable[[str], bool] | None = None
) -> Iterator[list]:
    """The values of the array the text is, or of the one list of a wrapper object, as `decoder` parses them, in
    lists of about `block_bytes` of text. A wrapper is an object whose keys all pass `wrapper_key`.

    Raises NotStreamable, possibly after some lists, for any other text: not exactly one JSON value in clean UTF-8,
    an empty list, a wrapper with a repeated key, a key that fails `wrapper_key`, or not exactly one list; or a
    value longer than LONGEST_VALUE characters (a whole-file reader then says what the text is).
    """
    source = _Text(stream, decoder, block_bytes)
    source.more()
    first = source.next_char()
    if first == "[":
        yield from source.elements()
    elif first == "{" and wrapper_key is not None:
        yield from _wrapped(source, wrapper_key)
    else:
        raise NotStreamable()
    if source.next_char():
        raise NotStreamable()  # more after the value: the whole-file reader says what


def _wrapped(source: _Text, wrapper_key: Callable[[str], bool]) -> Iterator[list]:
    """The elements of the wrapper object's one list; its other values are parsed and dropped."""
    source.at += 1
    keys, lists = set(), 0
    while source.next_char() == '"':
        key, _ = source.value()
        if key in keys or not wrapper_key(key) or source.next_char() != ":":
            raise NotStreamable()
        keys.add(key)
        source.at += 1
        if source.next_char() == "[":
            lists += 1
            if lists > 1:
                raise NotStreamable()
            yield from source.elements()
        else:
            source.value()
        if not source.separator("}"):
            break
    else:
        raise NotStreamable()  # an empty object, or a key that is not a string
    if not lists:
        raise NotStreamable()
