"""Facilities: JSON/NDJSON files landed per file, curated to one schema, reported with Athena-dialect SQL."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from hc_pipeline.assets.file_steps import FileSteps
from hc_pipeline.assets.per_file import curate_step, curated_records_asset, raw_records_asset, read_step
from hc_pipeline.assets.reports import report_asset, run_report
from hc_pipeline.curation.facilities import curate
from hc_pipeline.curation.rules import Curation
from hc_pipeline.metadata import markdown_table
from hc_pipeline.notifications import tier_counts_message
from hc_pipeline.resources.exports import ReportExports
from hc_pipeline.resources.landing import LandedObject
from hc_pipeline.resources.notifier import Notifier
from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.review.resolution import Batches, Keep
from hc_pipeline.run_dates import RunDates
from hc_pipeline.schemas.facilities import RULE_GROUPS, CuratedFacilities
from hc_pipeline.schemas.file_state import FileState
from hc_pipeline.schemas.rules import Staging
from hc_pipeline.sources.facilities_json import COLUMNS, read_facilities, stream_facilities
from hc_pipeline.sql import column_descriptions, render_sql
from hc_pipeline.tiers import TIER_NAMES

DOMAIN = "facilities"
LANDED_DOCS = {
    "record_json": "The record's JSON text as landed (one object of the file's array, lines or wrapper).",
    "facility_id": "The record's facility_id, when it has one (quarantined rows only).",
}


def empty_raw() -> pd.DataFrame:
    """The raw frame of a file that could not be read."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "string[pyarrow]") for c in COLUMNS})


def curate_file(
    batches: Batches, run_date: dt.date, obj: LandedObject, engine: QueryEngine, keep: Keep
) -> Iterator[Curation]:
    """Curate one file batch by batch; ids already curated from files landed before it are duplicates."""
    landed_at = dt.datetime.fromtimestamp(obj.last_modified, dt.UTC).replace(tzinfo=None)
    known = earlier_facility_ids(engine, obj.key, landed_at)
    # Every facility rule is first-pass: one sweep, its batches sharing the ids met earlier in the file.
    staging = Staging(run_date, file=FileState())
    for raw in batches():
        yield curate(raw, run_date, known_ids=known, landed_at=landed_at, keep=keep(raw), staging=staging)


def earlier_facility_ids(engine: QueryEngine, source_file: str, landed_at: dt.datetime) -> frozenset[str]:
    """Facility ids curated from other files that landed before this one (ties broken by key, as runs are ordered)."""
    if "facilities_curated_records" not in engine.tables():
        return frozenset()
    quoted = source_file.replace("'", "''")
    stamp = f"TIMESTAMP '{landed_at:%Y-%m-%d %H:%M:%S.%f}'"
    # S3 LastModified has whole seconds: files landed in the same second are ordered by key.
    ids = engine.query(
        "SELECT DISTINCT facility_id FROM facilities_curated_records "
        f"WHERE source_file <> '{quoted}' "
        f"AND (landed_at < {stamp} OR (landed_at = {stamp} AND source_file < '{quoted}'))"
    )
    return frozenset(ids["facility_id"].dropna().astype(str))


read_file = read_step(DOMAIN, read_facilities, empty_raw, LANDED_DOCS, streams=(stream_facilities,))
curate_records = curate_step(
    DOMAIN,
    curate_file,
    RULE_GROUPS,
    CuratedFacilities,
    "facility_id",
    ["facility_id", "facility_name", "state", "employee_count", "n_services", "first_accreditation_expiry", "warnings"],
    LANDED_DOCS,
)

raw_records = raw_records_asset(
    DOMAIN,
    read_file,
    "One row per facility record of one landed JSON/NDJSON file: its JSON text, file and record number.",
)

curated_records = curated_records_asset(DOMAIN, curate_records, RULE_GROUPS, CuratedFacilities)


@report_asset(DOMAIN, "facility_metrics", "Key numbers per facility (latest record of each), earliest expiry first.")
def facility_metrics(query_engine: QueryEngine, exports: ReportExports) -> dg.Output[pd.DataFrame]:
    frame, metadata = run_report(
        query_engine, render_sql("facility_metrics"), descriptions=column_descriptions("facility_metrics")
    )
    metadata.update(exports.publish(DOMAIN, "facility_metrics", frame).to_metadata())
    return dg.Output(frame, metadata={**metadata, "top_20": dg.MetadataValue.md(markdown_table(frame.head(20)))})


@report_asset(DOMAIN, "expiring_accreditations", "Accreditations expiring within the horizon, tiered by urgency.")
def expiring_accreditations(
    context: dg.AssetExecutionContext,
    config: RunDates,
    query_engine: QueryEngine,
    notifier: Notifier,
    exports: ReportExports,
) -> dg.Output[pd.DataFrame]:
    as_of = config.as_of_date()
    frame, metadata = run_report(
        query_engine,
        render_sql("expiring_accreditations", as_of=as_of, horizon_days=config.horizon_days),
        descriptions=column_descriptions("expiring_accreditations"),
    )
    published = exports.publish(DOMAIN, "expiring_accreditations", frame)
    metadata.update(published.to_metadata())
    counts = {tier: int((frame["tier"] == tier).sum()) for tier in TIER_NAMES}
    critical = frame.loc[frame["tier"] == "critical", ["facility_id", "facility_name"]].drop_duplicates()
    critical_pairs = list(critical.itertuples(index=False, name=None))
    notifier.notify(*tier_counts_message(counts, critical_pairs, as_of, full_list=str(published.latest_csv)))
    return dg.Output(
        frame,
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "horizon_days": config.horizon_days,
            **{f"tier/{tier}": n for tier, n in counts.items()},
            "summary": dg.MetadataValue.md(
                markdown_table(pd.DataFrame({"tier": list(counts), "accreditations": list(counts.values())}))
            ),
        },
    )


@report_asset(DOMAIN, "state_counts", "Facilities, employees, accreditations and expiring accreditations per state.")
def state_counts(config: RunDates, query_engine: QueryEngine, exports: ReportExports) -> dg.Output[pd.DataFrame]:
    frame, metadata = run_report(
        query_engine,
        render_sql("state_counts", as_of=config.as_of_date(), horizon_days=config.horizon_days),
        descriptions=column_descriptions("state_counts"),
    )
    metadata.update(exports.publish(DOMAIN, "state_counts", frame).to_metadata())
    return dg.Output(frame, metadata={**metadata, "states": len(frame)})


@dg.asset_check(
    asset=dg.AssetKey([DOMAIN, "facility_metrics"]),
    description="Each facility appears once in the latest view. A failure means the latest-record logic broke: "
    "tell the platform team.",
    blocking=True,
    metadata={"category": "uniqueness", "owners": "team:data-stewards"},
)
def unique_facility_id(facility_metrics: pd.DataFrame) -> dg.AssetCheckResult:
    repeated = int(facility_metrics["facility_id"].duplicated().sum())
    return dg.AssetCheckResult(
        passed=repeated == 0, metadata={"repeated_ids": repeated, "facilities": len(facility_metrics)}
    )


per_file_assets = [raw_records, curated_records]
file_steps = FileSteps(DOMAIN, read_file, curate_records)
report_assets = [facility_metrics, expiring_accreditations, state_counts]
dated_assets = [curated_records, expiring_accreditations, state_counts]
checks = [unique_facility_id]
