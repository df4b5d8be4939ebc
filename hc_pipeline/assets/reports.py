"""Unpartitioned report assets: one Athena-dialect SQL file each, refreshed after new per-file data."""

import time

import dagster as dg
import pandas as pd
from upath import UPath

from hc_pipeline.assets.retries import retried
from hc_pipeline.metadata import table_metadata
from hc_pipeline.resources.query_engine import Queries
from hc_pipeline.stores.file_table import FileTable

# Refresh once the per-file runs of a batch are done, whichever partitions are missing (unreadable files).
REFRESH = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("refresh after new files")


def report_asset(domain: str, name: str, description: str):
    """Decorate a report function: key `[domain, name]`, after `<domain>/curated_records`, refreshed by itself."""
    asset = dg.asset(
        key=[domain, name],
        group_name=domain,
        deps=[dg.AssetKey([domain, "curated_records"])],
        description=description,
        automation_condition=REFRESH,
    )
    return lambda compute: asset(retried(compute))


def run_report(
    engine: Queries,
    sql: str,
    preview_columns: list[str] | None = None,
    masked: tuple[str, ...] = (),
    descriptions: dict[str, str] | None = None,
    write_to: UPath | None = None,
) -> tuple[pd.DataFrame | FileTable, dict]:
    """Run the report's SQL; the metadata describes its columns and says what it cost (Athena: query id, bytes).

    With `write_to` (the report's lake file), the rows are written there as they come and a `FileTable` returned.
    """
    started = time.perf_counter()
    frame, stats = engine.query_with_stats(sql) if write_to is None else engine.query_to_table(sql, write_to)
    cost = stats.to_metadata() if stats else {}
    metadata = table_metadata(frame, preview_columns, masked, descriptions)
    return frame, {**metadata, **cost, "query_seconds": round(time.perf_counter() - started, 3)}
