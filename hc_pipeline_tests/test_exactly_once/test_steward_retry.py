"""A file whose runs keep failing gives up after 3 attempts; a steward fixes the cause and `hc-pipeline retry`s it."""

import csv
import json
from pathlib import Path

import pytest

from hc_pipeline.home_lock import exclusive_home
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.planner import MAX_ATTEMPTS, OUTCOME_TAG, RUN_KEY_TAG, SET_ASIDE_TAG
from hc_pipeline.stores.local_landing import LocalLanding
from hc_pipeline_tests.test_exactly_once.conftest import RUN_DATE, hc, ingest_all, open_instance, per_file_runs

COUNTS = """SELECT r.n AS raw, coalesce(c.n, 0) AS curated, coalesce(q.n, 0) AS quarantined
FROM (SELECT count(*) n FROM patients_raw_records WHERE source_file = '{key}') r,
(SELECT count(*) n FROM patients_curated_records WHERE source_file = '{key}') c,
(SELECT count(*) n FROM patients_quarantined_records WHERE source_file = '{key}') q"""


def _run(home: Path):
    return hc(home, "run", "--as-of", RUN_DATE)


@pytest.fixture(scope="module")
def gave_up(tmp_path_factory, samples):
    """A home where one landed file failed MAX_ATTEMPTS runs (a folder sits where its raw parquet file goes)."""
    home = tmp_path_factory.mktemp("retry") / "home"
    ingest_all(home, samples)
    objects = sorted(LocalLanding(home).list_objects("patients"), key=lambda o: o.key)
    broken, healthy = objects[0], objects[1]
    blocker = home / "lake" / "patients" / "raw_records" / f"{partition_key_for(broken.key, broken.version)}.parquet"
    blocker.mkdir(parents=True)
    first = _run(home)
    assert first.returncode == 1, first.stderr
    assert f"run failed (retried on the next run): {broken.key} (" in first.stderr
    assert f"patients: processed {len(objects)} new file(s)" in first.stdout
    pending = hc(home, "retry", broken.key)
    for _ in range(MAX_ATTEMPTS - 1):
        again = _run(home)
        assert again.returncode == 1 and "patients: processed 1 new file(s)" in again.stdout, again.stderr
    fourth = _run(home)
    return home, broken, healthy, blocker, pending, fourth


def test_a_file_failing_every_attempt_is_given_up_and_not_launched_again(gave_up):
    home, broken, _, _, _, fourth = gave_up
    assert fourth.returncode == 1
    [line] = [line for line in fourth.stderr.splitlines() if "gave up" in line]
    assert line.startswith(f"{broken.key}: gave up after {MAX_ATTEMPTS} attempts: patients__raw_records: ")
    assert "patients: processed 0 new file(s)" in fourth.stdout
    [runs] = [r for k, r in per_file_runs(open_instance(home)).items() if k == broken.run_key]
    assert len(runs) == MAX_ATTEMPTS


def test_the_last_failed_run_carries_the_gave_up_outcome_for_the_ui(gave_up):
    home, broken, *_ = gave_up
    runs = per_file_runs(open_instance(home))[broken.run_key]  # newest first
    assert runs[0].tags[OUTCOME_TAG] == "gave_up"
    assert [r.tags.get(OUTCOME_TAG) for r in runs[1:]] == ["failed"] * (MAX_ATTEMPTS - 1)


def test_retry_refuses_a_pending_file_naming_its_attempts(gave_up):
    _, broken, _, _, pending, _ = gave_up
    assert pending.returncode == 2 and pending.stdout == ""
    assert pending.stderr == (
        f"hc-pipeline retry: {broken.key}: pending (1 of {MAX_ATTEMPTS} attempts failed), not given up; "
        "the next `hc-pipeline run` or landing sensor tick takes it\n"
    )


def test_retry_refuses_a_done_file_and_an_unknown_one_and_changes_nothing(gave_up):
    home, _, healthy, *_ = gave_up
    before = {r.run_id: r.tags for r in open_instance(home).get_runs()}
    done = hc(home, "retry", healthy.key.split("/", 1)[1], "--domain", "patients")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"hc-pipeline retry: {healthy.key}: done (") and done.stderr.count("\n") == 1
    unknown = hc(home, "retry", "patients/never_landed.csv")
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "hc-pipeline retry: patients/never_landed.csv: not landed (no object at that key in landing/patients/)\n"
    )
    assert {r.run_id: r.tags for r in open_instance(home).get_runs()} == before


def test_retry_waits_for_the_home_lock_like_run(gave_up):
    home, broken, *_ = gave_up
    with exclusive_home(home):
        busy = hc(home, "retry", broken.key)
    assert busy.returncode == 3 and f"{home} is busy" in busy.stderr and busy.stderr.count("\n") == 1
    [runs] = [r for k, r in per_file_runs(open_instance(home)).items() if k == broken.run_key]
    assert not any(SET_ASIDE_TAG in r.tags for r in runs)


def test_after_the_cause_is_fixed_retry_gives_fresh_attempts_and_the_next_run_processes_the_file(gave_up):
    home, broken, _, blocker, _, _ = gave_up
    blocker.rmdir()
    retried = hc(home, "retry", broken.key)
    assert retried.returncode == 0 and retried.stderr == "", retried.stderr
    [line] = retried.stdout.splitlines()
    assert line.startswith(f"{broken.key}: set aside {MAX_ATTEMPTS} failed attempt(s) (last: patients__raw_records: ")
    assert line.endswith(f"takes it again, with {MAX_ATTEMPTS} fresh attempts")
    runs = per_file_runs(open_instance(home))[broken.run_key]
    assert all(SET_ASIDE_TAG in r.tags and r.tags[OUTCOME_TAG] == "failed" for r in runs)

    after = _run(home)
    assert after.returncode == 0 and after.stderr == "", after.stderr
    assert "patients: processed 1 new file(s)" in after.stdout
    runs = per_file_runs(open_instance(home))[broken.run_key]
    assert runs[0].is_success and len(runs) == MAX_ATTEMPTS + 1
    run_keys = [r.tags[RUN_KEY_TAG] for r in runs]
    assert sorted(run_keys) == sorted([broken.run_key, *(f"{broken.run_key}#{n}" for n in range(2, 5))])

    query = hc(home, "query", COUNTS.format(key=broken.key), "--format", "json")
    [counts] = json.loads(query.stdout)
    with open(home / "landing" / broken.key, newline="", encoding="utf-8") as handle:
        rows = sum(1 for row in csv.reader(handle) if row) - 1  # quoted commas and newlines, blank lines
    assert counts["raw"] == rows == counts["curated"] + counts["quarantined"] and counts["curated"] > 0

    again = hc(home, "retry", broken.key)
    assert again.returncode == 2 and f"{broken.key}: done (" in again.stderr
    assert "gave up" not in _run(home).stderr
