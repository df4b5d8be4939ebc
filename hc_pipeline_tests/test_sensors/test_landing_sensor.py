"""The local landing sensor, evaluated with build_sensor_context on a real instance."""

import json
import os

import dagster as dg
import pytest

from hc_pipeline.batches import file_tag
from hc_pipeline.partitions import files_partitions, partition_key_for

CSV = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"


@pytest.fixture
def sensor(defs):
    return defs.get_sensor_def("patients_landing_sensor")


def tick(sensor, defs, instance, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources) as context:
        return sensor(context), context


def test_first_tick_adds_a_partition_per_file_and_requests_one_batch_run_for_the_new_files(
    sensor, defs, instance, land
):
    a = land("patients/a.csv", CSV)
    b = land("patients/b c.csv", CSV + b"P2,50,F,2024-02-01,2024-02-02,Flu\n")
    result, _ = tick(sensor, defs, instance)
    keys = {partition_key_for(o.key, o.version) for o in (a, b)}
    [request] = result.run_requests
    assert request.job_name == "patients_batch_job" and request.partition_key is None
    assert set(result.dynamic_partitions_requests[0].partition_keys) == keys
    files = request.run_config["ops"]["patients_batch_files"]["config"]["files"]
    assert [(f["key"], f["version"]) for f in files] == [(o.key, o.version) for o in (a, b)]
    assert {request.tags[file_tag(o)] for o in (a, b)} == {"pending"}


def test_a_lone_new_file_gets_a_run_of_its_own_with_its_partition(sensor, defs, instance, land):
    a = land("patients/a.csv", CSV)
    result, _ = tick(sensor, defs, instance)
    [request] = result.run_requests
    assert request.job_name == "patients_file_job" and request.run_key == a.run_key
    assert request.partition_key == partition_key_for(a.key, a.version) and request.tags["hc/object_key"] == a.key


def test_second_tick_with_nothing_new_requests_nothing(sensor, defs, instance, land):
    land("patients/a.csv", CSV)
    first, _ = tick(sensor, defs, instance)
    second, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert second.run_requests == [] and second.skip_reason is not None


def test_overwrite_with_new_content_requests_a_new_partition(sensor, defs, instance, land, home):
    first_version = land("patients/a.csv", CSV)
    first, _ = tick(sensor, defs, instance)
    path = home / "landing" / "patients" / "a.csv"
    path.write_bytes(CSV + b"P9,30,F,2024-03-01,2024-03-02,Flu\n")
    os.utime(path, (path.stat().st_mtime - 5, path.stat().st_mtime - 5))  # written earlier: settled
    second, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].partition_key != partition_key_for(first_version.key, first_version.version)


def test_same_content_landed_again_is_not_requested_again(sensor, defs, instance, land):
    land("patients/a.csv", CSV)
    first, _ = tick(sensor, defs, instance)
    land("patients/a.csv", CSV)
    second, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert second.run_requests == []


def test_listing_error_skips_with_the_reason_and_loses_nothing(sensor, defs, instance, land, home):
    land("patients/a.csv", CSV)
    first, _ = tick(sensor, defs, instance)
    folder = home / "landing" / "patients"
    folder.rename(home / "parked")
    folder.write_text("not a folder")
    broken, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert isinstance(broken, dg.SkipReason)
    assert "listing landing/patients/ failed" in broken.skip_message and "is not a folder" in broken.skip_message
    folder.unlink()
    (home / "parked").rename(folder)
    land("patients/b.csv", CSV + b"P2,1,F,2024-01-01,2024-01-02,Flu\n")
    recovered, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert [r.run_key.split("@")[0] for r in recovered.run_requests] == ["patients/b.csv"]


def test_cursor_is_json_with_a_watermark(sensor, defs, instance, land):
    land("patients/a.csv", CSV)
    result, _ = tick(sensor, defs, instance)
    assert json.loads(result.cursor)["watermark"] > 0
    assert files_partitions["patients"].name == "patients_files"


def test_a_version_processed_by_hc_pipeline_run_is_not_requested_again(sensor, defs, instance, land):
    from hc_pipeline.runner import run_pending

    land("patients/a.csv", CSV)
    assert run_pending(defs, instance).processed["patients"]
    result, _ = tick(sensor, defs, instance)
    assert result.run_requests == []


def test_a_version_whose_sensor_run_failed_is_requested_again_with_a_new_run_key(sensor, defs, instance, land):
    a = land("patients/a.csv", CSV)
    first, _ = tick(sensor, defs, instance)
    [request] = first.run_requests

    @dg.asset(name="attempt")
    def attempt():
        raise OSError("endpoint down")

    tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": sensor.name}
    assert not dg.materialize([attempt], instance=instance, tags=tags, raise_on_error=False).success
    second, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert [r.run_key for r in second.run_requests] == [f"{a.run_key}#2"]
    assert second.run_requests[0].tags["hc/version_run_key"] == a.run_key


def test_a_version_whose_sensor_run_stopped_on_a_blocking_check_is_not_requested_again(sensor, defs, instance, land):
    land("patients/a.csv", CSV)
    first, _ = tick(sensor, defs, instance)
    [request] = first.run_requests

    @dg.asset(name="guarded", check_specs=[dg.AssetCheckSpec("readable", asset="guarded", blocking=True)])
    def guarded():
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="readable", passed=False)

    tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": sensor.name}
    assert not dg.materialize([guarded], instance=instance, tags=tags, raise_on_error=False).success
    second, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert second.run_requests == []


def test_a_version_given_up_by_hc_pipeline_run_is_requested_again_once_a_steward_retries_it(
    sensor, defs, instance, land
):
    from hc_pipeline.planner import MAX_ATTEMPTS, FileRun
    from hc_pipeline.steward_retry import retry

    a = land("patients/a.csv", CSV)
    first, _ = tick(sensor, defs, instance)

    @dg.asset(name="attempt")
    def attempt():
        raise OSError("disk full")

    for n in range(1, MAX_ATTEMPTS + 1):  # as `hc-pipeline run` launches them: no sensor tag
        assert not dg.materialize([attempt], instance=instance, tags=FileRun(a, n).tags, raise_on_error=False).success
    given_up, _ = tick(sensor, defs, instance, cursor=first.cursor)
    assert given_up.run_requests == []
    retry(instance, defs.resources["landing"], a.key)
    again, _ = tick(sensor, defs, instance, cursor=given_up.cursor)
    assert [r.run_key for r in again.run_requests] == [f"{a.run_key}#{MAX_ATTEMPTS + 1}"]


def test_versions_that_failed_once_and_then_succeeded_do_not_crowd_new_files_out_of_a_tick(defs, instance, land):
    from hc_pipeline.assets import patients
    from hc_pipeline.batch_job import batch_jobs
    from hc_pipeline.jobs import file_job
    from hc_pipeline.sensors import landing_sensor

    job = file_job("patients", patients.per_file_assets)
    one_per_tick = landing_sensor("patients", job, batch_jobs()["patients"], max_runs=1)
    land("patients/a.csv", CSV)
    first, _ = tick(one_per_tick, defs, instance)

    def attempt_of(request, fail: bool) -> None:
        @dg.asset(name="attempt")
        def attempt():
            if fail:
                raise OSError("endpoint down")

        tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": one_per_tick.name}
        assert dg.materialize([attempt], instance=instance, tags=tags, raise_on_error=False).success is not fail

    attempt_of(first.run_requests[0], fail=True)
    second, _ = tick(one_per_tick, defs, instance, cursor=first.cursor)
    attempt_of(second.run_requests[0], fail=False)
    b = land("patients/b.csv", CSV + b"P2,50,F,2024-02-01,2024-02-02,Flu\n")
    requested, cursor = [], second.cursor
    for _ in range(3):
        result, _ = tick(one_per_tick, defs, instance, cursor=cursor)
        requested += [r.run_key for r in result.run_requests]
        cursor = result.cursor
    assert requested == [b.run_key]
