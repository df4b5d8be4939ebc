"""Synthea exports landed in the patients zone: an unknown patient is quarantined, a broken export is refused whole."""

import json

from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.test_sources.test_synthea_zip import csv_bytes, encounter, export, make_zip, patient


def test_encounter_of_an_unknown_patient_is_quarantined_with_its_rule(defs, instance, land, resources):
    data = export(
        [patient("p-1")],
        [
            encounter("e-1", "p-1", "2024-01-01T08:00:00Z", "2024-01-04T08:00:00Z"),
            encounter("e-2", "p-404", "2024-02-01T08:00:00Z", "2024-02-02T08:00:00Z"),
        ],
    )
    land("patients/export.zip", data)
    assert process(defs, instance).failed == []
    engine = resources["query_engine"]
    assert engine.query("SELECT encounter_id FROM patients_curated_records")["encounter_id"].tolist() == ["e-1"]
    reasons = engine.query("SELECT reasons FROM patients_quarantined_records")["reasons"].tolist()
    # Without its patient the row has no demographics either: one quarantined row, every reason listed.
    assert [sorted(r) for r in reasons] == [["missing_age", "missing_gender", "unknown_patient"]]


def test_export_without_encounters_is_quarantined_whole(defs, instance, land, home):
    land("patients/half.zip", make_zip({"csv/patients.csv": csv_bytes([patient("p-1")])}))
    summary = process(defs, instance)
    assert len(summary.stopped_by_checks) == 1
    [reason] = list((home / "quarantine" / "patients").glob("*/half.zip.reason.json"))
    assert "encounters.csv" in json.loads(reason.read_text())["reason"]
