"""Patient analytics over every curated admission: readmissions, length of stay, demographics, diagnoses."""

import dagster as dg
import pandas as pd

from hc_pipeline.assets.reports import REFRESH, report_asset, run_report
from hc_pipeline.assets.retries import retried
from hc_pipeline.io_managers.parquet import lake_file
from hc_pipeline.metadata import markdown_table
from hc_pipeline.resources.exports import EXPORTED_REPORTS, ReportExports
from hc_pipeline.resources.query_engine import Queries, QueryEngine
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sql import column_descriptions, render_sql

DOMAIN = "patients"
CHECK_META = {"owners": "team:data-stewards"}
STAY_PREVIEW = ["patient_id", "length_of_stay_days", "readmitted_within_30_days", "days_to_readmission"]


STAYS = "patients_stays"
# What the reports over the shared view read of it: the view is computed once for them, with these columns only.
STAYS_COLUMNS = [
    *("patient_id", "admission_date", "discharge_date", "length_of_stay_days", "stay_number", "latest_stay"),
    *("readmitted_within_30_days", "days_to_readmission", "gender", "age_band", "race", "ethnicity", "diagnosis"),
]
# Each report over the stays: its description, and the rows its summary shows (readmissions shows totals).
STAYS_REPORTS = {
    "readmissions": (
        "One row per discharged stay: length of stay and whether the next admission came within 30 days.",
        0,
    ),
    "readmission_rates": (
        "30-day readmission rate overall and by gender, age band and the top 20 diagnoses.",
        40,
    ),
    "demographics": ("Patients by gender, age band, race and ethnicity (latest admission each).", 40),
    "diagnosis_patterns": ("Per diagnosis: stays, patients, mean length of stay and readmission rate.", 20),
}


@dg.multi_asset(
    name="patients_stays_reports",
    outs={
        name: dg.AssetOut(
            key=[DOMAIN, name],
            group_name=DOMAIN,
            description=description,
            automation_condition=REFRESH,
            is_required=False,
        )
        for name, (description, _) in STAYS_REPORTS.items()
    },
    deps=[dg.AssetKey([DOMAIN, "curated_records"])],
    can_subset=True,
    description="The reports over every curated stay with the patient's next admission, which is worked out once.",
)
@retried
def stays_reports(
    context: dg.AssetExecutionContext, query_engine: QueryEngine, storage: LakeStorage, exports: ReportExports
):
    with query_engine.sharing(STAYS, STAYS_COLUMNS) as queries:
        for name, (_, summary_rows) in STAYS_REPORTS.items():
            if dg.AssetKey([DOMAIN, name]) not in context.selected_asset_keys:
                continue
            if name == "readmissions":
                yield _readmissions(queries, storage)
            else:
                yield _aggregate(name, queries, exports, summary_rows, output_name=name)


def _readmissions(queries: Queries, storage: LakeStorage) -> dg.Output:
    # One row per stay of a patient: the preview shows no dates and only hashed ids, and the summary only totals.
    # Written to the lake as the rows come: the table has as many rows as the lake has stays.
    table, metadata = run_report(
        queries,
        render_sql("readmissions"),
        STAY_PREVIEW,
        masked=("patient_id",),
        descriptions=column_descriptions("readmissions"),
        write_to=lake_file(storage, dg.AssetKey([DOMAIN, "readmissions"])),
    )
    readmitted = int(pd.Series(table.column("readmitted_within_30_days")).fillna(False).astype(bool).sum())
    totals = pd.DataFrame({"stays": [table.num_rows], "readmitted_within_30_days": [readmitted]})
    summary = dg.MetadataValue.md(markdown_table(totals))
    return dg.Output(table, output_name="readmissions", metadata={**metadata, "summary": summary})


def _aggregate(
    name: str, queries: Queries, exports: ReportExports, summary_rows: int, output_name: str = "result"
) -> dg.Output:
    frame, metadata = run_report(queries, render_sql(name), descriptions=column_descriptions(name))
    if name in EXPORTED_REPORTS[DOMAIN]:
        metadata.update(exports.publish(DOMAIN, name, frame).to_metadata())
    summary = dg.MetadataValue.md(markdown_table(frame.head(summary_rows)))
    return dg.Output(frame, output_name=output_name, metadata={**metadata, "summary": summary})


@report_asset(DOMAIN, "length_of_stay", "Stays and mean / median / p90 length of stay by admission month.")
def length_of_stay(query_engine: QueryEngine, exports: ReportExports) -> dg.Output[pd.DataFrame]:
    return _aggregate("length_of_stay", query_engine, exports, 24)


def _check(asset: str, description: str, category: str):
    return dg.asset_check(
        asset=dg.AssetKey([DOMAIN, asset]),
        description=description,
        blocking=True,
        metadata={**CHECK_META, "category": category},
    )


@_check("readmissions", "Every stay is discharged on or after admission. A failure is a pipeline bug.", "plausibility")
def discharge_after_admission(query_engine: QueryEngine) -> dg.AssetCheckResult:
    # Counted where the table is: it has a row per stay, too many to load for two numbers.
    counts = query_engine.query(
        "SELECT count(*) AS stays, count(CASE WHEN discharge_date < admission_date THEN 1 END) AS failing_rows "
        "FROM patients_readmissions"
    )
    stays, bad = (int(counts[name].iloc[0]) for name in ("stays", "failing_rows"))
    return dg.AssetCheckResult(passed=bad == 0, metadata={"failing_rows": bad, "stays": stays})


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


report_assets = [stays_reports, length_of_stay]
checks = [discharge_after_admission, rate_between_zero_and_one, one_row_per_patient]
