"""The admissions CSV as a stream of raw frames of N rows, as `read_admissions` would give them (no ragged rows)."""

import csv as csv_module
from pathlib import Path


def header(csv: str) -> list[str]:
    """The column names, normalised as `read_admissions` does."""
    from hc_pipeline.sources.patients_csv import normalise_header

    with open(csv, newline="", encoding="utf-8") as handle:
        return [normalise_header(name) for name in next(csv_module.reader(handle))]


def _arrow_batches(csv: str, rows: int):
    """The CSV as `(first source_row, Arrow table of `rows` rows)`, read as a stream."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = header(csv)
    reader = pa_csv.open_csv(
        csv,
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=4 << 20),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.large_string())),
    )
    pending, first_row = [], 1
    for batch in reader:
        pending.append(batch)
        while sum(len(b) for b in pending) >= rows:
            table = pa.Table.from_batches(pending)
            yield first_row, table.slice(0, rows)
            pending, first_row = table.slice(rows).to_batches(), first_row + rows
    if sum(len(b) for b in pending):
        yield first_row, pa.Table.from_batches(pending)


def _raw_frame(first_row: int, table, source_file: str):
    """Trimmed text, blanks as nulls, plus source_file, source_row and parse_error, as `read_admissions` gives."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    text, n = pa.large_string(), table.num_rows
    arrays = []
    for column in table.columns:
        trimmed = pc.utf8_trim_whitespace(column)
        arrays.append(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, text), trimmed))
    arrays += [
        pa.repeat(pa.scalar(source_file, text), n),
        pa.array(np.arange(first_row, first_row + n, dtype=np.int64)),
        pa.nulls(n, text),
    ]
    names = [*table.column_names, "source_file", "source_row", "parse_error"]
    return pa.table(arrays, names=names).to_pandas(types_mapper={text: pd.StringDtype("pyarrow")}.get)


def raw_frames(csv: str, rows: int):
    """The CSV as raw pandas frames of `rows` rows, one at a time."""
    for first_row, table in _arrow_batches(csv, rows):
        yield _raw_frame(first_row, table, Path(csv).name)
