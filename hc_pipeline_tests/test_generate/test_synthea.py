"""The Synthea-shaped export generator: reproducible, Synthea's columns, and expected answers that add up."""

import csv
import datetime as dt
import io
import zipfile

import pytest

from hc_pipeline.generate.synthea import CASES, CONDITION_COLUMNS, ENCOUNTER_COLUMNS, PATIENT_COLUMNS, synthea_zip

RUN_DATE = dt.date(2025, 6, 15)


def read(data: bytes, name: str) -> tuple[list[str], list[dict]]:
    text = zipfile.ZipFile(io.BytesIO(data)).read(f"csv/{name}").decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return reader.fieldnames, list(reader)


def test_one_seed_gives_the_same_bytes_and_another_seed_others():
    assert synthea_zip(RUN_DATE, seed=5, patients=50) == synthea_zip(RUN_DATE, seed=5, patients=50)
    assert synthea_zip(RUN_DATE, seed=5, patients=50)[0] != synthea_zip(RUN_DATE, seed=6, patients=50)[0]


def test_the_export_has_synthea_columns_and_consistent_counts():
    data, truth = synthea_zip(RUN_DATE, seed=1, patients=120)
    patient_columns, patients = read(data, "patients.csv")
    encounter_columns, encounters = read(data, "encounters.csv")
    assert patient_columns == PATIENT_COLUMNS and encounter_columns == ENCOUNTER_COLUMNS
    assert read(data, "conditions.csv")[0] == CONDITION_COLUMNS
    assert len(patients) == truth["patients"] == 120
    inpatient = [e for e in encounters if e["ENCOUNTERCLASS"] == "inpatient"]
    assert len(inpatient) == truth["inpatient_encounters"]
    assert len(encounters) - len(inpatient) == truth["ignored_encounters"]
    assert {e["ENCOUNTERCLASS"] for e in encounters} >= {"inpatient", "ambulatory", "wellness"}
    assert sum(1 for e in inpatient if not e["STOP"]) == truth["open_stays"]
    assert len(truth["stays"]) == len(inpatient) - truth["open_stays"]
    assert truth["overall"]["readmissions"] == sum(v["readmitted_within_30_days"] for v in truth["stays"].values())
    assert set(truth["cases"]) == {name for name, *_ in CASES} | {"birthday"}
    assert all(e["START"] <= RUN_DATE.isoformat() and e["START"].endswith("Z") for e in encounters)
    assert all(p["BIRTHDATE"] < (RUN_DATE - dt.timedelta(days=3 * 365)).isoformat() for p in patients)


def test_too_few_patients_for_the_cases_is_refused():
    with pytest.raises(ValueError, match="at least"):
        synthea_zip(RUN_DATE, seed=1, patients=3)
