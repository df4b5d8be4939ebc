"""The live loop under the real dagster-daemon and dagster-webserver, with S3 and SNS on a moto server.

Files are uploaded with boto3; the landing sensors start runs, the reports refresh by themselves, failing
checks notify through SNS (read back from an SQS queue on the same server), the UI renders in Chromium.
The tests run in file order against one deployment, which the last test shuts down.
"""

import json
import shutil
import time

import boto3
import pytest

from bench.deployment import Deployment, wait_for
from hc_pipeline_tests.test_e2e.browser import Browser

pytestmark = pytest.mark.e2e

BUCKET, PREFIX = "hc-e2e", "platform"
TICK = 2
POLL = 0.5  # seconds between GraphQL polls while waiting on the daemon
PATIENTS = (
    b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"
    b"P2,,F,2024-01-02,2024-01-05,Flu\nP3,abc,F,2024-01-02,2024-01-05,Flu\n"
)
FACILITY = (
    b'{"facility_id": "FAC-1", "facility_name": "North Clinic", "state": "tx", "employee_count": 12, '
    b'"services": ["lab"], "accreditations": [{"name": "DNV", "expiry_date": "2099-01-01"}]}'
)
UNREADABLE = b"\x89PNG\r\n\x1a\n\x00\x00binary"

RUNS = """query Runs($job: String!) { runsOrError(filter: {pipelineName: $job}) { ... on Runs { results {
  runId status tags { key value } } } } }"""
MATERIALIZATIONS = """query M($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
  assetMaterializations(limit: 20) { partition runId } } } }"""
TICKS = """query T($sensor: SensorSelector!, $after: Float!) { sensorOrError(sensorSelector: $sensor) {
  ... on Sensor { sensorState { ticks(afterTimestamp: $after, statuses: [SKIPPED, SUCCESS]) { timestamp } } } } }"""
LANDING_SENSOR = {
    "repositoryLocationName": "hc_pipeline.definitions",
    "repositoryName": "__repository__",
    "sensorName": "patients_landing_sensor",
}
CHECKS = """query C($path: [String!]!, $name: String!) { assetCheckExecutions(assetKey: {path: $path},
  checkName: $name, limit: 20) { runId status evaluation { success severity } run { tags { key value } } } }"""


@pytest.fixture(scope="module")
def aws(moto_endpoint):
    """The bucket, and an SNS topic whose messages land in an SQS queue we can read."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    sns = boto3.client("sns", endpoint_url=moto_endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    topic = sns.create_topic(Name="hc-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="hc-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return {"s3": s3, "sqs": sqs, "queue": queue, "topic": topic, "endpoint": moto_endpoint}


@pytest.fixture(scope="module")
def platform(aws, tmp_path_factory):
    env = {
        "HC_S3_BUCKET": BUCKET,
        "HC_S3_PREFIX": PREFIX,
        "HC_S3_ENDPOINT_URL": aws["endpoint"],
        "HC_SNS_TOPIC_ARN": aws["topic"],
        "AWS_ENDPOINT_URL_SNS": aws["endpoint"],
        "HC_SENSOR_INTERVAL_SECONDS": str(TICK),
        "HC_HOME": str(tmp_path_factory.mktemp("unused_home")),
    }
    deployment = Deployment(tmp_path_factory.mktemp("dagster_home"), env).start()
    yield deployment
    deployment.stop()


def upload(aws, domain: str, name: str, data: bytes) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/{domain}/{name}", Body=data)


def runs(platform, job: str) -> list[dict]:
    return platform.graphql(RUNS, {"job": job})["runsOrError"]["results"]


def finished(platform, job: str, count: int) -> list[dict] | None:
    done = [r for r in runs(platform, job) if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
    return done if len(done) >= count else None


def materialized_partitions(platform, path: list[str]) -> list:
    asset = platform.graphql(MATERIALIZATIONS, {"path": path})["assetOrError"]
    return [m["partition"] for m in asset.get("assetMaterializations", [])]


def messages(aws) -> list[str]:
    received = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [
        json.loads(m["Body"]).get("Message", "") + json.loads(m["Body"]).get("Subject", "")
        for m in received.get("Messages", [])
    ]


def test_uploads_become_sensor_runs_that_succeed(platform, aws):
    upload(aws, "patients", "admissions 2024.csv", PATIENTS)
    upload(aws, "facilities", "north.json", FACILITY)
    patient_runs = wait_for(lambda: finished(platform, "patients_file_job", 1), 300, POLL, what="the patients run")
    facility_runs = wait_for(lambda: finished(platform, "facilities_file_job", 1), 300, POLL, what="the facilities run")
    assert [r["status"] for r in patient_runs + facility_runs] == ["SUCCESS", "SUCCESS"]
    tags = {t["key"]: t["value"] for t in patient_runs[0]["tags"]}
    assert tags["hc/object_key"] == "patients/admissions 2024.csv"
    assert tags["dagster/run_key"].startswith("patients/admissions 2024.csv@")


def test_daemon_run_whose_warn_checks_failed_is_tagged_by_the_run_status_sensor(platform):
    def tag():
        [run] = runs(platform, "patients_file_job")
        return {t["key"]: t["value"] for t in run["tags"]}.get("hc/failed_checks")

    # P2 has no age (completeness), P3's age is not a number (conformance): a third of the rows each.
    assert wait_for(tag, 120, POLL, what="the hc/failed_checks tag") == "completeness,conformance"


def test_curated_reports_and_checks_are_recorded(platform):
    for path in (["patients", "curated_records"], ["patients", "anomaly_report"]):
        assert len(materialized_partitions(platform, path)) == 1
    for path in (["facilities", "expiring_accreditations"], ["facilities", "state_counts"]):
        wait_for(lambda p=path: materialized_partitions(platform, p), 300, POLL, what=f"{'/'.join(path)} to refresh")
    evaluations = platform.graphql(CHECKS, {"path": ["patients", "curated_records"], "name": "completeness"})
    assert [e["evaluation"]["severity"] for e in evaluations["assetCheckExecutions"]] == ["WARN"]
    readable = platform.graphql(CHECKS, {"path": ["patients", "raw_records"], "name": "file_readable"})
    assert [e["evaluation"]["success"] for e in readable["assetCheckExecutions"]] == [True]


def test_unreadable_file_fails_its_check_blocks_downstream_and_notifies(platform, aws):
    upload(aws, "patients", "scan.png", UNREADABLE)
    wait_for(lambda: finished(platform, "patients_file_job", 2), 300, POLL, what="the unreadable file's run")
    failed = [
        e
        for e in platform.graphql(CHECKS, {"path": ["patients", "raw_records"], "name": "file_readable"})[
            "assetCheckExecutions"
        ]
        if not e["evaluation"]["success"]
    ]
    partition = {t["key"]: t["value"] for t in failed[0]["run"]["tags"]}["dagster/partition"] if failed else ""
    assert len(failed) == 1 and partition.startswith("scan.png@")
    assert partition in materialized_partitions(platform, ["patients", "raw_records"])
    assert partition not in materialized_partitions(platform, ["patients", "curated_records"])
    received = wait_for(
        lambda: [m for m in messages(aws) if "file_readable" in m or "scan.png" in m], 120, POLL, what="a notification"
    )
    assert any("scan.png" in m for m in received)


def ticks_since(platform, since: float) -> list:
    """The landing sensor's completed ticks (skipped or requesting) that started after `since`."""
    sensor = platform.graphql(TICKS, {"sensor": LANDING_SENSOR, "after": since})["sensorOrError"]
    return sensor["sensorState"]["ticks"]


def test_same_file_uploaded_again_starts_no_new_run(platform, aws):
    before = len(runs(platform, "patients_file_job"))
    upload(aws, "patients", "admissions 2024.csv", PATIENTS)
    uploaded = time.time()
    # Two whole ticks of the landing sensor listed the bucket after the upload: one would have requested the run.
    wait_for(lambda: len(ticks_since(platform, uploaded)) >= 2, 120, POLL, what="two landing sensor ticks")
    assert len(runs(platform, "patients_file_job")) == before


def test_ui_lists_the_assets_and_the_checks_in_chromium(platform, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: `make test` installs the Debian package `chromium`")
    pages = {
        "graph": (
            f"{platform.url}/locations/hc_pipeline.definitions/asset-groups/patients",
            ["raw_records", "curated_records", "readmission_rates"],
        ),
        "catalog": (
            f"{platform.url}/assets?groups=patients",
            ["anomaly_report", "readmission_rates", "curated_records"],
        ),
        "checks": (
            f"{platform.url}/assets/patients/curated_records?view=checks",
            ["curated_schema", "row_conservation", "completeness", "plausibility"],
        ),
    }
    # One Chromium for the three pages, each read as soon as its DOM names what it must (a bounded wait), where
    # a --dump-dom and a --screenshot process per page each waited out a fixed virtual-time budget.
    # Tall enough that the catalog's virtualised list renders every asset of the group (14 in patients).
    browser = Browser(chromium, tmp_path / "profile", width=1400, height=2400)
    try:
        for name, (url, expected) in pages.items():
            browser.call("Page.navigate", url=url)
            dom = dom_naming(browser, expected)
            browser.screenshot(tmp_path / f"{name}.png")
            missing = [word for word in expected if word not in dom]
            assert not missing, f"{name} page lacks {missing}"
            assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    finally:
        browser.close()


def dom_naming(browser: Browser, words: list[str], timeout: float = 60.0) -> str:
    """The page's DOM (as --dump-dom prints it) once it contains every word, or as it is when the wait runs out."""
    deadline = time.monotonic() + timeout
    while True:
        dom = browser.evaluate("document.documentElement.outerHTML") or ""
        if all(word in dom for word in words) or time.monotonic() > deadline:
            return dom
        time.sleep(0.5)


def test_shutdown_leaves_no_process_behind(platform):
    assert platform.stop() == []
