"""Tests for the patients admission CSV reader."""

import random

import pandas as pd
import pytest

from hc_pipeline.sources import patients_csv
from hc_pipeline.sources.errors import UnreadableFile
from hc_pipeline.sources.patients_csv import REQUIRED_COLUMNS, normalise_header, read_admissions
from hc_pipeline.sources.skipped_records import padded

HEADER = "patient_id,age,gender,admission_date,discharge_date,diagnosis"
SOURCE = "patients/adm [v2], émission.csv"


def csv_bytes(*lines: str, newline: str = "\n", encoding: str = "utf-8") -> bytes:
    return (newline.join(lines) + newline).encode(encoding)


def reason_for(data: bytes) -> str:
    with pytest.raises(UnreadableFile) as caught:
        read_admissions(data, SOURCE)
    assert caught.value.source_file == SOURCE
    assert str(caught.value) == f"{SOURCE}: {caught.value.reason}"
    return caught.value.reason


def both_paths(data: bytes) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The frame from the pyarrow path (None if it refused) and from the csv-module path."""
    text, body = patients_csv._decode(data, SOURCE)
    records = patients_csv._records(text, SOURCE)
    names = patients_csv._column_names(next(records)[1])
    arrow = patients_csv._read_arrow(body, names)
    python, errors = padded(records, len(names))
    arrow_frame = None if arrow is None else patients_csv._frame(names, arrow, None, SOURCE)
    return arrow_frame, patients_csv._frame(names, python, errors, SOURCE)


def test_values_are_stripped_strings_with_blanks_null_and_na_text_kept():
    df = read_admissions(csv_bytes(HEADER, " P1 , 045 ,  , NA,null,\t"), SOURCE)
    row = df.iloc[0]
    assert row["patient_id"] == "P1"
    assert row["age"] == "045"
    assert row["gender"] is pd.NA
    assert row["admission_date"] == "NA"
    assert row["discharge_date"] == "null"
    assert row["diagnosis"] is pd.NA
    assert all(df[c].dtype == pd.StringDtype("pyarrow") for c in REQUIRED_COLUMNS)


def test_source_file_source_row_and_parse_error_follow_the_file_columns():
    df = read_admissions(csv_bytes(HEADER, "P1,40,M,2024-01-01,,Flu", "P2,50,F,2024-01-02,,Cold"), SOURCE)
    assert list(df.columns) == [*REQUIRED_COLUMNS, "source_file", "source_row", "parse_error"]
    assert df["source_file"].tolist() == [SOURCE, SOURCE]
    assert df["source_row"].tolist() == [1, 2]
    assert df["source_row"].dtype == "int64"
    assert df["parse_error"].isna().all()
    assert df["parse_error"].dtype == pd.StringDtype("pyarrow")


@pytest.mark.parametrize(
    "raw, normalised",
    [
        ("Patient ID", "patient_id"),
        (" Admission-Date ", "admission_date"),
        ("AGE", "age"),
        ("__Discharge  / Date__", "discharge_date"),
        ("Émission", "émission"),
    ],
)
def test_normalise_header_lowercases_and_joins_words_with_one_underscore(raw, normalised):
    assert normalise_header(raw) == normalised


def test_header_case_and_spaces_are_tolerated():
    header = " Patient ID ,AGE,Gender , Admission Date,Discharge-Date,DIAGNOSIS"
    df = read_admissions(csv_bytes(header, "P1,40,M,2024-01-01,2024-01-03,Flu"), SOURCE)
    assert list(df.columns[:6]) == list(REQUIRED_COLUMNS)
    assert df.loc[0, "discharge_date"] == "2024-01-03"


def test_utf8_bom_is_not_part_of_the_first_column_name():
    df = read_admissions(b"\xef\xbb\xbf" + csv_bytes(HEADER, "P1,40,M,2024-01-01,,Flu"), SOURCE)
    assert df.columns[0] == "patient_id"
    assert df.loc[0, "patient_id"] == "P1"


def test_crlf_and_lf_files_give_the_same_frame():
    lines = (HEADER, "P1,40,M,2024-01-01,,Flu", "P2,50,F,2024-01-02,2024-01-05,Cold")
    crlf = read_admissions(csv_bytes(*lines, newline="\r\n"), SOURCE)
    lf = read_admissions(csv_bytes(*lines, newline="\n"), SOURCE)
    pd.testing.assert_frame_equal(crlf, lf)
    assert crlf.loc[1, "diagnosis"] == "Cold"


def test_quoted_fields_keep_commas_quotes_and_newlines():
    data = csv_bytes(
        HEADER,
        'P1,40,M,2024-01-01,,"Flu, severe"',
        'P2,50,F,2024-01-02,,"said ""ouch"""',
        'P3,60,O,2024-01-03,,"two\nlines"',
    )
    df = read_admissions(data, SOURCE)
    assert df["diagnosis"].tolist() == ["Flu, severe", 'said "ouch"', "two\nlines"]


def test_columns_in_any_order_keep_the_file_order():
    header = "diagnosis,discharge_date,admission_date,gender,age,patient_id"
    df = read_admissions(csv_bytes(header, "Flu,,2024-01-01,M,40,P1"), SOURCE)
    assert list(df.columns[:6]) == header.split(",")
    assert df.loc[0, "patient_id"] == "P1"
    assert df.loc[0, "diagnosis"] == "Flu"


def test_extra_columns_are_kept():
    df = read_admissions(csv_bytes(HEADER + ",Diagnosis Code,ward", "P1,40,M,2024-01-01,,Flu,J10.1, 3B "), SOURCE)
    assert df.loc[0, "diagnosis_code"] == "J10.1"
    assert df.loc[0, "ward"] == "3B"


def test_cp1252_bytes_are_decoded_to_unicode():
    data = csv_bytes(HEADER, "P1,40,M,2024-01-01,,Jos\xe9 \u20ac", encoding="cp1252")
    assert b"Jos\xe9 \x80" in data
    assert read_admissions(data, SOURCE).loc[0, "diagnosis"] == "José €"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1():
    data = csv_bytes(HEADER, "P1,40,M,2024-01-01,,Jos\xe9", encoding="latin-1") + b"P2,50,F,2024-01-02,,x\x81y\n"
    assert read_admissions(data, SOURCE)["diagnosis"].tolist() == ["José", "x\x81y"]


def test_duplicate_normalised_header_names_get_numbered_suffixes():
    header = HEADER + ",Age,AGE , Patient-ID,,source_row"
    df = read_admissions(csv_bytes(header, "P1,40,M,2024-01-01,,Flu,41,42,P9,x,y"), SOURCE)
    assert list(df.columns[6:11]) == ["age_2", "age_3", "patient_id_2", "column_10", "source_row_2"]
    assert df.loc[0, "age_3"] == "42"
    assert df.loc[0, "source_row"] == 1


def test_source_row_counts_records_not_lines_across_a_multiline_field():
    data = csv_bytes(HEADER, 'P1,40,M,2024-01-01,,"line one\r\nline two\nline three"', "", "P2,50,F,2024-01-02,,Cold")
    df = read_admissions(data, SOURCE)
    assert df["patient_id"].tolist() == ["P1", "P2"]
    assert df["source_row"].tolist() == [1, 2]
    assert df.loc[0, "diagnosis"] == "line one\r\nline two\nline three"


def test_ragged_rows_are_padded_or_cut_and_flagged_without_losing_rows():
    data = csv_bytes(
        HEADER,
        "P1,40,M,2024-01-01,,Flu",
        "P2,50,F",
        "P3,60,O,2024-01-03,,Cold,extra,more",
        "   ",
        "P4,70,U,2024-01-04,2024-01-05,Flu",
    )
    df = read_admissions(data, SOURCE)
    assert df["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]
    assert df["source_row"].tolist() == [1, 2, 3, 4]
    assert df["parse_error"].tolist()[1:3] == ["record has 3 fields, header has 6", "record has 8 fields, header has 6"]
    assert df["parse_error"].isna().tolist() == [True, False, False, True]
    assert df.loc[1, "admission_date"] is pd.NA and df.loc[1, "diagnosis"] is pd.NA
    assert df.loc[2, "diagnosis"] == "Cold"
    assert list(df.columns) == [*REQUIRED_COLUMNS, "source_file", "source_row", "parse_error"]


def test_arrow_and_python_paths_give_identical_frames():
    data = csv_bytes(
        HEADER + ",Extra",
        ' P1 ,40,M,2024-01-01,,"Flu, ""A""\r\nnext",',
        "",
        "P2, ,F,2024-01-02,NA, é ,x",
        newline="\r\n",
    )
    arrow, python = both_paths(data)
    assert arrow is not None
    pd.testing.assert_frame_equal(arrow, python)
    assert python.loc[0, "diagnosis"] == 'Flu, "A"\r\nnext'


def test_arrow_and_python_paths_agree_on_random_rectangular_files():
    rng = random.Random(7)
    tokens = ["a", " b ", "", "  ", '""', '"x,y"', '"l1\nl2"', '"q""q"', '"abc"x', 'a"b', '"\r\n"', "é", "NA"]
    compared = 0
    for _ in range(200):
        rows = [",".join(rng.choice(tokens) for _ in range(6)) for _ in range(rng.randint(1, 6))]
        data = csv_bytes(HEADER, *rows, newline=rng.choice(["\n", "\r\n"]))
        arrow, python = both_paths(data)
        if arrow is not None:
            compared += 1
            pd.testing.assert_frame_equal(arrow, python)
    assert compared > 100


@pytest.mark.parametrize("data", [b"", b"  \r\n\n\t ", b"\xef\xbb\xbf\n"])
def test_empty_file_is_unreadable(data):
    assert reason_for(data) == "file is empty"


@pytest.mark.parametrize("data", [b"PK\x03\x04\x14\x00\x06\x00", bytes(range(1, 32)) * 10])
def test_binary_content_is_unreadable(data):
    assert reason_for(data) == "binary content, not a CSV text file"


@pytest.mark.parametrize("data", [csv_bytes(HEADER), csv_bytes(HEADER, "", " ", "")])
def test_header_only_file_is_unreadable(data):
    assert reason_for(data) == "header only, no data rows"


def test_missing_required_columns_are_listed_in_required_order():
    data = csv_bytes("diagnosis,patient_id,admission_date,discharge_date", "Flu,P1,2024-01-01,")
    assert reason_for(data) == "required columns missing: age, gender"


@pytest.mark.parametrize("delimiter, label", [(";", "';'"), ("\t", "tab")])
def test_other_delimiter_is_named_when_it_hides_the_columns(delimiter, label):
    data = csv_bytes(HEADER.replace(",", delimiter), delimiter.join(["P1", "40", "M", "2024-01-01", "", "Flu"]))
    assert reason_for(data) == (
        "required columns missing: patient_id, age, gender, admission_date, discharge_date, diagnosis; "
        f"the header looks {label}-delimited"
    )


@pytest.mark.parametrize(
    "lines, line",
    [
        ((HEADER, "P1,40,M,2024-01-01,,Flu", 'P2,50,F,2024-01-02,,"Cold', "P3,60,O,2024-01-03,,Flu"), 3),
        ((HEADER, "P1,40,M,2024-01-01,,Flu", 'P2,50,"F,2024-01-02,,Cold'), 3),
        (('patient_id,"age', "P1,40"), 1),
    ],
)
def test_unterminated_quoted_field_names_the_line_it_starts_on(lines, line):
    assert reason_for(csv_bytes(*lines)) == f"line {line}: unterminated quoted field"


def test_unterminated_quote_before_a_long_tail_is_still_named():
    data = csv_bytes(HEADER, 'P1,40,M,2024-01-01,,"Flu', *["P2,50,F,2024-01-02,,Cold"] * 10000)
    assert reason_for(data) == "line 2: unterminated quoted field"


def test_random_and_mutated_bytes_raise_nothing_but_unreadable_file():
    rng = random.Random(11)
    valid = csv_bytes(HEADER, 'P1,40,M,2024-01-01,,"Flu, A"', "P2,50,F,2024-01-02,,Cold")
    for size in [1, 2, 5, 50, 500, 5000] * 10:
        with pytest.raises(UnreadableFile):
            read_admissions(rng.randbytes(size), SOURCE)
        mutated = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.choice(b'",\r\n\xe9\x81 ')
        try:
            assert isinstance(read_admissions(bytes(mutated), SOURCE), pd.DataFrame)
        except UnreadableFile as exc:
            assert exc.reason
