"""One run for many new files of a domain: each file still gets its own partition, outputs, checks and manifest."""

import datetime as dt

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    # The documented type of AssetCheckEvaluation's `target_materialization_data`, which dagster does not export;
    # without it a partition's check result logged from a batch step never counts as current in the UI.
    AssetCheckEvaluationTargetMaterializationData as TargetMaterialization,
)
from pydantic import Field

from hc_pipeline.assets.domains import FILE_STEPS, PER_FILE
from hc_pipeline.assets.file_steps import FileSteps, StepResult
from hc_pipeline.assets.landed import record_manifest
from hc_pipeline.batches import DONE, FAILED, PENDING, SKIPPED, batch_op_name, batch_states, file_tag
from hc_pipeline.frame_types import per_file_types
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.planner import IN_FLIGHT, VERSION_RUN_KEY_TAG
from hc_pipeline.run_dates import RunDates
from hc_pipeline.schemas.file_state import row_hashing
from hc_pipeline.stores.landed import LandedObject
from hc_pipeline.stores.outage import outage_of

RESOURCES = {"landing", "storage", "query_engine", "io_manager"}


class BatchFile(dg.Config):
    """One landed object version of the batch."""

    key: str
    version: str
    last_modified: float
    size: int = -1


class BatchConfig(dg.Config):
    """The batch's files, in landing order, and the dates the rules judge by."""

    files: list[BatchFile]
    dates: RunDates = Field(default_factory=RunDates)


def batch_job(domain: str, steps: FileSteps, assets: list[dg.AssetsDefinition]) -> dg.JobDefinition:
    """`<domain>_batch_job`: the per-file steps of `assets` over each file of the batch, in one process."""
    blocking = {spec.key.name: spec.blocking for asset in assets for spec in asset.check_specs}

    @dg.op(
        name=batch_op_name(domain),
        out={},  # it records events; with the default output a run that yields only events would fail
        required_resource_keys=RESOURCES,
        description=f"Process each {domain} file of the batch as its own partition; a failing file fails alone.",
    )
    def process_files(context: dg.OpExecutionContext, config: BatchConfig):
        failed = []
        objects = [LandedObject(f.key, f.version, f.last_modified, f.size) for f in config.files]
        taken = taken_elsewhere(context, domain, objects)
        with row_hashing():  # one DuckDB for the row hashes of every file in the batch
            for number, obj in enumerate(objects, 1):
                partition_key = partition_key_for(obj.key, obj.version)
                if obj.run_key in taken:
                    context.log.warning(f"{obj.key}: another run holds or processed this version; skipped here")
                    context.instance.add_run_tags(context.run_id, {file_tag(obj): SKIPPED})
                    continue
                try:
                    materializations, checks = process_file(
                        context, steps, obj, partition_key, config.dates.rules_date(), blocking
                    )
                except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt):
                    raise
                except Exception as error:
                    if outage_of(error):
                        raise  # every later file would fail the same way: they stay pending
                    lines = str(error).strip().splitlines() or [""]
                    failed.append(f"{obj.key}: {type(error).__name__}: {lines[-1]}")
                    context.log.error(f"file {number} of {len(config.files)}, {failed[-1]}; it gets a run of its own")
                    context.instance.add_run_tags(context.run_id, {file_tag(obj): FAILED})
                    continue
                yield from materializations
                yield from evaluations(context.instance, checks, partition_key)
                context.instance.add_run_tags(context.run_id, {file_tag(obj): DONE})
        if failed:
            raise dg.Failure(f"{len(failed)} of {len(config.files)} files failed: " + "; ".join(failed))

    @dg.job(
        name=f"{domain}_batch_job",
        executor_def=dg.in_process_executor,
        description=f"Process many new {domain} files in one run, each as its own partition.",
    )
    def _job():
        process_files()

    return _job


def process_file(
    context: dg.OpExecutionContext,
    steps: FileSteps,
    obj: LandedObject,
    partition_key: str,
    rules_date: dt.date,
    blocking: dict[str, bool],
) -> tuple[list[dg.AssetMaterialization], list[dg.AssetCheckResult]]:
    """Read, curate and report one file as its asset steps would, writing each output; its materializations and
    check results, which stop where a blocking check failed."""
    resources = context.resources
    record_manifest(resources.storage, steps.domain, partition_key, obj)
    materializations: list[dg.AssetMaterialization] = []
    checks: list[dg.AssetCheckResult] = []

    types = per_file_types(steps.domain)

    def store(result: StepResult) -> bool:
        for key, (frame, metadata) in result.outputs.items():
            typed = type_checked(context, key, frame, types.get(key.path[-1]))
            stored = resources.io_manager.write_partition(key, partition_key, frame)
            materializations.append(
                dg.AssetMaterialization(
                    asset_key=key, partition=partition_key, metadata={**metadata, **stored, **typed}
                )
            )
        checks.extend(result.checks)
        return result.blocked(blocking)

    read = steps.read(obj, partition_key, resources.landing, resources.storage, context.log)
    if store(read):
        return materializations, checks
    raw = next(frame for frame, _ in read.outputs.values())
    curated = steps.curate(raw, obj, partition_key, resources.storage, resources.query_engine, rules_date)
    if store(curated) or steps.report is None:
        return materializations, checks
    keys = list(curated.outputs)
    store(steps.report(curated.frame(keys[0]), curated.frame(keys[1]), partition_key, resources.storage))
    return materializations, checks


def type_checked(context: dg.OpExecutionContext, key: dg.AssetKey, frame, dagster_type: dg.DagsterType | None) -> dict:
    """Run the output's dagster-pandas type check as an asset step would (a failure fails the file); its
    summary statistics under `type_check/`, since a batch step records no step output per file."""
    if dagster_type is None:
        return {}
    # The op's context offers what a TypeCheckContext does (log, resources, run_id). `dg.check_dagster_type`
    # would build an ephemeral instance per call: 0.2 s per output, most of a small file's time.
    try:
        checked = dagster_type.type_check(context, frame)
    except dg.Failure as failure:
        checked = dg.TypeCheck(success=False, description=failure.description)
    if not checked.success:
        raise dg.Failure(
            f"{key.to_user_string()}: type check {dagster_type.display_name} failed: {checked.description}"
        )
    return {"type_check": dagster_type.display_name, **{f"type_check/{k}": v for k, v in checked.metadata.items()}}


def evaluations(
    instance: dg.DagsterInstance, checks: list[dg.AssetCheckResult], partition_key: str
) -> list[dg.AssetCheckEvaluation]:
    """The file's check results as evaluations of its partition, each aimed at the materialization it checked (as
    an asset step's are): the UI counts a partition's result only while it targets the latest materialization."""
    targets: dict[dg.AssetKey, TargetMaterialization | None] = {}
    for check in checks:
        if check.asset_key not in targets:
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=check.asset_key, asset_partitions=[partition_key]), limit=1
            ).records
            targets[check.asset_key] = (
                TargetMaterialization(
                    storage_id=found[0].storage_id, run_id=found[0].run_id, timestamp=found[0].timestamp
                )
                if found
                else None
            )
    return [
        dg.AssetCheckEvaluation(
            asset_key=check.asset_key,
            check_name=check.check_name,
            passed=check.passed,
            metadata=check.metadata,
            severity=check.severity,
            # Its spec says whether it blocks; a blocking evaluation would fail the whole batch step for one file,
            # which here only stops that file.
            partition=partition_key,
            target_materialization_data=targets[check.asset_key],
        )
        for check in checks
    ]


def taken_elsewhere(context: dg.OpExecutionContext, domain: str, objects: list[LandedObject]) -> set[str]:
    """Run keys among `objects` another run processed, or holds and was created before this one.

    `run` and a daemon on one instance may plan the same new file in the same moment; the later run skips it.
    """
    instance = context.instance
    mine = instance.get_run_record_by_id(context.run_id)
    taken = {key for key, states in batch_states(instance, objects).items() if DONE in states}
    per_file = dg.RunsFilter(tags={VERSION_RUN_KEY_TAG: [o.run_key for o in objects]})
    batches = dg.RunsFilter(job_name=f"{domain}_batch_job", statuses=list(IN_FLIGHT))
    for record in [*instance.get_run_records(per_file), *instance.get_run_records(batches)]:
        run = record.dagster_run
        earlier = mine is None or record.create_timestamp < mine.create_timestamp
        holds = run.status == dg.DagsterRunStatus.SUCCESS or (earlier and run.status in IN_FLIGHT)
        if run.run_id == context.run_id or not holds:
            continue
        taken |= {o.run_key for o in objects if run.tags.get(VERSION_RUN_KEY_TAG) == o.run_key}
        taken |= {o.run_key for o in objects if run.tags.get(file_tag(o)) == PENDING}
    return taken


def batch_jobs() -> dict[str, dg.JobDefinition]:
    """`<domain>_batch_job` for every domain."""
    return {domain: batch_job(domain, FILE_STEPS[domain], assets) for domain, assets in PER_FILE.items()}
