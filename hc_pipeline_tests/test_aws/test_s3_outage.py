"""S3 going away: `hc-pipeline run` ends with one line, and the next runs finish every file exactly once."""

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hc_pipeline.batches import DONE, batch_objects, file_tag
from hc_pipeline.stores.duckdb_lake import DuckDBLake
from hc_pipeline.stores.environment import fsspec_options
from hc_pipeline.stores.outage import outage_of
from hc_pipeline_tests.test_aws.s3_fixtures import BUCKET, PREFIX, s3_client, s3_env
from hc_pipeline_tests.test_aws.tcp_forwarder import TcpForwarder

BIN = Path(sys.executable).parent
FILES = 6  # enough for files before, during and after the outage; each file is a run (~3 s on S3)
HEADER = "patient_id,age,gender,admission_date,discharge_date,diagnosis,diagnosis_code"


def hc_run(home: Path, env: dict[str, str]) -> subprocess.Popen:
    """`hc-pipeline run` on the bucket described by `env` (no other HC_* variable), with HC_HOME `home`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HC_")}
    return subprocess.Popen(
        [str(BIN / "hc-pipeline"), "run", "--as-of", "2025-06-30"],
        env={**base, **env, "HC_HOME": str(home), "TMPDIR": str(home.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen, timeout: float = 900) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_missing_bucket_is_one_line_naming_it(s3_endpoint, tmp_path):
    code, _, err = finished(hc_run(tmp_path / "home", s3_env(s3_endpoint, HC_S3_BUCKET="no-such-bucket")))
    assert code == 4 and "Traceback" not in err
    assert err.splitlines() == [
        f"hc-pipeline run: s3://no-such-bucket/{PREFIX} at {s3_endpoint}: the bucket does not exist; "
        "create it or correct HC_S3_BUCKET; files not yet processed stay pending"
    ]


def test_an_endpoint_that_refuses_connections_is_one_line_naming_it(moto_server, tmp_path):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    code, _, err = finished(hc_run(tmp_path / "home", s3_env(endpoint)))
    assert code == 4 and "Traceback" not in err
    assert err.splitlines() == [
        f"hc-pipeline run: s3://{BUCKET}/{PREFIX} at {endpoint}: cannot reach the S3 endpoint; "
        "check HC_S3_ENDPOINT_URL and the network, then run again; files not yet processed stay pending"
    ]


def patients_csv(index: int) -> bytes:
    """File `index` has index + 2 rows; its first row's age is impossible (quarantined), the others are curated."""
    rows = [HEADER]
    for row in range(index + 2):
        age = 250 if row == 0 else 30 + row
        rows.append(f"P{index:03d}{row:03d},{age},F,2025-01-{row % 9 + 1:02d},2025-01-{row % 9 + 12:02d},Flu,J10.1")
    return ("\n".join(rows) + "\n").encode()


def lake_keys(endpoint: str, table: str) -> list[str]:
    pages = (
        s3_client(endpoint)
        .get_paginator("list_objects_v2")
        .paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/lake/patients/{table}/")
    )
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def rows_by_file(endpoint: str, table: str) -> dict[str, int]:
    """Rows of a lake table per source_file, read from the bucket (the moto endpoint itself)."""
    client, counts = s3_client(endpoint), Counter()
    for key in lake_keys(endpoint, table):
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        counts.update(pq.read_table(pa.BufferReader(body), columns=["source_file"]).column("source_file").to_pylist())
    return dict(counts)


def instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home / "dagster"))


def successful_runs(home: Path) -> list[str]:
    """The landed key of every file a run processed: a run of its own that succeeded, or done in a batch run."""
    runs = instance(home).get_runs()
    alone = [r.tags["hc/object_key"] for r in runs if "hc/object_key" in r.tags and r.is_success]
    return alone + [o.key for r in runs for o in batch_objects(r) if r.tags.get(file_tag(o)) == DONE]


def test_an_endpoint_outage_mid_run_ends_it_and_the_next_runs_finish_every_file_once(s3_endpoint, tmp_path):
    client = s3_client(s3_endpoint)
    for index in range(FILES):
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/landing/patients/f{index:02d}.csv", Body=patients_csv(index))
    upstream = urlsplit(s3_endpoint)
    forwarder = TcpForwarder((upstream.hostname, upstream.port))
    home, env = tmp_path / "home", s3_env(forwarder.endpoint)
    try:
        run = hc_run(home, env)
        deadline = time.monotonic() + 600  # a hang guard; the machine may be loaded
        while len(lake_keys(s3_endpoint, "curated_records")) < 2 and run.poll() is None:
            assert time.monotonic() < deadline, "the first files were not curated in time"
            time.sleep(0.2)
        forwarder.stop()
        code, out, err = finished(run)
        assert run.poll() is not None
        assert code == 4 and "Traceback" not in err, err
        assert err.splitlines() == [
            f"hc-pipeline run: s3://{BUCKET}/{PREFIX} at {forwarder.endpoint}: cannot reach the S3 endpoint; "
            "check HC_S3_ENDPOINT_URL and the network, then run again; files not yet processed stay pending"
        ]
        done_before = len(successful_runs(home))
        assert 1 <= done_before < FILES  # the second file's run may be the one cut off

        forwarder.start()
        code, out, err = finished(hc_run(home, env))
        assert (code, err) == (0, ""), err
        assert f"patients: processed {FILES - done_before} new file(s)" in out
        code, out, err = finished(hc_run(home, env))
        assert (code, err) == (0, "") and "patients: processed 0 new file(s)" in out
    finally:
        forwarder.stop()

    names = [f"patients/f{index:02d}.csv" for index in range(FILES)]
    curated = rows_by_file(s3_endpoint, "curated_records")
    quarantined = rows_by_file(s3_endpoint, "quarantined_records")
    raw = rows_by_file(s3_endpoint, "raw_records")
    assert curated == {name: index + 1 for index, name in enumerate(names)}  # what a clean run curates
    assert quarantined == dict.fromkeys(names, 1)
    assert raw == {name: curated[name] + quarantined[name] for name in names}  # conservation

    assert sorted(successful_runs(home)) == names  # each version once, none twice
    runs = instance(home).get_runs()
    assert all(r.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE) for r in runs)  # none STARTED
    [failed] = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]  # the run in flight when S3 went
    reason = failed.tags["hc/failure_reason"]
    assert str(forwarder.port) in reason and "max_retries" not in reason  # the connection error itself


def test_a_lake_query_cut_off_from_s3_ends_as_unreachable(s3_endpoint):
    client = s3_client(s3_endpoint)
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"n": [1, 2, 3]}), buffer)
    client.put_object(
        Bucket=BUCKET, Key=f"{PREFIX}/lake/patients/curated_records/p.parquet", Body=buffer.getvalue().to_pybytes()
    )
    upstream = urlsplit(s3_endpoint)
    forwarder = TcpForwarder((upstream.hostname, upstream.port))
    root = f"s3://{BUCKET}/{PREFIX}"
    filesystem = fsspec.filesystem("s3", **fsspec_options(root, forwarder.endpoint, None, "us-east-1"))
    lake = DuckDBLake(f"{root}/lake", filesystem)
    try:
        with lake.connect() as con:
            assert con.execute("SELECT sum(n) FROM patients_curated_records").fetchall() == [(6,)]
            forwarder.stop()
            with pytest.raises(Exception) as raised:  # DuckDB's own error class, carrying botocore's
                con.execute("SELECT sum(n) FROM patients_curated_records").fetchall()
    finally:
        forwarder.stop()
    assert outage_of(raised.value).kind == "unreachable"


def test_every_command_names_a_missing_bucket_in_one_line(s3_endpoint, tmp_path):
    sample = tmp_path / "a.csv"
    sample.write_text("patient_id,age\nP1,40\n")
    env = {**os.environ, **s3_env(s3_endpoint, HC_S3_BUCKET="no-such-bucket"), "HC_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [str(BIN / "hc-pipeline"), "ingest", "patients", str(sample)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 4 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"hc-pipeline ingest: s3://no-such-bucket/{PREFIX} at {s3_endpoint}: the bucket does not exist; "
        "create it or correct HC_S3_BUCKET"
    ]
