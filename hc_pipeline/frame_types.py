"""dagster-pandas DataFrame types for the per-file outputs: structural columns and summary statistics.

The types check only what every per-file table must carry (where each row came from); the data rules stay
in the pandera models, evaluated by the asset checks.
"""

import functools
import warnings

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type

from hc_pipeline.schemas.file_rows import SOURCE_FILE, SOURCE_ROW
from hc_pipeline.stores.file_table import FileTable


def summary_statistics(df: pd.DataFrame) -> dict:
    """Counts a person can compare between files; no values, so no identifiers."""
    rows = df["source_row"] if "source_row" in df and len(df) else None
    return {
        "rows": len(df),
        "columns": len(df.columns),
        "files": int(df["source_file"].nunique()) if "source_file" in df else 0,
        "first_source_row": int(rows.min()) if rows is not None else 0,
        "last_source_row": int(rows.max()) if rows is not None else 0,
        "null_cells": int(df.isna().to_numpy().sum()),
    }


def file_frame_type(name: str, description: str, one_row_per_record: bool = True) -> dg.DagsterType:
    """A DataFrame type whose rows each name their landed file and row (unique rows unless findings).

    A per-file table the step already wrote row group by row group (`FileTable`) is checked the same way,
    reading only those two columns.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # dagster-pandas is on the card: chosen knowingly
        pandas_type = create_dagster_pandas_dataframe_type(
            name=name,
            description=f"{description}\n\n`source_file`: {SOURCE_FILE} `source_row`: {SOURCE_ROW}",
            columns=[
                PandasColumn.string_column("source_file", non_nullable=True),
                PandasColumn.integer_column("source_row", min_value=1, non_nullable=True, unique=one_row_per_record),
            ],
            metadata_fn=summary_statistics,
        )

    def type_check(context, value) -> dg.TypeCheck:
        if isinstance(value, FileTable):
            return table_check(value, one_row_per_record)
        return pandas_type.type_check(context, value)

    return dg.DagsterType(
        type_check_fn=type_check,
        name=name,
        loader=pandas_type.loader,
        description=pandas_type.description,
        typing_type=pd.DataFrame,
    )


def table_check(table: FileTable, one_row_per_record: bool) -> dg.TypeCheck:
    """The frame type's checks and summary statistics for a written table, one row group at a time."""
    names = table.schema.names
    missing = [c for c in ("source_file", "source_row") if c not in names]
    if missing:
        return dg.TypeCheck(success=False, description=f"{table.path}: columns missing: {', '.join(missing)}")
    files, low, high, last, ordered = set(), None, None, 0, True
    with table.path.open("rb") as handle:
        parquet = pq.ParquetFile(handle)
        null_cells = sum(
            parquet.metadata.row_group(g).column(c).statistics.null_count
            for g in range(parquet.num_row_groups)
            for c in range(parquet.metadata.num_columns)
            if parquet.metadata.row_group(g).column(c).statistics is not None
        )
        for group in range(parquet.num_row_groups):
            part = parquet.read_row_group(group, columns=["source_file", "source_row"])
            rows = part.column("source_row")
            if part.column("source_file").null_count or rows.null_count:
                return dg.TypeCheck(success=False, description=f"{table.path}: source_file or source_row is null")
            files |= set(pc.unique(part.column("source_file")).to_pylist())
            values = rows.to_numpy()
            if len(values):
                low = min(low, int(values.min())) if low is not None else int(values.min())
                high = max(high, int(values.max())) if high is not None else int(values.max())
                ordered = ordered and bool(values[0] > last and (np.diff(values) > 0).all())
                last = int(values[-1])
    if low is not None and low < 1:
        return dg.TypeCheck(success=False, description=f"{table.path}: source_row below 1")
    if one_row_per_record and not ordered and len(np.unique(table.column("source_row"))) != table.num_rows:
        return dg.TypeCheck(success=False, description=f"{table.path}: source_row is not unique")
    return dg.TypeCheck(
        success=True,
        metadata={
            "rows": table.num_rows,
            "columns": len(names),
            "files": len(files),
            "first_source_row": low or 0,
            "last_source_row": high or 0,
            "null_cells": int(null_cells),
        },
    )


@functools.cache
def per_file_types(domain: str) -> dict[str, dg.DagsterType]:
    """The types of one domain's per-file outputs, by asset name."""
    title = domain.capitalize()
    return {
        "raw_records": file_frame_type(f"{title}RawRecords", f"Every record of one landed {domain} file, as text."),
        "curated_records": file_frame_type(f"{title}CuratedRecords", f"Curated {domain} rows of one landed file."),
        "quarantined_records": file_frame_type(
            f"{title}QuarantinedRecords", f"Raw {domain} rows of one landed file that broke an error rule."
        ),
        "anomaly_report": file_frame_type(
            f"{title}AnomalyReport", f"One row per finding in one landed {domain} file.", one_row_per_record=False
        ),
    }
