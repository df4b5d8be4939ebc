"""The S3 landing zone against moto on 127.0.0.1: keys, ETag versions, paged listing, conditional reads, SSE."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hc_pipeline.deployment import build_resources
from hc_pipeline.resources.landing import LocalLandingZone, VersionChanged
from hc_pipeline.resources.s3_landing import S3LandingZone
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline_tests.test_aws.s3_fixtures import (
    BUCKET,
    PREFIX,
    s3_client,
    s3_env,
)


def landing_on(endpoint: str, **overrides) -> S3LandingZone:
    return S3LandingZone(bucket=BUCKET, prefix=PREFIX, endpoint_url=endpoint, region_name="us-east-1", **overrides)


def test_put_lands_under_prefix_landing_and_describes_the_version(s3_resources, s3_endpoint):
    landing = s3_resources["landing"]
    assert isinstance(landing, S3LandingZone)
    obj = landing.put("patients/adm [v2], émission.csv", b"a,b\n1,2\n")
    head = s3_client(s3_endpoint).head_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/patients/adm [v2], émission.csv")
    assert obj.key == "patients/adm [v2], émission.csv"
    assert obj.version == head["ETag"].strip('"') and '"' not in obj.version
    assert obj.last_modified == head["LastModified"].timestamp() and obj.size == 8
    assert obj.run_key == f"patients/adm [v2], émission.csv@{obj.version}"
    assert landing.uri(obj.key) == f"s3://{BUCKET}/{PREFIX}/landing/patients/adm [v2], émission.csv"
    assert list(landing.list_objects("patients")) == [obj]


def test_listing_follows_every_page(s3_endpoint, fault_proxy):
    landing = landing_on(fault_proxy.endpoint, page_size=2)
    for i in range(5):
        landing.put(f"patients/{i}.csv", b"x")
    assert [o.key for o in landing.list_objects("patients")] == [f"patients/{i}.csv" for i in range(5)]
    pages = [path for method, path, _ in fault_proxy.requests if method == "GET" and "list-type=2" in path]
    assert len(pages) == 3


def test_listing_keeps_to_the_domain_skips_folder_markers_and_keeps_dot_files(s3_resources, s3_endpoint):
    landing = s3_resources["landing"]
    client = s3_client(s3_endpoint)
    for key in ("patients/", "patients/.DS_Store", "patients_old/a.csv", "facilities/f.json", "lake/x.parquet"):
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/{key}", Body=b"x")
    client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/lake/patients/x.parquet", Body=b"x")
    landing.put("patients/sub/a.csv", b"x")
    assert [o.key for o in landing.list_objects("patients")] == ["patients/.DS_Store", "patients/sub/a.csv"]
    assert [o.key for o in landing.list_objects("facilities")] == ["facilities/f.json"]


def test_read_at_the_landed_version_and_refuse_a_replaced_one(s3_resources):
    landing = s3_resources["landing"]
    first = landing.put("patients/a.csv", b"first")
    assert landing.read_bytes(first.key, first.version) == b"first"
    second = landing.put("patients/a.csv", b"second")
    assert second.version != first.version
    with pytest.raises(VersionChanged, match=r"patients/a\.csv: the object changed after version"):
        landing.read_bytes(first.key, first.version)
    assert landing.read_bytes(first.key) == b"second"


def test_read_of_a_deleted_object_names_it(s3_resources, s3_endpoint):
    landing = s3_resources["landing"]
    obj = landing.put("patients/gone.csv", b"x")
    s3_client(s3_endpoint).delete_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/patients/gone.csv")
    with pytest.raises(FileNotFoundError, match=r"s3://.*/landing/patients/gone.csv: no such object"):
        landing.read_bytes(obj.key, obj.version)


@pytest.mark.parametrize("sse", ["AES256", "aws:kms"])
def test_upload_carries_the_configured_server_side_encryption(s3_endpoint, sse):
    obj = landing_on(s3_endpoint, sse=sse).put("patients/a.csv", b"x")
    head = s3_client(s3_endpoint).head_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/{obj.key}")
    assert head["ServerSideEncryption"] == sse


def test_without_a_prefix_the_landing_zone_is_at_the_bucket_root(s3_endpoint):
    landing = S3LandingZone(bucket=BUCKET, endpoint_url=s3_endpoint)
    obj = landing.put("facilities/f.json", b"{}")
    assert landing.uri(obj.key) == f"s3://{BUCKET}/landing/facilities/f.json"
    assert [o.key for o in landing.list_objects("facilities")] == ["facilities/f.json"]


def test_hc_s3_variables_switch_landing_storage_and_lake_to_s3():
    resources = build_resources(
        {
            "HC_S3_BUCKET": "b",
            "HC_S3_PREFIX": "/team/hc/",
            "HC_S3_SSE": "aws:kms",
            "HC_S3_ENDPOINT_URL": "http://minio:9000",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    storage, landing = resources["storage"], resources["landing"]
    assert (storage.root, storage.endpoint_url, storage.sse, storage.region_name) == (
        "s3://b/team/hc",
        "http://minio:9000",
        "aws:kms",
        "eu-west-1",
    )
    assert isinstance(landing, S3LandingZone)
    assert (landing.bucket, landing.prefix, landing.sse) == ("b", "team/hc", "aws:kms")
    assert (landing.endpoint_url, landing.region_name) == ("http://minio:9000", "eu-west-1")
    assert str(resources["io_manager"].storage.path("lake")) == "s3://b/team/hc/lake"
    assert resources["query_engine"].storage.is_s3


def test_without_hc_s3_bucket_the_embedded_local_default_is_untouched(tmp_path):
    resources = build_resources({"HC_HOME": str(tmp_path), "HC_S3_PREFIX": "ignored", "AWS_REGION": "eu-west-1"})
    assert isinstance(resources["landing"], LocalLandingZone)
    assert resources["storage"] == LakeStorage(root=str(tmp_path.resolve()))
    assert resources["storage"].storage_options() == {}


def test_put_file_streams_multipart_with_sse_and_its_version_is_the_listed_etag(s3_endpoint, tmp_path):
    source = tmp_path / "big.csv"
    source.write_bytes(os.urandom(11 * 1024 * 1024))
    landing = landing_on(s3_endpoint, sse="AES256")
    landing.store.part_bytes = 5 * 1024 * 1024
    obj = landing.put_file("patients/.big.csv", source)
    head = s3_client(s3_endpoint).head_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/patients/.big.csv")
    assert head["ServerSideEncryption"] == "AES256" and obj.size == source.stat().st_size
    assert obj.version.endswith("-3")  # three parts: a multipart upload's ETag
    assert list(landing.list_objects("patients")) == [obj]
    assert landing.read_bytes(obj.key, obj.version) == source.read_bytes()


def test_cli_ingest_to_s3_needs_no_dagster(s3_endpoint, tmp_path):
    source = tmp_path / "a.csv"
    source.write_text("patient_id\np1\n")
    env = {**os.environ, **s3_env(s3_endpoint, HC_S3_SSE="AES256"), "PYTHONPROFILEIMPORTTIME": "1"}
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "hc-pipeline"), "ingest", "patients", str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"-> s3://{BUCKET}/{PREFIX}/landing/patients/a.csv" in out.stdout
    assert not [line for line in out.stderr.splitlines() if "| dagster" in line or "| pandera" in line]
    head = s3_client(s3_endpoint).head_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/patients/a.csv")
    assert head["ServerSideEncryption"] == "AES256"
