"""Materialization metadata a person wants to see: row counts, schema, a safe preview."""

import dagster as dg
import pandas as pd

from hc_pipeline.checks.masking import mask_id


def table_metadata(df: pd.DataFrame, preview_columns: list[str] | None = None, masked: tuple[str, ...] = ()) -> dict:
    """Row count, column schema and a markdown preview limited to non-identifying columns."""
    columns = [c for c in (preview_columns or list(df.columns)) if c in df.columns]
    preview = df[columns].head(5).copy()
    for column in masked:
        if column in preview:
            preview[column] = preview[column].map(mask_id).astype(object)
    return {
        "dagster/row_count": len(df),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in df.dtypes.items()]
        ),
        "preview": dg.MetadataValue.md(markdown_table(preview)),
    }


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
