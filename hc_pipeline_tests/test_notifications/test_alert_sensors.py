"""The run-failure and check-failure sensors on real runs recorded in a test instance."""

import dagster as dg
import pytest

from hc_pipeline.alert_sensors import check_failure_alert_sensor, run_failure_alert_sensor

raw_key = dg.AssetKey(["patients", "raw_records"])
files = dg.StaticPartitionsDefinition(["file-a", "file-b"])


@dg.asset(key=raw_key)
def broken_raw_records():
    raise ValueError("P-000123 could not be parsed")


@dg.asset(key=["patients", "curated_records"], deps=[raw_key])
def curated_records():
    return 1


def checked_asset(passed: bool, severity=dg.AssetCheckSeverity.ERROR, metadata=None, partitions_def=None):
    @dg.asset(
        key=raw_key,
        partitions_def=partitions_def,
        check_specs=[dg.AssetCheckSpec("file_readable", asset=raw_key, blocking=True)],
    )
    def raw_records():
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="file_readable", passed=passed, severity=severity, metadata=metadata or {})

    return raw_records


def fail_run(instance: dg.DagsterInstance, job: dg.JobDefinition) -> dg.ExecuteInProcessResult:
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return result


def run_failure_context(instance, result, recorder):
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"notifier": recorder},
    )


def test_run_failure_sensor_notifies_run_id_assets_and_the_failure_message(instance, recorder):
    defs = dg.Definitions(
        assets=[broken_raw_records, curated_records],
        jobs=[dg.define_asset_job("patients_job", selection=[raw_key, dg.AssetKey(["patients", "curated_records"])])],
    )
    result = fail_run(instance, defs.resolve_job_def("patients_job"))
    run_failure_alert_sensor(run_failure_context(instance, result, recorder))

    [sent] = recorder.sent()
    assert sent["subject"] == "hc_pipeline: run failed: patients_job"
    assert f"Run {result.run_id} of job patients_job failed." in sent["message"]
    assert "Assets: patients/curated_records, patients/raw_records" in sent["message"]
    assert (
        "Error: Execution of run for \"patients_job\" failed. Steps failed: ['patients__raw_records']."
        in sent["message"]
    )
    assert "P-000123" not in sent["message"]  # the exception text stays in Dagster


def test_run_failure_sensor_names_the_selected_assets_of_an_asset_selection_run(instance, recorder):
    result = dg.materialize([broken_raw_records], instance=instance, raise_on_error=False, selection=[raw_key])
    run_failure_alert_sensor(run_failure_context(instance, result, recorder))
    [sent] = recorder.sent()
    assert f"Run {result.run_id}" in sent["message"] and "Assets: patients/raw_records" in sent["message"]


def test_alert_sensors_are_running_by_default():
    assert run_failure_alert_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert check_failure_alert_sensor().default_status == dg.DefaultSensorStatus.RUNNING


def tick(instance, recorder, cursor=None):
    sensor = check_failure_alert_sensor()
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"notifier": recorder}))


def test_check_sensor_notifies_once_per_failing_error_evaluation_and_not_again(instance, recorder):
    dg.materialize([checked_asset(False, metadata={"failing_rows": 3})], instance=instance, raise_on_error=False)

    first = tick(instance, recorder)
    [sent] = recorder.sent()
    assert sent["subject"] == "hc_pipeline: check file_readable failed on patients/raw_records"
    assert "ERROR check file_readable failed on patients/raw_records." in sent["message"]
    assert "Failing rows: 3" in sent["message"]

    second = tick(instance, recorder, first.cursor)
    assert len(recorder.sent()) == 1 and second.cursor == first.cursor


def test_check_sensor_names_the_run_partition_and_the_reason(instance, recorder):
    asset = checked_asset(False, metadata={"reason": "x.csv: not UTF-8"}, partitions_def=files)
    dg.materialize([asset], instance=instance, raise_on_error=False, partition_key="file-b")
    tick(instance, recorder)
    [sent] = recorder.sent()
    assert "failed on patients/raw_records, partition file-b." in sent["message"]
    assert "Reason: x.csv: not UTF-8" in sent["message"]


@pytest.mark.parametrize("passed, severity", [(True, dg.AssetCheckSeverity.ERROR), (False, dg.AssetCheckSeverity.WARN)])
def test_check_sensor_ignores_passing_and_warn_evaluations(instance, recorder, passed, severity):
    dg.materialize([checked_asset(passed, severity)], instance=instance, raise_on_error=False)
    result = tick(instance, recorder)
    assert recorder.sent() == [] and int(result.cursor) > -1


def test_check_sensor_sees_only_evaluations_after_its_cursor(instance, recorder):
    failing = checked_asset(False, metadata={"failing_rows": 1})
    dg.materialize([failing], instance=instance, raise_on_error=False)
    first = tick(instance, recorder)
    dg.materialize([failing], instance=instance, raise_on_error=False)
    tick(instance, recorder, first.cursor)
    assert len(recorder.sent()) == 2


def test_check_sensor_keeps_its_cursor_when_the_notifier_fails(instance, tmp_path):
    from hc_pipeline.resources.notifier import SlackWebhookNotifier

    dg.materialize([checked_asset(False, metadata={"failing_rows": 2})], instance=instance, raise_on_error=False)
    unreachable = SlackWebhookNotifier(webhook_url="http://127.0.0.1:9/hook", timeout_seconds=1)
    result = check_failure_alert_sensor()(
        dg.build_sensor_context(instance=instance, cursor=None, resources={"notifier": unreachable})
    )
    assert result.cursor == "-1" and "notifier failed after 0 notification(s)" in result.skip_reason.skip_message


def test_check_sensor_names_the_files_partition_recorded_on_the_evaluation(defs, instance, land, recorder):
    from hc_pipeline.partitions import partition_key_for
    from hc_pipeline_tests.conftest import process
    from hc_pipeline_tests.steward_files import BAD_FILE

    unreadable = land("patients/scan.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    land(*BAD_FILE)  # only WARN checks fail on it: no notice
    process(defs, instance)
    key = partition_key_for(unreadable.key, unreadable.version)
    records = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(raw_key, "file_readable"), limit=10
    )
    evaluations = [r.event.dagster_event.event_specific_data for r in records]
    assert [e.partition for e in evaluations if not e.passed] == [key]

    tick(instance, recorder)
    [sent] = recorder.sent()
    assert f"ERROR check file_readable failed on patients/raw_records, partition {key}." in sent["message"]
