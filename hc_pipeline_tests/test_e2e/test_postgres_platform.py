"""The production instance for real: deploy/dagster.yaml on PostgreSQL, queued runs with limits, event mode.

A burst of small files lands at once; the bucket notifies an SQS queue on the moto server, the event sensor
requests batch runs of the new files (at most 2 files each here, so the queue has several runs to hold back), the
run queue starts at most its limits at a time. `HC_E2E_FILES` sets the burst (default 9 here; bench/postgres_burst.py
runs 200).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from bench.deployment import Deployment, wait_for
from bench.postgres import PostgresServer, postgres_bin
from bench.production import (
    PARTITION_SET_TAG,
    InProgressSampler,
    all_ended,
    curated_partitions,
    failure_messages,
    files_per_run,
    logs_mentioning,
    notify_queue,
    patient_runs,
    production_instance_yaml,
    small_file,
)
from hc_pipeline.partitions import partition_key_for

pytestmark = pytest.mark.e2e

BUCKET, PREFIX = "hc-prod", "prod"
FILES = int(os.environ.get("HC_E2E_FILES", "9"))
MAX_RUNS, PER_PARTITION_SET = 3, 2


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: `make test` installs the Debian package postgresql")
    server = PostgresServer(bin_dir, tmp_path_factory.mktemp("postgres")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws(moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    queue = notify_queue(s3, sqs, BUCKET, PREFIX, "hc-landing-events")
    return {"s3": s3, "sqs": sqs, "queue": queue, "endpoint": moto_endpoint}


@pytest.fixture(scope="module")
def platform(postgres, aws, tmp_path_factory):
    env = {
        **postgres.env,
        "HC_S3_BUCKET": BUCKET,
        "HC_S3_PREFIX": PREFIX,
        "HC_S3_ENDPOINT_URL": aws["endpoint"],
        "HC_S3_EVENT_QUEUE_URL": aws["queue"],
        "HC_SENSOR_INTERVAL_SECONDS": "2",
        "HC_BATCH_FILES": "2",
        "DAGSTER_COMPUTE_LOG_PREFIX": f"{PREFIX}/dagster-logs",
        "HC_HOME": str(tmp_path_factory.mktemp("unused_home")),
    }
    instance = production_instance_yaml(postgres.port, aws["endpoint"], MAX_RUNS, PER_PARTITION_SET)
    deployment = Deployment(tmp_path_factory.mktemp("dagster_home"), env, instance).start()
    yield deployment
    deployment.stop()


def test_the_instance_runs_on_postgres_with_the_queued_coordinator(platform):
    info = platform.graphql("{ instance { info runQueuingSupported } }")["instance"]
    assert info["runQueuingSupported"]
    assert "PostgresRunStorage" in info["info"] and "PostgresEventLogStorage" in info["info"]


def test_a_burst_of_files_is_processed_once_each_within_the_queue_limits(platform, aws, postgres):
    files = {f"patients/burst/file_{i:03d}.csv": small_file(i) for i in range(FILES)}

    def put(item):
        key, body = item
        etag = aws["s3"].put_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/{key}", Body=body)["ETag"].strip('"')
        return f"{key}@{etag}"

    with InProgressSampler(platform) as sampler:
        with ThreadPoolExecutor(max_workers=8) as pool:
            expected = set(pool.map(put, files.items()))
        wait_for(lambda: len(set(curated_partitions(platform, FILES * 3))) >= FILES, 60 * 30, what=f"{FILES} files")
        runs = wait_for(lambda: (r := patient_runs(platform)) and all_ended(r) and r, 300, what="the runs to end")
    # Each version once, none twice: one curated partition per landed version, and the runs took FILES files.
    partitions = curated_partitions(platform, FILES * 3)
    assert sorted(partitions) == sorted(partition_key_for(*run_key.rsplit("@", 1)) for run_key in expected)
    assert sum(files_per_run(runs)) == FILES and max(files_per_run(runs)) <= 2
    assert [r["status"] for r in runs] == ["SUCCESS"] * len(runs), failure_messages(platform, runs)
    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    assert {t[PARTITION_SET_TAG] for t in tags if "hc/batch_files" not in t} <= {"patients_file_job_partition_set"}
    assert all(v == "done" for t in tags for k, v in t.items() if k.startswith("hc/file."))
    # The queue's limits held at every sample, and were reached: the runs did overlap.
    assert len(sampler.samples) > 10
    assert 2 <= sampler.most_in_progress <= MAX_RUNS
    assert sampler.most_of_one_partition_set <= PER_PARTITION_SET
    visible = wait_for(lambda: queue_empty(aws), 120, what="the event queue to drain")
    assert visible
    assert logs_mentioning(platform.home, "database is locked") == []
    assert "database is locked" not in postgres.log()


def queue_empty(aws) -> bool:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue"], AttributeNames=names)["Attributes"]
    return all(attributes[n] == "0" for n in names)


def test_shutdown_leaves_no_process_behind(platform):
    assert platform.stop() == []
