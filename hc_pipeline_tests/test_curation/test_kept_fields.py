"""Nothing a source sends is lost: contract columns for address and labs, everything else in the `extra` map."""

import datetime as dt
import io
import json
import zipfile

import pandas as pd
import pyarrow as pa
import pytest

from hc_pipeline.curation import facilities, patients
from hc_pipeline.curation.extra import EXTRA_DTYPE, extra_from_columns
from hc_pipeline.schemas.facilities import CuratedFacilities
from hc_pipeline.schemas.patients import CuratedAdmissions
from hc_pipeline.sources.facilities_json import read_facilities
from hc_pipeline.sources.patients_csv import read_admissions
from hc_pipeline.sources.synthea_zip import read_synthea_zip

RUN_DATE = dt.date(2026, 1, 15)


def seed_002(facility_id="FAC12345", **fields) -> dict:
    """A record shaped like seed 002's sample: nested location, labs, accreditations with valid_until."""
    return {
        "facility_id": facility_id,
        "facility_name": "Springfield General Hospital",
        "location": {"address": "123 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
        "employee_count": 250,
        "services": ["Emergency", "Radiology", "Laboratory"],
        "labs": [
            {"lab_name": "Hematology Lab", "certifications": ["CLIA", "CAP"]},
            {"lab_name": "Microbiology Lab", "certifications": ["CAP"]},
        ],
        "accreditations": [
            {"accreditation_body": "Joint Commission", "accreditation_id": "JC-2024-001", "valid_until": "2027-12-31"},
            {"accreditation_body": "CAP", "accreditation_id": "CAP-77", "valid_until": "2026-09-30"},
        ],
        **fields,
    }


def seed_001(facility_id="FAC001", **fields) -> dict:
    """A record shaped like seed 001's: flat state, accreditations of {name, expiry_date}."""
    return {
        "facility_id": facility_id,
        "facility_name": "Lakeside Clinic",
        "state": "CA",
        "employee_count": 85,
        "services": ["Primary Care", "Pediatrics"],
        "accreditations": [
            {"name": "AAAHC", "expiry_date": "2027-10-25"},
            {"name": "CAP", "expiry_date": "2027-02-04"},
        ],
        **fields,
    }


CONTAINERS = {
    "object": lambda records: json.dumps(records[0]),
    "array": lambda records: json.dumps(records),
    "ndjson": lambda records: "\n".join(json.dumps(r) for r in records) + "\n",
    "wrapper": lambda records: json.dumps({"source": "seed 002", "sample_data": records}),
}


def curated_of(text: str, name: str = "facilities/sample.json") -> pd.DataFrame:
    result = facilities.curate(read_facilities(text.encode(), name), RUN_DATE)
    assert result.quarantined.empty, result.quarantined["reasons"].tolist()
    return result.curated


def decoded(text: str) -> object:
    """An `extra` value back as JSON where it is JSON text, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def extra_of(row: dict) -> dict:
    return {key: decoded(value) for key, value in row["extra"]}


def rebuilt_seed_002(row: dict) -> dict:
    """The source record as seed 002 wrote it, from one curated row and its extras."""
    return {
        "facility_id": row["facility_id"],
        "facility_name": row["facility_name"],
        "location": {"address": row["address"], "city": row["city"], "state": row["state"], "zip": row["zip"]},
        "employee_count": row["employee_count"],
        "services": list(row["services"]),
        "labs": [{"lab_name": lab["name"], "certifications": list(lab["certifications"])} for lab in row["labs"]],
        "accreditations": [
            {"accreditation_body": a["body"], "accreditation_id": a["id"], "valid_until": a["expiry_date"].isoformat()}
            for a in row["accreditations"]
        ],
        **extra_of(row),
    }


def rebuilt_seed_001(row: dict) -> dict:
    return {
        "facility_id": row["facility_id"],
        "facility_name": row["facility_name"],
        "state": row["state"],
        "employee_count": row["employee_count"],
        "services": list(row["services"]),
        "accreditations": [
            {"name": a["body"], "expiry_date": a["expiry_date"].isoformat()} for a in row["accreditations"]
        ],
        **extra_of(row),
    }


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_seed_002_records_round_trip_every_field_in_every_container(container):
    records = [seed_002(), seed_002("FAC12346", tags={"teaching": True, "beds": [120, 40]}, npi="1234567893x")]
    curated = curated_of(CONTAINERS[container](records[:1] if container == "object" else records))
    rows = curated.to_dict("records")
    assert rows[0]["address"] == "123 Main St"
    assert list(rows[0]["labs"]) == [
        {"name": "Hematology Lab", "certifications": ["CLIA", "CAP"]},
        {"name": "Microbiology Lab", "certifications": ["CAP"]},
    ]
    assert rows[0]["extra"] == []
    assert [rebuilt_seed_002(row) for row in rows] == records[: len(rows)]
    CuratedFacilities.validate(curated, lazy=True)


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_seed_001_records_round_trip_every_field_in_every_container(container):
    records = [seed_001(), seed_001("FAC002", country="US", contact={"phone": "555-0100"}, rating=4.5)]
    curated = curated_of(CONTAINERS[container](records[:1] if container == "object" else records))
    rows = curated.to_dict("records")
    assert pd.isna(rows[0]["address"]) and pd.isna(rows[0]["labs"])
    assert [rebuilt_seed_001(row) for row in rows] == records[: len(rows)]
    if container != "object":
        assert rows[1]["extra"] == [("country", "US"), ("contact", '{"phone":"555-0100"}'), ("rating", "4.5")]
    # first_accreditation_expiry is the earliest expiry (seed 004's ordering), not the first listed.
    assert rows[0]["first_accreditation_expiry"] == dt.date(2027, 2, 4)


def test_flat_address_city_and_zip_are_read_and_nested_values_win():
    flat = seed_001(address="9 Elm St", city="Fresno", zip=93650)
    both = seed_002("FAC9", state="TX", address="1 Other Rd")
    rows = curated_of(json.dumps([flat, both])).to_dict("records")
    assert (rows[0]["address"], rows[0]["city"], rows[0]["zip"]) == ("9 Elm St", "Fresno", "93650")
    assert (rows[1]["address"], rows[1]["state"]) == ("123 Main St", "IL")
    # The flat spellings the nested ones overrode are kept, not dropped.
    assert extra_of(rows[1]) == {"state": "TX", "address": "1 Other Rd"}


def test_fields_read_only_in_part_are_kept_whole_in_extra():
    location = {"address": "123 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "county": "Sangamon"}
    accreditations = [{"name": "CAP", "expiry_date": "2027-01-01", "status": "active"}]
    labs = [{"lab_name": "Core", "certifications": ["CLIA"], "director": "Dr. Q"}]
    record = seed_002(location=location, labs=labs)
    rows = curated_of(json.dumps([record, seed_001(accreditations=accreditations, address={"line1": "x"})]))
    first, second = rows.to_dict("records")
    assert extra_of(first) == {"location": location, "labs": labs}
    assert (first["address"], first["city"]) == ("123 Main St", "Springfield")
    assert extra_of(second) == {"accreditations": accreditations, "address": {"line1": "x"}}
    assert pd.isna(second["address"])


def test_an_object_spelling_a_field_both_ways_is_kept_whole_in_extra():
    mixed = [{"accreditation_body": "CAP", "name": "College of American Pathologists", "valid_until": "2027-01-01"}]
    row = curated_of(json.dumps(seed_002(accreditations=mixed))).to_dict("records")[0]
    assert [a["body"] for a in row["accreditations"]] == ["CAP"]
    assert extra_of(row) == {"accreditations": mixed}


@pytest.mark.parametrize(
    ("labs", "curated"),
    [
        (None, None),
        ([], []),
        ("Blood Bank", [{"name": "Blood Bank", "certifications": None}]),
        ([{"name": "Core", "certifications": "CLIA"}], [{"name": "Core", "certifications": ["CLIA"]}]),
        ([{"lab_name": "Core"}, None], [{"name": "Core", "certifications": None}]),
    ],
)
def test_labs_shapes(labs, curated):
    record = seed_002()
    if labs is None:
        del record["labs"]
    else:
        record["labs"] = labs
    stored = curated_of(json.dumps(record))["labs"][0]
    assert (None if stored is None or stored is pd.NA else list(stored)) == curated


def test_curated_facilities_schema_is_the_same_whatever_the_file_sent():
    plain = curated_of(json.dumps([seed_001()]))
    odd = curated_of(json.dumps([seed_002(tags=["a"], rating=5)]))
    schemas = [pa.Table.from_pandas(frame, preserve_index=False).schema.remove_metadata() for frame in (plain, odd)]
    assert schemas[0] == schemas[1]
    assert schemas[0].field("extra").type == pa.map_(pa.string(), pa.string())
    assert odd["extra"].dtype == EXTRA_DTYPE


def test_quarantined_facility_records_keep_their_json_and_get_no_extra():
    bad = seed_002("FAC-BAD", employee_count=-3, ward="W1")
    raw = read_facilities(json.dumps([seed_002(), bad]).encode(), "facilities/x.json")
    result = facilities.curate(raw, RUN_DATE)
    assert list(result.quarantined.columns) == facilities.QUARANTINED_COLUMNS
    assert json.loads(result.quarantined["record_json"][0]) == bad


ADMISSIONS = "patient_id,age,gender,admission_date,discharge_date,diagnosis,Ward,bed_no\n"


def test_admission_columns_beyond_the_contract_go_to_extra_by_normalised_name():
    text = (
        ADMISSIONS
        + "P1,40,M,2024-01-01,2024-01-03,Flu,W3,12\nP2,41,F,2024-01-02,,Flu,,7\nP3,42,F,2024-01-02,,Flu,W9,\n"
    )
    result = patients.curate(read_admissions(text.encode(), "patients/wards.csv"), RUN_DATE)
    assert result.curated["extra"].tolist() == [
        [("ward", "W3"), ("bed_no", "12")],
        [("bed_no", "7")],
        [("ward", "W9")],
    ]
    assert "ward" not in result.curated.columns
    CuratedAdmissions.validate(result.curated, lazy=True)


def test_admissions_without_extra_columns_get_empty_maps_and_the_same_schema():
    with_ward = ADMISSIONS + "P1,40,M,2024-01-01,2024-01-03,Flu,W3,12\n"
    plain = "patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"
    frames = [
        patients.curate(read_admissions(t.encode(), "patients/a.csv"), RUN_DATE).curated for t in (with_ward, plain)
    ]
    assert frames[1]["extra"].tolist() == [[]]
    schemas = [pa.Table.from_pandas(f, preserve_index=False).schema.remove_metadata() for f in frames]
    assert schemas[0] == schemas[1]


def test_extra_from_columns_reads_chunked_and_object_columns_of_a_filtered_frame():
    chunked = pa.chunked_array([pa.array(["W1", None], pa.large_string()), pa.array(["W3", "W4"], pa.large_string())])
    frame = pd.DataFrame(
        {"ward": pd.arrays.ArrowStringArray(chunked), "bed": pd.array(["1", None, None, 4], dtype=object)},
        index=[10, 11, 12, 13],
    )
    kept = extra_from_columns(frame.iloc[[3, 1, 2]], ["ward", "bed"])
    assert kept.index.tolist() == [13, 11, 12]
    assert kept.tolist() == [[("ward", "W4"), ("bed", "4")], [], [("ward", "W3")]]


def test_quarantined_admission_rows_are_the_raw_rows_unchanged():
    text = ADMISSIONS + "P1,40,M,2024-01-01,2024-01-03,Flu,W3,12\nP2,abc,F,2024-01-02,,Flu,W4,\n"
    raw = read_admissions(text.encode(), "patients/a.csv")
    result = patients.curate(raw, RUN_DATE)
    quarantined = result.quarantined.drop(columns=["reasons"])
    assert "extra" not in quarantined.columns
    pd.testing.assert_frame_equal(quarantined[raw.columns], raw.iloc[[1]].reset_index(drop=True))


def test_synthea_rows_have_empty_extra_maps():
    patients_csv = "Id,BIRTHDATE,GENDER,RACE,ETHNICITY,SSN,FIRST\np1,1980-01-01,M,white,nonhispanic,999-00-0000,Ann\n"
    encounters = (
        "Id,START,STOP,PATIENT,ENCOUNTERCLASS,DESCRIPTION,REASONCODE,REASONDESCRIPTION\n"
        "e1,2024-01-01T08:00:00Z,2024-01-03T08:00:00Z,p1,inpatient,Admission,233604007,Pneumonia\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("csv/patients.csv", patients_csv)
        archive.writestr("csv/encounters.csv", encounters)
    raw = read_synthea_zip(buffer.getvalue(), "patients/synthea.zip")
    curated = patients.curate(raw, RUN_DATE).curated
    assert len(curated) == 1 and curated["extra"].tolist() == [[]]
