"""Patients: admission CSVs landed per file, curated by the admission rules, reported as anomalies."""

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

import dagster as dg
import pandas as pd

from hc_pipeline.assets import analytics
from hc_pipeline.assets.file_steps import FileSteps, StepResult
from hc_pipeline.assets.per_file import curate_step, curated_records_asset, raw_records_asset, read_step
from hc_pipeline.assets.retries import retried
from hc_pipeline.curation.patients import curate_batches, report_findings
from hc_pipeline.frame_types import per_file_types
from hc_pipeline.io_managers.parquet import lake_file
from hc_pipeline.metadata import markdown_table, model_descriptions, table_metadata
from hc_pipeline.partitions import files_partitions
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.schemas.patients import RULE_GROUPS, CuratedAdmissions, Findings
from hc_pipeline.sources.cp1252 import from_cp1252
from hc_pipeline.sources.errors import BinaryContent, UnreadableFile
from hc_pipeline.sources.patients_csv import (
    BINARY,
    REQUIRED_COLUMNS,
    read_admissions,
    stream_admissions,
    stream_records,
)
from hc_pipeline.sources.resumed import resumed
from hc_pipeline.sources.synthea_zip import is_synthea_zip, read_synthea_zip, stream_synthea_zip
from hc_pipeline.stores.digests import CHUNK_BYTES
from hc_pipeline.stores.file_table import FileTable, frames, row_count, write_table

DOMAIN = "patients"
CURATED = dg.AssetKey([DOMAIN, "curated_records"])
QUARANTINED = dg.AssetKey([DOMAIN, "quarantined_records"])
ANOMALIES = dg.AssetKey([DOMAIN, "anomaly_report"])
CURATED_DOCS = model_descriptions(CuratedAdmissions)
# The landed columns are the curated ones before typing.
LANDED_DOCS = {c: f"As landed, as text. {CURATED_DOCS[c]}" for c in REQUIRED_COLUMNS}
# What the findings are read from, of each curated row.
FINDING_COLUMNS = ["source_file", "source_row", "patient_id", "warnings"]
QUARANTINED_COLUMNS = ["source_file", "source_row", "patient_id", "reasons", "admission_date"]
SAFE_PREVIEW = ["patient_id", "age", "gender", "diagnosis", "length_of_stay_days", "warnings", "source_row"]


def empty_raw() -> pd.DataFrame:
    """The raw frame of a file that could not be read: no rows, the required columns."""
    columns = {c: pd.Series(dtype="string[pyarrow]") for c in (*REQUIRED_COLUMNS, "source_file", "parse_error")}
    return pd.DataFrame({**columns, "source_row": pd.Series(dtype="int64")})


def read_patients_file(data: bytes, source_file: str) -> pd.DataFrame:
    """An admissions CSV, or a Synthea export zip (told apart by content, not by name)."""
    return read_synthea_zip(data, source_file) if is_synthea_zip(data) else read_admissions(data, source_file)


def stream_patients_file(handle: BinaryIO, source_file: str) -> Iterator[pd.DataFrame]:
    """`read_patients_file` in batches: a CSV a block at a time (one with a NUL byte refused as binary, as the
    whole-file reader refuses it); a zip, which is read from its end, is first copied to a temporary file, then its
    encounters are read a block at a time."""
    head = handle.read(4)
    if not is_synthea_zip(head):
        try:
            yield from stream_admissions(resumed(head, handle), source_file)
        except BinaryContent:
            # Not a zip: the whole-file reader would say so too, holding the file.
            raise UnreadableFile(source_file, BINARY) from None
        return
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(resumed(head, handle), spool, CHUNK_BYTES)
        spool.seek(0)
        yield from stream_synthea_zip(spool, source_file)


# A CSV pyarrow's reader hands over (mostly ragged records) streams again through Python's csv module, and one that
# is not UTF-8 from its first block both ways as Windows-1252, before it is read whole.
STREAMS = (stream_patients_file, stream_records, from_cp1252(stream_admissions), from_cp1252(stream_records))
read_file = read_step(DOMAIN, read_patients_file, empty_raw, LANDED_DOCS, streams=STREAMS)
curate_file = curate_step(
    DOMAIN,
    lambda batches, run_date, obj, engine, keep: curate_batches(batches, run_date, keep),
    RULE_GROUPS,
    CuratedAdmissions,
    "patient_id",
    SAFE_PREVIEW,
    LANDED_DOCS,
)

raw_records = raw_records_asset(
    DOMAIN,
    read_file,
    "Every admission of one landed file as text, with its file and row number: the records of an admissions "
    "CSV (headers in snake_case), or the inpatient encounters of a Synthea export zip (no direct identifiers).",
)

curated_records = curated_records_asset(DOMAIN, curate_file, RULE_GROUPS, CuratedAdmissions)


@dg.asset(
    key=ANOMALIES,
    group_name=DOMAIN,
    partitions_def=files_partitions[DOMAIN],
    ins={"curated": dg.AssetIn(key=CURATED), "quarantined": dg.AssetIn(key=QUARANTINED)},
    dagster_type=per_file_types(DOMAIN)["anomaly_report"],
)
@retried
def anomaly_report(context: dg.AssetExecutionContext, storage: LakeStorage, curated, quarantined):
    """One row per finding in one file (rule, field, severity), plus its JSON insight report."""
    frame, metadata = report_file(curated, quarantined, context.partition_key, storage).outputs[ANOMALIES]
    return dg.Output(frame, metadata=metadata)


def report_file(
    curated: pd.DataFrame | FileTable, quarantined: pd.DataFrame | FileTable, partition_key: str, storage: LakeStorage
) -> StepResult:
    """The file's findings with their metadata, after writing its JSON insight report."""
    if isinstance(quarantined, FileTable):  # held whole: only the columns the findings read
        quarantined = quarantined.to_pandas([c for c in QUARANTINED_COLUMNS if c in quarantined.schema.names])
    findings = report_findings(frames(curated, FINDING_COLUMNS), quarantined)
    records = row_count(curated) + len(quarantined)
    insight = insight_report(_source_file(curated.head(1), quarantined), records, findings)
    path = storage.write_json(storage.insight_path(DOMAIN, partition_key), insight)
    per_rule = insight["counts_per_rule"]
    rate = insight["rows_flagged"] / records if records else 0.0
    summary = pd.DataFrame({"rule": list(per_rule), "findings": list(per_rule.values())})
    metadata = {
        **table_metadata(
            findings, ["source_row", "rule", "field", "severity"], descriptions=model_descriptions(Findings)
        ),
        "records": records,
        "findings": len(findings),
        "quarantined_rows": len(quarantined),
        "anomaly_rate": float(round(rate, 6)),
        **{f"rule/{rule}": n for rule, n in per_rule.items()},
        "summary": dg.MetadataValue.md(markdown_table(summary)),
        "insight_report": dg.MetadataValue.path(str(path)),
    }
    # A handle, not the frame: the run holds its steps' outputs to its end.
    return StepResult(
        {ANOMALIES: (write_table(lake_file(storage, ANOMALIES, partition_key), [findings]), metadata)}, []
    )


def _source_file(*frames: pd.DataFrame) -> str | None:
    for frame in frames:
        if len(frame):
            return str(frame["source_file"].iloc[0])
    return None


def insight_report(source_file: str | None, records: int, findings: pd.DataFrame, sample: int = 10) -> dict:
    """The per-file JSON insight report: totals, flagged fields, a sample and counts per rule."""
    return {
        "file": source_file,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "records": records,
        "anomalies_detected": len(findings),
        "rows_flagged": int(findings["source_row"].nunique()),
        "fields_flagged": sorted(findings["field"].dropna().unique().tolist()),
        "sample_anomalies": [
            {"row": int(row), "reason": rule}
            for row, rule in findings[["source_row", "rule"]].head(sample).itertuples(index=False)
        ],
        "counts_per_rule": {k: int(v) for k, v in findings["rule"].value_counts().sort_index().items()},
        "counts_per_severity": {k: int(v) for k, v in findings["severity"].value_counts().sort_index().items()},
    }


per_file_assets = [raw_records, curated_records, anomaly_report]
file_steps = FileSteps(DOMAIN, read_file, curate_file, report_file)
report_assets = analytics.report_assets
dated_assets = [curated_records]
