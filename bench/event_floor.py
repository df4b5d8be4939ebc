"""Dagster's floor for many small files: one run that only records, for each file's partition, the materializations
and check results a batch run records for a processed admissions file; no data is read or written."""

from pathlib import Path

PREVIEW_ROWS, PREVIEW_COLUMNS = 5, 8


def record_events(meter, home: str, files: int) -> dict:
    """Record the events of `files` admissions files in one run on the instance under `home` (as `run` opens it)."""
    import dagster as dg

    from hc_pipeline.assets.domains import PER_FILE
    from hc_pipeline.runner import instance_for

    assets = PER_FILE["patients"]
    keys = [key for asset in assets for key in asset.keys]
    checks = [(spec.asset_key, spec.name) for asset in assets for spec in asset.check_specs]
    metadata = _metadata()

    @dg.op(out={})
    def record(context: dg.OpExecutionContext):
        for number in range(files):
            partition = f"patients/floor_{number:05d}.csv@floor"
            for key in keys:
                yield dg.AssetMaterialization(asset_key=key, partition=partition, metadata=metadata)
            for key, name in checks:
                yield dg.AssetCheckEvaluation(
                    asset_key=key, check_name=name, passed=True, metadata=metadata, partition=partition
                )

    @dg.job(executor_def=dg.in_process_executor)
    def event_floor():
        record()

    instance = instance_for(Path(home))
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    with meter:
        result = event_floor.execute_in_process(instance=instance, run_config=quiet)
    events = [e.event_type_value for e in result.all_events]
    return {
        "success": result.success,
        "files": files,
        "events_per_file": len(keys) + len(checks),
        "materializations": events.count("ASSET_MATERIALIZATION"),
        "check_evaluations": events.count("ASSET_CHECK_EVALUATION"),
    }


def _metadata() -> dict:
    """About the size of a file's metadata: counts, a path and a masked preview table."""
    import dagster as dg

    header = "| " + " | ".join(f"column_{c}" for c in range(PREVIEW_COLUMNS)) + " |"
    rule = "|" + "---|" * PREVIEW_COLUMNS
    rows = ["| " + " | ".join("***" for _ in range(PREVIEW_COLUMNS)) + " |" for _ in range(PREVIEW_ROWS)]
    return {
        "dagster/row_count": 100,
        "path": dg.MetadataValue.path("lake/patients/curated_records/floor.parquet"),
        "rows_failed": 0,
        "preview": dg.MetadataValue.md("\n".join([header, rule, *rows])),
    }
