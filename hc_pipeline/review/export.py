"""The open exceptions as a spreadsheet a steward fills in: ids, reasons, an empty decision and note, raw values."""

import pandas as pd
import pyarrow.parquet as pq
from upath import UPath

from hc_pipeline.review.decisions import EXPORT_COLUMNS, KNOWN_COLUMNS
from hc_pipeline.review.lake import read_parquet_folder, superseded_partitions

NOT_RAW = frozenset(["source_file", "source_row", "reasons", "exception_id"])


def open_exceptions(lake: UPath, domain: str, source_file: str | None = None) -> pd.DataFrame:
    """The export rows of every open exception (of one file), read from the lake's per-file tables."""
    known = read_parquet_folder(lake / domain / "exceptions", KNOWN_COLUMNS)
    # A file landed again replaces its earlier version: that version's exceptions are no longer anyone's work.
    replaced = superseded_partitions(lake.parent / "manifests" / domain)
    wanted = known[(known["status"] == "open") & ~known["partition_key"].isin(replaced)]
    if source_file is not None:
        wanted = wanted[wanted["source_file"] == source_file]
    frames = []
    for partition, group in wanted.groupby("partition_key", sort=True):
        quarantined = _read(lake / domain / "quarantined_records" / f"{partition}.parquet")
        with (lake / domain / "raw_records" / f"{partition}.parquet").open("rb") as handle:
            raw_columns = pq.read_schema(handle).names
        rows = quarantined[quarantined["exception_id"].isin(set(group["exception_id"]))]
        frames.append(export_frame(rows, raw_columns))
    if not frames:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[[*EXPORT_COLUMNS, *(c for c in rows.columns if c not in EXPORT_COLUMNS)]]
    return rows.sort_values(["source_file", "source_row"], kind="stable").reset_index(drop=True)


def _read(path: UPath) -> pd.DataFrame:
    with path.open("rb") as handle:
        return pq.read_table(handle).to_pandas(ignore_metadata=True)


def export_frame(quarantined: pd.DataFrame, raw_columns: list[str]) -> pd.DataFrame:
    """One row per open exception: the fixed columns, then the row's raw values named as in raw_records."""
    values = [c for c in raw_columns if c not in NOT_RAW and c in quarantined.columns]
    frame = pd.DataFrame(
        {
            "exception_id": quarantined["exception_id"].astype(object),
            "source_file": quarantined["source_file"].astype(object),
            "source_row": quarantined["source_row"].astype("int64"),
            "reasons": quarantined["reasons"].map(_joined),
            "decision": "",
            "note": "",
            **{c: quarantined[c].astype(object).where(quarantined[c].notna(), "") for c in values},
        },
        columns=[*EXPORT_COLUMNS, *values],
    )
    return frame.reset_index(drop=True)


def _joined(reasons) -> str:
    if reasons is None or (isinstance(reasons, float) and reasons != reasons):
        return ""
    return ";".join(str(r) for r in reasons)
