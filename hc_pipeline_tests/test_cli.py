"""The `hc-pipeline` command as a user runs it: generate, ingest, run, query; and the code location loads."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def hc(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HC_HOME": str(home)}
    return subprocess.run([str(BIN / "hc-pipeline"), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    home = tmp_path_factory.mktemp("hc_home")
    samples = tmp_path_factory.mktemp("samples")
    generated = hc(home, "generate", str(samples), "--patients", "1200", "--facilities", "120", "--seed", "3")
    assert generated.returncode == 0, generated.stderr
    files = sorted(str(p) for p in (samples / "patients").iterdir())
    ingested = hc(home, "ingest", "patients", *files)
    assert ingested.returncode == 0, ingested.stderr
    first = hc(home, "run")
    assert first.returncode == 0, first.stderr
    return home, samples, first


def test_ingest_puts_files_in_the_landing_zone(landed):
    home, samples, _ = landed
    assert sorted(p.name for p in (home / "landing" / "patients").iterdir()) == sorted(
        p.name for p in (samples / "patients").iterdir()
    )


def test_run_processes_each_landed_file_once(landed):
    home, _, first = landed
    assert "patients: processed 2 new file(s)" in first.stdout
    second = hc(home, "run")
    assert second.returncode == 0 and "patients: processed 0 new file(s)" in second.stdout


def test_query_prints_rule_counts_that_match_the_lake(landed):
    home, _, _ = landed
    out = hc(
        home,
        "query",
        "select rule, count(*) as n from patients_anomaly_report group by rule order by rule",
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    counts = {row["rule"]: row["n"] for row in json.loads(out.stdout)}
    assert counts["missing_age"] >= 1 and sum(counts.values()) > 20
    table = hc(home, "query", "select rule, count(*) from patients_anomaly_report group by rule order by rule")
    assert "missing_age" in table.stdout and str(counts["missing_age"]) in table.stdout


def test_query_names_the_problem_when_sql_is_wrong(landed):
    home, _, _ = landed
    out = hc(home, "query", "select * from no_such_table")
    assert out.returncode != 0 and "no_such_table" in out.stderr


def test_dagster_validates_the_code_location(tmp_path):
    env = {**os.environ, "HC_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[1],
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Validation successful" in out.stdout + out.stderr
