"""Exports on S3 (moto on 127.0.0.1): one PUT per file with the configured SSE, retention only inside exports/."""

import datetime as dt
import json
from urllib.parse import unquote, urlsplit

import pandas as pd

from hc_pipeline.resources.exports import ReportExports
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline_tests.test_aws.s3_fixtures import BUCKET, PREFIX, REGION, keys_under, s3_client


def test_retention_on_s3_keeps_n_writes_each_file_in_one_encrypted_put(s3_endpoint, fault_proxy):
    client = s3_client(s3_endpoint)
    landed = f"{PREFIX}/landing/facilities/20200101T000000000000Z.json"
    client.put_object(Bucket=BUCKET, Key=landed, Body=b"[]")
    storage = LakeStorage(
        root=f"s3://{BUCKET}/{PREFIX}", endpoint_url=fault_proxy.endpoint, sse="AES256", region_name=REGION
    )
    exports = ReportExports(storage=storage, keep=2)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for n in range(4):
        frame = pd.DataFrame({"state": ["OH", "TX"], "facility_count": [n, n + 1]})
        published = exports.publish("facilities", "state_counts", frame, now=start + dt.timedelta(hours=n))
    folder = "exports/facilities/state_counts"
    assert str(published.latest_csv) == f"s3://{BUCKET}/{PREFIX}/{folder}/latest.csv"
    assert keys_under(s3_endpoint, "exports") == [
        f"{folder}/20260301T020000000000Z.csv",
        f"{folder}/20260301T020000000000Z.json",
        f"{folder}/20260301T030000000000Z.csv",
        f"{folder}/20260301T030000000000Z.json",
        f"{folder}/latest.csv",
        f"{folder}/latest.json",
    ]
    assert keys_under(s3_endpoint, "landing") == ["landing/facilities/20200101T000000000000Z.json"]
    latest = client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{folder}/latest.json")
    assert json.loads(latest["Body"].read()) == [
        {"state": "OH", "facility_count": 3},
        {"state": "TX", "facility_count": 4},
    ]
    for key in keys_under(s3_endpoint, "exports"):
        assert client.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")["ServerSideEncryption"] == "AES256", key

    writes = [(m, unquote(p)) for m, p, _ in fault_proxy.requests if m in ("PUT", "POST", "DELETE")]
    puts = [p for m, p in writes if m == "PUT"]
    assert len(puts) == 4 * 4 and all("?" not in p for p in puts)  # one PutObject per file, no multipart
    # Retention: one DeleteObjects per refresh that had something to drop, nothing else deleted.
    assert [(m, urlsplit(p).query) for m, p in writes if m != "PUT"] == [("POST", "delete")] * 2
