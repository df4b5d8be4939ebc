"""Applying decisions to one file's curation, without Dagster: the same rules judge corrections."""

import datetime as dt
import json

import pandas as pd

from hc_pipeline.curation.patients import curate
from hc_pipeline.review.decisions import LEDGER_COLUMNS
from hc_pipeline.review.resolution import _exceptions, exception_id, exception_ids, resolve_frame
from hc_pipeline.sources.patients_csv import read_admissions
from hc_pipeline_tests.test_review.seed import ADMISSIONS, ERRORS

FILE, VERSION = "patients/admissions.csv", "v1"
RUN_DATE = dt.date(2025, 6, 30)


def raw() -> pd.DataFrame:
    return read_admissions(ADMISSIONS.encode(), FILE)


def curate_seed(frame, keep):
    return curate(frame, RUN_DATE, keep)


def ledger(*decisions) -> pd.DataFrame:
    rows = [
        {
            "decisions_file": f"_decisions/patients/{i}.csv",
            "line": i + 2,
            "exception_id": exception_id(FILE, VERSION, row),
            "source_file": FILE,
            "source_row": row,
            "decision": word,
            "note": note,
            "reviewer": "dana",
            "decided_at": pd.Timestamp("2025-07-01") + pd.Timedelta(minutes=i),
            "raw_values": json.dumps(values) if word == "correct" else None,
        }
        for i, (row, word, note, values) in enumerate(decisions)
    ]
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


def test_without_decisions_every_quarantined_row_is_an_open_exception():
    resolved = resolve_frame(raw(), ledger(), curate_seed, FILE, VERSION, "admissions.csv@1")
    exceptions = resolved.exceptions
    assert len(resolved.curated) == 5 and resolved.curated["resolution"].isna().all()
    assert resolved.quarantined["exception_id"].tolist() == [exception_id(FILE, VERSION, r) for r in ERRORS]
    assert exceptions["status"].eq("open").all() and exceptions["source_row"].tolist() == list(ERRORS)
    assert {r: list(x) for r, x in zip(exceptions["source_row"], exceptions["reasons"])} == {
        r: [rule] for r, rule in ERRORS.items()
    }


def test_exception_ids_are_stable_per_version_and_hide_the_row():
    first = exception_id(FILE, VERSION, 6)
    assert first == exception_id(FILE, VERSION, 6) != exception_id(FILE, "v2", 6) != exception_id(FILE, VERSION, 7)
    assert first.startswith("ex-") and "P006" not in first and "admissions" not in first


def test_the_latest_decision_wins_and_a_failed_correction_keeps_its_reviewer():
    decisions = ledger((8, "correct", "try", {"age": "x"}), (6, "correct", "typo", {"age": "200"}))
    resolved = resolve_frame(raw(), decisions, curate_seed, FILE, VERSION, "p")
    exceptions = resolved.exceptions.set_index("source_row")
    assert exceptions.loc[6, "status"] == "open" and exceptions.loc[6, "note"] == "typo"
    assert list(exceptions.loc[8, "reasons"]) == ["unparseable_age"]
    later = ledger((8, "correct", "try", {"age": "x"}), (8, "accept", "as is", {}))
    accepted = resolve_frame(raw(), later, curate_seed, FILE, VERSION, "p")
    row = accepted.curated.set_index("source_row").loc[8]
    assert row["resolution"] == "accepted" and pd.isna(row["age"])  # curated as recorded: "abc" is no age


def test_a_rejected_row_stays_quarantined_as_it_landed_and_a_decision_on_a_curated_row_is_ignored():
    text = ADMISSIONS + "P001,45,M,2025-01-10,2025-01-15,Pneumonia\n"  # row 11 copies row 1
    frame = read_admissions(text.encode(), FILE)
    decisions = ledger((11, "reject", "copy", {}), (1, "correct", "not an exception", {"age": "999"}))
    resolved = resolve_frame(frame, decisions, curate_seed, FILE, VERSION, "p")
    quarantined = resolved.quarantined.set_index("source_row")
    assert 11 in quarantined.index and list(quarantined.loc[11, "reasons"]) == ["duplicate_row"]
    assert len(resolved.curated) + len(resolved.quarantined) == len(frame)
    assert resolved.exceptions.set_index("source_row").loc[11, "status"] == "rejected"
    assert resolved.curated.set_index("source_row").loc[1, "age"] == 45


def test_decisions_of_other_files_are_ignored():
    others = ledger((6, "reject", "x", {})).assign(exception_id=exception_id("patients/b.csv", VERSION, 6))
    resolved = resolve_frame(raw(), others, curate_seed, FILE, VERSION, "p")
    assert resolved.exceptions["status"].eq("open").all() and len(resolved.curated) == 5


def test_exceptions_with_nothing_decided_are_built_as_the_row_by_row_path_builds_them():
    first = curate(raw(), RUN_DATE).quarantined
    for quarantined in (first, first.iloc[:0]):
        ids = exception_ids(FILE, VERSION, quarantined["source_row"].astype(int))
        now = quarantined.assign(exception_id=ids)
        fast = _exceptions(quarantined, ids, now, {}, FILE, "admissions.csv@1")
        # A decision on a row the file does not have takes the row-by-row path and changes nothing.
        general = _exceptions(quarantined, ids, now, {10**9: {"decision": "accept"}}, FILE, "admissions.csv@1")
        pd.testing.assert_frame_equal(fast, general)
        assert len(fast) == len(quarantined) and fast["status"].eq("open").all()
    assert len(first) == len(ERRORS)
