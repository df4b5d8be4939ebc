"""Synthea CSV export in a zip: inpatient encounters become admission rows in the patients raw shape."""

import csv
import io
import re
import zipfile
import zlib

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
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
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
        patients = _read_table(archive, entries["patients.csv"], _PATIENT_COLUMNS, budget, source_file)
        encounters = _read_table(archive, entries["encounters.csv"], _ENCOUNTER_COLUMNS, budget, source_file)
    return _admissions(patients, encounters, source_file)


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


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, source_file: str) -> bytearray:
    """The entry's bytes, read in chunks so a lying header cannot make us decompress past the limit."""
    data = bytearray()
    try:
        with archive.open(info) as entry:
            while chunk := entry.read(_CHUNK):
                budget.take(len(chunk), source_file)
                data += chunk
    except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encrypted entry
        raise UnreadableFile(source_file, f"cannot extract {info.filename}: {exc}") from None
    except _CORRUPT as exc:
        raise UnreadableFile(source_file, f"corrupt zip archive: {info.filename}: {exc}") from None
    return data


def _read_table(archive, info, wanted: dict[str, bool], budget: _Budget, source_file: str) -> dict[str, pa.Array]:
    """The wanted columns (header matched case-insensitively) as stripped strings, blanks null."""
    data = _read_entry(archive, info, budget, source_file)
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = data.find(b"\n")
    line = data[bom : end if end >= 0 else len(data)].decode("utf-8", "replace")
    try:
        header = next(csv.reader(io.StringIO(line, newline="")), [])
    except csv.Error as exc:
        raise UnreadableFile(source_file, f"{info.filename}: unreadable CSV header ({exc})") from None
    actual = {name.strip().upper(): name for name in reversed(header)}
    missing = [name for name, required in wanted.items() if required and name not in actual]
    if missing:
        raise UnreadableFile(source_file, f"{info.filename}: required columns missing: {', '.join(missing)}")
    include = [actual[name] for name in wanted if name in actual]
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data).slice(bom),
            convert_options=pa_csv.ConvertOptions(
                include_columns=include,
                column_types={name: pa.string() for name in include},
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowException as exc:
        # pyarrow quotes the offending row, which may hold SSNs or names: keep only the shape of the problem.
        shape = _ROW_COUNT_ERROR.search(str(exc))
        problem = shape.group(0) if shape else "invalid UTF-8" if "UTF8" in str(exc) else "malformed CSV"
        raise UnreadableFile(source_file, f"{info.filename}: unreadable CSV ({problem})") from None
    columns = {}
    for name in wanted:
        if name in actual:
            column = pc.utf8_trim_whitespace(table.column(actual[name]).combine_chunks())
            columns[name] = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
        else:
            columns[name] = pa.nulls(table.num_rows, pa.string())
    return columns


def _admissions(patients: dict[str, pa.Array], encounters: dict[str, pa.Array], source_file: str) -> pd.DataFrame:
    """Join inpatient encounters to their patients and map them onto the admission columns."""
    inpatient = pc.fill_null(pc.equal(pc.utf8_lower(encounters["ENCOUNTERCLASS"]), "inpatient"), False)
    rows = pc.filter(pa.array(np.arange(1, len(inpatient) + 1, dtype=np.int64)), inpatient)
    if len(rows) == 0:
        raise UnreadableFile(source_file, "no inpatient encounters in encounters.csv")
    enc = {name: pc.filter(column, inpatient) for name, column in encounters.items()}
    # index_in gives the first patients.csv row of each Id, null for a patient it does not hold.
    at = pc.index_in(enc["PATIENT"], value_set=pc.drop_null(patients["ID"]))
    person = {name: pc.take(column, at) for name, column in patients.items()}
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
    table = pa.table([columns[name] for name in (*COLUMNS, *ADDED_COLUMNS)], names=[*COLUMNS, *ADDED_COLUMNS])
    return table.to_pandas(types_mapper={pa.string(): _STRING}.get)


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
