"""Synthea CSV export in a zip: inpatient encounters become admission rows in the patients raw shape."""

import contextlib
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from hc_pipeline.sources.errors import UnreadableFile
from hc_pipeline.vocabulary import SNOMED_CT, UNKNOWN_PATIENT

DEFAULT_MAX_UNCOMPRESSED_BYTES = 2_000_000_000
COLUMNS = (
    "patient_id",
    "age",
    "gender",
    "admission_date",
    "discharge_date",
    "diagnosis",
    "diagnosis_code",
    "diagnosis_code_system",
    "race",
    "ethnicity",
    "encounter_id",
)
ADDED_COLUMNS = ("source_file", "source_row", "parse_error")

# Only these columns are ever converted and kept: SSN, names, ADDRESS, LAT/LON... never leave the zip.
_PATIENT_COLUMNS = {"ID": True, "BIRTHDATE": True, "GENDER": True, "RACE": False, "ETHNICITY": False}
_ENCOUNTER_COLUMNS = {
    "ID": True,
    "START": True,
    "STOP": True,
    "PATIENT": True,
    "ENCOUNTERCLASS": True,
    "DESCRIPTION": True,
    "REASONCODE": False,
    "REASONDESCRIPTION": False,
}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]|$)"
_ROW_COUNT_ERROR = re.compile(r"Expected \d+ columns, got \d+")
_CHUNK = 1 << 20
# What zipfile raises on damaged archives besides BadZipFile (e.g. "negative seek value", "zip file version 19.6").
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError)
_STRING = pd.StringDtype("pyarrow")
# encounters.csv is parsed a block at a time: about 40,000 encounters.
BLOCK_BYTES = 8 << 20


class _Budget:
    """Uncompressed bytes still allowed; counted on what is really decompressed, as headers can lie."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    def take(self, n: int, source_file: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise UnreadableFile(source_file, f"zip bomb: decompressed data exceeds the limit of {self.limit} bytes")


def is_synthea_zip(data: bytes) -> bool:
    """True when the bytes start like a zip archive (the only container a Synthea export lands in)."""
    return data[:4] in _ZIP_MAGIC


def read_synthea_zip(
    data: bytes, source_file: str, max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES
) -> pd.DataFrame:
    """Inpatient encounters of a Synthea export as string admission rows, plus source_file, source_row, parse_error."""
    if not is_synthea_zip(data):
        raise UnreadableFile(source_file, "not a zip archive")
    batches = list(stream_synthea_zip(io.BytesIO(data), source_file, max_uncompressed_bytes))
    return batches[0] if len(batches) == 1 else pd.concat(batches, ignore_index=True)


def stream_synthea_zip(
    archive_file: BinaryIO,
    source_file: str,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    block_bytes: int | None = None,
) -> Iterator[pd.DataFrame]:
    """`read_synthea_zip`'s rows in batches from a seekable archive: patients.csv is held (every encounter joins
    it; it has a row per patient, not per stay), encounters.csv is read a block of `block_bytes` at a time."""
    try:
        archive = zipfile.ZipFile(archive_file)
    except _CORRUPT as exc:
        raise UnreadableFile(source_file, f"corrupt zip archive: {exc}") from None
    with archive:
        entries = _find_entries(archive, source_file)
        declared = _declared_size(archive)
        if declared > max_uncompressed_bytes:
            raise UnreadableFile(
                source_file,
                f"zip bomb: declared uncompressed size {declared} bytes exceeds the limit of "
                f"{max_uncompressed_bytes} bytes",
            )
        budget = _Budget(max_uncompressed_bytes)
        patients = _Patients(
            _read_table(_Entry(archive, entries["patients.csv"], budget, source_file), _PATIENT_COLUMNS)
        )
        encounters = _Entry(archive, entries["encounters.csv"], budget, source_file)
        admitted = 0
        for first_row, batch in _stream_table(encounters, _ENCOUNTER_COLUMNS, block_bytes or BLOCK_BYTES):
            admissions = _admissions(patients, batch, source_file, first_row)
            admitted += admissions.num_rows
            if admissions.num_rows:
                yield admissions.to_pandas(types_mapper={pa.string(): _STRING}.get)
    if not admitted:
        raise UnreadableFile(source_file, "no inpatient encounters in encounters.csv")


def _find_entries(archive: zipfile.ZipFile, source_file: str) -> dict[str, zipfile.ZipInfo]:
    """patients.csv and encounters.csv, at the top or in any folder of the archive."""
    found: dict[str, list[zipfile.ZipInfo]] = {"patients.csv": [], "encounters.csv": []}
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        base = name.rsplit("/", 1)[-1].lower()
        if not info.is_dir() and base in found and not name.startswith("__MACOSX/"):
            found[base].append(info)
    missing = [name for name, infos in found.items() if not infos]
    if missing:
        raise UnreadableFile(source_file, f"Synthea export without {' and '.join(missing)}")
    for name, infos in found.items():
        if len(infos) > 1:
            paths = ", ".join(sorted(info.filename for info in infos))
            raise UnreadableFile(source_file, f"more than one {name} in the archive: {paths}")
    return {name: infos[0] for name, infos in found.items()}


def _declared_size(archive: zipfile.ZipFile) -> int:
    """Sum of the uncompressed sizes the central directory declares."""
    return sum(info.file_size for info in archive.infolist())


def _read_table(entry: "_Entry", wanted: dict[str, bool]) -> dict[str, pa.Array]:
    """The wanted columns (header matched case-insensitively) as stripped strings, blanks null."""
    with entry:
        data = entry.whole()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = data.find(b"\n")
    actual, include = _header(data[bom : end if end >= 0 else len(data)], entry.info, wanted, entry.source_file)
    try:
        table = pa_csv.read_csv(pa.py_buffer(data).slice(bom), convert_options=_convert_options(include))
    except pa.ArrowException as exc:
        raise _unreadable_csv(exc, entry.info, entry.source_file) from None
    return _columns(table, actual, wanted)


def _stream_table(entry: "_Entry", wanted: dict[str, bool], block_bytes: int) -> Iterator[tuple[int, dict]]:
    """`_read_table`'s columns a block at a time, each with the (1-based) row number of its first row."""
    with entry:
        line = entry.first_line()
        bom = 3 if line.startswith(b"\xef\xbb\xbf") else 0
        actual, include = _header(line[bom:], entry.info, wanted, entry.source_file)
        entry.skip(bom)
        first_row = 1
        try:
            reader = pa_csv.open_csv(
                entry,
                read_options=pa_csv.ReadOptions(block_size=block_bytes),
                convert_options=_convert_options(include),
            )
            for batch in reader:
                yield first_row, _columns(pa.Table.from_batches([batch]), actual, wanted)
                first_row += batch.num_rows
        except pa.ArrowException as exc:
            # As when read whole: a damaged entry is reported as such, though its garbage failed to parse first.
            with contextlib.suppress(UnreadableFile):
                entry.drain()
            raise entry.failure or _unreadable_csv(exc, entry.info, entry.source_file) from None
        if entry.failure:  # raised while pyarrow read ahead, after the rows it has parsed
            raise entry.failure


def _header(line: bytes, info, wanted: dict[str, bool], source_file: str) -> tuple[dict[str, str], list[str]]:
    """Upper-cased name -> the header's name, and the names of the wanted columns it has; refused without the
    required ones."""
    try:
        header = next(csv.reader(io.StringIO(line.decode("utf-8", "replace"), newline="")), [])
    except csv.Error as exc:
        raise UnreadableFile(source_file, f"{info.filename}: unreadable CSV header ({exc})") from None
    actual = {name.strip().upper(): name for name in reversed(header)}
    missing = [name for name, required in wanted.items() if required and name not in actual]
    if missing:
        raise UnreadableFile(source_file, f"{info.filename}: required columns missing: {', '.join(missing)}")
    return actual, [actual[name] for name in wanted if name in actual]


def _convert_options(include: list[str]) -> pa_csv.ConvertOptions:
    return pa_csv.ConvertOptions(
        include_columns=include, column_types={name: pa.string() for name in include}, strings_can_be_null=False
    )


def _unreadable_csv(exc: pa.ArrowException, info, source_file: str) -> UnreadableFile:
    # pyarrow quotes the offending row, which may hold SSNs or names: keep only the shape of the problem.
    shape = _ROW_COUNT_ERROR.search(str(exc))
    problem = shape.group(0) if shape else "invalid UTF-8" if "UTF8" in str(exc) else "malformed CSV"
    return UnreadableFile(source_file, f"{info.filename}: unreadable CSV ({problem})")


def _columns(table: pa.Table, actual: dict[str, str], wanted: dict[str, bool]) -> dict[str, pa.Array]:
    columns = {}
    for name in wanted:
        if name in actual:
            column = pc.utf8_trim_whitespace(table.column(actual[name]).combine_chunks())
            columns[name] = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
        else:
            columns[name] = pa.nulls(table.num_rows, pa.string())
    return columns


class _Entry(io.RawIOBase):
    """An archive entry decompressed as it is read, counted against the budget; a damaged entry raises
    UnreadableFile, also kept in `failure` as pyarrow may report it as its own error."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, source_file: str):
        self.info, self.source_file, self.failure = info, source_file, None
        self._archive, self._budget, self._entry, self._pending = archive, budget, None, b""

    def readable(self) -> bool:
        return True

    def first_line(self) -> bytes:
        """The entry's first line (without its newline), left to be read again."""
        while b"\n" not in self._pending and (chunk := self._chunk(_CHUNK)):
            self._pending += chunk
        return self._pending.split(b"\n", 1)[0]

    def whole(self) -> bytearray:
        """The rest of the entry."""
        data = bytearray(self._pending)
        while chunk := self._chunk(_CHUNK):
            data += chunk
        return data

    def drain(self) -> None:
        """Decompress the rest of the entry without keeping it: its CRC is checked at its end."""
        self._pending = b""
        while self._chunk(_CHUNK):
            pass

    def skip(self, n: int) -> None:
        self._pending = self._pending[n:]

    def readinto(self, target) -> int:
        data = self._pending or self._chunk(len(target))
        n = min(len(target), len(data))
        target[:n] = data[:n]
        self._pending = data[n:]
        return n

    def _chunk(self, size: int) -> bytes:
        try:
            if self._entry is None:
                self._entry = self._archive.open(self.info)
            chunk = self._entry.read(size)
            self._budget.take(len(chunk), self.source_file)
            return chunk
        except UnreadableFile as refused:
            self.failure = refused
        except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encrypted entry
            self.failure = UnreadableFile(self.source_file, f"cannot extract {self.info.filename}: {exc}")
        except _CORRUPT as exc:
            self.failure = UnreadableFile(self.source_file, f"corrupt zip archive: {self.info.filename}: {exc}")
        raise self.failure

    def close(self) -> None:
        if self._entry is not None:
            self._entry.close()
        super().close()


class _Patients:
    """patients.csv's wanted columns, with each Id's first row found through an index built once for every batch."""

    def __init__(self, columns: dict[str, pa.Array]):
        self.columns = columns
        ids = pd.Index(columns["ID"].to_numpy(zero_copy_only=False))
        first = ~ids.duplicated(keep="first") & ids.notna()
        self._rows, self._ids = np.flatnonzero(first), ids[first]

    def rows_of(self, patient_ids: pa.Array) -> pa.Array:
        """The patients.csv row of each id; null for an id it does not hold."""
        found = self._ids.get_indexer(patient_ids.to_numpy(zero_copy_only=False))
        return pa.array(self._rows[np.maximum(found, 0)], mask=found < 0)


def _admissions(patients: _Patients, encounters: dict[str, pa.Array], source_file: str, first_row: int) -> pa.Table:
    """Join inpatient encounters to their patients and map them onto the admission columns; `first_row` is the
    row number of the first encounter."""
    inpatient = pc.fill_null(pc.equal(pc.utf8_lower(encounters["ENCOUNTERCLASS"]), "inpatient"), False)
    rows = pc.filter(pa.array(np.arange(first_row, first_row + len(inpatient), dtype=np.int64)), inpatient)
    enc = {name: pc.filter(column, inpatient) for name, column in encounters.items()}
    at = patients.rows_of(enc["PATIENT"])
    person = {name: pc.take(column, at) for name, column in patients.columns.items()}
    start = _date_part(enc["START"])
    code = enc["REASONCODE"]
    n = len(rows)
    columns = {
        "patient_id": enc["PATIENT"],
        "age": _age(_parse_date(_date_part(person["BIRTHDATE"])), _parse_date(start)),
        "gender": person["GENDER"],
        "admission_date": start,
        "discharge_date": _date_part(enc["STOP"]),
        "diagnosis": pc.coalesce(enc["REASONDESCRIPTION"], enc["DESCRIPTION"]),
        "diagnosis_code": code,
        "diagnosis_code_system": pc.if_else(pc.is_null(code), pa.scalar(None, pa.string()), SNOMED_CT),
        "race": person["RACE"],
        "ethnicity": person["ETHNICITY"],
        "encounter_id": enc["ID"],
        "source_file": pa.repeat(pa.scalar(source_file, pa.string()), n),
        "source_row": rows,
        "parse_error": pc.if_else(pc.is_null(at), UNKNOWN_PATIENT, pa.scalar(None, pa.string())),
    }
    return pa.table([columns[name] for name in (*COLUMNS, *ADDED_COLUMNS)], names=[*COLUMNS, *ADDED_COLUMNS])


def _date_part(text: pa.Array) -> pa.Array:
    """The YYYY-MM-DD part of an ISO date or timestamp; other text as is, for curation to report."""
    iso = pc.match_substring_regex(text, _ISO_DATE)
    return pc.if_else(iso, pc.utf8_slice_codeunits(text, 0, 10), text)


def _parse_date(text: pa.Array) -> pa.Array:
    """YYYY-MM-DD as timestamps; anything else, or a day that does not exist (2023-02-30), null."""
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2023-02-30 over to 2 March: only a date that prints back unchanged exists.
    exists = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), text)
    return pc.if_else(exists, parsed, pa.scalar(None, parsed.type))


def _age(born: pa.Array, on: pa.Array) -> pa.Array:
    """Whole years from birth to the start date, one year less until the birthday (29 Feb: on 1 Mar)."""
    same_month = pc.equal(pc.month(on), pc.month(born))
    before_birthday = pc.or_(
        pc.less(pc.month(on), pc.month(born)), pc.and_(same_month, pc.less(pc.day(on), pc.day(born)))
    )
    years = pc.subtract(pc.subtract(pc.year(on), pc.year(born)), pc.cast(before_birthday, pa.int64()))
    return pc.cast(years, pa.string())
