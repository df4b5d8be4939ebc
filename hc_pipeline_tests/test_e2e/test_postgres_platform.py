"""The production instance for real: deploy/dagster.yaml on PostgreSQL, queued runs with limits, event mode.

A burst of small files lands at once; the bucket notifies an SQS queue on the moto server, the event sensor
requests one run per file, the run queue starts at most its limits at a time. `HC_E2E_FILES` sets the burst
(default 9 here, three waves at the lowered limit of 3; bench/postgres_burst.py runs 200).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from bench.deployment import Deployment, wait_for
from bench.postgres import PostgresServer, postgres_bin
from bench.production import (
    PARTITION_SET_TAG,
    RUNS,
    InProgressSampler,
    logs_mentioning,
    notify_queue,
    production_instance_yaml,
    small_file,
)
from hc_pipeline.partitions import partition_key_for

pytestmark = pytest.mark.e2e

BUCKET, PREFIX = "hc-prod", "prod"
FILES = int(os.environ.get("HC_E2E_FILES", "9"))
MAX_RUNS, PER_PARTITION_SET = 3, 2

MATERIALIZATIONS = """query M($path: [String!]!, $limit: Int!) { assetOrError(assetKey: {path: $path}) {
  ... on Asset { assetMaterializations(limit: $limit) { partition runId } } } }"""


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
        "DAGSTER_COMPUTE_LOG_PREFIX": f"{PREFIX}/dagster-logs",
        "HC_HOME": str(tmp_path_factory.mktemp("unused_home")),
    }
    instance = production_instance_yaml(postgres.port, aws["endpoint"], MAX_RUNS, PER_PARTITION_SET)
    deployment = Deployment(tmp_path_factory.mktemp("dagster_home"), env, instance).start()
    yield deployment
    deployment.stop()


def finished_runs(platform, job: str) -> list[dict]:
    runs = platform.graphql(RUNS, {"job": job})["runsOrError"]["results"]
    return [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]


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
        runs = wait_for(
            lambda: (r := finished_runs(platform, "patients_file_job")) and len(r) >= FILES and r,
            60 * 30,
            what=f"{FILES} file runs",
        )
    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    assert sorted(t["dagster/run_key"] for t in tags) == sorted(expected)  # each version once, none twice
    assert [r["status"] for r in runs] == ["SUCCESS"] * FILES
    assert {t[PARTITION_SET_TAG] for t in tags} == {"patients_file_job_partition_set"}  # the tag limit applies
    partitions = [
        m["partition"]
        for m in platform.graphql(MATERIALIZATIONS, {"path": ["patients", "curated_records"], "limit": FILES * 3})[
            "assetOrError"
        ]["assetMaterializations"]
    ]
    assert sorted(partitions) == sorted(partition_key_for(*run_key.rsplit("@", 1)) for run_key in expected)
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
