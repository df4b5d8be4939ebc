"""The `hc-pipeline` command as a user runs it: generate, ingest, run, query; and the code location loads."""

import csv
import io
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


def test_run_prints_nothing_on_stderr_on_success(landed):
    # Warnings, duckdb's "nanobind: leaked ..." lines at exit or a stray log read as a crash to a user.
    _home, _samples, first = landed
    assert "processed" in first.stdout and first.stderr == "", first.stderr[-2000:]


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


def test_run_shows_each_file_with_its_rows_and_rate_as_plain_lines(landed):
    home, samples, first = landed
    lines = [line for line in first.stdout.splitlines() if line.startswith("patients: file ")]
    names = sorted(p.name for p in (samples / "patients").iterdir())
    assert [line.split(": ")[2] for line in lines] == [f"patients/{name}" for name in names]
    assert [line.split(": ")[1] for line in lines] == ["file 1 of 2", "file 2 of 2"]
    raw = hc(home, "query", "SELECT count(*) AS n FROM patients_raw_records", "--format", "json")
    rows = sum(int(line.split(": ")[3].split(" rows")[0].replace(",", "")) for line in lines)
    assert rows == json.loads(raw.stdout)[0]["n"]
    assert all("rows/s), done" in line for line in lines) and "\x1b" not in first.stdout  # not a terminal


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


def test_review_export_apply_and_run_from_the_command_line(landed, tmp_path):
    home, _, _ = landed
    out = tmp_path / "open.csv"
    exported = hc(home, "review", "export", "patients", str(out))
    assert exported.returncode == 0, exported.stderr
    lines = out.read_text().splitlines()
    quarantined = hc(home, "query", "select count(*) as n from patients_quarantined_records", "--format", "json")
    assert len(lines) - 1 == json.loads(quarantined.stdout)[0]["n"] > 0
    assert lines[0].startswith("exception_id,source_file,source_row,reasons,decision,note,")
    assert f"{len(lines) - 1} open patients exception(s)" in exported.stdout

    header, first = next(csv.reader(io.StringIO(lines[0]))), next(csv.reader(io.StringIO(lines[1])))
    first[header.index("decision")] = "maybe"
    write_rows(tmp_path / "bad.csv", header, first)
    refused = hc(home, "review", "apply", "patients", str(tmp_path / "bad.csv"), "--reviewer", "dana")
    assert refused.returncode == 2 and "line 2: decision 'maybe': is not one of" in refused.stderr

    first[header.index("decision")], first[header.index("note")] = "reject", "test row"
    write_rows(tmp_path / "good.csv", header, first)
    applied = hc(home, "review", "apply", "patients", str(tmp_path / "good.csv"), "--reviewer", "dana")
    assert applied.returncode == 0 and "landed _decisions/patients/" in applied.stdout, applied.stderr
    ran = hc(home, "run")
    assert ran.returncode == 0 and "patients: applied 1 decisions file(s), re-curated 1 file(s)" in ran.stdout
    status = hc(
        home, "query", "select status, count(*) as n from patients_exceptions group by status", "--format", "json"
    )
    counts = {row["status"]: row["n"] for row in json.loads(status.stdout)}
    assert counts["rejected"] == 1 and counts["open"] == len(lines) - 2


def write_rows(path: Path, *rows: list[str]) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


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
