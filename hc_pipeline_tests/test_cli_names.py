"""Any name a bucket accepts goes end to end: dot-files and 240-character names land, run, quarantine; stderr stays clean."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
LONG = "l" * 236 + ".csv"
UNREADABLE_LONG = "u" * 236 + ".csv"
CSV = "patient_id,age,gender,admission_date,discharge_date,diagnosis\nP{n},40,F,2024-01-02,2024-01-05,Asthma\n"


def hc(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HC_HOME": str(home)}
    return subprocess.run([str(BIN / "hc-pipeline"), *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    home, files = tmp_path_factory.mktemp("hc_home"), tmp_path_factory.mktemp("files")
    for n, name in enumerate((".hidden.csv", "..dots..csv", LONG)):
        (files / name).write_text(CSV.format(n=n))
    (files / UNREADABLE_LONG).write_bytes(b"\x00\xff\x00binary\x00" * 10)
    ingested = hc(home, "ingest", "patients", *(str(p) for p in sorted(files.iterdir())))
    assert ingested.returncode == 0, ingested.stderr
    return home, hc(home, "run", "--as-of", "2025-06-30")


def test_run_processes_dot_files_and_long_names_and_prints_nothing_on_stderr(ran):
    _, run = ran
    assert run.returncode == 0 and run.stderr == "", run.stderr[-3000:]
    assert "patients: processed 4 new file(s)" in run.stdout


def test_their_rows_are_in_the_tables_under_the_names_as_landed(ran):
    home, _ = ran
    out = hc(home, "query", "select distinct source_file from patients_curated_records", "--format", "json")
    assert out.returncode == 0 and out.stderr == ""
    found = {row["source_file"] for row in json.loads(out.stdout)}
    assert found == {"patients/.hidden.csv", "patients/..dots..csv", f"patients/{LONG}"}


def test_an_unreadable_file_with_a_240_character_name_is_quarantined_whole(ran):
    home, _ = ran
    copies = [p for p in (home / "quarantine" / "patients").rglob("*") if p.is_file()]
    data = [p for p in copies if not p.name.endswith(".reason.json")]
    assert len(data) == 1 and data[0].read_bytes() == b"\x00\xff\x00binary\x00" * 10
    assert len(data[0].name.encode()) <= 200 and data[0].name.startswith("u" * 100)
    reason = json.loads((data[0].parent / f"{data[0].name}.reason.json").read_text())
    assert reason["file"] == f"patients/{UNREADABLE_LONG}"


def test_no_temp_file_is_left_anywhere(ran):
    home, _ = ran
    assert [p for p in home.rglob("*.partial")] == []
