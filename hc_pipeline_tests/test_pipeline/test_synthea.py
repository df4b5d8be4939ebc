"""A landed Synthea export: analytics equal the hand-checkable truth; no direct identifier goes anywhere."""

import csv
import io
import json
import zipfile

import pytest

from hc_pipeline_tests.test_pipeline.test_no_phi import everything_dagster_recorded

IDENTIFIERS = ("SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "MAIDEN", "ADDRESS", "LAT", "LON", "BIRTHDATE")


@pytest.fixture(scope="module")
def export(corpus):
    data = (corpus["samples"] / "patients" / "synthea_export.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("patients.csv"))
        people = list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
    values = {p[c] for p in people for c in IDENTIFIERS if p.get(c) and len(p[c]) >= 6}
    return json.loads((corpus["samples"] / "synthea_truth.json").read_text()), values


def test_overall_readmission_rate_equals_the_generated_truth(corpus, export):
    truth, _ = export
    engine = corpus["resources"]["query_engine"]
    overall = engine.query("SELECT stays, readmissions FROM patients_readmission_rates WHERE dimension = 'overall'")
    synthea_only = engine.query(
        "SELECT count(*) AS stays, count(CASE WHEN r.readmitted_within_30_days THEN 1 END) AS readmissions "
        "FROM patients_readmissions r JOIN patients_curated_records c "
        "ON r.patient_id = c.patient_id AND r.admission_date = c.admission_date "
        "WHERE c.source_file = 'patients/synthea_export.zip'"
    )
    assert synthea_only.iloc[0].tolist() == [truth["overall"]["stays"], truth["overall"]["readmissions"]]
    assert int(overall["stays"].iloc[0]) >= truth["overall"]["stays"]


def test_no_direct_identifier_reaches_any_table_metadata_or_log(corpus, export):
    _, identifiers = export
    assert len(identifiers) > 100
    engine = corpus["resources"]["query_engine"]
    text = "\n".join(engine.query(f"SELECT * FROM {t}").to_csv(index=False) for t in engine.tables())
    text += everything_dagster_recorded(corpus["instance"])
    text += "\n".join(p.read_text() for p in (corpus["home"] / "insights").rglob("*.json"))
    assert [value for value in identifiers if value in text] == []


def test_the_export_is_curated_with_its_demographics(corpus):
    curated = corpus["resources"]["query_engine"].query(
        "SELECT race, ethnicity, encounter_id, diagnosis_code_system FROM patients_curated_records "
        "WHERE source_file = 'patients/synthea_export.zip'"
    )
    assert len(curated) > 50 and curated["race"].notna().all() and curated["encounter_id"].is_unique
    assert set(curated["diagnosis_code_system"].dropna()) == {"SNOMED-CT"}
