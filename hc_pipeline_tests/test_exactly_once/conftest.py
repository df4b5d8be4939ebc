"""`hc-pipeline` as separate processes on one HC_HOME, and the instance read afterwards."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from hc_pipeline.batches import BATCH_TAG, DONE, batch_objects, file_tag

BIN = Path(sys.executable).parent
RUN_DATE = "2025-06-30"


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "HC_HOME": str(home), "TMPDIR": str(home.parent)}


def start_run(home: Path, *extra: str) -> subprocess.Popen:
    """A `hc-pipeline run` subprocess (its own session, so a signal reaches only it)."""
    return subprocess.Popen(
        [str(BIN / "hc-pipeline"), "run", "--as-of", RUN_DATE, *extra],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def hc(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "hc-pipeline"), *args],
        env={**env_for(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def open_instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home / "dagster"))


def per_file_runs(instance: dg.DagsterInstance) -> dict[str, list[dg.DagsterRun]]:
    """Runs of one object version each (batch runs aside), by the version's run key."""
    runs: dict[str, list[dg.DagsterRun]] = {}
    for run in instance.get_runs():
        if BATCH_TAG in run.tags:
            continue
        key = run.tags.get("hc/version_run_key") or run.tags.get("dagster/run_key", "").split("#")[0]
        if key:
            runs.setdefault(key, []).append(run)
    return runs


def processed_by(instance: dg.DagsterInstance) -> dict[str, list[bool]]:
    """Every run that took each object version, one or many files to a run: whether it processed the version
    (a run of its own succeeded; a batch run marked it done)."""
    taken = {key: [run.is_success for run in runs] for key, runs in per_file_runs(instance).items()}
    for run in instance.get_runs(filters=dg.RunsFilter(job_name="patients_batch_job")):
        for obj in batch_objects(run):
            taken.setdefault(obj.run_key, []).append(run.tags.get(file_tag(obj)) == DONE)
    return taken


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Path:
    """Generated sample files, read (never changed) by every module here: generated once, not once a module."""
    out = tmp_path_factory.mktemp("samples")
    home = tmp_path_factory.mktemp("gen_home")
    generated = hc(home, "generate", str(out), "--patients", "600", "--facilities", "60", "--seed", "5")
    assert generated.returncode == 0, generated.stderr
    return out


def ingest_all(home: Path, samples: Path) -> list[str]:
    files = sorted(str(p) for p in (samples / "patients").iterdir())
    landed = hc(home, "ingest", "patients", *files)
    assert landed.returncode == 0, landed.stderr
    return files
