"""Facilities JSON reader: one object, an array, NDJSON, or a wrapper object holding one list, as raw records."""

import json
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pandas as pd

from hc_pipeline.cycles import collector_paused
from hc_pipeline.sources import json_numbers
from hc_pipeline.sources.errors import BinaryContent, NotStreamable, NotUtf8, UnreadableFile
from hc_pipeline.sources.json_array import array_elements
from hc_pipeline.sources.resumed import resumed
from hc_pipeline.sources.utf8_blocks import utf8_lines

COLUMNS = ["record_json", "source_file", "source_row", "parse_error"]
BINARY = "binary content, not a UTF-8 JSON text file"
BLOCK_BYTES = 8 << 20
# An object's first line longer than this is a minified wrapper's, streamed as one; an NDJSON record that long is
# then read by the whole-file reader.
LONGEST_LINE = 16 << 20

# A top-level object carrying any of these is itself a facility, not a wrapper around a list of them.
RECORD_KEYS = frozenset(
    {"facility_id", "facility_name", "employee_count", "services", "accreditations", "state", "location", "labs"}
)

_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


class _BadJSON(ValueError):
    """Text that is not exactly one valid JSON value."""

    def __init__(self, message: str, lineno: int | None = None, colno: int | None = None):
        super().__init__(message)
        self.message, self.lineno, self.colno = message, lineno, colno

    def __str__(self) -> str:
        where = f"line {self.lineno} column {self.colno}: " if self.lineno else ""
        return f"{where}{self.message}"


def _reject_constant(name: str) -> float:
    """Refuse NaN and Infinity, which Python accepts but JSON does not."""
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str, **hooks) -> object:
    """Parse one JSON value, raising only `_BadJSON`."""
    try:
        # A number past a float's range (`1e400`) is valid JSON: kept as written, for the rules to judge.
        return json_numbers.loads(text, parse_constant=_reject_constant, **hooks)
    except json.JSONDecodeError as exc:
        raise _BadJSON(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise _BadJSON("nested too deeply") from None
    except ValueError as exc:  # the hook above, and ints past Python's digit limit
        raise _BadJSON(str(exc)) from None


def _dropped(_: dict) -> None:
    """A parsed object, let go at once."""


def _dumps(value: object) -> str:
    """Compact JSON text of a parsed record, keeping every field."""
    try:
        text = json_numbers.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        raise _BadJSON("nested too deeply") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape ("\ud800") cannot be stored as UTF-8 text
        text = json_numbers.dumps(value, separators=(",", ":"))
    return text


def _kind(value: object) -> str:
    """The JSON type name of a parsed value."""
    return _KINDS.get(type(value), "number")


def _element_rows(items: list, start: int = 1) -> list[tuple[str, int, str | None]]:
    """One row per list element (numbered from `start`); an element that is not an object is kept with a parse
    error."""
    rows = []
    for position, item in enumerate(items, start=start):
        error = None if isinstance(item, dict) else f"element {position}: a JSON {_kind(item)}, not an object"
        rows.append((_dumps(item), position, error))
    return rows


def _container_rows(value: object, source_file: str) -> list[tuple[str, int, str | None]]:
    """Rows of a document that parsed as one JSON value."""
    if isinstance(value, list):
        return _element_rows(value)
    if not isinstance(value, dict):
        raise UnreadableFile(source_file, f"not a facilities file: the JSON is a single {_kind(value)}")
    if not RECORD_KEYS.isdisjoint(value):
        return [(_dumps(value), 1, None)]
    lists = [key for key, item in value.items() if isinstance(item, list)]
    if len(lists) == 1:
        return _element_rows(value[lists[0]])
    if not lists:
        raise UnreadableFile(source_file, "not a facilities file: a JSON object with no facility fields and no list")
    names = ", ".join(repr(key) for key in lists)
    raise UnreadableFile(source_file, f"ambiguous wrapper: the JSON object holds {len(lists)} lists ({names})")


def _line_row(line: str, number: int) -> tuple[str, int, str | None] | None:
    """The row of one NDJSON line (its physical line number), or None for a blank line."""
    line = line.rstrip("\r")
    if not line.strip():
        return None
    try:
        value = _loads(line)
    except _BadJSON as exc:
        return (line, number, f"line {number}: {exc.message} (JSON)")
    if isinstance(value, dict):
        return (_dumps(value), number, None)
    return (line, number, f"line {number}: a JSON {_kind(value)}, not an object")


def _ndjson_rows(text: str) -> list[tuple[str, int, str | None]] | None:
    """Rows of NDJSON text (physical line numbers), or None if the text does not look like NDJSON."""
    # Counted before the rows are kept: a broken array's lines would be a second copy of the file.
    count, objects, first_ok = 0, 0, False
    for number, line in _lines(text):
        if (row := _line_row(line, number)) is not None:
            first_ok = first_ok or (count == 0 and row[2] is None)
            count += 1
            objects += row[2] is None
    # A broken pretty-printed document also splits into lines; NDJSON starts with, or mostly is, whole objects.
    if count < 2 or not (first_ok or 2 * objects > count):
        return None
    return [row for number, line in _lines(text) if (row := _line_row(line, number))]


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Each line of the text with its number, as `text.split("\\n")` numbers them, one at a time."""
    start, number = 0, 1
    while (end := text.find("\n", start)) >= 0:
        yield number, text[start:end]
        start, number = end + 1, number + 1
    yield number, text[start:]


def stream_facilities(stream: BinaryIO, source_file: str, block_bytes: int | None = None) -> Iterator[pd.DataFrame]:
    """`read_facilities`'s rows of an NDJSON file, a JSON array or a wrapper object holding one, in batches, a
    block at a time.

    Raises NotStreamable, possibly after some batches, for any other file (one object, anything not clean UTF-8 or
    not valid JSON as a whole); the whole-file reader then reads it or says why not. A NUL byte, or a byte that is
    not UTF-8 (once the rest holds no NUL), is the whole-file reader's UnreadableFile without holding the file.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    head = stream.read(block_bytes)
    text = _stripped(head)
    while (
        text.startswith(b"{") and b"\n" not in text and len(text) < LONGEST_LINE and (more := stream.read(block_bytes))
    ):
        head += more  # an object's first line, whole: NDJSON's first record, or the start of a wrapper
        text = _stripped(head)
    stream = resumed(head, stream)
    try:
        if text.startswith(b"[") or (text.startswith(b"{") and _no_record_line(text)):
            yield from _stream_container(stream, source_file, block_bytes)
        else:
            yield from _stream_lines(stream, source_file, block_bytes)
    except BinaryContent:
        raise UnreadableFile(source_file, BINARY) from None  # what the whole-file reader says, holding the file
    except NotUtf8 as bad:
        # The whole-file reader says so too, unless a NUL byte further on makes the file binary to it.
        while block := stream.read(block_bytes):
            if b"\x00" in block:
                raise UnreadableFile(source_file, BINARY) from None
        raise UnreadableFile(source_file, f"not UTF-8 text: {bad}") from None


def _stripped(head: bytes) -> bytes:
    """The text from its first value on: no byte-order mark, no leading whitespace."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")


def _no_record_line(text: bytes) -> bool:
    """Whether the first line is no NDJSON record: no JSON value (a pretty-printed object's first line), or longer
    than LONGEST_LINE (a minified wrapper's)."""
    line, newline, _ = text.partition(b"\n")
    if not newline:
        return len(text) >= LONGEST_LINE
    try:
        _loads(line.decode("utf-8"))
    except (_BadJSON, UnicodeDecodeError):
        return True
    return False


def _stream_container(stream: BinaryIO, source_file: str, block_bytes: int) -> Iterator[pd.DataFrame]:
    """The rows of a file that is one JSON array, or a wrapper object holding one, as `_element_rows` gives them."""
    decoder = json_numbers.decoder(parse_constant=_reject_constant)  # as `_loads` parses
    position = 0
    elements = array_elements(stream, decoder, block_bytes, wrapper_key=lambda key: key not in RECORD_KEYS)
    while True:
        with collector_paused():
            values = next(elements, None)
            if values is None:
                return
            try:
                rows = _element_rows(values, start=position + 1)
            except _BadJSON:
                raise NotStreamable(source_file) from None
            del values
            frame = _frame(rows, source_file)
        position += len(rows)
        yield frame


def _stream_lines(stream: BinaryIO, source_file: str, block_bytes: int) -> Iterator[pd.DataFrame]:
    """The rows of an NDJSON file, a block of whole lines at a time."""
    number, rows = 0, 0
    for text, last in utf8_lines(stream, block_bytes):
        lines = text.split("\n") if last else text.split("\n")[:-1]
        try:
            with collector_paused():
                found = [row for at, line in enumerate(lines, start=number + 1) if (row := _line_row(line, at))]
        except Exception as exc:  # e.g. a record nested too deeply to write back: the whole-file reader says why
            raise NotStreamable(source_file) from exc
        number += len(lines)
        if found and rows == 0 and found[0][2] is not None:
            raise NotStreamable(source_file)  # not NDJSON as the whole-file reader tells it: it decides
        if found:
            rows += len(found)
            yield _frame(found, source_file)
    if rows < 2:  # one object, or a wrapper on one line: the whole-file reader tells them apart
        raise NotStreamable(source_file)


def _decode(data: bytes, source_file: str) -> str:
    """UTF-8 text of the file, without a byte-order mark."""
    data = bytes(data)
    # JSON text never holds a raw NUL byte; UTF-16 and binary files do.
    if b"\x00" in data:
        raise UnreadableFile(source_file, BINARY)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(source_file, f"not UTF-8 text: byte {exc.start}: {exc.reason}") from None
    if not text.strip(" \t\r\n"):
        raise UnreadableFile(source_file, "empty file")
    return text


def _frame(rows: list[tuple[str, int, str | None]], source_file: str) -> pd.DataFrame:
    """The raw-records frame for these rows."""
    record_json = [row[0] for row in rows]
    return pd.DataFrame(
        {
            "record_json": pd.array(record_json, dtype="string[pyarrow]"),
            "source_file": pd.array([source_file] * len(rows), dtype="string[pyarrow]"),
            "source_row": np.array([row[1] for row in rows], dtype=np.int64),
            "parse_error": pd.array([row[2] for row in rows], dtype="string[pyarrow]"),
        },
        columns=COLUMNS,
    )


def _read(data: bytes, source_file: str) -> pd.DataFrame:
    """`read_facilities` without the final guard."""
    text = _decode(data, source_file)
    try:
        # Checked first with every object dropped as it is parsed: a broken array is refused without its tree in
        # memory (1.6 GB for a cut 188 MB file), a valid text is parsed again.
        _loads(text, object_hook=_dropped)
        value = _loads(text)
    except _BadJSON as whole:
        rows = _ndjson_rows(text)
        if rows is None:
            raise UnreadableFile(source_file, f"not JSON: {whole}") from None
        return _frame(rows, source_file)
    try:
        rows = _container_rows(value, source_file)
    except _BadJSON as exc:
        raise UnreadableFile(source_file, f"not JSON: {exc}") from None
    if not rows:
        raise UnreadableFile(source_file, "no records: the JSON list is empty")
    return _frame(rows, source_file)


def read_facilities(data: bytes, source_file: str) -> pd.DataFrame:
    """One row per facility record: record_json, source_file, source_row, parse_error; raises only UnreadableFile."""
    try:
        with collector_paused():
            return _read(data, source_file)
    except UnreadableFile:
        raise
    except Exception as exc:  # the contract is that any bytes end in a frame or UnreadableFile
        raise UnreadableFile(source_file, f"could not be read: {type(exc).__name__}: {exc}") from exc
