"""The stewards' loop on facilities: a JSON record corrected, one accepted, one rejected; bad JSON refused."""

import json

import pandas as pd

from hc_pipeline.review.commands import apply_decisions, export_open_exceptions
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.test_review.seed import FACILITIES, decided


def test_facility_exceptions_resolve_and_reach_the_reports(defs, instance, land, resources, home, capsys):
    land("facilities/sites.json", FACILITIES.encode())
    process(defs, instance)
    engine = resources["query_engine"]
    assert export_open_exceptions("facilities", home / "open.csv", None) == 0
    rows = pd.read_csv(home / "open.csv", dtype=str, keep_default_na=False)
    assert dict(zip(rows["source_row"].astype(int), rows["reasons"])) == {
        2: "invalid_state",
        3: "invalid_employee_count",
        4: "missing_facility_id",
    }
    assert "record_json" in rows.columns and "facility_id" not in rows.columns
    fixed = json.loads(rows.loc[rows["source_row"] == "2", "record_json"].item()) | {"state": "CA"}

    # Invalid JSON in a correction is refused whole, by `review apply` and by the run.
    broken = decided(rows.to_csv(index=False), {2: ("correct", "", {"record_json": "{not json"})})
    (home / "broken.csv").write_text(broken)
    assert apply_decisions("facilities", home / "broken.csv", "lee") == 2
    assert "line 2: record_json: is not valid JSON" in capsys.readouterr().err

    decisions = {
        2: ("correct", "state code fixed", {"record_json": json.dumps(fixed)}),
        3: ("accept", "headcount unknown, site confirmed open", {}),
        4: ("reject", "duplicate of F1 without id", {}),
    }
    (home / "decided.csv").write_text(decided(rows.to_csv(index=False), decisions))
    assert apply_decisions("facilities", home / "decided.csv", "lee") == 0
    outcome = process(defs, instance).decisions["facilities"]
    assert len(outcome.applied) == 1 and len(outcome.recurated) == 1

    curated = engine.query("SELECT facility_id, state, resolution FROM facilities_curated_records").set_index(
        "facility_id"
    )
    assert sorted(curated.index) == ["F1", "F2", "F3"]
    assert curated.loc["F2", "state"] == "CA" and curated.loc["F2", "resolution"] == "corrected"
    assert curated.loc["F3", "resolution"] == "accepted" and pd.isna(curated.loc["F1", "resolution"])
    assert engine.query("SELECT source_row FROM facilities_quarantined_records")["source_row"].tolist() == [4]
    statuses = engine.query("SELECT source_row, status, reviewer FROM facilities_exceptions ORDER BY source_row")
    assert statuses["status"].tolist() == ["corrected", "accepted", "rejected"]
    assert set(statuses["reviewer"]) == {"lee"}
    # The reports refreshed after the decisions and see the resolved facilities.
    metrics = engine.query("SELECT facility_id FROM facilities_facility_metrics ORDER BY facility_id")
    assert metrics["facility_id"].tolist() == ["F1", "F2", "F3"]
