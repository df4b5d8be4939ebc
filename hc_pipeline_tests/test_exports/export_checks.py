"""What every export must satisfy, whichever store holds it: the SQL table's rows and columns, in both formats."""

import csv
import datetime as dt
import io
import json
import math

import pandas as pd

REPORTS = {
    "facilities": ("facility_metrics", "expiring_accreditations", "state_counts"),
    "patients": ("readmission_rates", "length_of_stay", "demographics", "diagnosis_patterns"),
}


def expected_cell(value) -> object:
    """A SQL value as the export promises it: dates YYYY-MM-DD, numbers as numbers, missing as None."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        assert value == value.normalize(), value  # every report date is a DATE
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if hasattr(value, "item"):
        return value.item()
    return value


def assert_export_matches_table(csv_bytes: bytes, json_bytes: bytes, table: pd.DataFrame, name: str) -> None:
    """Both files carry exactly the table's columns and rows, in its order; the CSV is the JSON as text."""
    columns = [str(c) for c in table.columns]
    expected = [[expected_cell(v) for v in row] for row in table.itertuples(index=False, name=None)]

    rows = json.loads(json_bytes.decode("utf-8"))
    assert isinstance(rows, list) and len(rows) == len(table), name
    assert all(list(row) == columns for row in rows), name
    for got, want in zip(rows, expected):
        for column, a, b in zip(columns, got.values(), want):
            if isinstance(b, float):
                assert a is not None and math.isclose(a, b, rel_tol=1e-12), (name, column, a, b)
            else:
                assert a == b, (name, column, a, b)

    text = csv_bytes.decode("utf-8")  # strict: fails on anything but UTF-8
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == columns, name
    assert len(lines) == len(table) + 1, name
    for got, want in zip(lines[1:], expected):
        as_text = ["" if v is None else str(v) for v in want]
        for column, a, b, w in zip(columns, got, as_text, want):
            if isinstance(w, float):
                assert math.isclose(float(a), w, rel_tol=1e-12), (name, column, a, w)
            else:
                assert a == b, (name, column, a, b)
