"""The Synthea zip reader: inpatient encounters as admission rows, no direct identifiers, clear refusals."""

import csv
import datetime as dt
import io
import struct
import tracemalloc
import zipfile

import pandas as pd
import pytest

from hc_pipeline.generate.synthea import ENCOUNTER_COLUMNS, PATIENT_COLUMNS, synthea_zip
from hc_pipeline.sources import synthea_zip as reader
from hc_pipeline.sources.errors import UnreadableFile
from hc_pipeline.sources.patients_csv import REQUIRED_COLUMNS, read_admissions
from hc_pipeline.sources.synthea_zip import is_synthea_zip, read_synthea_zip
from hc_pipeline.vocabulary import UNKNOWN_PATIENT

# Direct identifiers in Synthea's patients.csv: none may leave the zip.
IDENTIFIER_COLUMNS = [
    "SSN",
    "DRIVERS",
    "PASSPORT",
    "PREFIX",
    "FIRST",
    "MIDDLE",
    "LAST",
    "SUFFIX",
    "MAIDEN",
    "ADDRESS",
    "LAT",
    "LON",
    "BIRTHDATE",
]

RUN_DATE = dt.date(2025, 6, 15)
SOURCE = "patients/exports/synthea [v1].zip"
COLUMNS = [
    *REQUIRED_COLUMNS,
    "diagnosis_code",
    "diagnosis_code_system",
    "race",
    "ethnicity",
    "encounter_id",
    "source_file",
    "source_row",
    "parse_error",
]


def patient(pid, birthdate="1960-06-15", gender="M", **fields) -> dict:
    row = {c: "" for c in PATIENT_COLUMNS}
    row.update(
        Id=pid,
        BIRTHDATE=birthdate,
        GENDER=gender,
        SSN="999-45-6789",
        FIRST="Jacinto644",
        LAST="Kling921",
        ADDRESS="742 Schaefer Trace Unit 9",
        LAT="42.3601234567",
        LON="-71.0589876543",
        RACE="white",
        ETHNICITY="nonhispanic",
    )
    row.update(fields)
    return row


def encounter(eid, pid, start, stop="", cls="inpatient", **fields) -> dict:
    row = {c: "" for c in ENCOUNTER_COLUMNS}
    row.update(
        Id=eid,
        START=start,
        STOP=stop,
        PATIENT=pid,
        ENCOUNTERCLASS=cls,
        DESCRIPTION="Hospital admission (procedure)",
        **fields,
    )
    return row


def csv_bytes(rows: list[dict], columns: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or list(rows[0]), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def make_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def export(patients: list[dict], encounters: list[dict], folder: str = "") -> bytes:
    return make_zip(
        {
            f"{folder}patients.csv": csv_bytes(patients, PATIENT_COLUMNS),
            f"{folder}encounters.csv": csv_bytes(encounters, ENCOUNTER_COLUMNS),
        }
    )


def refused(data: bytes, **kwargs) -> str:
    with pytest.raises(UnreadableFile) as caught:
        read_synthea_zip(data, SOURCE, **kwargs)
    assert caught.value.source_file == SOURCE
    return caught.value.reason


@pytest.fixture(scope="module")
def generated():
    return synthea_zip(RUN_DATE, seed=3, patients=200)


def test_inpatient_encounters_map_onto_the_admission_columns():
    patients = [patient("p1", "1960-06-15", "M", RACE="black", ETHNICITY="hispanic"), patient("p2", "2000-02-29", "F")]
    encounters = [
        encounter("e0", "p1", "2024-06-10T08:00:00Z", "2024-06-10T09:00:00Z", cls="wellness"),
        encounter(
            "e1",
            "p1",
            "2024-06-14T22:10:00Z",
            "2024-06-20T06:00:00Z",
            REASONCODE="233604007",
            REASONDESCRIPTION="Pneumonia (disorder)",
        ),
        encounter("e2", "p1", "2024-06-15T13:00:00Z", "", cls=" Inpatient "),
        encounter("e3", "p2", "2023-02-28T13:00:00Z", "2023-03-02T07:00:00Z", cls="ambulatory"),
        encounter("e4", "p2", "2023-02-28T13:00:00Z", "2023-03-02T07:00:00Z"),
        encounter("e5", "p2", "2023-03-01T13:00:00Z", "2023-03-02T07:00:00Z"),
    ]
    frame = read_synthea_zip(export(patients, encounters), SOURCE)
    assert list(frame.columns) == COLUMNS
    assert all(frame[c].dtype == pd.StringDtype("pyarrow") for c in COLUMNS if c != "source_row")
    assert str(frame["source_row"].dtype) == "int64"
    csv_frame = read_admissions(b"patient_id,age,gender,admission_date,discharge_date,diagnosis\np,1,M,,,x\n", "a.csv")
    assert frame.dtypes[csv_frame.columns].equals(csv_frame.dtypes)
    rows = [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False, name=None)]
    assert rows == [
        (
            "p1",
            "63",
            "M",
            "2024-06-14",
            "2024-06-20",
            "Pneumonia (disorder)",
            "233604007",
            "SNOMED-CT",
            "black",
            "hispanic",
            "e1",
            SOURCE,
            2,
            None,
        ),
        (
            "p1",
            "64",
            "M",
            "2024-06-15",
            None,
            "Hospital admission (procedure)",
            None,
            None,
            "black",
            "hispanic",
            "e2",
            SOURCE,
            3,
            None,
        ),
        # Born on 29 February: a year older on 1 March in a year without one.
        (
            "p2",
            "22",
            "F",
            "2023-02-28",
            "2023-03-02",
            "Hospital admission (procedure)",
            None,
            None,
            "white",
            "nonhispanic",
            "e4",
            SOURCE,
            5,
            None,
        ),
        (
            "p2",
            "23",
            "F",
            "2023-03-01",
            "2023-03-02",
            "Hospital admission (procedure)",
            None,
            None,
            "white",
            "nonhispanic",
            "e5",
            SOURCE,
            6,
            None,
        ),
    ]


def test_files_are_found_in_a_subfolder_and_headers_in_any_case(generated):
    data, truth = generated
    assert "csv/patients.csv" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len(read_synthea_zip(data, SOURCE)) == truth["inpatient_encounters"]
    lower = make_zip(
        {
            "out/x/patients.csv": csv_bytes([{k.lower(): v for k, v in patient("p1").items()}]),
            "out/x/encounters.csv": csv_bytes(
                [{k.lower(): v for k, v in encounter("e1", "p1", "2024-01-01T00:00:00Z").items()}]
            ),
        }
    )
    assert read_synthea_zip(lower, SOURCE)["encounter_id"].tolist() == ["e1"]


def test_generated_export_reads_with_its_cases_and_ignores_other_encounters(generated):
    data, truth = generated
    frame = read_synthea_zip(data, SOURCE)
    assert len(frame) == truth["inpatient_encounters"] and truth["ignored_encounters"] > 0
    assert frame["parse_error"].isna().all()
    assert frame["discharge_date"].isna().sum() == truth["open_stays"] > 0
    open_rows = frame.loc[frame["discharge_date"].isna(), "source_row"].tolist()
    assert [[row, "missing_discharge_date"] for row in open_rows] == truth["findings"]
    assert frame["source_row"].is_unique and frame["encounter_id"].is_unique
    case = truth["cases"]["birthday"]
    ages = frame.set_index("encounter_id").loc[case["encounters"], "age"].tolist()
    assert ages == [str(case["ages"][e]) for e in case["encounters"]] == ["49", "50"]


def test_no_direct_identifier_reaches_the_frame(generated):
    data, _ = generated
    archive = zipfile.ZipFile(io.BytesIO(data))
    people = list(csv.DictReader(io.StringIO(archive.read("csv/patients.csv").decode())))
    identifiers = {p[c] for p in people for c in IDENTIFIER_COLUMNS if p[c]}
    assert len(identifiers) > 5 * len(people)
    frame = read_synthea_zip(data, SOURCE)
    cells = {str(v) for v in frame.astype(object).to_numpy().ravel() if not pd.isna(v)}
    assert not identifiers & cells
    long_ones = [i for i in identifiers if len(i) >= 5]
    assert not [i for i in long_ones if any(i in cell for cell in cells)]
    assert not {c.lower() for c in IDENTIFIER_COLUMNS} & set(frame.columns)
    assert not frame.attrs


def test_an_encounter_of_an_unknown_patient_is_kept_with_a_parse_error():
    data = export(
        [patient("p1")],
        [
            encounter("e1", "p1", "2024-01-01T10:00:00Z", "2024-01-03T10:00:00Z"),
            encounter("e2", "ghost", "2024-02-01T10:00:00Z", "2024-02-03T10:00:00Z"),
        ],
    )
    frame = read_synthea_zip(data, SOURCE)
    assert frame["parse_error"].isna().tolist() == [True, False]
    ghost = frame.iloc[1]
    assert ghost["parse_error"] == UNKNOWN_PATIENT
    assert ghost["patient_id"] == "ghost" and ghost["admission_date"] == "2024-02-01"
    assert all(pd.isna(ghost[c]) for c in ("age", "gender", "race", "ethnicity"))


def test_is_synthea_zip_looks_at_the_zip_magic(generated):
    assert is_synthea_zip(generated[0]) and is_synthea_zip(make_zip({}))
    assert not is_synthea_zip(b"patient_id,age\n") and not is_synthea_zip(b"")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"patient_id,age,gender\nP1,4,M\n", "not a zip archive"),
        (b"PK\x03\x04 not really a zip at all", "corrupt zip archive: File is not a zip file"),
        (make_zip({"encounters.csv": b"x"}), "Synthea export without patients.csv"),
        (make_zip({"csv/patients.csv": b"x", "conditions.csv": b"y"}), "Synthea export without encounters.csv"),
        (make_zip({"readme.txt": b"x"}), "Synthea export without patients.csv and encounters.csv"),
        (
            make_zip({"a/patients.csv": b"x", "b/patients.csv": b"x", "encounters.csv": b"y"}),
            "more than one patients.csv in the archive: a/patients.csv, b/patients.csv",
        ),
        (
            export([patient("p1")], [encounter("e1", "p1", "2024-01-01T00:00:00Z", cls="wellness")]),
            "no inpatient encounters in encounters.csv",
        ),
        (
            make_zip({"patients.csv": b"Id,GENDER\np1,M\n", "encounters.csv": csv_bytes([encounter("e", "p", "x")])}),
            "patients.csv: required columns missing: BIRTHDATE",
        ),
        (
            make_zip({"patients.csv": csv_bytes([patient("p1")]), "encounters.csv": b""}),
            "encounters.csv: required columns missing: ID, START, STOP, PATIENT, ENCOUNTERCLASS, DESCRIPTION",
        ),
    ],
    ids=[
        "csv",
        "fake-zip",
        "no-patients",
        "no-encounters",
        "neither",
        "two-patients",
        "no-inpatient",
        "missing-column",
        "empty-encounters",
    ],
)
def test_unreadable_exports_are_refused_with_a_reason(data, reason):
    assert refused(data) == reason


def test_a_truncated_zip_is_refused(generated):
    assert refused(generated[0][: len(generated[0]) // 2]).startswith("corrupt zip archive")


def test_a_corrupted_entry_is_refused():
    data = bytearray(export([patient("p1")], [encounter("e1", "p1", "2024-01-01T00:00:00Z")]))
    start = data.index(b"encounters.csv") + len(b"encounters.csv")
    data[start + 5 : start + 25] = bytes(20)
    assert refused(bytes(data)).startswith(("corrupt zip archive", "cannot extract"))


def test_a_ragged_csv_is_refused_without_quoting_its_values():
    bad = csv_bytes([patient("p1")], PATIENT_COLUMNS) + b"p2,1970-01-01,,999-11-2222,extra,fields\n"
    data = make_zip({"patients.csv": bad, "encounters.csv": csv_bytes([encounter("e1", "p1", "2024-01-01")])})
    reason = refused(data)
    assert reason.startswith("patients.csv: unreadable CSV (Expected 28 columns, got 6")
    assert "999-11-2222" not in reason and "1970" not in reason


def test_a_zip_bomb_is_refused_by_its_declared_size(generated):
    reason = refused(generated[0], max_uncompressed_bytes=10_000)
    assert reason.startswith("zip bomb: declared uncompressed size ") and "limit of 10000 bytes" in reason


def test_decompressed_bytes_are_counted_even_when_declared_sizes_pass(generated, monkeypatch):
    monkeypatch.setattr(reader, "_declared_size", lambda archive: 0)
    assert refused(generated[0], max_uncompressed_bytes=10_000) == (
        "zip bomb: decompressed data exceeds the limit of 10000 bytes"
    )


def test_a_lying_header_cannot_make_the_reader_decompress_the_bomb():
    line = b"e1,2024-01-01T00:00:00Z,,p1,inpatient,Hospital admission\n"
    encounters = b"Id,START,STOP,PATIENT,ENCOUNTERCLASS,DESCRIPTION\n" + line * (60_000_000 // len(line))
    data = bytearray(make_zip({"patients.csv": csv_bytes([patient("p1")]), "encounters.csv": encounters}))
    assert len(data) < 1_000_000
    # Both the local header and the central directory claim 1,000 uncompressed bytes for encounters.csv.
    local = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("encounters.csv").header_offset
    central = data.rindex(b"encounters.csv") - 46  # the name's last copy is in the central directory
    assert data[central : central + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, local + 22, 1000)
    struct.pack_into("<I", data, central + 24, 1000)
    tracemalloc.start()
    try:
        reason = refused(bytes(data), max_uncompressed_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason.startswith("corrupt zip archive") and "encounters.csv" in reason
    assert peak < 20_000_000


def test_dates_that_are_not_iso_are_passed_on_and_impossible_birthdates_give_no_age():
    patients = [patient("p1", "1990-02-30"), patient("p2", "1990-01-01")]
    encounters = [
        encounter("e1", "p1", "2019-02-17T05:07:38Z", "2019-02-20 10:00:00"),
        encounter("e2", "p2", "17/02/2019", "2019-02-20"),
        encounter("e3", "p2", "2019-02-17", "2019-02-30T10:00:00Z"),
    ]
    frame = read_synthea_zip(export(patients, encounters), SOURCE)
    assert frame["age"].isna().tolist() == [True, True, False]
    assert frame["age"].iloc[2] == "29"
    assert frame["admission_date"].tolist() == ["2019-02-17", "17/02/2019", "2019-02-17"]
    assert frame["discharge_date"].tolist() == ["2019-02-20", "2019-02-20", "2019-02-30"]


def test_a_patient_row_without_an_id_does_not_shift_the_patients_after_it():
    patients = [patient("", "1950-01-01", "F"), patient("p1", "1960-06-15", "M"), patient("p2", "2000-02-29", "F")]
    patients[2]["RACE"] = "asian"
    encounters = [
        encounter("e1", "p2", "2024-06-14T22:10:00Z", "2024-06-20T06:00:00Z"),
        encounter("e2", "p1", "2024-06-14T08:00:00Z", "2024-06-16T06:00:00Z"),
    ]
    frame = read_synthea_zip(export(patients, encounters), SOURCE)
    assert frame[["patient_id", "gender", "race", "age"]].values.tolist() == [
        ["p2", "F", "asian", "24"],
        ["p1", "M", "white", "63"],
    ]
