"""`hc-pipeline run` killed (SIGKILL) or stopped (SIGTERM) mid-file, then run again: the same tables as a clean run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from hc_pipeline_tests.test_exactly_once.conftest import env_for, hc, ingest_all, open_instance, per_file_runs

AS_OF = ("--as-of", "2025-06-30")
COUNTS = """SELECT r.source_file, r.n AS raw, coalesce(c.n, 0) AS curated, coalesce(q.n, 0) AS quarantined
FROM (SELECT source_file, count(*) n FROM patients_raw_records GROUP BY 1) r
LEFT JOIN (SELECT source_file, count(*) n FROM patients_curated_records GROUP BY 1) c USING (source_file)
LEFT JOIN (SELECT source_file, count(*) n FROM patients_quarantined_records GROUP BY 1) q USING (source_file)
ORDER BY 1"""


def _counts(home: Path) -> list[dict]:
    out = hc(home, "query", COUNTS, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Generated files large enough to stop a run mid-file, and the counts of a clean run over them."""
    samples = tmp_path_factory.mktemp("big")
    generated = hc(tmp_path_factory.mktemp("gen"), "generate", str(samples), "--patients", "40000", "--seed", "9")
    assert generated.returncode == 0, generated.stderr
    clean = tmp_path_factory.mktemp("clean") / "home"
    ingest_all(clean, samples)
    assert hc(clean, "run", *AS_OF).returncode == 0
    return samples, _counts(clean)


def _signal_mid_file(home: Path, signo: int) -> subprocess.CompletedProcess:
    """Start `run`, send `signo` once the first file's raw records are written (curation under way)."""
    raw = home / "lake" / "patients" / "raw_records"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hc-pipeline"), "run", *AS_OF],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for _ in range(3000):
            if (raw.is_dir() and any(raw.glob("*.parquet"))) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be stopped"
        os.kill(proc.pid, signo)
        out, err = proc.communicate(timeout=10)  # a bound on waiting, not a timing assertion
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _assert_like_a_clean_run(home: Path, clean_counts: list[dict]) -> None:
    instance = open_instance(home)
    assert not [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED]
    assert all(any(r.is_success for r in runs) for runs in per_file_runs(instance).values())
    counts = _counts(home)
    assert counts == clean_counts
    assert all(row["raw"] == row["curated"] + row["quarantined"] for row in counts)
    assert not list(home.rglob("*.partial"))


def test_a_run_killed_mid_file_is_completed_by_the_next_run(tmp_path, big):
    samples, clean_counts = big
    home = tmp_path / "home"
    ingest_all(home, samples)
    killed = _signal_mid_file(home, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert any(r.status == dg.DagsterRunStatus.STARTED for r in open_instance(home).get_runs())

    again = hc(home, "run", *AS_OF)
    assert again.returncode == 0, again.stderr
    assert "marked 1 run(s) left unfinished" in again.stdout
    _assert_like_a_clean_run(home, clean_counts)


def test_sigterm_stops_the_run_without_retrying_and_the_next_run_completes_the_file(tmp_path, big):
    samples, clean_counts = big
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
