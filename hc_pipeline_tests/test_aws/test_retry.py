"""A transient S3 failure (503 SlowDown from a proxy on 127.0.0.1) is retried by the step's RetryPolicy to success."""

import dagster as dg

from hc_pipeline.assets.retries import IO_RETRY
from hc_pipeline.definitions import make_definitions
from hc_pipeline.resources.s3_landing import S3LandingZone
from hc_pipeline.runner import run_pending
from hc_pipeline_tests.conftest import RUN_DATE
from hc_pipeline_tests.test_aws.s3_fixtures import (
    BUCKET,
    PREFIX,
)

CSV = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"


def is_landed_object_read(method: str, path: str) -> bool:
    return method == "GET" and f"/{BUCKET}/{PREFIX}/landing/" in path


def test_io_steps_retry_with_exponential_backoff_and_jitter():
    assert IO_RETRY.max_retries >= 2
    assert IO_RETRY.backoff == dg.Backoff.EXPONENTIAL and IO_RETRY.jitter == dg.Jitter.PLUS_MINUS


def test_a_slow_down_on_the_landed_file_read_is_retried_to_success(s3_resources, fault_proxy, instance):
    # No SDK retries (botocore's max_attempts counts retries), so the retry we see is Dagster's RetryPolicy.
    landing = S3LandingZone(
        bucket=BUCKET,
        prefix=PREFIX,
        endpoint_url=fault_proxy.endpoint,
        region_name="us-east-1",
        max_attempts=0,
    )
    obj = landing.put("patients/a.csv", CSV)
    fault_proxy.fail(is_landed_object_read, times=1)

    summary = run_pending(make_definitions({**s3_resources, "landing": landing}), instance, RUN_DATE)

    assert summary.failed == [] and summary.processed["patients"]
    [failed] = fault_proxy.failed()
    assert failed[0] == "GET" and failed[1].endswith("/landing/patients/a.csv")
    [run] = [r for r in instance.get_runs() if "dagster/partition" in r.tags]  # the file's, not the reports' run
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["hc/object_version"] == obj.version
    events = instance.all_logs(run.run_id)
    kinds = [(e.step_key, e.dagster_event.event_type) for e in events if e.dagster_event and e.step_key]
    assert ("patients__raw_records", dg.DagsterEventType.STEP_UP_FOR_RETRY) in kinds
    assert ("patients__raw_records", dg.DagsterEventType.STEP_RESTARTED) in kinds
    [retry] = [e.dagster_event for e in events if e.dagster_event and e.dagster_event.is_step_up_for_retry]
    assert "SlowDown" in str(retry.event_specific_data.error)
    materialized = instance.get_latest_materialization_event(dg.AssetKey(["patients", "curated_records"]))
    assert materialized is not None
