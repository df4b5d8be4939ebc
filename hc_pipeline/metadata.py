"""Materialization metadata a person wants to see: row counts, schema, a safe preview."""

from collections.abc import Mapping

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from hc_pipeline.checks.masking import mask_id
from hc_pipeline.stores.file_table import FileTable, row_count


def table_metadata(
    df: pd.DataFrame | FileTable,
    preview_columns: list[str] | None = None,
    masked: tuple[str, ...] = (),
    descriptions: Mapping[str, str] | None = None,
) -> dict:
    """Row count, column schema (with each documented column's description) and a non-identifying preview."""
    head = df.head(5)
    columns = [c for c in (preview_columns or list(head.columns)) if c in head.columns]
    preview = head[columns].copy()
    for column in masked:
        if column in preview:
            preview[column] = preview[column].map(mask_id).astype(object)
    return {
        "dagster/row_count": row_count(df),
        "dagster/column_schema": column_schema(head, descriptions or {}),
        "preview": dg.MetadataValue.md(markdown_table(preview)),
    }


def column_schema(df: pd.DataFrame, descriptions: Mapping[str, str]) -> dg.TableSchema:
    """The frame's columns and types, described from the documentation of the table's contract."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(c), type=str(t), description=descriptions.get(str(c))) for c, t in df.dtypes.items()
        ]
    )


def model_descriptions(*models: type[pa.DataFrameModel]) -> dict[str, str]:
    """Column -> description from pandera models' field descriptions (the first model to describe a column wins)."""
    found: dict[str, str] = {}
    for model in models:
        for name, column in model.to_schema().columns.items():
            if column.description:
                found.setdefault(name, column.description)
    return found


def markdown_table(df: pd.DataFrame) -> str:
    """A small frame as a markdown table."""
    if df.empty:
        return "(no rows)"
    header = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join("" if _blank(v) else str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _blank(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
