"""Event mode: the bucket notifies an SQS queue on the moto server, the sensor drains it tick by tick."""

import json
import time

import boto3
import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.event_sensor import EventCursor
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.planner import RUN_KEY_TAG, FileRun
from hc_pipeline.resources.s3_events import S3EventQueue
from hc_pipeline_tests.run_requests import requested_objects, requested_versions
from hc_pipeline_tests.test_aws.s3_fixtures import BUCKET, PREFIX, REGION, s3_client, s3_env

CSV = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"
# A tick that finds the queue empty long-polls it for wait_seconds (4 by default, under a daemon loop by the resource):
# 4 s per quiet tick here. moto queues a bucket's notification before put_object returns, so a shorter long poll
# receives the same messages; it is still a long poll.
QUICK_POLL = 1


@pytest.fixture
def queue_url(s3_endpoint: str) -> str:
    """A queue receiving the bucket's ObjectCreated notifications for `<prefix>/landing/`, as deploy/ sets up."""
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint, region_name=REGION)
    url = sqs.create_queue(QueueName="hc-landing-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3_client(s3_endpoint).put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{PREFIX}/landing/"}]}},
                }
            ]
        },
    )
    return url


@pytest.fixture
def resources(s3_endpoint: str, queue_url: str) -> dict:
    """The deployment's resources, its queue long-polling 1 s instead of 4 (see QUICK_POLL)."""
    deployed = build_resources(s3_env(s3_endpoint, HC_S3_EVENT_QUEUE_URL=queue_url))
    queue = deployed["landing_events"]
    quick = S3EventQueue(
        queue_url=queue.queue_url,
        landing=queue.landing,
        reconcile_seconds=queue.reconcile_seconds,
        wait_seconds=QUICK_POLL,
    )
    return {**deployed, "landing_events": quick}


@pytest.fixture
def sensor(resources):
    return make_definitions(resources).get_sensor_def("landing_events_sensor")


@pytest.fixture
def sqs(s3_endpoint):
    return boto3.client("sqs", endpoint_url=s3_endpoint, region_name=REGION)


def tick(sensor, resources: dict, instance, cursor: str | None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def reconciled_now() -> str:
    """A cursor whose reconciliation is not due, so a tick only drains the queue."""
    return EventCursor(reconciled_at=time.time()).dump()


def upload(endpoint: str, key: str, body: bytes = CSV) -> str:
    return s3_client(endpoint).put_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/{key}", Body=body)["ETag"].strip('"')


def in_queue(sqs, url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def test_event_mode_has_one_reader_for_both_domains_instead_of_the_listing_sensors(resources):
    names = {s.name for s in make_definitions(resources).sensors}
    assert "landing_events_sensor" in names
    assert not names & {"patients_landing_sensor", "facilities_landing_sensor"}


def test_announced_versions_are_requested_exactly_as_a_listing_describes_them(
    sensor, resources, s3_endpoint, instance, sqs, queue_url
):
    upload(s3_endpoint, "patients/adm [v2], émission.csv")
    upload(s3_endpoint, "facilities/north.json", b'{"facility_id": "F1"}')
    upload(s3_endpoint, "unknown/x.csv")  # not a domain
    upload(s3_endpoint, "patients/.hidden.csv")  # dot-files are landed files too, as in a listing
    s3_client(s3_endpoint).put_object(Bucket=BUCKET, Key=f"{PREFIX}/lake/x.parquet", Body=b"x")  # not notified
    result = tick(sensor, resources, instance, reconciled_now())
    landing = resources["landing"]
    listed = [*landing.list_objects("patients"), *landing.list_objects("facilities")]
    assert len(listed) == 3
    # The two patients files share a batch run; the one facilities file has a run of its own.
    assert sorted(r.job_name for r in result.run_requests) == ["facilities_file_job", "patients_batch_job"]
    by_key = {o.run_key: o for o in requested_objects(result)}
    assert sorted(by_key) == sorted(o.run_key for o in listed)
    for obj in listed:  # same key, ETag and LastModified as a listing
        assert (by_key[obj.run_key].key, by_key[obj.run_key].last_modified) == (obj.key, obj.last_modified)
    [single] = [r for r in result.run_requests if r.job_name == "facilities_file_job"]
    [facility] = [o for o in listed if o.key.startswith("facilities/")]
    assert single.tags == FileRun(facility).request_tags
    assert single.partition_key == partition_key_for(facility.key, facility.version)
    added = sorted(k for r in result.dynamic_partitions_requests for k in r.partition_keys)
    assert added == sorted(partition_key_for(o.key, o.version) for o in listed)
    # The test event and the ignored keys are deleted at once; the three requested wait for the next tick.
    assert len(EventCursor.load(result.cursor).pending) == 3
    assert in_queue(sqs, queue_url) == (0, 3)


def test_the_next_tick_deletes_the_messages_whose_runs_were_recorded(
    sensor, resources, s3_endpoint, instance, sqs, queue_url
):
    upload(s3_endpoint, "patients/a.csv")
    first = tick(sensor, resources, instance, reconciled_now())
    assert len(first.run_requests) == 1 and in_queue(sqs, queue_url) == (0, 1)
    second = tick(sensor, resources, instance, first.cursor)
    assert second.run_requests == [] and EventCursor.load(second.cursor).pending == []
    assert in_queue(sqs, queue_url) == (0, 0)


def test_a_crash_before_the_cursor_is_committed_redelivers_and_the_run_key_dedupes(
    sensor, resources, s3_endpoint, instance, sqs, queue_url
):
    etag = upload(s3_endpoint, "patients/a.csv")
    start = reconciled_now()
    crashed = tick(sensor, resources, instance, start)
    # The daemon died before committing the cursor: the messages reappear once their visibility ends.
    for receipt in EventCursor.load(crashed.cursor).pending:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    again = tick(sensor, resources, instance, start)
    assert [r.run_key for r in again.run_requests] == [f"patients/a.csv@{etag}"]  # not lost
    # This time the run was recorded but the cursor still was not: the redelivery requests nothing and is deleted.
    create_run_for_test(instance, job_name="patients_file_job", tags={RUN_KEY_TAG: f"patients/a.csv@{etag}"})
    for receipt in EventCursor.load(again.cursor).pending:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    deduped = tick(sensor, resources, instance, start)
    assert deduped.run_requests == [] and in_queue(sqs, queue_url) == (0, 0)


def test_unparseable_messages_are_logged_with_the_reason_and_deleted(
    sensor, resources, instance, sqs, queue_url, capfd
):
    sqs.send_message(QueueUrl=queue_url, MessageBody="not json")
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"hello": "world"}))
    result = tick(sensor, resources, instance, reconciled_now())
    assert result.run_requests == []
    reasons = [
        line
        for line in capfd.readouterr().err.splitlines()
        if "WARNING" in line and "is not an S3 notification" in line
    ]
    assert len(reasons) == 3
    assert any("JSONDecodeError" in r for r in reasons) and any("KeyError: 's3'" in r for r in reasons)
    assert any("no Records and not an s3:TestEvent" in r for r in reasons)
    assert in_queue(sqs, queue_url) == (0, 0)


def test_one_message_with_both_domains_routes_each_record_to_its_job(sensor, resources, s3_endpoint, instance, sqs):
    patients, facilities = upload(s3_endpoint, "patients/p.csv"), upload(s3_endpoint, "facilities/f.json", b"{}")
    sqs.purge_queue(QueueUrl=resources["landing_events"].queue_url)

    def record(key: str, etag: str) -> dict:
        full = f"{PREFIX}/landing/{key}".replace("/", "%2F")
        obj = {"key": full, "eTag": etag, "size": 1}
        return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": obj}}

    body = {"Records": [record("patients/p.csv", patients), record("facilities/f.json", facilities)]}
    sqs.send_message(QueueUrl=resources["landing_events"].queue_url, MessageBody=json.dumps(body))
    result = tick(sensor, resources, instance, reconciled_now())
    assert sorted((r.job_name, r.run_key) for r in result.run_requests) == [
        ("facilities_file_job", f"facilities/f.json@{facilities}"),
        ("patients_file_job", f"patients/p.csv@{patients}"),
    ]


def test_a_version_replaced_before_the_tick_is_skipped_for_the_current_one(
    sensor, resources, s3_endpoint, instance, sqs, queue_url
):
    upload(s3_endpoint, "patients/a.csv", b"version 1")
    current = upload(s3_endpoint, "patients/a.csv", b"version 2")
    result = tick(sensor, resources, instance, reconciled_now())
    assert [r.run_key for r in result.run_requests] == [f"patients/a.csv@{current}"]
    assert in_queue(sqs, queue_url) == (0, 1)  # the old version's message went at once


def test_receives_are_batched_and_bounded_per_tick(resources, s3_endpoint, instance, sqs, queue_url):
    bounded = {
        **resources,
        "landing_events": S3EventQueue(
            queue_url=queue_url, landing=resources["landing"], max_receive_calls=2, wait_seconds=QUICK_POLL
        ),
    }
    sensor = make_definitions(bounded).get_sensor_def("landing_events_sensor")
    etags = {f"patients/{i:02d}.csv": upload(s3_endpoint, f"patients/{i:02d}.csv", f"{i}".encode()) for i in range(25)}
    cursor, per_tick, requested = reconciled_now(), [], []
    for _ in range(4):
        result = tick(sensor, bounded, instance, cursor)
        cursor = result.cursor
        per_tick.append(len(requested_versions(result)))
        requested += requested_versions(result)
    assert max(per_tick) <= 20 and per_tick[-1] == 0  # two calls of ten messages a tick at most
    assert sorted(requested) == sorted(f"{k}@{e}" for k, e in etags.items())
    assert in_queue(sqs, queue_url) == (0, 0)


def test_reconciliation_requests_a_version_whose_notification_was_lost(
    sensor, resources, s3_endpoint, instance, sqs, queue_url
):
    ran = upload(s3_endpoint, "patients/ran.csv", b"ran")
    lost = upload(s3_endpoint, "facilities/lost.json", b"{}")
    create_run_for_test(instance, job_name="patients_file_job", tags={RUN_KEY_TAG: f"patients/ran.csv@{ran}"})
    sqs.purge_queue(QueueUrl=queue_url)  # the notifications never arrive
    quiet = tick(sensor, resources, instance, reconciled_now())
    assert quiet.run_requests == []
    due = tick(sensor, resources, instance, EventCursor(reconciled_at=time.time() - 3600).dump())
    assert [(r.job_name, r.run_key) for r in due.run_requests] == [
        ("facilities_file_job", f"facilities/lost.json@{lost}")
    ]
    assert EventCursor.load(due.cursor).reconciled_at > time.time() - 60
    not_due = tick(sensor, resources, instance, due.cursor)
    assert not_due.run_requests == []


def test_notifications_through_sns_are_unwrapped(resources):
    queue = resources["landing_events"]
    inner = {
        "Records": [
            {
                "eventName": "ObjectCreated:CompleteMultipartUpload",
                "s3": {
                    "bucket": {"name": BUCKET},
                    "object": {"key": f"{PREFIX}/landing/patients/a+b.csv", "eTag": "e-2"},
                },
            }
        ]
    }
    body = json.dumps({"Type": "Notification", "Message": json.dumps(inner)})
    parsed = queue.parse({"ReceiptHandle": "r", "MessageId": "m", "Body": body})
    assert parsed.problem is None and [(o.key, o.version) for o in parsed.objects] == [("patients/a b.csv", "e-2")]


def _record(**object_fields) -> dict:
    obj = {"key": f"{PREFIX}/landing/patients/a.csv", "eTag": "e-1", **object_fields}
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": obj}}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"Records": [{**_record(), "eventName": 5}]}, "TypeError: eventName: expected a string, got int"),
        ({"Records": [_record(key=["a"])]}, "TypeError: s3.object.key: expected a string, got list"),
        ({"Records": [_record(eTag=None)]}, "TypeError: s3.object.eTag: expected a string, got NoneType"),
        ({"Records": "patients/a.csv"}, "TypeError: string indices must be integers, not 'str'"),
        ({"Records": [{"eventName": "ObjectCreated:Put", "s3": []}]}, "TypeError: list indices must be integers"),
        ({"Type": "Notification", "Message": 3}, "TypeError: the JSON object must be str, bytes or bytearray"),
        ("[" * 100_000, "RecursionError: "),
    ],
    ids=["event-name", "key", "etag", "records-text", "s3-list", "sns-message", "deep"],
)
def test_a_malformed_notification_is_a_problem_named_by_its_parse_error(resources, body, problem):
    text = body if isinstance(body, str) else json.dumps(body)
    parsed = resources["landing_events"].parse({"ReceiptHandle": "r", "MessageId": "m", "Body": text})
    assert parsed.objects == [] and parsed.problem.startswith(problem)


def test_a_bug_while_parsing_is_raised_not_taken_for_an_unparseable_message(resources, monkeypatch):
    def broken(self, record):
        raise AttributeError("'NoneType' object has no attribute 'landing_prefix'")

    monkeypatch.setattr(S3EventQueue, "_landed", broken)
    body = json.dumps({"Records": [_record()]})
    with pytest.raises(AttributeError, match="landing_prefix"):
        resources["landing_events"].parse({"ReceiptHandle": "r", "MessageId": "m", "Body": body})


def _fail_attempt(request: dg.RunRequest, instance) -> None:
    """One run of the requested version, launched as the sensor would, that fails."""

    @dg.asset(name="attempt")
    def attempt():
        raise OSError("endpoint down")

    tags = {**request.tags, RUN_KEY_TAG: request.run_key, "dagster/sensor_name": "landing_events_sensor"}
    assert not dg.materialize([attempt], instance=instance, tags=tags, raise_on_error=False).success


def test_a_failed_version_is_retried_on_later_ticks_then_given_up(sensor, resources, s3_endpoint, instance):
    etag = upload(s3_endpoint, "patients/a.csv")
    first = tick(sensor, resources, instance, reconciled_now())
    [request] = first.run_requests
    assert request.run_key == f"patients/a.csv@{etag}"
    _fail_attempt(request, instance)
    second = tick(sensor, resources, instance, first.cursor)  # no new message: the retry comes from the failed run
    assert [r.run_key for r in second.run_requests] == [f"patients/a.csv@{etag}#2"]
    assert second.run_requests[0].tags == request.tags
    _fail_attempt(second.run_requests[0], instance)
    third = tick(sensor, resources, instance, second.cursor)
    assert [r.run_key for r in third.run_requests] == [f"patients/a.csv@{etag}#3"]
    _fail_attempt(third.run_requests[0], instance)
    fourth = tick(sensor, resources, instance, third.cursor)
    assert fourth.run_requests == []
    assert "patients/a.csv: gave up after 3 attempts" in fourth.skip_reason.skip_message
