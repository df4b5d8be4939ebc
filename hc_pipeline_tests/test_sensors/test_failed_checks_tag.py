"""A run whose checks failed says so: the `hc/failed_checks` tag, from the runner and from the run-status sensor."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from hc_pipeline.partitions import partition_key_for
from hc_pipeline.planner import run_tags
from hc_pipeline.run_checks import FAILED_CHECKS_TAG, failed_checks_tag_sensor
from hc_pipeline_tests.conftest import RUN_DATE, process
from hc_pipeline_tests.steward_files import BAD_FAILING_GROUPS, BAD_FILE, GOOD_FILE

PARTITION_TAG = "dagster/partition"


def runs_by_partition(instance: dg.DagsterInstance) -> dict[str, dg.DagsterRun]:
    return {run.tags[PARTITION_TAG]: run for run in instance.get_runs() if PARTITION_TAG in run.tags}


def test_runner_tags_the_run_of_a_file_whose_warn_checks_failed(defs, instance, land):
    bad = land(*BAD_FILE)
    summary = process(defs, instance)
    good = land(*GOOD_FILE)  # landed after: a run of its own too (two new files would share a batch run)
    process(defs, instance)

    runs = runs_by_partition(instance)
    bad_run = runs[partition_key_for(bad.key, bad.version)]
    good_run = runs[partition_key_for(good.key, good.version)]
    assert bad_run.status == dg.DagsterRunStatus.SUCCESS  # WARN failures do not fail the run: the tag tells
    assert bad_run.tags[FAILED_CHECKS_TAG] == ",".join(sorted(BAD_FAILING_GROUPS))
    assert FAILED_CHECKS_TAG not in good_run.tags
    assert set(summary.failed_checks) == {bad.key}
    assert set(summary.failed_checks[bad.key]) == BAD_FAILING_GROUPS


def test_run_status_sensor_tags_a_finished_run_launched_elsewhere(defs, instance, land):
    bad = land(*BAD_FILE)
    key = partition_key_for(bad.key, bad.version)
    instance.add_dynamic_partitions("patients_files", [key])
    job = defs.resolve_job_def("patients_file_job")
    result = job.execute_in_process(
        instance=instance,
        partition_key=key,
        tags=run_tags(bad),  # as the landing sensor's run request sets them
        run_config={"ops": {"patients_curated_records": {"config": {"run_date": RUN_DATE.isoformat()}}}},
    )
    assert FAILED_CHECKS_TAG not in instance.get_run_by_id(result.run_id).tags

    sensor = failed_checks_tag_sensor(dg.DagsterRunStatus.SUCCESS)
    sensor(
        dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=result.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        )
    )
    assert instance.get_run_by_id(result.run_id).tags[FAILED_CHECKS_TAG] == "completeness,conformance,plausibility"


def test_definitions_run_the_tag_sensors_for_successes_and_failures(defs):
    names = {s.name for s in defs.sensors}
    assert {"failed_checks_tag_sensor_success", "failed_checks_tag_sensor_failure"} <= names
    assert defs.resolve_sensor_def("failed_checks_tag_sensor_failure").default_status == dg.DefaultSensorStatus.RUNNING


def test_run_command_prints_each_files_failing_checks(tmp_path):
    home, files = tmp_path / "home", tmp_path / "files"
    files.mkdir()
    for key, data in (BAD_FILE, GOOD_FILE):
        (files / key.split("/", 1)[1]).write_bytes(data)
    env = {**os.environ, "HC_HOME": str(home)}
    hc = str(Path(sys.executable).parent / "hc-pipeline")
    subprocess.run([hc, "ingest", "patients", *sorted(map(str, files.iterdir()))], env=env, check=True, timeout=300)
    out = subprocess.run(
        [hc, "run", "--as-of", RUN_DATE.isoformat()], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("checks failed:")]
    assert lines == [f"checks failed: {BAD_FILE[0]}: conformance, completeness, plausibility"]
