"""The per-file assets every domain shares: raw records read from one landed file, then curated by rules."""

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import dagster as dg
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from hc_pipeline.assets.file_steps import CurateStep, ReadStep, StepResult
from hc_pipeline.assets.landed import landed_object, stop_if_duplicate
from hc_pipeline.assets.retries import retried
from hc_pipeline.checks.builders import RuleTally, group_result, group_specs, spec
from hc_pipeline.curation.rules import Curation
from hc_pipeline.frame_types import per_file_types
from hc_pipeline.io_managers.parquet import lake_file
from hc_pipeline.metadata import model_descriptions, table_metadata
from hc_pipeline.partitions import files_partitions
from hc_pipeline.progress import counted
from hc_pipeline.resources.landing import LandedObject, LandingZone
from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.review.decisions import LEDGER_COLUMNS, STATUSES
from hc_pipeline.review.lake import read_parquet_folder
from hc_pipeline.review.resolution import Batches, Keep, resolve
from hc_pipeline.run_dates import RunDates
from hc_pipeline.schemas.file_rows import QuarantinedRows, RawRows
from hc_pipeline.schemas.file_state import row_hashing
from hc_pipeline.schemas.rules import RuleGroup
from hc_pipeline.sources.errors import NotStreamable, UnreadableFile
from hc_pipeline.stores.file_table import FileTable, frames, row_count, write_table

Reader = Callable[[bytes, str], pd.DataFrame]
# (landed stream, key) -> the raw rows in batches, or NotStreamable for a file only `Reader` can read
Streamer = Callable[[BinaryIO, str], Iterator[pd.DataFrame]]
# Rows per row group of a table read whole.
BATCH_ROWS = 131_072
# (raw batches, run date, landed object, engine, rows to keep whatever they break) -> one curation per batch
CurateFile = Callable[[Batches, dt.date, LandedObject, QueryEngine, Keep], Iterator[Curation]]


@dataclass(frozen=True)
class CuratedTable:
    """The curated rows as written, with what the checks need to know of them."""

    table: FileTable
    tally: RuleTally
    contract_failures: dict[str, int]
    rows_with_warnings: int


def read_step(
    domain: str,
    read: Reader,
    empty: Callable[[], pd.DataFrame],
    landed_docs: Mapping[str, str],
    streams: tuple[Streamer, ...] = (),
) -> ReadStep:
    """Read one landed file into raw records; an unreadable one is copied whole to quarantine with its reason.

    With `streams`, the file is read and its table written one batch at a time, in memory bounded by a batch, by
    the first of them that can (each from the file's start); files none can stream are read whole. `landed_docs`
    describes the landed columns the domain expects; the structural ones come from `RawRows`.
    """
    key = dg.AssetKey([domain, "raw_records"])
    docs = {**model_descriptions(RawRows), **landed_docs}

    def read_table(obj: LandedObject, partition_key: str, landing: LandingZone, storage: LakeStorage) -> FileTable:
        path = lake_file(storage, key, partition_key)
        for stream in streams:
            try:
                with landing.open(obj.key, obj.version) as handle:
                    return write_table(path, counted(stream(handle, obj.key), "reading"))
            except NotStreamable:
                continue
        whole = read(landing.read_bytes(obj.key, obj.version), obj.key)
        batches = (whole[start : start + BATCH_ROWS] for start in range(0, len(whole) or 1, BATCH_ROWS))
        return write_table(path, counted(batches, "reading", len(whole)))

    def read_file(obj: LandedObject, partition_key: str, landing: LandingZone, storage: LakeStorage, log) -> StepResult:
        try:
            raw, reason, copy = read_table(obj, partition_key, landing, storage), None, None
        except UnreadableFile as unreadable:
            reason = str(unreadable)
            with landing.open(obj.key, obj.version) as landed:  # copied as it is read: the file may be large
                copy = storage.quarantine_file(
                    domain,
                    partition_key,
                    obj.key.rsplit("/", 1)[-1] or "file",
                    landed,
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

    def write_curated(parts: Iterator[Curation], path) -> CuratedTable:
        """Write the curated rows batch by batch, tallying the checks' counts on the way."""
        tally, failures, warned = RuleTally(groups, id_column), Counter(), 0

        def observed() -> Iterator[pd.DataFrame]:
            nonlocal warned
            for part in parts:
                tally.add(part.masks, part.keys)
                curated = part.curated
                # Accepted rows are curated as recorded: the contract promises nothing about the rules they broke.
                failures.update(contract_failures(contract, curated[curated["resolution"].fillna("") != "accepted"]))
                warned += int((curated["warnings"].list.len() > 0).sum())
                yield curated

        return CuratedTable(write_table(path, observed()), tally, dict(failures), warned)

    def curate(
        raw: pd.DataFrame | FileTable,
        obj: LandedObject,
        partition_key: str,
        storage: LakeStorage,
        query_engine: QueryEngine,
        rules_date: dt.date,
    ) -> StepResult:
        path = lake_file(storage, curated_key, partition_key)
        sweeps = itertools.count(1)
        with row_hashing():
            resolved = resolve(
                lambda: counted(frames(raw), f"curating, sweep {next(sweeps)}", row_count(raw)),
                read_parquet_folder(storage.path("lake", domain, "decisions"), LEDGER_COLUMNS),
                lambda batches, keep: curate_file(batches, rules_date, obj, query_engine, keep),
                lambda parts: write_curated(parts, path),
                obj.key,
                obj.version,
                partition_key,
            )
        made: CuratedTable = resolved.curated
        # Written here like the curated rows: a run holds every step's outputs to its end (Dagster's output
        # capture), and the quarantined rows and exceptions of a large file cost hundreds of MB there.
        quarantined = write_table(lake_file(storage, quarantined_key, partition_key), [resolved.quarantined])
        exceptions = write_table(lake_file(storage, exceptions_key, partition_key), [resolved.exceptions])
        statuses = status_counts(resolved.exceptions)
        del resolved
        curated, raw_rows = made.table, row_count(raw)
        outputs = {
            curated_key: (
                curated,
                {
                    **table_metadata(curated, preview_columns, masked=(id_column,), descriptions=curated_docs),
                    "rows_with_warnings": made.rows_with_warnings,
                },
            ),
            quarantined_key: (
                quarantined,
                table_metadata(quarantined, ["source_row", "reasons"], descriptions=quarantined_docs),
            ),
            exceptions_key: (
                exceptions,
                {**table_metadata(exceptions, ["source_row", "status", "reasons"]), **statuses},
            ),
        }
        checks = [
            contract_result(curated_key, made.contract_failures),
            dg.AssetCheckResult(
                asset_key=curated_key,
                check_name="row_conservation",
                passed=curated.num_rows + quarantined.num_rows == raw_rows,
                metadata={
                    "raw_rows": raw_rows,
                    "curated_rows": curated.num_rows,
                    "quarantined_rows": quarantined.num_rows,
                    **statuses,
                },
            ),
            *(group_result(curated_key, group, made.tally) for group in groups),
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
        raw,  # a FileTable in the same process, a DataFrame read back in another
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


def contract_failures(contract: type[pa.DataFrameModel], curated: pd.DataFrame) -> dict[str, int]:
    """Failing cases of the contract's checks by name, never the failing values."""
    try:
        contract.validate(curated, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return errors.failure_cases.groupby("check").size().astype(int).to_dict()
    return {}


def contract_result(key: dg.AssetKey, failures: dict[str, int]) -> dg.AssetCheckResult:
    """The blocking schema check: failing checks by name and count."""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name="curated_schema",
        passed=not failures,
        metadata={"failing_checks": len(failures), **{f"check/{k}": v for k, v in failures.items()}},
    )
