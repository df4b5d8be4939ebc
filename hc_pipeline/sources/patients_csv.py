"""Patients admission CSV: landed bytes in, one string row per CSV record out."""

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from hc_pipeline.cycles import collector_paused
from hc_pipeline.sources.errors import BinaryContent, NotStreamable, UnreadableFile
from hc_pipeline.sources.skipped_records import TEXT, SkippedRecords, padded
from hc_pipeline.sources.utf8_blocks import utf8_lines

REQUIRED_COLUMNS = ("patient_id", "age", "gender", "admission_date", "discharge_date", "diagnosis")
BINARY = "binary content, not a CSV text file"
ADDED_COLUMNS = ("source_file", "source_row", "parse_error")

_BOM = "\ufeff"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
_NON_ALNUM = re.compile(r"[\W_]+")
# Appended after the data so pyarrow, which silently accepts a quote left open at EOF, shows it:
# an open quote swallows this record, so it is missing from the last row.
_SENTINEL = "hc_pipeline_end_of_file"
_OTHER_DELIMITERS = ((";", "';'"), ("\t", "tab"), ("|", "'|'"))
_STRING = pd.StringDtype("pyarrow")
# One block is parsed into one batch of rows: about 130,000 admissions.
BLOCK_BYTES = 8 << 20
# Records per batch when Python's csv module reads a file pyarrow refuses.
RECORD_BATCH = 100_000


def normalise_header(name: str) -> str:
    """Lower-case a header name and turn runs of non-alphanumerics into one "_" ("Patient ID" -> patient_id)."""
    return _NON_ALNUM.sub("_", name.strip().lower()).strip("_")


def read_admissions(data: bytes, source_file: str) -> pd.DataFrame:
    """Every column of the CSV as stripped strings (blank -> null), plus source_file, source_row, parse_error."""
    try:
        batches = list(stream_admissions(io.BytesIO(data), source_file))
    except NotStreamable:
        return read_whole(data, source_file)
    return batches[0] if len(batches) == 1 else pd.concat(batches, ignore_index=True)


def stream_admissions(stream: BinaryIO, source_file: str, block_bytes: int | None = None) -> Iterator[pd.DataFrame]:
    """`read_admissions`'s rows in batches, one block of the file at a time; a ragged record is padded or cut, with
    its parse_error, where it stands.

    Raises NotStreamable, possibly after some batches, for any file pyarrow cannot read as UTF-8 CSV (another
    encoding, a quote left open, no header): `read_whole` reads it or says why not. BinaryContent once it has met a
    NUL byte.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    head = stream.read(block_bytes)
    names = _streamed_names(head, len(head) == block_bytes)
    sentinel = [_SENTINEL] * len(names)
    blocks = _Blocks(head.removeprefix(_BOM.encode()), stream, block_bytes, ",".join(sentinel))
    skipped = SkippedRecords(names)
    try:
        reader = pa_csv.open_csv(
            blocks,
            # In file order, so that pyarrow numbers the records it skips for their field count.
            read_options=pa_csv.ReadOptions(column_names=names, block_size=block_bytes, use_threads=False),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=skipped),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: TEXT for name in names}, strings_can_be_null=False
            ),
        )
        pending, errors, first_row, header = None, None, 1, True
        for batch in reader:
            table, table_errors = skipped.merged(batch)
            if header and len(table):  # the header is read as data so that every column is typed as string by name
                table, table_errors, header = table.slice(1), table_errors and table_errors[1:], False
            if pending is not None and len(pending):
                yield _frame(names, pending.columns, errors, source_file, first_row)
                first_row += len(pending)
            pending, errors = table, table_errors
    except pa.ArrowException:
        raise (BinaryContent if blocks.binary else NotStreamable)(source_file) from None
    if blocks.binary:
        raise BinaryContent(source_file)
    # An open quote swallows the sentinel record: then the last row is not it.
    ended = pending is not None and len(pending) and list(pending.slice(len(pending) - 1).to_pylist()[0].values())
    if ended != sentinel:
        raise NotStreamable(source_file)
    if first_row == 1 and len(pending) == 1:
        raise NotStreamable(source_file)  # header only: the whole-file reader says so
    if len(pending) > 1:
        yield _frame(names, pending.slice(0, len(pending) - 1).columns, errors and errors[:-1], source_file, first_row)


def stream_records(stream: BinaryIO, source_file: str, block_bytes: int | None = None) -> Iterator[pd.DataFrame]:
    """`read_whole`'s rows of a UTF-8 CSV that pyarrow's reader hands over (mostly ragged records, a record longer than
    a block), read with Python's csv module a batch of records at a time.

    Raises `read_whole`'s UnreadableFile for a text file it refuses (no required columns, no data rows, a quote left
    open) once the rest of the file is known to be text, without holding it. Raises NotStreamable, possibly after
    some batches, for anything `read_whole` may read otherwise or call binary: another encoding, binary content,
    nothing but blanks.
    """
    pieces = _utf8_pieces(stream, block_bytes or BLOCK_BYTES)
    records = _records_of(pieces, source_file)
    first_row = 1
    try:
        header = next(records, (0, None))[1]
        if header is None:
            raise NotStreamable(source_file)  # nothing but blanks: the whole-file reader says the file is empty
        names = _required_columns(header, source_file)
        while True:
            with collector_paused():  # a record is a list: a batch makes a million of them
                batch = list(itertools.islice(records, RECORD_BATCH))
                if not batch:
                    break
                columns, errors = padded(batch, len(names))
                del batch
            frame = _frame(names, columns, errors, source_file, first_row)
            first_row += len(frame)
            yield frame
        if first_row == 1:
            raise UnreadableFile(source_file, "header only, no data rows")
    except UnreadableFile:
        # The whole-file reader says the same of a file that is text to its end; binary content or another encoding
        # further on makes it say otherwise (NotStreamable on the way).
        for _ in pieces:
            pass
        raise


def _utf8_pieces(stream: BinaryIO, block_bytes: int) -> Iterator[str]:
    """The stream's text, without a byte-order mark, in pieces cut after a newline; NotStreamable at anything
    `_decode` would read as another encoding or as binary."""
    head = ""  # the pieces held until the binary check has the first 65,536 characters, as `_decode` has them
    for piece, last in utf8_lines(stream, block_bytes):
        if head is not None:
            head += piece
            if len(head) <= 65536 and not last:
                continue
            sample = head[:65536]
            if len(_CONTROL.findall(sample)) > 0.1 * len(sample):
                raise NotStreamable()
            piece, head = head, None
        if piece:
            yield piece


def _streamed_names(head: bytes, more: bool) -> list[str]:
    """The column names from the file's first block; NotStreamable unless it starts as a plain UTF-8 CSV."""
    if b"\x00" in head:
        raise BinaryContent()
    cut = head.rfind(b"\n") + 1 if more else len(head)
    try:
        text = head[:cut].decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError:
        raise NotStreamable() from None
    sample = text[:65536]
    if not text.strip() or len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        raise NotStreamable()
    try:
        return _required_columns(next(_records(text, ""), (0, None))[1], "")
    except UnreadableFile:  # a quote left open, no required columns: the whole-file reader says so
        raise NotStreamable() from None


class _Blocks(io.RawIOBase):
    """The file's bytes for pyarrow, then the sentinel line; binary content ends it early and is remembered."""

    def __init__(self, head: bytes, stream: BinaryIO, block_bytes: int, last_line: str):
        self._buffer, self._stream, self._block, self._last = head, stream, block_bytes, f"\n{last_line}\n".encode()
        self._ended = False
        self.binary = b"\x00" in head

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer and not self._ended:
            chunk = self._stream.read(self._block)
            if not chunk or self.binary:
                self._buffer, self._ended = self._last, True
            else:
                self.binary = b"\x00" in chunk
                self._buffer = chunk
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def read_whole(data: bytes, source_file: str) -> pd.DataFrame:
    """`read_admissions` for any file, holding it whole: decoded as UTF-8, cp1252 or Latin-1, ragged records kept."""
    text, body = _decode(data, source_file)
    records = _records(text, source_file)
    names = _required_columns(next(records, (0, None))[1], source_file)
    columns = _read_arrow(body, names)
    errors = None
    if columns is None:
        columns, errors = padded(records, len(names))
    if len(columns[0]) == 0:
        raise UnreadableFile(source_file, "header only, no data rows")
    return _frame(names, columns, errors, source_file)


def _decode(data: bytes, source_file: str) -> tuple[str, bytes]:
    """The file as text, and as UTF-8 bytes without BOM for pyarrow."""
    if b"\x00" in data:
        raise UnreadableFile(source_file, BINARY)
    try:
        text = data.decode("utf-8")
        body = data[3:] if text.startswith(_BOM) else data
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        body = None
    text = text.removeprefix(_BOM)
    if not text or text.isspace():
        raise UnreadableFile(source_file, "file is empty")
    sample = text[:65536]
    if len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        raise UnreadableFile(source_file, BINARY)
    return text, body if body is not None else text.encode("utf-8")


def _records(text: str, source_file: str):
    """Yield (first line number, fields) per non-blank CSV record, with Python's csv module."""

    def pieces() -> Iterator[str]:
        # StringIO holds 4 bytes a character: feed it 1 MB pieces cut after a "\n", not the whole file.
        start = 0
        while start < len(text):
            end = text.find("\n", start + (1 << 20)) + 1 or len(text)
            yield text[start:end]
            start = end

    return _records_of(pieces(), source_file)


def _records_of(pieces: Iterable[str], source_file: str) -> Iterator[tuple[int, list[str]]]:
    """`_records` of the text these pieces make, each piece but the last ending in "\n"."""
    at_eof = False

    def lines():
        nonlocal at_eof
        for piece in pieces:
            yield from io.StringIO(piece, newline="")
        at_eof = True

    reader = csv.reader(lines())
    line = 1
    try:
        for row in reader:
            # The reader asked for a line past the end and still returned a record: it was inside quotes.
            if at_eof:
                raise UnreadableFile(source_file, f"line {line}: unterminated quoted field")
            # Whitespace-only lines count as blank lines, as pyarrow skips empty lines.
            if len(row) > 1 or (row and row[0].strip()):
                yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        # A quote left open makes the rest of the file one field, which first hits the size limit.
        reason = "unterminated quoted field" if "field limit" in str(exc) else str(exc)
        raise UnreadableFile(source_file, f"line {line}: {reason}") from None


def _required_columns(header: list[str] | None, source_file: str) -> list[str]:
    """The column names of a header that has every required column; UnreadableFile naming those it lacks."""
    names = _column_names(header)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise UnreadableFile(source_file, f"required columns missing: {', '.join(missing)}{_delimiter_hint(header)}")
    return names


def _column_names(header: list[str] | None) -> list[str]:
    """Normalised, unique column names; a blank name becomes column_<position>."""
    taken, names = set(ADDED_COLUMNS), []
    for position, raw in enumerate(header or [], start=1):
        base = normalise_header(raw) or f"column_{position}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names.append(name)
    return names


def _delimiter_hint(header: list[str] | None) -> str:
    """Say which other delimiter would reveal required columns in this header, if any."""
    line = ",".join(header or [])
    for delimiter, label in _OTHER_DELIMITERS:
        fields = line.split(delimiter)
        if len(fields) > 1 and any(normalise_header(f) in REQUIRED_COLUMNS for f in fields):
            return f"; the header looks {label}-delimited"
    return ""


def _read_arrow(body: bytes, names: list[str]) -> list[pa.ChunkedArray] | None:
    """Fast path: the raw data columns, or None when pyarrow cannot read the file as a rectangle."""
    sentinel = [_SENTINEL] * len(names)
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(body + ("\n" + ",".join(sentinel) + "\n").encode()),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=4 << 20),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: TEXT for name in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowException:
        return None
    if table.num_rows < 2 or list(table.slice(table.num_rows - 1).to_pylist()[0].values()) != sentinel:
        return None
    # Row 0 is the header, read as data so every column can be typed as string by name.
    return table.slice(1, table.num_rows - 2).columns


def _frame(names, columns, errors, source_file: str, first_row: int = 1) -> pd.DataFrame:
    """Strip values, make blanks null and add the provenance columns."""
    n_rows = len(columns[0])
    # Arrow releases the GIL in its kernels: columns are trimmed side by side, one per core.
    with ThreadPoolExecutor(max_workers=min(len(columns), pa.cpu_count())) as pool:
        arrays = list(pool.map(lambda column: _blanks_to_null(pc.utf8_trim_whitespace(column)), columns))
    arrays += [
        pa.repeat(pa.scalar(source_file, TEXT), n_rows),
        pa.array(np.arange(first_row, first_row + n_rows, dtype=np.int64)),
        pa.array(errors, TEXT) if errors is not None else pa.nulls(n_rows, TEXT),
    ]
    table = pa.table(arrays, names=[*names, *ADDED_COLUMNS])
    return table.to_pandas(types_mapper={TEXT: _STRING}.get)


def _blanks_to_null(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Empty strings become nulls by a new validity bitmap over the same text buffers (no copy of the text)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return pa.chunked_array([_null_where_empty(chunk) for chunk in chunks], TEXT)


def _null_where_empty(chunk: pa.Array) -> pa.Array:
    keep = pc.fill_null(pc.not_equal(pc.binary_length(chunk), 0), False)
    if chunk.offset or keep.offset:
        return pc.if_else(keep, chunk, pa.scalar(None, TEXT))
    return pa.Array.from_buffers(TEXT, len(chunk), [keep.buffers()[1], *chunk.buffers()[1:]])
