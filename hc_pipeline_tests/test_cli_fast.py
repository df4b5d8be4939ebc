"""The fast commands: `ingest`, `query` and `--help` start without Dagster or pandera; `ingest` checks first."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

BIN = Path(sys.executable).parent
HEAVY = ("dagster", "dagster_aws", "dagster_pandas", "pandera")


def hc(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HC_HOME": str(home), **env}
    return subprocess.run(
        [str(BIN / "hc-pipeline"), *args], env=environment, capture_output=True, text=True, timeout=300
    )


def imported_packages(importtime_stderr: str) -> set[str]:
    """Top-level packages named in `python -X importtime` output."""
    lines = [line for line in importtime_stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines[1:]}


@pytest.mark.parametrize(
    "args",
    [["--help"], ["ingest", "--help"], ["query", "select 1"], ["ingest", "patients", "FILE"]],
    ids=["help", "ingest-help", "query", "ingest"],
)
def test_fast_commands_import_neither_dagster_nor_pandera(tmp_path, args):
    sample = tmp_path / "a.csv"
    sample.write_text("patient_id,age\np1,40\n")
    args = [str(sample) if arg == "FILE" else arg for arg in args]
    out = hc(tmp_path / "home", *args, PYTHONPROFILEIMPORTTIME="1")
    assert out.returncode == 0, out.stderr[-2000:]
    packages = imported_packages(out.stderr)
    assert "hc_pipeline" in packages  # the output really is the command's import trace
    assert packages.isdisjoint(HEAVY), sorted(packages & set(HEAVY))


def test_ingest_refuses_every_bad_argument_in_one_line_each_and_lands_nothing(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("patient_id\np1\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "gone.csv")
    missing = tmp_path / "missing.csv"
    out = hc(tmp_path / "home", "ingest", "patients", str(good), str(folder), str(dangling), str(missing))
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert lines == [
        f"hc-pipeline ingest: {folder}: a folder, not a file (name its files, e.g. {folder}/*)",
        f"hc-pipeline ingest: {dangling}: a symlink to {tmp_path / 'gone.csv'}, which does not exist",
        f"hc-pipeline ingest: {missing}: no such file",
        "hc-pipeline ingest: nothing landed",
    ]
    assert not (tmp_path / "home" / "landing").exists()


def test_ingest_refuses_two_files_that_would_land_under_one_key(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.csv").write_text("patient_id\np1\n")
    out = hc(tmp_path / "home", "ingest", "patients", str(tmp_path / "a/x.csv"), str(tmp_path / "b/x.csv"))
    assert out.returncode == 2 and "both would land as patients/x.csv" in out.stderr
    assert not (tmp_path / "home" / "landing").exists()


def test_ingest_lands_dot_files_and_long_names_with_their_md5_version(tmp_path):
    names = [".hidden.csv", "..dots..csv", "n" * 236 + ".csv"]
    for name in names:
        (tmp_path / name).write_text(f"patient_id\n{name[:5]}\n")
    out = hc(tmp_path / "home", "ingest", "patients", *(str(tmp_path / n) for n in names))
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert sorted(p.name for p in (tmp_path / "home" / "landing" / "patients").iterdir()) == sorted(names)
    assert not any((tmp_path / "home" / "tmp").iterdir())


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory) -> Path:
    """An HC_HOME with one small lake table, written directly."""
    home = tmp_path_factory.mktemp("hc_home")
    folder = home / "lake" / "patients" / "curated_records"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"patient_id": ["p1", "p2"], "age": [40, 51]}), folder / "f1.parquet")
    (home / "landing" / "patients").mkdir(parents=True)
    return home


def files_under(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_size for p in home.rglob("*")}


def test_query_reads_the_lake_tables_in_every_format_and_prints_nothing_on_stderr(lake_home):
    table = hc(lake_home, "query", "select patient_id, age from patients_curated_records order by age")
    assert table.returncode == 0 and table.stderr == ""
    assert table.stdout.splitlines() == ["patient_id age", "        p1  40", "        p2  51"]
    csv = hc(lake_home, "query", "select count(*) as n from patients_curated_records", "--format", "csv")
    assert csv.stdout == "n\n2\n" and csv.stderr == ""
    records = hc(lake_home, "query", "with t as (select 1 as a union all select 2) select a from t", "--format", "json")
    assert records.returncode == 0 and [row["a"] for row in json.loads(records.stdout)] == [1, 2]


@pytest.mark.parametrize(
    "sql, says",
    [
        ("COPY (select 1) TO '{lake}/patients/curated_records/x.parquet'", "only SELECT is allowed"),
        ("COPY (select 1) TO '{home}/landing/patients/x.csv'", "only SELECT is allowed"),
        ("select * from read_csv('/etc/passwd')", "only the lake's tables can be read"),
        ("select * from read_text('{home}/landing/patients/../../../etc/hostname')", "only the lake's tables"),
        ("select 1; select 2", "expected one SELECT statement, got 2"),
        ("CREATE TABLE t AS SELECT 1", "only SELECT is allowed"),
        ("ATTACH '{home}/x.duckdb' AS x", "only SELECT is allowed"),
        ("SET enable_external_access = true", "only SELECT is allowed"),
        ("select 1 into t", "only SELECT is allowed"),
    ],
    ids=["copy-lake", "copy-landing", "read-csv", "read-text", "two", "create", "attach", "set", "into"],
)
def test_query_refuses_anything_but_one_select_on_the_lake_and_writes_nothing(lake_home, sql, says):
    before = files_under(lake_home)
    out = hc(lake_home, "query", sql.format(lake=lake_home / "lake", home=lake_home))
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and says in out.stderr, out.stderr
    assert out.stderr.startswith("hc-pipeline query: refused: ")
    assert files_under(lake_home) == before


def test_query_names_the_unknown_table_and_lists_the_tables(lake_home):
    out = hc(lake_home, "query", "select * from no_such_table")
    assert out.returncode == 2 and "no_such_table" in out.stderr and "patients_curated_records" in out.stderr
