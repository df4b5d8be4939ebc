"""Report exports: each refresh of an aggregate report as CSV and JSON under `exports/`, for people without SQL."""

import csv
import datetime as dt
import io
import json
import math
import re
from dataclasses import dataclass

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field
from upath import UPath

from hc_pipeline.resources.storage import LakeStorage

# Aggregate reports only: patient-level tables (readmissions, curated_records, ...) are never published.
EXPORTED_REPORTS = {
    "facilities": ("facility_metrics", "expiring_accreditations", "state_counts"),
    "patients": ("readmission_rates", "length_of_stay", "demographics", "diagnosis_patterns"),
}
ZONE = "exports"
DEFAULT_KEEP = 30
LIST_SEPARATOR = "; "
# Sorts in time order as text, is unique per microsecond, and is safe in file names on every system.
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
STAMPED_NAME = re.compile(r"^\d{8}T\d{12}Z\.(csv|json)$")
# A row of plain values as `indent=1` lays it out inside the list, less its braces' lines.
_FLAT_ROW = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",\n  ", ": "))


def json_value(value):
    """One cell as JSON: ISO dates, None for missing, plain numbers, lists and maps kept as such."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        stamp = pd.Timestamp(value)
        # DATE columns arrive as midnight timestamps from DuckDB; a date stays a date.
        return stamp.date().isoformat() if stamp == stamp.normalize() and stamp.tz is None else stamp.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as JSON-ready dicts, columns in table order."""
    columns = [str(c) for c in frame.columns]
    cells = [json_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return [dict(zip(columns, row)) for row in zip(*cells)] if cells else [{} for _ in range(len(frame))]


def json_column(column: pd.Series) -> list:
    """`json_value` of each cell, a column at a time for dates, numbers and text (a report has 10^5 rows)."""
    kind = column.dtype
    missing = column.isna().to_numpy()
    if isinstance(kind, np.dtype) and kind.kind == "M":  # tz-naive datetimes: a midnight one is a date
        midnight = (column == column.dt.normalize()).to_numpy()
        cells = column.dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value=None)
        cells[missing] = None
        for at in np.flatnonzero(~midnight & ~missing):
            cells[at] = json_value(column.iloc[at])
        return cells.tolist()
    if pd.api.types.is_bool_dtype(kind) or pd.api.types.is_numeric_dtype(kind):
        cells = column.to_numpy(dtype=object, na_value=None)
        if pd.api.types.is_float_dtype(kind):
            cells[~np.isfinite(column.to_numpy(dtype=float, na_value=np.nan))] = None
        return cells.tolist()
    if pd.api.types.is_string_dtype(kind) and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        cells = column.to_numpy(dtype=object)
        cells[missing] = None
        return cells.tolist()
    return [json_value(value) for value in column.tolist()]


def csv_cell(value) -> str:
    """One JSON-ready cell as spreadsheet text: lists joined with '; ', maps as JSON, missing as blank."""
    if value is None:
        return ""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(csv_cell(v) if not isinstance(v, dict) else json.dumps(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a header row, dates as YYYY-MM-DD, lists joined readably."""
    return _csv(frame.columns, records(frame))


def to_json(frame: pd.DataFrame) -> bytes:
    """A JSON array of row objects (records orientation), ISO dates, strict JSON (no NaN)."""
    return _json(records(frame))


def _csv(columns, rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(c) for c in columns])
    writer.writerows([csv_cell(v) for v in row.values()] for row in rows)
    return buffer.getvalue().encode("utf-8")


def _json(rows: list[dict]) -> bytes:
    """`json.dumps(rows, indent=1)` byte for byte; a row of plain values through the C encoder, as the indenting
    one is pure Python."""
    if not rows:
        return b"[]"
    return ("[\n" + ",\n".join(_json_row(row) for row in rows) + "\n]").encode("utf-8")


def _json_row(row: dict) -> str:
    if not row or any(isinstance(value, (dict, list)) for value in row.values()):
        text = json.dumps(row, ensure_ascii=False, allow_nan=False, indent=1)
        return " " + text.replace("\n", "\n ")  # JSON text holds newlines only between its tokens
    return " {\n  " + _FLAT_ROW.encode(row)[1:-1] + "\n }"


@dataclass(frozen=True)
class Published:
    """Where one refresh was published: its timestamped files, the `latest` copies and what retention removed."""

    csv: UPath
    json: UPath
    latest_csv: UPath
    latest_json: UPath
    removed: tuple[str, ...]

    def to_metadata(self) -> dict:
        return {
            "export/csv": dg.MetadataValue.path(str(self.csv)),
            "export/json": dg.MetadataValue.path(str(self.json)),
            "export/latest_csv": dg.MetadataValue.path(str(self.latest_csv)),
            "export/latest_json": dg.MetadataValue.path(str(self.latest_json)),
            "export/removed_by_retention": len(self.removed),
        }


class ReportExports(dg.ConfigurableResource):
    """Publishes report refreshes to `exports/<domain>/<report>/` in the storage root and keeps the last N."""

    storage: dg.ResourceDependency[LakeStorage]
    keep: int = Field(default=DEFAULT_KEEP, ge=1, description="Timestamped exports kept per report (HC_EXPORT_KEEP).")

    def folder(self, domain: str, report: str) -> UPath:
        if report not in EXPORTED_REPORTS.get(domain, ()):
            raise ValueError(
                f"{domain}/{report} is not an exported report: only aggregate reports are published "
                f"({', '.join(f'{d}/{r}' for d, names in EXPORTED_REPORTS.items() for r in names)})"
            )
        return self.storage.path(ZONE, domain, report)

    def publish(self, domain: str, report: str, frame: pd.DataFrame, now: dt.datetime | None = None) -> Published:
        """Write `<stamp>.csv` and `<stamp>.json`, then replace `latest.*`, then apply retention."""
        folder = self.folder(domain, report)
        stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime(STAMP_FORMAT)
        rows = records(frame)
        csv_bytes, json_bytes = _csv(frame.columns, rows), _json(rows)
        stamped_csv = self.storage.write_bytes(folder / f"{stamp}.csv", csv_bytes)
        stamped_json = self.storage.write_bytes(folder / f"{stamp}.json", json_bytes)
        # Only once both stamped files are complete do the `latest` copies move on, each in one write.
        latest_csv = self.storage.write_bytes(folder / "latest.csv", csv_bytes)
        latest_json = self.storage.write_bytes(folder / "latest.json", json_bytes)
        return Published(stamped_csv, stamped_json, latest_csv, latest_json, self.apply_retention(folder))

    def stamped_names(self, folder: UPath) -> list[str]:
        """The timestamped export files of a report folder (one listing), oldest first."""
        fs, base = folder.fs, folder.path.rstrip("/")
        try:
            names = [name.rstrip("/").rsplit("/", 1)[-1] for name in fs.ls(base, detail=False)]
        except FileNotFoundError:
            return []
        return sorted(name for name in names if STAMPED_NAME.match(name))

    def apply_retention(self, folder: UPath) -> tuple[str, ...]:
        """Delete all but the newest `keep` timestamped exports of this report folder, and nothing else."""
        exports_root = self.storage.path(ZONE).path.rstrip("/") + "/"
        if not folder.path.startswith(exports_root):
            raise ValueError(f"{folder}: retention deletes only inside {ZONE}/")
        names = self.stamped_names(folder)
        stamps = sorted({name.split(".")[0] for name in names})
        dropped = set(stamps[: max(len(stamps) - self.keep, 0)])
        removed = tuple(name for name in names if name.split(".")[0] in dropped)
        if removed:
            # One batch delete (DeleteObjects on S3), each key inside this report's folder.
            folder.fs.rm([f"{folder.path.rstrip('/')}/{name}" for name in removed])
        return removed
