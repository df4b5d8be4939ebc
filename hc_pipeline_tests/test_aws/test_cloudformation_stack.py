"""deploy/cloudformation.yaml on the moto server: the stack's outputs are the HC_* environment of a working pipeline."""

import ast
import json
import time

import boto3
import botocore.exceptions
import dagster as dg
import moto.settings
import pytest
import requests

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.event_sensor import EventCursor
from hc_pipeline.generate.writer import generate
from hc_pipeline.planner import KEY_TAG
from hc_pipeline.runner import run_pending
from hc_pipeline_tests.conftest import RUN_DATE
from hc_pipeline_tests.test_aws.cloudformation_stack import REGION, create_stack, template_module
from hc_pipeline_tests.test_exports.export_checks import REPORTS, assert_export_matches_table

BUCKET = "hc-stack-lake"
PREFIX = "hc/stack"
OUTPUT_ENV = {
    "HcS3Bucket": "HC_S3_BUCKET",
    "HcS3Prefix": "HC_S3_PREFIX",
    "HcS3Sse": "HC_S3_SSE",
    "HcS3EventQueueUrl": "HC_S3_EVENT_QUEUE_URL",
    "HcAthenaDatabase": "HC_ATHENA_DATABASE",
    "HcAthenaWorkgroup": "HC_ATHENA_WORKGROUP",
    "HcAthenaOutput": "HC_ATHENA_OUTPUT",
    "HcSnsTopicArn": "HC_SNS_TOPIC_ARN",
}
# moto 5.2.5's CloudFormation skips these types; the helper applies them from the template (see its docstring).
MOTO_GAPS = ["AthenaWorkGroup", "GlueDatabase", "LakeBucketPolicy", "LandingEventsQueuePolicy"]


def client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


@pytest.fixture
def stack(moto_server):
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    return create_stack(moto_server, "hc-pipeline", {"BucketName": BUCKET, "Prefix": PREFIX})


def test_stack_outputs_every_hc_variable_and_the_role(stack):
    assert stack.skipped_by_moto == MOTO_GAPS
    assert set(OUTPUT_ENV) | {"PipelineRoleArn", "HcS3EventDeadLetterQueueUrl"} == set(stack.outputs)
    assert stack.outputs["HcS3Bucket"] == BUCKET and stack.outputs["HcS3Prefix"] == PREFIX
    assert stack.outputs["HcAthenaOutput"] == f"s3://{BUCKET}/{PREFIX}/athena-results/"
    assert stack.outputs["HcAthenaDatabase"] == "hc_pipeline" and stack.outputs["HcAthenaWorkgroup"] == "hc-pipeline"
    assert stack.outputs["PipelineRoleArn"].endswith(":role/hc-pipeline-role")


def test_stack_resources_have_the_template_settings(stack, moto_server):
    s3, sqs = client("s3", moto_server), client("sqs", moto_server)
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"  # made by moto's CloudFormation
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())
    lifecycle = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    assert lifecycle["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    (notification,) = s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]
    assert notification["Events"] == ["s3:ObjectCreated:*"]
    rules = notification["Filter"]["Key"]["FilterRules"]
    assert [(r["Name"].lower(), r["Value"]) for r in rules] == [("prefix", f"{PREFIX}/landing/")]
    # The bucket policy refuses plain HTTP, which is all the moto server on 127.0.0.1 speaks.
    with pytest.raises(botocore.exceptions.ClientError, match=r"\(403\)"):
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/facilities/x.json", Body=b"[]")

    queue = sqs.get_queue_attributes(QueueUrl=stack.outputs["HcS3EventQueueUrl"], AttributeNames=["All"])["Attributes"]
    dead_letter = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["HcS3EventDeadLetterQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert json.loads(queue["RedrivePolicy"]) == {"deadLetterTargetArn": dead_letter, "maxReceiveCount": 5}
    (statement,) = json.loads(queue["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Resource"] == queue["QueueArn"]
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{BUCKET}"

    assert client("glue", moto_server).get_database(Name="hc_pipeline")["Database"]["Name"] == "hc_pipeline"
    workgroup = client("athena", moto_server).get_work_group(WorkGroup="hc-pipeline")["WorkGroup"]["Configuration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    assert workgroup["BytesScannedCutoffPerQuery"] == 10737418240
    assert workgroup["ResultConfiguration"] == {
        "OutputLocation": f"s3://{BUCKET}/{PREFIX}/athena-results/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }


def test_role_policy_is_the_generated_iam_policy_json(stack, moto_server):
    iam = client("iam", moto_server)
    role = stack.outputs["PipelineRoleArn"].rsplit("/", 1)[-1]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    deployed = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    # moto's CloudFormation stores an inline policy as the text of a Python dict, not JSON.
    deployed = ast.literal_eval(deployed) if isinstance(deployed, str) else deployed
    module = template_module()
    expected = json.loads(module.POLICY_FILE.read_text())
    assert [s["Sid"] for s in deployed["Statement"]] == [s["Sid"] for s in expected["Statement"]]
    delete = [s for s in deployed["Statement"] if "s3:DeleteObject" in json.dumps(s["Action"])]
    assert [s["Resource"] for s in delete] == [f"arn:aws:s3:::{BUCKET}/{PREFIX}/exports/*"]
    assert module.main(["--check"]) == 0  # the JSON file is what the template's role declares


def test_a_file_uploaded_to_the_stack_bucket_is_processed_end_to_end(stack, moto_server, monkeypatch, tmp_path):
    env = {OUTPUT_ENV[k]: v for k, v in stack.outputs.items() if k in OUTPUT_ENV}
    env.update(HC_S3_ENDPOINT_URL=moto_server, AWS_REGION=REGION)
    # The SNS notifier takes its endpoint from boto3's standard variable, as on AWS with a VPC endpoint.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", moto_server)
    s3, sqs, sns = client("s3", moto_server), client("sqs", moto_server), client("sns", moto_server)
    # The one part of the stack left out here: its TLS-only bucket policy (the moto server speaks plain HTTP).
    s3.delete_bucket_policy(Bucket=BUCKET)
    inbox = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=env["HC_SNS_TOPIC_ARN"], Protocol="sqs", Endpoint=inbox_arn)

    generate(tmp_path, patients=20, facilities=60, defect_rate=0.0, seed=8, run_date=RUN_DATE, facility_files=1)
    (path,) = (tmp_path / "facilities").iterdir()
    key = f"{PREFIX}/landing/facilities/{path.name}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())

    # The stack's queue drives the run: the event sensor (no listing: reconciliation is not due) requests it.
    resources = build_resources(env)
    defs = make_definitions(resources)
    sensor = defs.get_sensor_def("landing_events_sensor")
    with dg.instance_for_test() as instance:
        first = tick(sensor, resources, instance, EventCursor(reconciled_at=time.time()).dump())
        (request,) = first.run_requests
        assert request.tags[KEY_TAG] == f"facilities/{path.name}"
        for added in first.dynamic_partitions_requests:
            instance.add_dynamic_partitions(added.partitions_def_name, list(added.partition_keys))
        run = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags
        )
        assert run.success
        # The next tick deletes the message its run was recorded for; nothing is left on the queue.
        second = tick(sensor, resources, instance, first.cursor)
        assert not second.run_requests and queued_messages(sqs, env["HC_S3_EVENT_QUEUE_URL"]) == 0
        # `run` finds the version done (processed once) and builds the reports the file made stale.
        summary = run_pending(defs, instance, RUN_DATE)
    assert summary.processed["facilities"] == [] and not summary.failed and not summary.stopped_by_checks
    assert summary.reports_refreshed

    listed = [
        o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in p.get("Contents", [])
    ]
    assert {k.split("/")[2] for k in listed} == {"landing", "lake", "insights", "manifests", "exports"}
    assert all(k.startswith(f"{PREFIX}/") for k in listed)
    lake = {"/".join(k.split("/")[3:5]) for k in listed if k.startswith(f"{PREFIX}/lake/")}
    assert {f"facilities/{r}" for r in REPORTS["facilities"]} | {"facilities/curated_records"} <= lake
    # One connection for every report: each new one binds a view per lake table, seconds apiece on S3.
    with build_resources(env)["query_engine"].connect() as con:
        tables = {report: con.execute(f"SELECT * FROM facilities_{report}").df() for report in REPORTS["facilities"]}
    for report in REPORTS["facilities"]:
        folder = f"{PREFIX}/exports/facilities/{report}"
        objects = {k.rsplit("/", 1)[-1]: k for k in listed if k.startswith(f"{folder}/")}
        assert len(objects) == 4, objects
        bodies = {n: s3.get_object(Bucket=BUCKET, Key=k) for n, k in objects.items() if n.startswith("latest")}
        assert {b["ServerSideEncryption"] for b in bodies.values()} == {"AES256"}
        assert_export_matches_table(
            bodies["latest.csv"]["Body"].read(), bodies["latest.json"]["Body"].read(), tables[report], report
        )

    delivered = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    alerts = [json.loads(m["Body"]) for m in delivered]
    tiers = [a for a in alerts if "expiring accreditations" in a["Subject"]]
    assert len(tiers) == 1 and tiers[0]["TopicArn"] == env["HC_SNS_TOPIC_ARN"]
    latest = f"s3://{BUCKET}/{PREFIX}/exports/facilities/expiring_accreditations/latest.csv"
    assert f"Full list (CSV): {latest}" in tiers[0]["Message"]


def tick(sensor, resources: dict, instance: dg.DagsterInstance, cursor: str | None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def queued_messages(sqs, url: str) -> int:
    """Visible and in-flight messages on the queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def role_session(stack, endpoint: str) -> boto3.session.Session:
    """A session with the stack role's credentials, its inline policy stored as JSON first.

    moto's CloudFormation stores an inline role policy as a Python dict that moto's own IAM enforcement
    cannot read; the same document is put back through PutRolePolicy.
    """
    iam = client("iam", endpoint)
    role = stack.outputs["PipelineRoleArn"].rsplit("/", 1)[-1]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = ast.literal_eval(document) if isinstance(document, str) else document
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    credentials = client("sts", endpoint).assume_role(RoleArn=stack.outputs["PipelineRoleArn"], RoleSessionName="hc")
    keys = credentials["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name=REGION,
    )


def test_the_stack_role_writes_the_zones_and_deletes_only_exports_under_iam_enforcement(
    stack, moto_server, monkeypatch
):
    session = role_session(stack, moto_server)
    client("s3", moto_server).delete_bucket_policy(Bucket=BUCKET)  # TLS-only; the moto server speaks HTTP
    s3, sqs = session.client("s3", endpoint_url=moto_server), session.client("sqs", endpoint_url=moto_server)
    # moto enforces IAM from its next request on (its in-process setting; restored after the test).
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)

    def allowed(call) -> bool:
        try:
            call()
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] in ("AccessDenied", "403"), error
            return False
        return True

    def put(key: str):
        return lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")

    for zone in ("landing", "lake", "quarantine", "insights", "manifests", "exports", "athena-results"):
        assert allowed(put(f"{PREFIX}/{zone}/facilities/a.json")), zone
    assert not allowed(put("elsewhere/a.json"))
    assert not allowed(put(f"{PREFIX}/secrets/a.json"))
    assert allowed(lambda: s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/facilities/a.json"))
    assert not allowed(lambda: s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/facilities/a.json"))
    assert not allowed(lambda: s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/lake/facilities/a.json"))
    assert allowed(lambda: s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/exports/facilities/a.json"))
    assert allowed(lambda: sqs.receive_message(QueueUrl=stack.outputs["HcS3EventQueueUrl"]))
    assert not allowed(lambda: sqs.create_queue(QueueName="not-ours"))
