"""The whole pipeline on S3 (moto on 127.0.0.1) gives the same tables as locally from the same files."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dagster as dg
import pandas as pd
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.generate.writer import generate
from hc_pipeline.runner import run_pending
from hc_pipeline_tests.conftest import RUN_DATE
from hc_pipeline_tests.test_aws.s3_fixtures import (
    BUCKET,
    PREFIX,
    FaultProxy,
    empty_bucket,
    keys_under,
    s3_client,
    s3_env,
)
from hc_pipeline_tests.test_exports.export_checks import REPORTS, assert_export_matches_table

BIN = Path(sys.executable).parent
# landed_at is the landing time (file mtime locally, LastModified on S3); it orders files, it is not data.
DIFFERS_BY_STORE = {"landed_at"}
ZONES = ("landing", "lake", "quarantine", "insights", "manifests", "exports")
UNREADABLE = ("patients/scan [1].csv", b"\x89PNG\r\n\x1a\n\x00\x00binary")


def hc(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`hc-pipeline ...` with only the given HC_* variables (plus the AWS test credentials)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HC_")}
    return subprocess.run(
        [str(BIN / "hc-pipeline"), *args], env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def both(moto_server, tmp_path_factory):
    """The same generated files processed locally and on S3 (with SSE), with each deployment's resources."""
    samples = tmp_path_factory.mktemp("samples")
    generate(samples, patients=2_000, facilities=120, defect_rate=0.05, seed=5, run_date=RUN_DATE)
    files = {domain: sorted(str(p) for p in (samples / domain).iterdir()) for domain in ("patients", "facilities")}
    (samples / "scan [1].csv").write_bytes(UNREADABLE[1])
    files["patients"].append(str(samples / "scan [1].csv"))

    empty_bucket(moto_server)
    proxy = FaultProxy(moto_server)  # records every request the S3 deployment makes
    env = s3_env(proxy.endpoint, HC_S3_SSE="AES256")
    workdir = tmp_path_factory.mktemp("cwd")
    ingested = hc(env, workdir, "ingest", "patients", *files["patients"])  # the command uploads to S3
    assert ingested.returncode == 0 and f"-> s3://{BUCKET}/{PREFIX}/landing/patients/" in ingested.stdout, ingested
    home = tmp_path_factory.mktemp("hc_home")
    local, s3 = build_resources({"HC_HOME": str(home)}), build_resources(env)
    for domain, paths in files.items():
        for path in paths:
            for resources in (local, s3) if domain == "facilities" else (local,):
                resources["landing"].put(f"{domain}/{Path(path).name}", Path(path).read_bytes())

    results = {}
    for name, resources in (("local", local), ("s3", s3)):
        with dg.instance_for_test() as instance:
            summary = run_pending(make_definitions(resources), instance, RUN_DATE)
        assert not summary.failed
        assert [s.split(" (")[0] for s in summary.stopped_by_checks] == [UNREADABLE[0]]
        results[name] = {"resources": resources, "summary": summary}
    yield {
        **results,
        "home": home,
        "env": env,
        "endpoint": moto_server,
        "workdir": workdir,
        "files": files,
        "proxy": proxy,
    }
    proxy.close()


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order (by every column's text), without the columns that differ by store."""
    frame = frame.drop(columns=[c for c in frame.columns if c in DIFFERS_BY_STORE])
    order = frame.astype(str).sort_values(list(frame.columns), kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def test_both_deployments_processed_the_same_files(both):
    assert both["local"]["summary"].processed == both["s3"]["summary"].processed
    assert both["s3"]["summary"].reports_refreshed


def test_every_domain_asset_table_is_equal_on_s3_and_locally(both):
    local, s3 = both["local"]["resources"]["query_engine"], both["s3"]["resources"]["query_engine"]
    tables = local.tables()
    assert s3.tables() == tables
    assert {
        "patients_curated_records",
        "patients_anomaly_report",
        "facilities_curated_records",
        "facilities_state_counts",
        "facilities_expiring_accreditations",
        "facilities_facility_metrics",
    } <= set(tables)
    with local.connect() as local_con, s3.connect() as s3_con:
        for table in tables:
            expected, actual = (con.execute(f"SELECT * FROM {table}").df() for con in (local_con, s3_con))
            assert len(actual) == len(expected), table
            pd.testing.assert_frame_equal(canonical(actual), canonical(expected), obj=table)


def test_source_file_is_the_landed_key_in_both(both):
    landed = {f"{domain}/{Path(p).name}" for domain, paths in both["files"].items() for p in paths}
    for name in ("local", "s3"):
        with both[name]["resources"]["query_engine"].connect() as con:
            for table in ("patients_raw_records", "patients_curated_records", "facilities_curated_records"):
                found = set(con.execute(f"SELECT DISTINCT source_file FROM {table}").df()["source_file"])
                assert found and found <= landed, (name, table)


def test_quarantine_insights_and_manifests_have_the_same_keys(both):
    home = both["home"]
    for zone in ("quarantine", "insights", "manifests"):
        local = sorted(p.relative_to(home).as_posix() for p in (home / zone).rglob("*") if p.is_file())
        assert keys_under(both["endpoint"], zone) == local, zone
    assert any(k.endswith("/scan [1].csv.reason.json") for k in keys_under(both["endpoint"], "quarantine"))
    # The HTML quality reports are written through LakeStorage too.
    assert {"insights/patients/index.html", "insights/facilities/index.html"} <= set(
        keys_under(both["endpoint"], "insights")
    )


def test_every_object_the_s3_pipeline_wrote_carries_the_configured_sse(both):
    client = s3_client(both["endpoint"])
    written = [key for zone in ZONES for key in keys_under(both["endpoint"], zone)]
    assert {key.split("/")[0] for key in written} == set(ZONES)
    assert client.list_objects_v2(Bucket=BUCKET)["KeyCount"] == len(written)  # nothing outside the zones
    unencrypted = [
        key
        for key in written
        if client.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}").get("ServerSideEncryption") != "AES256"
    ]
    assert unencrypted == []


def test_every_request_stays_under_the_prefix_as_the_iam_policy_requires(both):
    outside = []
    for method, path, _ in both["proxy"].requests:
        parts = urlsplit(path)
        listed = parse_qs(parts.query).get("prefix", [None])[0]
        inside = (
            (listed or "").startswith(f"{PREFIX}/")
            if parts.path == f"/{BUCKET}"
            else (unquote(parts.path).startswith(f"/{BUCKET}/{PREFIX}/"))
        )
        if not inside:
            outside.append((method, path))
    assert both["proxy"].requests and outside == []  # e.g. no HeadBucket, no CreateBucket, no unscoped listing


def test_query_command_reads_the_s3_lake_with_only_hc_s3_variables(both):
    sql = "SELECT rule, count(*) AS n FROM patients_anomaly_report GROUP BY rule ORDER BY rule"
    out = hc(both["env"], both["workdir"], "query", sql, "--format", "json")
    assert out.returncode == 0, out.stderr
    expected = both["local"]["resources"]["query_engine"].query(sql)
    assert {r["rule"]: r["n"] for r in json.loads(out.stdout)} == dict(zip(expected["rule"], expected["n"]))
    assert not (both["workdir"] / ".hc_home").exists()


def test_s3_exports_equal_the_s3_sql_tables_and_are_encrypted(both):
    client, engine = s3_client(both["endpoint"]), both["s3"]["resources"]["query_engine"]
    exported = keys_under(both["endpoint"], "exports")
    # One connection for every report: each new one binds a view per lake table, seconds apiece on S3.
    with engine.connect() as con:
        tables = {
            (domain, report): con.execute(f"SELECT * FROM {domain}_{report}").df()
            for domain, reports in REPORTS.items()
            for report in reports
        }
    for domain, reports in REPORTS.items():
        for report in reports:
            names = sorted(k.rsplit("/", 1)[-1] for k in exported if k.startswith(f"exports/{domain}/{report}/"))
            assert len(names) == 4 and names[2:] == ["latest.csv", "latest.json"], (report, names)
            table = tables[domain, report]
            for csv_name, json_name in (names[:2], names[2:]):
                body = {
                    name: client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/exports/{domain}/{report}/{name}")
                    for name in (csv_name, json_name)
                }
                assert {b["ServerSideEncryption"] for b in body.values()} == {"AES256"}
                assert_export_matches_table(
                    body[csv_name]["Body"].read(), body[json_name]["Body"].read(), table, f"{report}/{csv_name}"
                )
    assert not [k for k in exported if "readmissions/" in k or "curated_records" in k]
