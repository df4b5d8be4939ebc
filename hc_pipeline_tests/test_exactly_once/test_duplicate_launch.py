"""A second launch of a version already processed (`run` and a daemon racing) stops before writing anything."""

import dagster as dg

from hc_pipeline.assets.domains import DATED, PER_FILE
from hc_pipeline.planner import FileRun
from hc_pipeline.run_dates import RunDates, run_config
from hc_pipeline_tests.conftest import RUN_DATE, process

CSV = (
    b"admission_date,patient_id,diagnosis,icd10_code,gender,age,discharge_date\n2025-06-01,P1,Flu,J10,F,40,2025-06-03\n"
)


def test_a_duplicate_launch_of_a_processed_version_fails_and_writes_nothing(defs, instance, land, resources, home):
    obj = land("patients/a.csv", CSV)
    assert process(defs, instance).processed["patients"]
    duplicate = FileRun(next(iter(resources["landing"].list_objects("patients"))))
    curated = home / "lake" / "patients" / "curated_records" / f"{duplicate.partition_key}.parquet"
    written = curated.stat().st_mtime_ns

    result = dg.materialize(
        PER_FILE["patients"],
        partition_key=duplicate.partition_key,
        instance=instance,
        resources=resources,
        tags=duplicate.tags,  # exactly what the daemon's launch of the same version would carry
        run_config=run_config(PER_FILE["patients"], DATED, RunDates.for_run(RUN_DATE, None)),
        raise_on_error=False,
    )

    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert f"{obj.key}: this version is already processed by run" in failure
    assert curated.stat().st_mtime_ns == written
    raw_key = dg.AssetKey(["patients", "raw_records"])
    assert len(instance.fetch_materializations(raw_key, limit=10).records) == 1


def test_a_re_run_from_the_ui_without_the_version_tag_is_not_stopped(defs, instance, land, resources):
    land("patients/a.csv", CSV)
    process(defs, instance)
    partition = FileRun(next(iter(resources["landing"].list_objects("patients")))).partition_key
    result = dg.materialize(
        PER_FILE["patients"],
        partition_key=partition,
        instance=instance,
        resources=resources,
        run_config=run_config(PER_FILE["patients"], DATED, RunDates.for_run(RUN_DATE, None)),
    )
    assert result.success
