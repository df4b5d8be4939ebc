"""Patients: admission CSVs landed per file, curated by the admission rules, reported as anomalies."""

import datetime as dt

import dagster as dg
import pandas as pd
import pandera.errors

from hc_pipeline.assets.landed import landed_object
from hc_pipeline.checks.builders import group_result, group_specs, spec
from hc_pipeline.curation.patients import curate, report_findings
from hc_pipeline.metadata import markdown_table, table_metadata
from hc_pipeline.partitions import files_partitions
from hc_pipeline.resources.landing import LandingZone
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.schemas.patients import RULE_GROUPS, CuratedAdmissions
from hc_pipeline.sources.errors import UnreadableFile
from hc_pipeline.sources.patients_csv import REQUIRED_COLUMNS, read_admissions

DOMAIN = "patients"
PARTITIONS = files_partitions[DOMAIN]
RAW = dg.AssetKey([DOMAIN, "raw_records"])
CURATED = dg.AssetKey([DOMAIN, "curated_records"])
QUARANTINED = dg.AssetKey([DOMAIN, "quarantined_records"])
ANOMALIES = dg.AssetKey([DOMAIN, "anomaly_report"])
IO_RETRY = dg.RetryPolicy(max_retries=3, delay=0.5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
SAFE_PREVIEW = ["patient_id", "age", "gender", "diagnosis", "length_of_stay_days", "warnings", "source_row"]


class RunDateConfig(dg.Config):
    """The date rules such as `future_admission` judge against; blank means today (UTC)."""

    run_date: str | None = None

    def date(self) -> dt.date:
        return dt.date.fromisoformat(self.run_date) if self.run_date else dt.datetime.now(dt.UTC).date()


def empty_raw(source_file: str) -> pd.DataFrame:
    """The raw frame of a file that could not be read: no rows, the required columns."""
    columns = {c: pd.Series(dtype="string[pyarrow]") for c in (*REQUIRED_COLUMNS, "source_file", "parse_error")}
    return pd.DataFrame({**columns, "source_row": pd.Series(dtype="int64")})


@dg.asset(
    key=RAW,
    group_name=DOMAIN,
    partitions_def=PARTITIONS,
    retry_policy=IO_RETRY,
    check_specs=[
        spec(RAW, "file_readable", "The landed file can be read as an admissions CSV with the required columns. "
             "When it fails, the file is copied whole to quarantine/patients/<partition>/ with a .reason.json; "
             "fix the file and land it again.", "conformance", blocking=True)
    ],
)
def raw_records(context: dg.AssetExecutionContext, landing: LandingZone, storage: LakeStorage):
    """Every row of one landed admissions CSV as text, with its file and 1-based row number."""
    obj = landed_object(context, DOMAIN, storage)
    data = landing.read_bytes(obj.key, obj.version)
    try:
        raw, reason = read_admissions(data, obj.key), None
    except UnreadableFile as unreadable:
        reason = str(unreadable)
        copy = storage.quarantine_file(
            DOMAIN, context.partition_key, obj.key.rsplit("/", 1)[-1], data,
            {"file": obj.key, "version": obj.version, "reason": unreadable.reason},
        )
        context.log.warning(f"quarantined whole file: {reason}")
        raw = empty_raw(obj.key)
    yield dg.Output(
        raw,
        metadata={
            **table_metadata(raw, ["source_row"]),
            "source_file": obj.key,
            "landing_uri": dg.MetadataValue.path(landing.uri(obj.key)),
            "readable": reason is None,
            **({"unreadable_reason": reason, "quarantine_copy": dg.MetadataValue.path(str(copy))} if reason else {}),
        },
    )
    yield dg.AssetCheckResult(
        check_name="file_readable",
        passed=reason is None,
        metadata={"reason": reason or "readable", "source_file": obj.key},
    )


@dg.multi_asset(
    name="patients_curated_records",
    outs={
        "curated_records": dg.AssetOut(key=CURATED, description="Typed admission rows that passed every error rule."),
        "quarantined_records": dg.AssetOut(key=QUARANTINED, description="Raw rows that broke an error rule, with reasons."),
    },
    ins={"raw": dg.AssetIn(key=RAW)},
    group_name=DOMAIN,
    partitions_def=PARTITIONS,
    check_specs=[
        spec(CURATED, "curated_schema", "Curated rows honour the published column contract (types, ranges, "
             "discharge on or after admission). A failure is a pipeline bug: do not use the file's rows; "
             "tell the platform team.", "conformance", blocking=True),
        spec(CURATED, "row_conservation", "Every raw row is either curated or quarantined, never lost or doubled. "
             "A failure is a pipeline bug: tell the platform team.", "completeness", blocking=True),
        *group_specs(CURATED, RULE_GROUPS),
    ],
)
def curated_records(context: dg.AssetExecutionContext, config: RunDateConfig, raw: pd.DataFrame):
    """Admissions split by the rules: curated rows (typed, normalised) and quarantined rows (with reasons)."""
    result = curate(raw, config.date())
    yield dg.Output(
        result.curated,
        output_name="curated_records",
        metadata={**table_metadata(result.curated, SAFE_PREVIEW, masked=("patient_id",)),
                  "rows_with_warnings": int((result.curated["warnings"].list.len() > 0).sum())},
    )
    yield dg.Output(
        result.quarantined,
        output_name="quarantined_records",
        metadata=table_metadata(result.quarantined, ["source_row", "reasons"]),
    )
    yield _schema_result(result.curated)
    yield dg.AssetCheckResult(
        asset_key=CURATED,
        check_name="row_conservation",
        passed=result.conserved(len(raw)),
        metadata={"raw_rows": len(raw), "curated_rows": len(result.curated),
                  "quarantined_rows": len(result.quarantined)},
    )
    for group in RULE_GROUPS:
        yield group_result(CURATED, group, result.masks, raw, "patient_id")


def _schema_result(curated: pd.DataFrame) -> dg.AssetCheckResult:
    try:
        CuratedAdmissions.validate(curated, lazy=True)
        failures = {}
    except pandera.errors.SchemaErrors as errors:
        # Counts per check only: failure cases hold the failing values themselves.
        failures = errors.failure_cases.groupby("check").size().astype(int).to_dict()
    return dg.AssetCheckResult(
        asset_key=CURATED,
        check_name="curated_schema",
        passed=not failures,
        metadata={"failing_checks": len(failures), **{f"check/{k}": v for k, v in failures.items()}},
    )


@dg.asset(
    key=ANOMALIES,
    group_name=DOMAIN,
    partitions_def=PARTITIONS,
    retry_policy=IO_RETRY,
    ins={"curated": dg.AssetIn(key=CURATED), "quarantined": dg.AssetIn(key=QUARANTINED)},
)
def anomaly_report(
    context: dg.AssetExecutionContext, storage: LakeStorage, curated: pd.DataFrame, quarantined: pd.DataFrame
) -> dg.Output[pd.DataFrame]:
    """One row per finding in one file (rule, field, severity), plus its JSON insight report."""
    findings = report_findings(curated, quarantined)
    records = len(curated) + len(quarantined)
    source_file = _source_file(curated, quarantined)
    insight = insight_report(source_file, records, findings)
    path = storage.write_json(storage.insight_path(DOMAIN, context.partition_key), insight)
    per_rule = insight["counts_per_rule"]
    rate = findings["source_row"].nunique() / records if records else 0.0
    summary = pd.DataFrame({"rule": list(per_rule), "findings": list(per_rule.values())})
    return dg.Output(
        findings,
        metadata={
            **table_metadata(findings, ["source_row", "rule", "field", "severity"]),
            "records": records,
            "findings": len(findings),
            "quarantined_rows": len(quarantined),
            "anomaly_rate": float(round(rate, 6)),
            **{f"rule/{rule}": n for rule, n in per_rule.items()},
            "summary": dg.MetadataValue.md(markdown_table(summary)),
            "insight_report": dg.MetadataValue.path(str(path)),
        },
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


assets = [raw_records, curated_records, anomaly_report]
