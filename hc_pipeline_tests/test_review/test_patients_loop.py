"""The stewards' loop on ten admissions: export the open exceptions, decide them, and see each row's fate."""

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hc_pipeline.review.commands import apply_decisions, export_open_exceptions
from hc_pipeline.sources import patients_csv
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.test_review.seed import ADMISSIONS, ERRORS, WARNINGS, decided

CURATED = dg.AssetKey(["patients", "curated_records"])


@pytest.fixture
def landed(defs, instance, land, resources, home):
    land("patients/admissions.csv", ADMISSIONS.encode())
    first = process(defs, instance)
    assert first.processed["patients"] and not first.failed
    return resources["query_engine"]


def export(home, name="open.csv", source_file=None) -> pd.DataFrame:
    assert export_open_exceptions("patients", home / name, source_file) == 0
    return pd.read_csv(home / name, dtype=str, keep_default_na=False)


def conservation_results(instance) -> list[dg.AssetCheckEvaluation]:
    records = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(CURATED, "row_conservation"), limit=10
    )
    return [r.event.dagster_event.event_specific_data for r in records]


def test_export_lists_exactly_the_open_exceptions_with_raw_values(landed, home):
    rows = export(home)
    assert len(rows) == 5
    assert dict(zip(rows["source_row"].astype(int), rows["reasons"])) == ERRORS
    assert list(rows.columns[:6]) == ["exception_id", "source_file", "source_row", "reasons", "decision", "note"]
    assert {"patient_id", "age", "gender", "admission_date", "discharge_date", "diagnosis"} <= set(rows.columns)
    assert rows["exception_id"].str.fullmatch(r"ex-[0-9a-f]{16}").all() and rows["exception_id"].is_unique
    assert not rows["exception_id"].str.contains("P0").any()
    assert rows.loc[rows["source_row"] == "8", "age"].item() == "abc"
    assert (rows["decision"] == "").all() and (rows["source_file"] == "patients/admissions.csv").all()
    # Stable: the same rows export the same ids again.
    assert export(home, "again.csv")["exception_id"].tolist() == rows["exception_id"].tolist()
    assert len(export(home, "other.csv", "patients/other.csv")) == 0


@pytest.fixture
def small_blocks(monkeypatch):
    """Files read and curated in batches of a few rows: the decisions apply across batches."""
    monkeypatch.setattr(patients_csv, "BLOCK_BYTES", 128)


def test_decisions_correct_accept_reject_and_a_correction_still_wrong(landed, defs, instance, home):
    decide_and_see_each_rows_fate(landed, defs, instance, home)


def test_decisions_give_the_same_fates_when_the_file_is_curated_in_batches(small_blocks, landed, defs, instance, home):
    (raw,) = (home / "lake" / "patients" / "raw_records").glob("*.parquet")
    assert pq.ParquetFile(raw).num_row_groups >= 3
    decide_and_see_each_rows_fate(landed, defs, instance, home)


def decide_and_see_each_rows_fate(engine, defs, instance, home):
    rows = export(home)
    (home / "decided.csv").write_text(
        decided(
            rows.to_csv(index=False),
            {
                6: ("correct", "age typed as 150, chart says 51", {"age": "51"}),
                7: ("correct", "", {"patient_id": "P007"}),
                8: ("correct", "chart unreadable", {"age": "200"}),
                9: ("accept", "discharge recorded on the transfer date", {}),
                10: ("reject", "test record", {}),
            },
        )
    )
    assert apply_decisions("patients", home / "decided.csv", "dana.steward") == 0
    assert len(list((home / "landing" / "_decisions" / "patients").iterdir())) == 1
    second = process(defs, instance)
    assert not second.failed and not second.processed["patients"]  # the decisions file is not a data file
    outcome = second.decisions["patients"]
    assert len(outcome.applied) == 1 and outcome.refused == {} and len(outcome.recurated) == 1

    curated = engine.query("SELECT source_row, patient_id, age, resolution FROM patients_curated_records")
    curated = curated.sort_values("source_row").set_index("source_row")
    assert len(curated) == 8
    assert curated["resolution"].value_counts().to_dict() == {"corrected": 2, "accepted": 1}
    assert curated.loc[6, "age"] == 51 and curated.loc[7, "patient_id"] == "P007"
    assert curated.loc[9, "resolution"] == "accepted" and pd.isna(curated.loc[1, "resolution"])

    quarantined = engine.query("SELECT source_row, reasons FROM patients_quarantined_records ORDER BY source_row")
    assert quarantined["source_row"].tolist() == [8, 10]
    assert list(quarantined["reasons"][0]) == ["age_out_of_range"]  # the correction's new reason

    exceptions = engine.query("SELECT * FROM patients_exceptions").set_index("source_row")
    assert exceptions["status"].to_dict() == {6: "corrected", 7: "corrected", 8: "open", 9: "accepted", 10: "rejected"}
    assert (exceptions["reviewer"] == "dana.steward").all()
    assert exceptions.loc[8, "note"] == "chart unreadable" and list(exceptions.loc[8, "reasons"]) == [
        "age_out_of_range"
    ]
    assert list(exceptions.loc[6, "reasons"]) == ["age_out_of_range"] and exceptions["decided_at"].notna().all()

    # Conservation held before and after the decisions, and the reports saw the resolved rows.
    history = conservation_results(instance)
    assert len(history) == 2 and all(e.passed for e in history)
    assert {e.metadata["curated_rows"].value for e in history} == {5, 8}
    stays = engine.query("SELECT count(*) AS n FROM patients_readmissions")
    assert stays["n"].item() >= 0
    # The open exception exports again; the closed ones do not.
    again = export(home, "after.csv")
    assert again["source_row"].tolist() == ["8"] and again["reasons"].item() == "age_out_of_range"


def test_warnings_stay_curated_with_their_warnings(landed):
    curated = landed.query("SELECT source_row, warnings FROM patients_curated_records ORDER BY source_row")
    found = {row: list(w) for row, w in zip(curated["source_row"], curated["warnings"]) if len(w)}
    assert found == {row: [rule] for row, rule in WARNINGS.items()}


def test_an_invalid_decisions_file_is_refused_whole_with_its_lines(landed, defs, instance, home, land):
    engine = landed
    rows = export(home)
    text = decided(
        rows.to_csv(index=False),
        {
            6: ("correct", "fine on its own", {"age": "51"}),
            7: ("approve", "", {}),
            9: ("accept", "", {}),
        },
    )
    text = text.replace(rows.loc[rows["source_row"] == "10", "exception_id"].item(), "ex-0000000000000000")
    text = text.replace("future_admission,,", "future_admission,reject,")
    # Uploaded without `review apply` (e.g. straight to the bucket): the run is the judge.
    lines = text.splitlines()
    lines[0] += ",reviewer"
    lines[1:] = [line + ",sam" for line in lines[1:]]
    land("_decisions/patients/20250701T000000Z_bad.csv", ("\n".join(lines) + "\n").encode())
    result = process(defs, instance)
    refused = result.decisions["patients"].refused
    assert list(refused) == ["_decisions/patients/20250701T000000Z_bad.csv"]
    problems = refused["_decisions/patients/20250701T000000Z_bad.csv"]
    assert "line 3: decision 'approve': is not one of correct, accept, reject" in problems
    assert "line 5: note: is required to accept" in problems
    assert "line 6: exception_id 'ex-0000000000000000': is not an exception of this domain" in problems
    assert len(problems) == 3 and not result.decisions["patients"].recurated
    # Nothing of it applied: row 6's valid correction included.
    assert engine.query("SELECT count(*) AS n FROM patients_curated_records")["n"].item() == 5
    assert len(export(home, "still.csv")) == 5
    check = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["patients", "decisions"]), "decisions_valid"), limit=5
    )
    assert len(check) == 1 and not check[0].event.dagster_event.event_specific_data.passed
    assert check[0].partition.startswith("20250701T000000Z_bad.csv@")  # the result belongs to that file

    # `review apply` refuses the same file before landing it, naming the lines.
    (home / "bad.csv").write_text(text)
    assert apply_decisions("patients", home / "bad.csv", "sam") == 2
    assert len(list((home / "landing" / "_decisions" / "patients").iterdir())) == 1


def test_a_closed_exception_cannot_be_decided_again(landed, defs, instance, home):
    rows = export(home)
    (home / "reject.csv").write_text(decided(rows.to_csv(index=False), {10: ("reject", "test record", {})}))
    assert apply_decisions("patients", home / "reject.csv", "dana") == 0
    process(defs, instance)
    (home / "again.csv").write_text(decided(rows.to_csv(index=False), {10: ("accept", "changed my mind", {})}))
    assert apply_decisions("patients", home / "again.csv", "dana") == 2
    closed = landed.query("SELECT status FROM patients_exceptions WHERE source_row = 10")
    assert closed["status"].item() == "rejected"
