"""The Athena engine against moto on 127.0.0.1: request shape, paging, typed values, failures, timeouts, catalog."""

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pandas as pd
import pytest

from hc_pipeline.resources.athena import AthenaQueryError, AthenaQueryTimeout
from hc_pipeline.resources.query_engine import QueryStats
from hc_pipeline.stores.athena import poll_delays
from hc_pipeline_tests.test_aws.athena_fixtures import (
    DATABASE,
    OUTPUT,
    athena_client,
    athena_result,
    executed_sql,
    hold_queries,
    make_engine,
    preset_results,
)


def test_query_runs_sql_verbatim_in_database_workgroup_and_output_location(moto_athena):
    athena_client(moto_athena).create_work_group(Name="hc_wg", Configuration={})
    sql = (
        "SELECT element_at(services, 1) AS first FROM facilities_curated_records "
        "WHERE date_add('month', 6, d) > current_date"
    )

    make_engine(moto_athena, workgroup="hc_wg").query(sql)

    client = athena_client(moto_athena)
    [query_id] = client.list_query_executions()["QueryExecutionIds"]
    execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Query"] == sql
    assert execution["QueryExecutionContext"] == {"Database": DATABASE}
    assert execution["WorkGroup"] == "hc_wg"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(OUTPUT)


def test_without_output_location_the_workgroup_setting_applies(athena_proxy):
    make_engine(athena_proxy.endpoint, output_location=None).query("SELECT 1")

    [start] = athena_proxy.operations("StartQueryExecution")
    assert "ResultConfiguration" not in start


def test_results_page_through_2500_rows_in_order_with_one_header(athena_proxy):
    preset_results(
        athena_proxy.upstream.geturl(),
        athena_result([("n", "integer"), ("label", "varchar")], [[n, f"row {n}"] for n in range(2500)]),
    )

    frame = make_engine(athena_proxy.endpoint).query("SELECT n, label FROM numbers ORDER BY n")

    assert frame["n"].tolist() == list(range(2500))
    assert frame["label"].iloc[-1] == "row 2499"
    pages = athena_proxy.operations("GetQueryResults")
    assert [page.get("NextToken") for page in pages] == [None, "1000", "2000"]
    assert {page["MaxResults"] for page in pages} == {1000}


def test_every_athena_type_converts_and_blank_or_missing_values_are_null(moto_athena):
    columns = [
        ("flag", "boolean"),
        ("tiny", "tinyint"),
        ("small", "smallint"),
        ("whole", "integer"),
        ("big", "bigint"),
        ("dbl", "double"),
        ("flt", "float"),
        ("rl", "real"),
        ("dec", "decimal"),
        ("day", "date"),
        ("at", "timestamp"),
        ("text", "varchar"),
        ("code", "char"),
        ("arr", "array"),
        ("mp", "map"),
        ("rw", "row"),
        ("js", "json"),
    ]
    values = [
        "true",
        "-5",
        "300",
        "70000",
        "9007199254740993",
        "1.5",
        "2.25",
        "-0.5",
        "1234.56",
        "2024-02-29",
        "2024-02-29 13:45:01.123",
        'héllo, "world"',
        "AB",
        "[a, b]",
        "{k=1}",
        "{body=JC, id=1}",
        '{"a": 1}',
    ]
    preset_results(moto_athena, athena_result(columns, [values, [""] * len(values), [None] * len(values)]))

    frame = make_engine(moto_athena).query("SELECT * FROM everything")

    assert [str(t) for t in frame.dtypes] == [
        "boolean",
        "Int64",
        "Int64",
        "Int64",
        "Int64",
        "float64",
        "float64",
        "float64",
        "float64",
        "object",
        "datetime64[ns]",
        *["string"] * 6,
    ]
    first = frame.iloc[0].tolist()
    assert first == [
        True,
        -5,
        300,
        70000,
        9007199254740993,
        1.5,
        2.25,
        -0.5,
        1234.56,
        dt.date(2024, 2, 29),
        pd.Timestamp("2024-02-29 13:45:01.123"),
        'héllo, "world"',
        "AB",
        "[a, b]",
        "{k=1}",
        "{body=JC, id=1}",
        '{"a": 1}',
    ]
    assert frame.iloc[1:].isna().all().all()


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_failed_or_cancelled_query_raises_naming_id_state_and_reason(athena_proxy, state):
    reason = "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.hc.missing_table' does not exist"
    athena_proxy.finish("missing_table", state, reason)

    with pytest.raises(AthenaQueryError) as raised:
        make_engine(athena_proxy.endpoint).query("SELECT * FROM missing_table")

    [query_id] = athena_proxy.sql_by_id
    assert (raised.value.query_id, raised.value.state, raised.value.reason) == (query_id, state, reason)
    assert query_id in str(raised.value) and reason in str(raised.value) and "missing_table" in str(raised.value)
    assert not athena_proxy.operations("GetQueryResults")


def test_timeout_stops_the_query_and_raises_naming_id_and_timeout(moto_athena):
    hold_queries(moto_athena)

    with pytest.raises(AthenaQueryTimeout) as raised:
        make_engine(moto_athena, timeout_seconds=0.3).query("SELECT * FROM slow")

    client = athena_client(moto_athena)
    [query_id] = client.list_query_executions()["QueryExecutionIds"]
    assert query_id in str(raised.value) and "0.3 s" in str(raised.value)
    assert isinstance(raised.value, TimeoutError)
    assert client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_polls_back_off_exponentially_up_to_the_cap():
    assert list(itertools.islice(poll_delays(0.25, 5.0), 7)) == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_query_with_stats_reports_id_bytes_scanned_and_engine_time(athena_proxy):
    athena_proxy.finish(
        "FROM facilities_state_counts", "SUCCEEDED", DataScannedInBytes=123456, EngineExecutionTimeInMillis=789
    )
    engine = make_engine(athena_proxy.endpoint)

    frame, stats = engine.query_with_stats("SELECT * FROM facilities_state_counts")

    [query_id] = athena_proxy.sql_by_id
    assert frame.empty
    assert stats == QueryStats(query_id=query_id, data_scanned_bytes=123456, engine_ms=789)
    assert stats.to_metadata()["athena/data_scanned_bytes"] == 123456


def test_tables_lists_the_glue_tables_of_the_database(moto_athena):
    glue = boto3.client("glue", region_name="us-east-1", endpoint_url=moto_athena)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_database(DatabaseInput={"Name": "other"})
    for database, name in [(DATABASE, "patients_raw_records"), (DATABASE, "facilities_state_counts"), ("other", "x")]:
        glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "StorageDescriptor": {"Columns": [{"Name": "Id", "Type": "string"}], "Location": f"s3://lake/{name}/"},
            },
        )
    engine = make_engine(moto_athena)

    assert engine.tables() == ["facilities_state_counts", "patients_raw_records"]
    described = engine.catalog_table("facilities_state_counts")
    assert (described.columns, described.location) == ({"id": "string"}, "s3://lake/facilities_state_counts/")
    assert engine.catalog_table("missing") is None


def test_query_on_athena_from_the_command_line_imports_no_dagster(moto_athena, tmp_path):
    preset_results(moto_athena, athena_result([("n", "bigint"), ("rule", "varchar")], [["7", "age_out_of_range"]]))
    env = {
        **os.environ,
        "HC_HOME": str(tmp_path),
        "HC_QUERY_ENGINE": "athena",
        "HC_S3_BUCKET": "hc-lake",
        "HC_ATHENA_ENDPOINT_URL": moto_athena,
        "HC_ATHENA_DATABASE": DATABASE,
        "HC_ATHENA_OUTPUT": OUTPUT,
        "AWS_REGION": "us-east-1",
        "PYTHONPROFILEIMPORTTIME": "1",
    }
    sql = "SELECT count(*) AS n, rule FROM patients_anomaly_report GROUP BY rule"
    out = subprocess.run(
        [str(Path(sys.executable).parent / "hc-pipeline"), "query", sql, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == [{"n": 7, "rule": "age_out_of_range"}]
    assert executed_sql(moto_athena) == [sql]  # sent to Athena as written, in its own dialect
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    assert "hc_pipeline" in imported and imported.isdisjoint({"dagster", "dagster_aws", "pandera"})
