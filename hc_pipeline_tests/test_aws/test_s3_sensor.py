"""The landing sensor on S3 (moto on 127.0.0.1), each case with build_sensor_context and a real instance."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test
from moto.server import ThreadedMotoServer

from hc_pipeline.assets import patients
from hc_pipeline.batch_job import batch_jobs
from hc_pipeline.definitions import make_definitions
from hc_pipeline.jobs import file_job
from hc_pipeline.landing_cursor import LandingCursor
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.planner import RUN_KEY_TAG
from hc_pipeline.resources.s3_landing import S3LandingZone
from hc_pipeline.sensors import landing_sensor
from hc_pipeline_tests.run_requests import requested_objects, requested_versions
from hc_pipeline_tests.test_aws.s3_fixtures import (
    BUCKET,
    PREFIX,
    s3_client,
)

CSV = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"
SAFE_PARTITION_KEY = re.compile(r"^[A-Za-z0-9._-]+@[0-9a-f]{8}$")


@pytest.fixture
def sensor(s3_resources):
    return make_definitions(s3_resources).get_sensor_def("patients_landing_sensor")


def tick(sensor, resources: dict, instance, cursor: str | None = None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def upload(endpoint: str, key: str, body: bytes = CSV, client=None) -> str:
    """Put `landing/<key>` straight through the S3 API, as another team's tool would; return its ETag."""
    client = client or s3_client(endpoint)
    return client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/{key}", Body=body)["ETag"].strip('"')


def test_first_tick_requests_one_run_per_object_with_run_key_key_at_etag(sensor, s3_resources, s3_endpoint, instance):
    etag = upload(s3_endpoint, "patients/a.csv")
    result = tick(sensor, s3_resources, instance)
    [request] = result.run_requests
    assert request.run_key == f"patients/a.csv@{etag}"
    assert request.partition_key == partition_key_for("patients/a.csv", etag)
    assert request.tags["hc/object_key"] == "patients/a.csv" and request.tags["hc/object_version"] == etag
    assert result.dynamic_partitions_requests[0].partition_keys == [request.partition_key]


def jobs():
    """The patients file job and batch job, as the code location builds them."""
    return file_job("patients", patients.per_file_assets), batch_jobs()["patients"]


def test_listing_of_2500_objects_is_paged_and_requested_across_ticks_within_the_cap(
    s3_resources, s3_endpoint, fault_proxy, instance
):
    keys = [f"patients/batch/{i:05d}.csv" for i in range(2_500)]
    client = s3_client(s3_endpoint)  # one client for all threads: boto3 clients are thread-safe
    with ThreadPoolExecutor(max_workers=8) as pool:
        etags = dict(zip(keys, pool.map(lambda key: upload(s3_endpoint, key, key.encode(), client), keys)))
    cap = 1_000
    sensor = landing_sensor("patients", *jobs(), max_runs=cap)
    resources = {
        **s3_resources,
        "landing": S3LandingZone(bucket=BUCKET, prefix=PREFIX, endpoint_url=fault_proxy.endpoint),
    }
    requested, per_tick, cursor = [], [], None
    for _ in range(5):
        result = tick(sensor, resources, instance, cursor)
        cursor = result.cursor
        files = requested_versions(result)
        per_tick.append(len(files))
        requested += files
        if not result.run_requests:
            break
    assert per_tick == [cap, cap, 500, 0]
    assert sorted(requested) == sorted(f"{key}@{etag}" for key, etag in etags.items())
    pages = [path for method, path, _ in fault_proxy.requests if method == "GET" and "list-type=2" in path]
    assert len(pages) == 3 * len(per_tick)  # 1,000 keys a page, every page every tick
    assert "continuation-token=" in pages[1]


def test_same_second_uploads_around_a_tick_are_all_requested(sensor, s3_resources, s3_endpoint, instance):
    client = s3_client(s3_endpoint)
    for attempt in range(20):  # S3 times have whole seconds; retry until both uploads share one
        first, second = f"patients/first-{attempt}.csv", f"patients/second-{attempt}.csv"
        time.sleep(1 - time.time() % 1)  # start on a fresh second, so a slow tick on a busy machine still fits
        upload(s3_endpoint, first, f"{attempt}a".encode())
        before = tick(sensor, s3_resources, instance)
        upload(s3_endpoint, second, f"{attempt}b".encode())
        heads = [client.head_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/{k}") for k in (first, second)]
        times = {head["LastModified"] for head in heads}
        if len(times) == 1:
            break
    assert len(times) == 1
    after = tick(sensor, s3_resources, instance, before.cursor)
    assert [r.run_key.split("@")[0] for r in after.run_requests] == [second]


def test_deleting_an_already_seen_key_requests_nothing_and_loses_nothing(sensor, s3_resources, s3_endpoint, instance):
    upload(s3_endpoint, "patients/a.csv", b"a")
    upload(s3_endpoint, "patients/b.csv", b"b")
    first = tick(sensor, s3_resources, instance)
    s3_client(s3_endpoint).delete_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/patients/a.csv")
    quiet = tick(sensor, s3_resources, instance, first.cursor)
    before, after = LandingCursor.load(first.cursor), LandingCursor.load(quiet.cursor)
    assert quiet.run_requests == [] and (after.watermark, after.seen) == (before.watermark, before.seen)
    upload(s3_endpoint, "patients/c.csv", b"c")
    later = tick(sensor, s3_resources, instance, quiet.cursor)
    assert [r.run_key.split("@")[0] for r in later.run_requests] == ["patients/c.csv"]


def test_overwrite_with_a_new_etag_is_a_new_partition_and_run_and_the_same_etag_never_twice(
    sensor, s3_resources, s3_endpoint, instance
):
    old = upload(s3_endpoint, "patients/a.csv", b"version 1")
    first = tick(sensor, s3_resources, instance)
    new = upload(s3_endpoint, "patients/a.csv", b"version 2")
    second = tick(sensor, s3_resources, instance, first.cursor)
    [request] = second.run_requests
    assert request.run_key == f"patients/a.csv@{new}" and new != old
    assert request.partition_key != first.run_requests[0].partition_key
    upload(s3_endpoint, "patients/a.csv", b"version 2")  # same bytes again: same ETag, newer LastModified
    third = tick(sensor, s3_resources, instance, second.cursor)
    assert third.run_requests == []


def test_a_reset_cursor_does_not_run_an_etag_that_already_ran(sensor, s3_resources, s3_endpoint, instance):
    ran = upload(s3_endpoint, "patients/a.csv", b"ran")
    fresh = upload(s3_endpoint, "patients/b.csv", b"fresh")
    create_run_for_test(instance, job_name="patients_file_job", tags={RUN_KEY_TAG: f"patients/a.csv@{ran}"})
    result = tick(sensor, s3_resources, instance, cursor=None)
    assert [r.run_key for r in result.run_requests] == [f"patients/b.csv@{fresh}"]


def test_unsafe_keys_become_safe_unique_partition_keys(sensor, s3_resources, s3_endpoint, instance):
    keys = [
        "patients/a b.csv",
        "patients/a,b.csv",
        "patients/a_b.csv",
        "patients/adm [v2], émission.csv",
        'patients/it\'s "quoted".csv',
        "patients/../up.csv",
        "patients/a..b.csv",
        "patients/x/../y.csv",
        "patients/日本語.csv",
        "patients/{brace}(paren).csv",
    ]
    for i, key in enumerate(keys):
        upload(s3_endpoint, key, f"{i}".encode())
    result = tick(sensor, s3_resources, instance)
    by_key = {o.key: partition_key_for(o.key, o.version) for o in requested_objects(result)}
    assert set(by_key) == set(keys)  # the exact key as uploaded travels with the run
    assert set(result.dynamic_partitions_requests[0].partition_keys) == set(by_key.values())
    assert len(set(by_key.values())) == len(keys)
    bad = [p for p in by_key.values() if not SAFE_PARTITION_KEY.match(p) or ".." in p]
    assert bad == []
    instance.add_dynamic_partitions("patients_files", list(by_key.values()))
    assert set(instance.get_dynamic_partitions("patients_files")) == set(by_key.values())


def test_listing_error_skips_with_the_reason_and_the_next_tick_gets_everything(s3_endpoint, sensor, instance):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    # The same in-process moto backend as s3_endpoint: only this door closes and reopens.
    landing = S3LandingZone(bucket=BUCKET, prefix=PREFIX, endpoint_url=f"http://127.0.0.1:{port}", max_attempts=0)
    resources = {"landing": landing}
    upload(s3_endpoint, "patients/before.csv", b"before")
    first = tick(sensor, resources, instance)
    server.stop()
    try:
        upload(s3_endpoint, "patients/during-1.csv", b"1")
        upload(s3_endpoint, "patients/during-2.csv", b"2")
        down = tick(sensor, resources, instance, first.cursor)
        assert isinstance(down, dg.SkipReason)
        assert "listing landing/patients/ failed: EndpointConnectionError" in down.skip_message
        assert f"127.0.0.1:{port}" in down.skip_message
    finally:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    try:
        time.sleep(0.1)
        back = tick(sensor, resources, instance, first.cursor)
        assert sorted(v.split("@")[0] for v in requested_versions(back)) == [
            "patients/during-1.csv",
            "patients/during-2.csv",
        ]
    finally:
        server.stop()


def test_between_full_listings_a_tick_lists_only_keys_after_the_greatest_seen(
    s3_resources, s3_endpoint, fault_proxy, instance
):
    landing = S3LandingZone(bucket=BUCKET, prefix=PREFIX, endpoint_url=fault_proxy.endpoint, full_listing_below=0)
    sensor = landing_sensor("patients", *jobs())
    resources = {**s3_resources, "landing": landing}
    upload(s3_endpoint, "patients/2025/06/01/a.csv", b"a")
    first = tick(sensor, resources, instance)
    assert [r.tags["hc/object_key"] for r in first.run_requests] == ["patients/2025/06/01/a.csv"]
    upload(s3_endpoint, "patients/2025/06/02/b.csv", b"b")  # time-ordered: sorts after every key seen
    upload(s3_endpoint, "patients/0-early.csv", b"early")  # sorts before: waits for the next full listing
    second = tick(sensor, resources, instance, first.cursor)
    assert [r.tags["hc/object_key"] for r in second.run_requests] == ["patients/2025/06/02/b.csv"]
    listings = [path for method, path, _ in fault_proxy.requests if "list-type=2" in path]
    assert "start-after=" not in listings[0] and "start-after=" in listings[1]
    assert "no new objects among 0 (listing after patients/2025/06/02/b.csv)" in (
        tick(sensor, resources, instance, second.cursor).skip_reason.skip_message
    )
    due = LandingCursor.load(second.cursor)
    due.full_at -= landing.full_listing_seconds
    third = tick(sensor, resources, instance, due.dump())
    assert [r.tags["hc/object_key"] for r in third.run_requests] == ["patients/0-early.csv"]
    assert LandingCursor.load(third.cursor).listed == 3


def test_a_small_zone_is_listed_in_full_every_tick(sensor, s3_resources, s3_endpoint, instance):
    upload(s3_endpoint, "patients/b.csv", b"b")
    first = tick(sensor, s3_resources, instance)
    upload(s3_endpoint, "patients/a.csv", b"a")  # sorts before b: still seen at once below 5,000 objects
    second = tick(sensor, s3_resources, instance, first.cursor)
    assert [r.tags["hc/object_key"] for r in second.run_requests] == ["patients/a.csv"]
