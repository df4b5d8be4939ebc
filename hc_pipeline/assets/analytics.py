"""Patient analytics over every curated admission: readmissions, length of stay, demographics, diagnoses."""

import dagster as dg
import pandas as pd

from hc_pipeline.assets.reports import report_asset, run_report
from hc_pipeline.io_managers.parquet import lake_file
from hc_pipeline.metadata import markdown_table
from hc_pipeline.resources.exports import EXPORTED_REPORTS, ReportExports
from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sql import column_descriptions, render_sql

DOMAIN = "patients"
CHECK_META = {"owners": "team:data-stewards"}
STAY_PREVIEW = ["patient_id", "length_of_stay_days", "readmitted_within_30_days", "days_to_readmission"]


def _sql_report(name: str, description: str, summary_rows: int = 10):
    @report_asset(DOMAIN, name, description)
    def _report(query_engine: QueryEngine, exports: ReportExports) -> dg.Output[pd.DataFrame]:
        frame, metadata = run_report(query_engine, render_sql(name), descriptions=column_descriptions(name))
        if name in EXPORTED_REPORTS[DOMAIN]:  # patient-level tables (readmissions) are never exported
            metadata.update(exports.publish(DOMAIN, name, frame).to_metadata())
        return dg.Output(
            frame, metadata={**metadata, "summary": dg.MetadataValue.md(markdown_table(frame.head(summary_rows)))}
        )

    return _report


@report_asset(
    DOMAIN,
    "readmissions",
    "One row per discharged stay: length of stay and whether the next admission came within 30 days.",
)
def readmissions(query_engine: QueryEngine, storage: LakeStorage) -> dg.Output:
    # One row per stay of a patient: the preview shows no dates and only hashed ids, and the summary only totals.
    # Written to the lake as the rows come: the table has as many rows as the lake has stays.
    table, metadata = run_report(
        query_engine,
        render_sql("readmissions"),
        STAY_PREVIEW,
        masked=("patient_id",),
        descriptions=column_descriptions("readmissions"),
        write_to=lake_file(storage, dg.AssetKey([DOMAIN, "readmissions"])),
    )
    readmitted = int(pd.Series(table.column("readmitted_within_30_days")).fillna(False).astype(bool).sum())
    totals = pd.DataFrame({"stays": [table.num_rows], "readmitted_within_30_days": [readmitted]})
    return dg.Output(table, metadata={**metadata, "summary": dg.MetadataValue.md(markdown_table(totals))})


readmission_rates = _sql_report(
    "readmission_rates", "30-day readmission rate overall and by gender, age band and the top 20 diagnoses.", 40
)
length_of_stay = _sql_report("length_of_stay", "Stays and mean / median / p90 length of stay by admission month.", 24)
demographics = _sql_report(
    "demographics", "Patients by gender, age band, race and ethnicity (latest admission each).", 40
)
diagnosis_patterns = _sql_report(
    "diagnosis_patterns", "Per diagnosis: stays, patients, mean length of stay and readmission rate.", 20
)


def _check(asset: str, description: str, category: str):
    return dg.asset_check(
        asset=dg.AssetKey([DOMAIN, asset]),
        description=description,
        blocking=True,
        metadata={**CHECK_META, "category": category},
    )


@_check("readmissions", "Every stay is discharged on or after admission. A failure is a pipeline bug.", "plausibility")
def discharge_after_admission(readmissions: pd.DataFrame) -> dg.AssetCheckResult:
    bad = int((pd.to_datetime(readmissions["discharge_date"]) < pd.to_datetime(readmissions["admission_date"])).sum())
    return dg.AssetCheckResult(passed=bad == 0, metadata={"failing_rows": bad, "stays": len(readmissions)})


@_check("readmission_rates", "Every readmission rate lies in [0, 1]. A failure is a pipeline bug.", "plausibility")
def rate_between_zero_and_one(readmission_rates: pd.DataFrame) -> dg.AssetCheckResult:
    rate = readmission_rates["readmission_rate"].astype(float)
    bad = int((rate.notna() & ~rate.between(0, 1)).sum())
    return dg.AssetCheckResult(passed=bad == 0, metadata={"failing_rows": bad})


@_check(
    "demographics",
    "Each patient is counted once per dimension (no duplicate patient_id). "
    "A failure means the latest-admission logic broke: tell the platform team.",
    "uniqueness",
)
def one_row_per_patient(demographics: pd.DataFrame, query_engine: QueryEngine) -> dg.AssetCheckResult:
    patients = int(
        query_engine.query("SELECT count(DISTINCT patient_id) AS n FROM patients_curated_records")["n"].iloc[0]
    )
    totals = demographics.groupby("dimension")["patients"].sum().astype(int)
    off = {dimension: n for dimension, n in totals.items() if n != patients}
    return dg.AssetCheckResult(
        passed=not off, metadata={"patients": patients, **{f"dimension/{d}": n for d, n in totals.items()}}
    )


report_assets = [readmissions, readmission_rates, length_of_stay, demographics, diagnosis_patterns]
checks = [discharge_after_admission, rate_between_zero_and_one, one_row_per_patient]
