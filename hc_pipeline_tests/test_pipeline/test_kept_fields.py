"""Issue 16's cases, landed and processed like a user's files: labs and address, first vs earliest expiry, extras."""

import datetime as dt
import json

import pandas as pd
import pytest

from hc_pipeline.sources.facilities_json import read_facilities
from hc_pipeline_tests.conftest import process

SEED_002_SAMPLE = {
    "sample_data": [
        {
            "facility_id": "FAC12345",
            "facility_name": "Springfield General Hospital",
            "location": {"address": "123 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
            "employee_count": 250,
            "services": ["Emergency", "Radiology", "Laboratory"],
            "labs": [
                {"lab_name": "Hematology Lab", "certifications": ["CLIA", "CAP"]},
                {"lab_name": "Microbiology Lab", "certifications": ["CAP"]},
            ],
            "accreditations": [
                {
                    "accreditation_body": "Joint Commission",
                    "accreditation_id": "JC-2024-001",
                    "valid_until": "2027-12-31",
                }
            ],
        }
    ]
}
SEED_001_FILES = {
    "facilities/seed001_a.json": [
        {
            "facility_id": "FAC001",
            "facility_name": "Lakeside Clinic",
            "state": "CA",
            "employee_count": 85,
            "services": ["Primary Care", "Pediatrics"],
            "accreditations": [
                {"name": "AAAHC", "expiry_date": "2027-10-25"},
                {"name": "CAP", "expiry_date": "2027-02-04"},
            ],
        },
        {
            "facility_id": "FAC002",
            "facility_name": "Hillcrest Hospital",
            "state": "OR",
            "employee_count": 410,
            "services": ["Emergency"],
            "accreditations": [{"name": "TJC", "expiry_date": "2026-11-30"}],
        },
    ],
    "facilities/seed001_b.ndjson": [
        {
            "facility_id": "FAC003",
            "facility_name": "Riverside Center",
            "state": "TX",
            "employee_count": 60,
            "services": [],
            "accreditations": [
                {"name": "DNV", "expiry_date": "2028-03-01"},
                {"name": "CARF", "expiry_date": "2027-06-15"},
            ],
        }
    ],
}
WARD_CSV = (
    "patient_id,age,gender,admission_date,discharge_date,diagnosis,Ward\n"
    "P1,40,M,2024-01-01,2024-01-03,Flu,W3\n"
    "P2,51,F,2024-01-02,2024-01-04,Asthma,ICU-2\n"
    "P3,62,F,2024-01-05,,Fracture,\n"
)


def test_seed_002_wrapped_sample_shows_its_labs_and_street_address(land, defs, instance, resources):
    land("facilities/seed002_sample.json", json.dumps(SEED_002_SAMPLE, indent=2).encode())
    process(defs, instance)
    found = resources["query_engine"].query(
        "select labs, address from facilities_curated_records where facility_id = 'FAC12345'"
    )
    assert len(found) == 1
    labs = [(lab["name"], list(lab["certifications"])) for lab in found["labs"][0]]
    assert labs == [("Hematology Lab", ["CLIA", "CAP"]), ("Microbiology Lab", ["CAP"])]
    assert found["address"][0] == "123 Main St"
    cap = resources["query_engine"].query(
        "select l.name from facilities_curated_records cross join unnest(labs) as t (l) "
        "where contains(l.certifications, 'CLIA') order by 1"
    )
    assert cap["name"].tolist() == ["Hematology Lab"]


def test_seed_001_first_accreditation_follows_record_order_and_earliest_is_the_minimum(land, defs, instance, resources):
    for key, records in SEED_001_FILES.items():
        text = json.dumps(records) if key.endswith(".json") else "\n".join(map(json.dumps, records)) + "\n"
        land(key, text.encode())
    process(defs, instance)
    metrics = resources["query_engine"].query("select * from facilities_facility_metrics")
    dates = metrics.set_index("facility_id")[["expiry_date_of_first_accreditation", "earliest_accreditation_expiry"]]
    as_dates = {k: tuple(pd.Timestamp(v).date() for v in row) for k, row in dates.iterrows()}
    assert as_dates == {
        "FAC001": (dt.date(2027, 10, 25), dt.date(2027, 2, 4)),
        "FAC002": (dt.date(2026, 11, 30), dt.date(2026, 11, 30)),
        "FAC003": (dt.date(2028, 3, 1), dt.date(2027, 6, 15)),
    }
    # Seed 004's top 20 ranks by the earliest expiry, not by the first listed.
    assert metrics["facility_id"].tolist() == ["FAC002", "FAC001", "FAC003"]


def test_admissions_extra_ward_column_is_queryable_with_element_at(land, defs, instance, resources):
    land("patients/wards.csv", WARD_CSV.encode())
    land(
        "patients/plain.csv",
        b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP9,30,M,2024-02-01,,Flu\n",
    )
    process(defs, instance)
    engine = resources["query_engine"]
    wards = engine.query("select element_at(extra, 'ward') from patients_curated_records")
    values = wards.iloc[:, 0].tolist()
    assert len(values) == 4 and sorted(v for v in values if v is not None) == ["ICU-2", "W3"]
    by_row = engine.query(
        "select source_row, element_at(extra, 'ward') as ward from patients_curated_records "
        "where source_file = 'patients/wards.csv' order by source_row"
    )
    assert by_row.values.tolist() == [[1, "W3"], [2, "ICU-2"], [3, None]]


@pytest.mark.parametrize("domain", ["patients", "facilities"])
def test_ground_truth_quarantine_holds_the_raw_rows_unchanged(corpus, domain):
    engine = corpus["resources"]["query_engine"]
    raw = engine.query(f"select * from {domain}_raw_records")
    quarantined = engine.query(f"select * from {domain}_quarantined_records")
    assert len(quarantined) > 0 and "extra" not in quarantined.columns
    keys = ["source_file", "source_row"]
    joined = quarantined.merge(raw, on=keys, suffixes=("", "_raw"), validate="one_to_one")
    for column in (c for c in raw.columns if c not in keys):
        same = joined[column].fillna("<null>").astype(str) == joined[f"{column}_raw"].fillna("<null>").astype(str)
        assert same.all(), (column, joined.loc[~same, keys].head().values.tolist())


def test_ground_truth_curated_extras_hold_the_generated_ward_column(corpus):
    engine = corpus["resources"]["query_engine"]
    wards = engine.query(
        "select c.source_file, c.source_row, element_at(c.extra, 'ward') as kept, r.ward as landed "
        "from patients_curated_records c join patients_raw_records r "
        "on r.source_file = c.source_file and r.source_row = c.source_row "
        "where r.ward is not null"
    )
    assert len(wards) > 0 and (wards["kept"] == wards["landed"]).all()
    facilities = engine.query("select count(*) as n from facilities_curated_records where cardinality(labs) > 0")
    assert int(facilities["n"][0]) > 0


def test_generated_nested_records_arrive_with_their_labs_and_address(corpus):
    sent = {}
    for path in sorted((corpus["samples"] / "facilities").iterdir()):
        data = path.read_bytes()
        raw = read_facilities(data, f"facilities/{path.name}")
        for text, row, error in raw[["record_json", "source_row", "parse_error"]].itertuples(index=False):
            if pd.isna(error):
                sent[(f"facilities/{path.name}", int(row))] = json.loads(text)
    curated = corpus["resources"]["query_engine"].query(
        "select source_file, source_row, address, labs, extra from facilities_curated_records"
    )
    nested = 0
    for source_file, source_row, address, labs, extra in curated.itertuples(index=False):
        record = sent[(source_file, int(source_row))]
        if "location" not in record:
            assert all(value is None or value is pd.NA for value in (address, labs))
            continue
        nested += 1
        assert address == record["location"]["address"]
        assert [(lab["name"], list(lab["certifications"])) for lab in labs] == [
            (lab["lab_name"], lab["certifications"]) for lab in record["labs"]
        ]
        assert not extra
    assert nested > 50
