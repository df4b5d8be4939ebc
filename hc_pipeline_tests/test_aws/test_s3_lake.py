"""The lake, quarantine and DuckDB on S3: exact keys, round trips, SSE (on every zone: test_s3_pipeline)."""

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow

from hc_pipeline.deployment import build_resources
from hc_pipeline.io_managers.parquet import LakeParquetIOManager
from hc_pipeline.partitions import files_partitions
from hc_pipeline_tests.test_aws.s3_fixtures import (
    BUCKET,
    PREFIX,
    keys_under,
    s3_client,
    s3_env,
)


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.array(["P1", None], dtype="string[pyarrow]"),
            "age": pd.array([40, None], dtype="Int64"),
            "admission_date": pd.Series([dt.date(2024, 2, 29), None], dtype=pd.ArrowDtype(pyarrow.date32())),
            "warnings": pd.Series([["missing_age"], []], dtype=pd.ArrowDtype(pyarrow.list_(pyarrow.string()))),
        }
    )


def test_parquet_io_manager_writes_the_partition_at_its_s3_key_and_reads_it_back(s3_endpoint):
    storage = build_resources(s3_env(s3_endpoint, HC_S3_SSE="AES256"))["storage"]
    frame = sample_frame()

    @dg.asset(key=["patients", "curated_records"], partitions_def=files_partitions["patients"])
    def curated() -> pd.DataFrame:
        return frame

    @dg.asset(
        key=["patients", "echo"],
        partitions_def=files_partitions["patients"],
        ins={"curated": dg.AssetIn(key=["patients", "curated_records"])},
    )
    def echo(curated: pd.DataFrame) -> None:
        pd.testing.assert_frame_equal(curated, frame)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("patients_files", ["a.csv@12345678"])
        result = dg.materialize(
            [curated, echo],
            partition_key="a.csv@12345678",
            instance=instance,
            resources={"io_manager": LakeParquetIOManager(storage=storage)},
        )
    assert result.success
    key = f"{PREFIX}/lake/patients/curated_records/a.csv@12345678.parquet"
    head = s3_client(s3_endpoint).head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    assert keys_under(s3_endpoint, "lake") == ["lake/patients/curated_records/a.csv@12345678.parquet"]


def test_quarantine_copy_is_the_whole_file_with_its_reason(s3_resources, s3_endpoint):
    storage = s3_resources["storage"]
    copy = storage.quarantine_file(
        "patients",
        "bad.csv@0a1b2c3d",
        "bad [1].csv",
        io.BytesIO(b"\x00\x01binary"),
        {"file": "patients/bad [1].csv", "reason": "binary content"},
    )
    assert str(copy) == f"s3://{BUCKET}/{PREFIX}/quarantine/patients/bad.csv@0a1b2c3d/bad [1].csv"
    client, folder = s3_client(s3_endpoint), f"{PREFIX}/quarantine/patients/bad.csv@0a1b2c3d"
    assert client.get_object(Bucket=BUCKET, Key=f"{folder}/bad [1].csv")["Body"].read() == b"\x00\x01binary"
    reason = client.get_object(Bucket=BUCKET, Key=f"{folder}/bad [1].csv.reason.json")["Body"].read()
    assert json.loads(reason)["reason"] == "binary content"


def test_duckdb_lists_and_queries_lake_tables_on_s3(s3_resources):
    storage, engine = s3_resources["storage"], s3_resources["query_engine"]
    assert engine.tables() == []
    for name, ages in (("a.csv@1", [40, 50]), ("b.csv@2", [60])):
        frame = pd.DataFrame({"patient_id": [f"{name}-{i}" for i in range(len(ages))], "age": ages})
        storage.write_bytes(storage.path("lake", "patients", "curated_records", f"{name}.parquet"), frame.to_parquet())
    storage.write_bytes(
        storage.path("lake", "facilities", "state_counts", "data.parquet"),
        pd.DataFrame({"state": ["TX"], "facility_count": [3]}).to_parquet(),
    )
    storage.write_json(storage.path("lake", "patients", "notes", "readme.json"), {"not": "a table"})
    assert engine.tables() == ["facilities_state_counts", "patients_curated_records"]
    counts = engine.query("SELECT count(*) AS n, sum(age) AS total FROM patients_curated_records")
    assert counts.to_dict("records") == [{"n": 3, "total": 150}]
    assert engine.query("SELECT state FROM facilities_state_counts")["state"].tolist() == ["TX"]


def test_cli_query_on_s3_reads_the_lake_and_nothing_else(s3_endpoint):
    client = s3_client(s3_endpoint)
    client.put_object(
        Bucket=BUCKET,
        Key=f"{PREFIX}/lake/patients/curated_records/a.parquet",
        Body=pd.DataFrame({"age": [40, 50]}).to_parquet(),
    )
    client.put_object(Bucket=BUCKET, Key="outside/x.parquet", Body=pd.DataFrame({"a": [1]}).to_parquet())
    env = {**os.environ, **s3_env(s3_endpoint)}
    hc = str(Path(sys.executable).parent / "hc-pipeline")

    def query(sql: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [hc, "query", sql, "--format", "csv"], env=env, capture_output=True, text=True, timeout=120
        )

    total = query("select sum(age) as total from patients_curated_records")
    assert (total.returncode, total.stdout, total.stderr) == (0, "total\n90\n", "")
    outside = query(f"select * from read_parquet('s3://{BUCKET}/outside/x.parquet')")
    assert outside.returncode == 2 and "refused: only the lake's tables can be read" in outside.stderr
    copy = query(f"copy (select 1) to 's3://{BUCKET}/{PREFIX}/lake/patients/curated_records/b.parquet'")
    assert copy.returncode == 2 and "only SELECT is allowed" in copy.stderr
    assert keys_under(s3_endpoint, "lake") == ["lake/patients/curated_records/a.parquet"]
