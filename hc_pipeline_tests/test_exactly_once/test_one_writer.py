"""Two `hc-pipeline run`s at once on one HC_HOME: each version materialized once, the instance still opens."""

import os
import time
from pathlib import Path

import pytest

from hc_pipeline.home_lock import HomeBusy, exclusive_home
from hc_pipeline_tests.test_exactly_once.conftest import (
    hc,
    ingest_all,
    open_instance,
    processed_by,
    start_run,
)

BUSY = 3


def _two_runs_at_once(home: Path) -> list[tuple[int, str, str]]:
    first, second = start_run(home), start_run(home)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    return [(p.returncode, *out) for p, out in zip((first, second), outputs, strict=True)]


def _assert_each_version_once(home: Path, landed: int):
    instance = open_instance(home)
    runs = processed_by(instance)
    assert len(runs) == landed
    assert all(r == [True] for r in runs.values()), runs


@pytest.mark.parametrize("existing", [False, True], ids=["fresh_home", "existing_home"])
def test_two_runs_started_together_process_each_file_once(tmp_path, samples, existing):
    home = tmp_path / "hc_home"
    if existing:
        ingest_all(home, samples)
        assert hc(home, "run", "--as-of", "2025-06-30").returncode == 0
        extra = (home / "landing" / "patients").joinpath("extra.csv")
        extra.write_bytes(next((samples / "patients").glob("*.csv")).read_bytes())
        copied_in = time.time() - 60  # copied into the folder a minute ago: settled
        os.utime(extra, (copied_in, copied_in))
    else:
        ingest_all(home, samples)
    results = _two_runs_at_once(home)
    codes = sorted(code for code, _, _ in results)
    assert codes[0] == 0 and codes[1] in (0, BUSY), results
    if codes[1] == BUSY:
        busy_err = next(err for code, _, err in results if code == BUSY)
        assert "is busy" in busy_err and len(busy_err.strip().splitlines()) == 1
    _assert_each_version_once(home, len(list((home / "landing" / "patients").iterdir())))
    again = hc(home, "run", "--as-of", "2025-06-30")
    assert again.returncode == 0 and "patients: processed 0 new file(s)" in again.stdout, again.stderr


def test_a_run_waits_for_the_lock_when_asked_and_refuses_otherwise(tmp_path):
    with exclusive_home(tmp_path):
        with pytest.raises(HomeBusy, match="is busy"), exclusive_home(tmp_path, wait_seconds=0.3):
            pass
        busy = hc(tmp_path, "run")
        assert busy.returncode == BUSY and "is busy" in busy.stderr
    with exclusive_home(tmp_path, wait_seconds=0.3):
        pass
