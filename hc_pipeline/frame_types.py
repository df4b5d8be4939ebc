"""dagster-pandas DataFrame types for the per-file outputs: structural columns and summary statistics.

The types check only what every per-file table must carry (where each row came from); the data rules stay
in the pandera models, evaluated by the asset checks.
"""

import functools
import warnings

import dagster as dg
import pandas as pd
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type

from hc_pipeline.schemas.file_rows import SOURCE_FILE, SOURCE_ROW


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
    """A DataFrame type whose rows each name their landed file and row (unique rows unless findings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # dagster-pandas is on the card: chosen knowingly
        return create_dagster_pandas_dataframe_type(
            name=name,
            description=f"{description}\n\n`source_file`: {SOURCE_FILE} `source_row`: {SOURCE_ROW}",
            columns=[
                PandasColumn.string_column("source_file", non_nullable=True),
                PandasColumn.integer_column("source_row", min_value=1, non_nullable=True, unique=one_row_per_record),
            ],
            metadata_fn=summary_statistics,
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
