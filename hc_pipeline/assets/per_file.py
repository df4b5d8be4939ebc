"""The per-file assets every domain shares: raw records read from one landed file, then curated by rules."""

import datetime as dt
from collections.abc import Callable, Mapping

import dagster as dg
import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from hc_pipeline.assets.file_steps import CurateStep, ReadStep, StepResult
from hc_pipeline.assets.landed import landed_object, stop_if_duplicate
from hc_pipeline.assets.retries import retried
from hc_pipeline.checks.builders import group_result, group_specs, spec
from hc_pipeline.curation.rules import Curation
from hc_pipeline.frame_types import per_file_types
from hc_pipeline.metadata import model_descriptions, table_metadata
from hc_pipeline.partitions import files_partitions
from hc_pipeline.resources.landing import LandedObject, LandingZone
from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.review.decisions import LEDGER_COLUMNS, STATUSES
from hc_pipeline.review.lake import read_parquet_folder
from hc_pipeline.review.resolution import resolve
from hc_pipeline.run_dates import RunDates
from hc_pipeline.schemas.file_rows import QuarantinedRows, RawRows
from hc_pipeline.schemas.rules import RuleGroup
from hc_pipeline.sources.errors import UnreadableFile

Reader = Callable[[bytes, str], pd.DataFrame]
# (raw, run date, landed object, engine, rows to keep whatever they break) -> curation
CurateFile = Callable[[pd.DataFrame, dt.date, LandedObject, QueryEngine, np.ndarray | None], Curation]


def read_step(domain: str, read: Reader, empty: Callable[[], pd.DataFrame], landed_docs: Mapping[str, str]) -> ReadStep:
    """Read one landed file into raw records; an unreadable one is copied whole to quarantine with its reason.

    `landed_docs` describes the landed columns the domain expects; the structural ones come from `RawRows`.
    """
    key = dg.AssetKey([domain, "raw_records"])
    docs = {**model_descriptions(RawRows), **landed_docs}

    def read_file(obj: LandedObject, partition_key: str, landing: LandingZone, storage: LakeStorage, log) -> StepResult:
        data = landing.read_bytes(obj.key, obj.version)
        try:
            raw, reason, copy = read(data, obj.key), None, None
        except UnreadableFile as unreadable:
            reason = str(unreadable)
            copy = storage.quarantine_file(
                domain,
                partition_key,
                obj.key.rsplit("/", 1)[-1] or "file",
                data,
                {"file": obj.key, "version": obj.version, "reason": unreadable.reason},
            )
            log.warning(f"quarantined whole file: {reason}")
            raw = empty()
        metadata = {
            **table_metadata(raw, ["source_row", "parse_error"], descriptions=docs),
            "source_file": obj.key,
            "landing_uri": dg.MetadataValue.path(landing.uri(obj.key)),
            "readable": reason is None,
            **({"unreadable_reason": reason, "quarantine_copy": dg.MetadataValue.path(str(copy))} if reason else {}),
        }
        check = dg.AssetCheckResult(
            asset_key=key,
            check_name="file_readable",
            passed=reason is None,
            metadata={"reason": reason or "readable", "source_file": obj.key},
        )
        return StepResult({key: (raw, metadata)}, [check])

    return read_file


def raw_records_asset(domain: str, read_file: ReadStep, description: str):
    """`<domain>/raw_records`: read one landed file; an unreadable one is quarantined whole."""
    key = dg.AssetKey([domain, "raw_records"])

    @dg.asset(
        key=key,
        group_name=domain,
        description=description,
        dagster_type=per_file_types(domain)["raw_records"],
        partitions_def=files_partitions[domain],
        check_specs=[
            spec(
                key,
                "file_readable",
                f"The landed file can be read as a {domain} file. When it fails, the file is copied whole to "
                f"quarantine/{domain}/<partition>/ with a .reason.json naming the problem; nothing downstream "
                "runs for it. Fix the file and land it again.",
                "conformance",
                blocking=True,
                partitions_def=files_partitions[domain],
            )
        ],
    )
    @retried
    def raw_records(context: dg.AssetExecutionContext, landing: LandingZone, storage: LakeStorage):
        stop_if_duplicate(context)
        obj = landed_object(context, domain, storage)
        yield from read_file(obj, context.partition_key, landing, storage, context.log).step_events({key: "result"})

    return raw_records


def curate_step(
    domain: str,
    curate_file: CurateFile,
    groups: tuple[RuleGroup, ...],
    contract: type[pa.DataFrameModel],
    id_column: str,
    preview_columns: list[str],
    landed_docs: Mapping[str, str],
) -> CurateStep:
    """Curate one file's raw records by the rules and the stewards' decisions, with the domain's check results."""
    curated_key = dg.AssetKey([domain, "curated_records"])
    quarantined_key = dg.AssetKey([domain, "quarantined_records"])
    exceptions_key = dg.AssetKey([domain, "exceptions"])
    curated_docs = model_descriptions(contract)
    quarantined_docs = {**model_descriptions(QuarantinedRows), **landed_docs}

    def curate(
        raw: pd.DataFrame,
        obj: LandedObject,
        partition_key: str,
        storage: LakeStorage,
        query_engine: QueryEngine,
        rules_date: dt.date,
    ) -> StepResult:
        resolved = resolve(
            raw,
            read_parquet_folder(storage.path("lake", domain, "decisions"), LEDGER_COLUMNS),
            lambda frame, keep: curate_file(frame, rules_date, obj, query_engine, keep),
            obj.key,
            obj.version,
            partition_key,
        )
        result = resolved.curation
        outputs = {
            curated_key: (
                result.curated,
                {
                    **table_metadata(result.curated, preview_columns, masked=(id_column,), descriptions=curated_docs),
                    "rows_with_warnings": int((result.curated["warnings"].list.len() > 0).sum()),
                },
            ),
            quarantined_key: (
                result.quarantined,
                table_metadata(result.quarantined, ["source_row", "reasons"], descriptions=quarantined_docs),
            ),
            exceptions_key: (
                resolved.exceptions,
                {
                    **table_metadata(resolved.exceptions, ["source_row", "status", "reasons"]),
                    **status_counts(resolved.exceptions),
                },
            ),
        }
        checks = [
            # Accepted rows are curated as recorded: the contract promises nothing about the rules they broke.
            contract_result(
                curated_key, contract, result.curated[result.curated["resolution"].fillna("") != "accepted"]
            ),
            dg.AssetCheckResult(
                asset_key=curated_key,
                check_name="row_conservation",
                passed=result.conserved(len(raw)),
                metadata={
                    "raw_rows": len(raw),
                    "curated_rows": len(result.curated),
                    "quarantined_rows": len(result.quarantined),
                    **status_counts(resolved.exceptions),
                },
            ),
            *(group_result(curated_key, group, result.masks, result.keys, id_column) for group in groups),
        ]
        return StepResult(outputs, checks)

    return curate


def curated_records_asset(
    domain: str, curate: CurateStep, groups: tuple[RuleGroup, ...], contract: type[pa.DataFrameModel]
):
    """`<domain>/curated_records` and `<domain>/quarantined_records`, with the domain's checks, in one step."""
    curated_key = dg.AssetKey([domain, "curated_records"])
    quarantined_key = dg.AssetKey([domain, "quarantined_records"])
    exceptions_key = dg.AssetKey([domain, "exceptions"])
    types = per_file_types(domain)
    output_names = {
        curated_key: "curated_records",
        quarantined_key: "quarantined_records",
        exceptions_key: "exceptions",
    }

    @dg.multi_asset(
        name=f"{domain}_curated_records",
        outs={
            "curated_records": dg.AssetOut(
                key=curated_key,
                description=f"Typed {domain} rows that passed every error rule, or whose exception a steward "
                "corrected or accepted (`resolution`).",
                dagster_type=types["curated_records"],
            ),
            "quarantined_records": dg.AssetOut(
                key=quarantined_key,
                description="Raw rows that broke an error rule and are not resolved (open or rejected), with "
                "reasons and their exception_id.",
                dagster_type=types["quarantined_records"],
            ),
            "exceptions": dg.AssetOut(
                key=exceptions_key,
                description="Every exception of the file (a row quarantined at first or now) with its status: "
                "open, corrected, accepted or rejected, and who decided it, when and why.",
            ),
        },
        ins={"raw": dg.AssetIn(key=dg.AssetKey([domain, "raw_records"]))},
        # Decisions files change a file's outcome: every decisions partition may touch any file.
        deps=[dg.AssetDep(dg.AssetKey([domain, "decisions"]), partition_mapping=dg.AllPartitionMapping())],
        group_name=domain,
        partitions_def=files_partitions[domain],
        check_specs=[
            spec(
                curated_key,
                "curated_schema",
                "Curated rows honour the published column contract "
                f"(pandera {contract.__name__}). A failure is a pipeline bug: do not use the file's rows; "
                "tell the platform team.",
                "conformance",
                blocking=True,
                partitions_def=files_partitions[domain],
            ),
            spec(
                curated_key,
                "row_conservation",
                "Every raw row is either curated or quarantined, never lost "
                "or doubled. A failure is a pipeline bug: tell the platform team.",
                "completeness",
                blocking=True,
                partitions_def=files_partitions[domain],
            ),
            *group_specs(curated_key, groups, files_partitions[domain]),
        ],
    )
    def curated_records(
        context: dg.AssetExecutionContext,
        config: RunDates,
        raw: pd.DataFrame,
        storage: LakeStorage,
        query_engine: QueryEngine,
    ):
        obj = landed_object(context, domain, storage)
        step = curate(raw, obj, context.partition_key, storage, query_engine, config.rules_date())
        yield from step.step_events(output_names)

    return curated_records


def status_counts(exceptions: pd.DataFrame) -> dict[str, int]:
    """How many of the file's exceptions are in each status."""
    counts = exceptions["status"].value_counts()
    return {f"exceptions/{status}": int(counts.get(status, 0)) for status in STATUSES}


def contract_result(key: dg.AssetKey, contract: type[pa.DataFrameModel], curated: pd.DataFrame) -> dg.AssetCheckResult:
    """The blocking schema check: failing checks by name and count, never the failing values."""
    try:
        contract.validate(curated, lazy=True)
        failures = {}
    except pandera.errors.SchemaErrors as errors:
        failures = errors.failure_cases.groupby("check").size().astype(int).to_dict()
    return dg.AssetCheckResult(
        asset_key=key,
        check_name="curated_schema",
        passed=not failures,
        metadata={"failing_checks": len(failures), **{f"check/{k}": v for k, v in failures.items()}},
    )
