"""`hc-pipeline run` killed (SIGKILL) or stopped (SIGTERM) mid-file, then run again: the same tables as a clean run."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from hc_pipeline_tests.test_exactly_once.conftest import env_for, hc, ingest_all, open_instance, processed_by

AS_OF = ("--as-of", "2025-06-30")
COUNTS = """SELECT r.source_file, r.n AS raw, coalesce(c.n, 0) AS curated, coalesce(q.n, 0) AS quarantined
FROM (SELECT source_file, count(*) n FROM patients_raw_records GROUP BY 1) r
LEFT JOIN (SELECT source_file, count(*) n FROM patients_curated_records GROUP BY 1) c USING (source_file)
LEFT JOIN (SELECT source_file, count(*) n FROM patients_quarantined_records GROUP BY 1) q USING (source_file)
ORDER BY 1"""


REPORTS = ("length_of_stay", "demographics", "diagnosis_patterns")


def _query(home: Path, sql: str) -> list[dict]:
    out = hc(home, "query", sql, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _counts(home: Path) -> list[dict]:
    return _query(home, COUNTS)


def _reports(home: Path) -> dict[str, list[dict]]:
    """The patients reports' rows (readmissions by count: one row per stay)."""
    found = {
        name: sorted(_query(home, f"SELECT * FROM patients_{name}"), key=lambda row: json.dumps(row, sort_keys=True))
        for name in REPORTS
    }
    found["readmissions"] = _query(home, "SELECT count(*) AS n FROM patients_readmissions")
    return found


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Generated files large enough to stop a run mid-file, and the counts of a clean run over them."""
    samples = tmp_path_factory.mktemp("big")
    generated = hc(tmp_path_factory.mktemp("gen"), "generate", str(samples), "--patients", "12000", "--seed", "9")
    assert generated.returncode == 0, generated.stderr
    clean = tmp_path_factory.mktemp("clean") / "home"
    ingest_all(clean, samples)
    assert hc(clean, "run", *AS_OF).returncode == 0
    return samples, _counts(clean), _reports(clean)


def _written_since(folder: Path, pattern: str, since: float) -> int:
    """Files under `folder` matching `pattern` written after `since`."""
    return sum(1 for p in folder.glob(pattern) if p.stat().st_mtime > since) if folder.is_dir() else 0


def _signal_mid_file(home: Path, signo: int, ready=None) -> subprocess.CompletedProcess:
    """Start `run`, send `signo` once `ready(start time)` holds (default: a raw records file written, curation under
    way)."""
    raw = home / "lake" / "patients" / "raw_records"
    ready = ready or (lambda since: _written_since(raw, "*.parquet", since) > 0)
    since = time.time() - 0.01
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hc-pipeline"), "run", *AS_OF],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for _ in range(15000):
            if ready(since) or proc.poll() is not None:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be stopped"
        os.kill(proc.pid, signo)
        out, err = proc.communicate(timeout=10)  # a bound on waiting, not a timing assertion
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _assert_like_a_clean_run(home: Path, clean_counts: list[dict], clean_reports: dict | None = None) -> None:
    instance = open_instance(home)
    assert not [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
    assert all(any(processed) for processed in processed_by(instance).values())
    counts = _counts(home)
    assert counts == clean_counts
    assert all(row["raw"] == row["curated"] + row["quarantined"] for row in counts)
    assert not list(home.rglob("*.partial"))
    if clean_reports is not None:
        assert _reports(home) == clean_reports


def test_kill_9_at_each_stage_then_run_again_gives_the_tables_of_a_clean_run(tmp_path, big):
    """Killed while reading, while curating, after the curated table is written, and while the reports refresh.

    Each kill counts as an attempt of the file in hand (an OOM kill looks the same), so the third stage kills the
    second file, once the first is done: no file reaches the 3 attempts that give it up."""
    samples, clean_counts, clean_reports = big
    home = tmp_path / "home"
    ingest_all(home, samples)
    lake = home / "lake" / "patients"
    stages = {
        "reading": lambda since: _written_since(home / "manifests" / "patients", "*.json", since) > 0,
        "curating": lambda since: _written_since(lake / "raw_records", "*.parquet", since) > 0,
        "curated written": lambda since: _written_since(lake / "curated_records", "*.parquet", since) > 1,
        "reports": lambda since: any(_written_since(lake / name, "data.parquet", since) for name in REPORTS),
    }
    for stage, ready in stages.items():
        killed = _signal_mid_file(home, signal.SIGKILL, ready)
        assert killed.returncode == -signal.SIGKILL, f"{stage}: {killed.stderr[-2000:]}"
        assert any(r.status == dg.DagsterRunStatus.STARTED for r in open_instance(home).get_runs()), stage

    again = hc(home, "run", *AS_OF)
    assert again.returncode == 0, again.stderr
    assert "marked 1 run(s) left unfinished" in again.stdout
    _assert_like_a_clean_run(home, clean_counts, clean_reports)


def _data_rows(csv_file: Path) -> int:
    with csv_file.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_kill_9_in_the_middle_of_a_20_file_batch_then_run_again_completes_every_file(tmp_path):
    samples = tmp_path / "twenty"
    args = ("generate", str(samples), "--patients", "2000", "--patient-files", "20", "--seed", "4")
    assert hc(tmp_path / "gen", *args).returncode == 0
    files = sorted((samples / "patients").glob("*.csv"))
    assert len(files) == 20
    home = tmp_path / "home"
    ingest_all(home, samples)
    curated = home / "lake" / "patients" / "curated_records"
    killed = _signal_mid_file(home, signal.SIGKILL, lambda since: _written_since(curated, "*.parquet", since) >= 10)
    assert killed.returncode == -signal.SIGKILL
    assert 10 <= len(list(curated.glob("*.parquet"))) < 20

    again = hc(home, "run", *AS_OF)
    assert again.returncode == 0, again.stderr
    # Each file once, whole: its raw rows are the CSV's records, and each is curated or quarantined exactly once.
    expected = [{"source_file": f"patients/{f.name}", "raw": _data_rows(f)} for f in files]
    counts = _counts(home)
    assert [{k: row[k] for k in ("source_file", "raw")} for row in counts] == expected
    assert all(row["raw"] == row["curated"] + row["quarantined"] for row in counts)
    distinct = _query(
        home, "SELECT count(*) AS n, count(DISTINCT (source_file, source_row)) AS d FROM patients_raw_records"
    )
    assert distinct[0]["n"] == distinct[0]["d"]
    instance = open_instance(home)
    assert not [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
    assert all(sum(processed) == 1 for processed in processed_by(instance).values())
    assert len(processed_by(instance)) == 20 and not list(home.rglob("*.partial"))


def test_sigterm_stops_the_run_without_retrying_and_the_next_run_completes_the_file(tmp_path, big):
    samples, clean_counts, _ = big
    home = tmp_path / "home"
    ingest_all(home, samples)
    stopped = _signal_mid_file(home, signal.SIGTERM)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    [line] = stopped.stderr.strip().splitlines()
    assert line.startswith("hc-pipeline run: interrupted while processing patients/") and "pending" in line
    instance = open_instance(home)
    assert not [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
    [interrupted] = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.FAILURE]
    assert not instance.all_logs(interrupted.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert not list(home.rglob("*.partial"))

    again = hc(home, "run", *AS_OF)
    assert again.returncode == 0, again.stderr
    assert "marked" not in again.stdout
    _assert_like_a_clean_run(home, clean_counts)
