"""A report's cells are made JSON-ready a column at a time, exactly as one cell at a time would make them."""

import datetime as dt
import json
import random

import numpy as np
import pandas as pd
import pytest

from hc_pipeline.resources.exports import json_value, records, to_json


def cell_by_cell(frame: pd.DataFrame) -> list[dict]:
    columns = [str(c) for c in frame.columns]
    return [dict(zip(columns, map(json_value, row))) for row in frame.itertuples(index=False, name=None)]


def awkward(rng: random.Random, rows: int) -> pd.DataFrame:
    """Every kind of column a report frame holds, with missing and odd values scattered in."""

    def some(values):
        return [rng.choice(values) for _ in range(rows)]

    midnight = [pd.Timestamp("2025-01-31"), pd.Timestamp("2024-02-29"), pd.NaT]
    return pd.DataFrame(
        {
            "int": np.array(some([0, -3, 2**62, 7]), dtype="int64"),
            "float": np.array(some([0.5, float("nan"), float("inf"), -float("inf"), 1e300, -0.0])),
            "nullable_int": pd.array(some([1, None, -2]), dtype="Int64"),
            "nullable_float": pd.array(some([1.5, None]), dtype="Float64"),
            "bool": np.array(some([True, False])),
            "nullable_bool": pd.array(some([True, None, False]), dtype="boolean"),
            "text": some(["FAC-1", None, "Émile ✓", "", float("nan")]),
            "arrow_text": pd.array(some(["a", None, "b"]), dtype="string[pyarrow]"),
            "dates": pd.to_datetime(some(midnight)).astype("datetime64[us]"),
            "times": pd.to_datetime(some([*midnight, pd.Timestamp("2025-01-31 13:45:10.250")])),
            "zoned": pd.to_datetime(some(midnight)).tz_localize("UTC"),
            "lists": some([["a", "b"], [], None, np.array([1, 2])]),
            "maps": some([{"k": 1, 2: dt.date(2025, 1, 2)}, None]),
            "date_objects": some([dt.date(2025, 3, 4), None]),
            "mixed": some([1, "x", None, 2.5, np.int64(4)]),
            "category": pd.Categorical(some(["tier1", "tier2", None])),
        }
    )


@pytest.mark.parametrize("seed", range(5))
def test_columns_give_what_each_cell_gives(seed):
    frame = awkward(random.Random(seed), 200)
    # As JSON text: 1, 1.0 and True are equal in Python, not in a file.
    assert json.dumps(records(frame)) == json.dumps(cell_by_cell(frame))
    assert records(frame.iloc[:0]) == [] and records(frame[[]]) == [{}] * len(frame)


def test_values_are_plain_python_for_json():
    frame = awkward(random.Random(9), 50)
    for row in records(frame):
        assert all(type(row[c]) in (int, type(None)) for c in ("int", "nullable_int"))
        assert all(row[c] is None or type(row[c]) is float for c in ("float", "nullable_float"))
        assert row["dates"] is None or len(row["dates"]) == 10


@pytest.mark.parametrize("columns", [None, ["int", "text", "dates"], []])
def test_the_json_export_is_the_indented_dump_byte_for_byte(columns):
    frame = awkward(random.Random(3), 120).drop(columns=["float", "nullable_float"])  # strict JSON: no NaN
    frame = frame if columns is None else frame[columns]
    rows = records(frame)
    assert to_json(frame) == json.dumps(rows, ensure_ascii=False, allow_nan=False, indent=1).encode("utf-8")
    assert to_json(frame.iloc[:0]) == b"[]"
