"""Facility curation: both variants in one schema, every rule on a hand-built case, no row lost."""

import datetime as dt
import json

import duckdb
import pandas as pd
import pandera.errors
import pyarrow as pa
import pytest

from hc_pipeline.curation.facilities import CURATED_COLUMNS, QUARANTINED_COLUMNS, curate, report_findings
from hc_pipeline.schemas.facilities import RULES, CuratedFacilities
from hc_pipeline.sources.facilities_json import read_facilities
from hc_pipeline.sql import athena_to_duckdb, create_duckdb_views, render_sql

RUN_DATE = dt.date(2028, 2, 29)
SOURCE = "facilities/batch [v2].json"


def flat(facility_id="F-FLAT", **fields) -> dict:
    return {
        "facility_id": facility_id,
        "facility_name": "Flat Clinic",
        "employee_count": 20,
        "services": ["ER", "Lab"],
        "accreditations": [{"name": "The Joint Commission", "expiry_date": "2029-01-31"}],
        "state": "tx",
        **fields,
    }


def nested(facility_id="F-NEST", **fields) -> dict:
    return {
        "facility_id": facility_id,
        "facility_name": "Nested Hospital",
        "location": {"address": "1 Main St", "city": "Boston", "state": "MA", "zip": "02134"},
        "employee_count": 300,
        "services": ["ICU"],
        "labs": [{"lab_name": "Core", "certifications": ["CLIA"]}],
        "accreditations": [
            {"accreditation_body": "DNV", "accreditation_id": "DNV-1", "valid_until": "12/31/2028"},
            {"accreditation_body": "CAP", "accreditation_id": "CAP-2", "valid_until": "2028-06-30T00:00:00Z"},
        ],
        **fields,
    }


def raw_of(*records) -> pd.DataFrame:
    return read_facilities(json.dumps(list(records)).encode(), SOURCE)


def run(*records, known_ids=frozenset(), landed_at=None):
    raw = raw_of(*records)
    return raw, curate(raw, RUN_DATE, known_ids=known_ids, landed_at=landed_at)


def findings(*records, **kwargs) -> list[set[str]]:
    """The rule ids each record breaks, in file order."""
    _, result = run(*records, **kwargs)
    return [set(result.masks.columns[row]) for row in result.masks.to_numpy()]


def test_flat_and_nested_variants_normalise_to_one_schema():
    _, result = run(flat(), nested())
    curated = result.curated
    assert list(curated.columns) == CURATED_COLUMNS
    first, second = curated.to_dict("records")
    assert {k: first[k] for k in ("facility_id", "facility_name", "state", "employee_count", "n_services")} == {
        "facility_id": "F-FLAT",
        "facility_name": "Flat Clinic",
        "state": "TX",
        "employee_count": 20,
        "n_services": 2,
    }
    assert pd.isna(first["city"]) and pd.isna(first["zip"])
    assert list(first["services"]) == ["ER", "Lab"]
    assert list(first["accreditations"]) == [
        {"body": "The Joint Commission", "id": None, "expiry_date": dt.date(2029, 1, 31)}
    ]
    assert (second["city"], second["state"], second["zip"]) == ("Boston", "MA", "02134")
    assert list(second["accreditations"]) == [
        {"body": "DNV", "id": "DNV-1", "expiry_date": dt.date(2028, 12, 31)},
        {"body": "CAP", "id": "CAP-2", "expiry_date": dt.date(2028, 6, 30)},
    ]
    assert second["first_accreditation_expiry"] == dt.date(2028, 6, 30)
    assert curated["source_row"].tolist() == [1, 2]
    assert curated["warnings"].list.len().tolist() == [0, 0]
    CuratedFacilities.validate(curated, lazy=True)


def test_curated_frame_serves_the_sql_reports():
    _, result = run(flat(), nested(), flat("F-OLD", accreditations=[{"name": "X", "expiry_date": "2028-01-01"}]))
    with duckdb.connect() as connection:
        connection.register("facilities_curated_records", pa.Table.from_pandas(result.curated, preserve_index=False))
        create_duckdb_views(connection, {"facilities_curated_records"})
        sql = athena_to_duckdb(render_sql("expiring_accreditations", as_of=RUN_DATE, horizon_days=180))
        rows = connection.execute(sql).fetchall()
        assert [(r[0], r[3], r[6], r[7]) for r in rows] == [
            ("F-OLD", "X", -59, "expired"),
            ("F-NEST", "CAP", 122, "upcoming"),
        ]


def test_landed_at_is_stored_as_naive_utc():
    stamp = dt.datetime(2028, 3, 1, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    _, result = run(flat(), landed_at=stamp)
    assert result.curated["landed_at"].tolist() == [pd.Timestamp("2028-02-29 23:30")]
    assert result.curated["landed_at"].dtype == pd.ArrowDtype(pa.timestamp("us"))


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("2028-02-29", dt.date(2028, 2, 29)),
        ("02/29/2028", dt.date(2028, 2, 29)),
        ("2/9/2028", dt.date(2028, 2, 9)),
        ("2028-02-29T23:30:00Z", dt.date(2028, 2, 29)),
        ("2028-02-29T08:00:00.250+05:00", dt.date(2028, 2, 29)),
        (" 2028-03-01 08:00 ", dt.date(2028, 3, 1)),
    ],
)
def test_expiry_spellings_that_parse(spelling, expected):
    _, result = run(flat(accreditations=[{"name": "JCI", "expiry_date": spelling}]))
    assert result.curated["first_accreditation_expiry"].tolist() == [expected]


@pytest.mark.parametrize(
    "accreditation",
    [
        {"name": "JCI", "expiry_date": "2027-02-29"},
        {"name": "JCI", "expiry_date": "29/02/2028"},
        {"name": "JCI", "expiry_date": "Feb 29 2028"},
        {"name": "JCI", "expiry_date": "20280229"},
        {"name": "JCI", "expiry_date": 20280229},
        {"name": "JCI", "expiry_date": ""},
        {"name": "JCI", "expiry_date": None},
        {"name": "JCI"},
        {"accreditation_body": "CAP", "accreditation_id": "C", "valid_until": "2028-13-01"},
        "JCI",
        None,
    ],
)
def test_unparseable_expiry_date_is_an_error(accreditation):
    good = {"name": "CAP", "expiry_date": "2029-01-01"}
    assert findings(flat(accreditations=[good, accreditation])) == [{"unparseable_expiry_date"}]


@pytest.mark.parametrize("facility_id", [None, "", "   ", ["F1"], {"id": 1}, True])
def test_missing_facility_id(facility_id):
    assert findings(flat(facility_id)) == [{"missing_facility_id"}]


def test_missing_facility_id_key():
    record = flat()
    del record["facility_id"]
    assert findings(record) == [{"missing_facility_id"}]


def test_numeric_facility_id_is_kept_as_text():
    _, result = run(flat(1042))
    assert result.curated["facility_id"].tolist() == ["1042"]


def test_invalid_json_line_is_quarantined_with_that_reason_only():
    text = "\n".join([json.dumps(flat("F1")), '{"facility_id": "F2", "state": "TX"', json.dumps(nested("F3"))])
    raw = read_facilities(text.encode(), "facilities/x.ndjson")
    result = curate(raw, RUN_DATE)
    assert result.curated["facility_id"].tolist() == ["F1", "F3"]
    assert result.quarantined["source_row"].tolist() == [2]
    assert list(result.quarantined["reasons"][0]) == ["invalid_json"]
    assert result.quarantined["record_json"][0] == '{"facility_id": "F2", "state": "TX"'
    assert result.quarantined["parse_error"][0].startswith("line 2: ")


def test_list_element_that_is_not_an_object_is_invalid_json():
    assert findings(flat(), ["F9"], 7) == [set(), {"invalid_json"}, {"invalid_json"}]


@pytest.mark.parametrize("count", [-1, 12.5, "abc", "12.5", "1_000", "-3", True, [3], {"n": 3}, 2**64])
def test_invalid_employee_count(count):
    assert findings(flat(employee_count=count)) == [{"invalid_employee_count"}]


@pytest.mark.parametrize(
    ("count", "expected"), [(None, None), ("", None), (0, 0), (15.0, 15), (" 42 ", 42), ("1e3", 1000)]
)
def test_valid_or_absent_employee_count(count, expected):
    _, result = run(flat(employee_count=count))
    stored = result.curated["employee_count"][0]
    assert (None if pd.isna(stored) else stored) == expected


def test_absent_employee_count_key_is_allowed():
    record = flat()
    del record["employee_count"]
    assert findings(record) == [set()]


@pytest.mark.parametrize("state", [None, "", "Texas", "ZZ", "T X", 48, ["TX"]])
def test_invalid_state(state):
    assert findings(flat(state=state)) == [{"invalid_state"}]


def test_missing_state_in_both_variants_is_invalid():
    record = flat()
    del record["state"]
    location_without_state = nested("F-A", location={"city": "Boston", "zip": "02134"})
    assert findings(record, location_without_state, nested("F-B", location=None)) == [{"invalid_state"}] * 3


@pytest.mark.parametrize(("state", "curated"), [("dc", "DC"), (" pr ", "PR"), ("GU", "GU"), ("vi", "VI")])
def test_usps_codes_including_dc_and_territories_are_upper_cased(state, curated):
    _, result = run(flat(state=state))
    assert result.curated["state"].tolist() == [curated]


@pytest.mark.parametrize("accreditations", [None, [], "missing"])
def test_missing_accreditations_is_a_warning(accreditations):
    record = flat(accreditations=accreditations)
    if accreditations == "missing":
        del record["accreditations"]
    _, result = run(record)
    assert list(result.curated["warnings"][0]) == ["missing_accreditations"]
    assert pd.isna(result.curated["first_accreditation_expiry"][0])


def test_expired_accreditation_is_a_warning_and_the_run_date_itself_is_not_expired():
    expired = flat(
        "F1", accreditations=[{"name": "A", "expiry_date": "2028-02-28"}, {"name": "B", "expiry_date": "2030-01-01"}]
    )
    today = flat("F2", accreditations=[{"name": "A", "expiry_date": "2028-02-29"}])
    assert findings(expired, today) == [{"expired_accreditation"}, set()]


def test_duplicate_facility_within_the_file_flags_later_rows_only():
    assert findings(flat("F1"), nested("F2"), nested("F1"), flat("F1")) == [
        set(),
        set(),
        {"duplicate_facility"},
        {"duplicate_facility"},
    ]


def test_duplicate_facility_from_an_earlier_file():
    assert findings(flat("F1"), flat("F2"), known_ids={"F2", "F7"}) == [set(), {"duplicate_facility"}]


def test_missing_ids_are_not_duplicates_of_each_other():
    assert findings(flat(None), flat("  ")) == [{"missing_facility_id"}] * 2


def test_each_rule_has_the_declared_severity():
    errors = {
        "missing_facility_id",
        "invalid_json",
        "invalid_employee_count",
        "unparseable_expiry_date",
        "invalid_state",
    }
    warnings = {"missing_accreditations", "expired_accreditation", "duplicate_facility"}
    assert {r for r, rule in RULES.items() if rule.severity == "error"} == errors
    assert {r for r, rule in RULES.items() if rule.severity == "warning"} == warnings


def test_rows_are_conserved_and_findings_reported():
    records = [
        flat("F1"),
        nested("F2"),
        flat(None),
        "oops",
        flat("F3", state="XX", employee_count=-5),
        nested("F2"),
        flat("F4", accreditations=[]),
        flat("F5", accreditations=[{"name": "A"}]),
    ]
    raw, result = run(*records, known_ids={"F4"})
    assert result.conserved(len(raw)) and len(raw) == len(records)
    rows = result.curated["source_row"].tolist() + result.quarantined["source_row"].tolist()
    assert sorted(rows) == list(range(1, 9))
    assert list(result.quarantined.columns) == QUARANTINED_COLUMNS
    assert result.quarantined["source_row"].tolist() == [3, 4, 5, 8]
    assert [list(r) for r in result.quarantined["reasons"]] == [
        ["missing_facility_id"],
        ["invalid_json"],
        ["invalid_employee_count", "invalid_state"],
        ["unparseable_expiry_date"],
    ]
    report = report_findings(result.curated, result.quarantined)
    assert report[["source_row", "rule", "severity"]].values.tolist() == [
        [3, "missing_facility_id", "error"],
        [4, "invalid_json", "error"],
        [5, "invalid_employee_count", "error"],
        [5, "invalid_state", "error"],
        [6, "duplicate_facility", "warning"],
        [7, "duplicate_facility", "warning"],
        [7, "missing_accreditations", "warning"],
        [8, "unparseable_expiry_date", "error"],
    ]
    CuratedFacilities.validate(result.curated, lazy=True)


def test_empty_raw_frame_curates_to_empty_frames():
    raw = raw_of(flat()).iloc[0:0]
    result = curate(raw, RUN_DATE)
    assert result.curated.empty and list(result.curated.columns) == CURATED_COLUMNS
    assert result.quarantined.empty and list(result.quarantined.columns) == QUARANTINED_COLUMNS
    assert result.conserved(0)


def test_generated_files_yield_exactly_their_injected_defects():
    import numpy as np

    from hc_pipeline.generate.facilities import build_facility_files

    known: set[str] = set()
    for generated in build_facility_files(np.random.default_rng(7), 400, 8, 0.15, RUN_DATE):
        data = (b"\xef\xbb\xbf" if generated.bom else b"") + generated.text.encode("utf-8")
        raw = read_facilities(data, f"facilities/{generated.name}")
        result = curate(raw, RUN_DATE, known_ids=known)
        found = {
            (int(row), rule)
            for row, hits in zip(raw["source_row"], result.masks.to_numpy())
            for rule in result.masks.columns[hits]
        }
        assert found == set(generated.defects), generated.name
        assert result.conserved(len(raw))
        known |= set(result.curated["facility_id"])


def _earliest_is_first(curated: pd.DataFrame) -> list[bool]:
    """Per row, whether the contract's `first_expiry_is_earliest` check passes."""
    try:
        CuratedFacilities.validate(curated, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        failed = set(cases.loc[cases["check"] == "first_expiry_is_earliest", "index"])
        return [index not in failed for index in curated.index]
    return [True] * len(curated)


def test_the_first_expiry_check_passes_the_earliest_date_and_fails_any_other():
    _, result = run(*(flat(f"F-{n}") for n in range(6)))
    day = dt.date
    lists = [
        [("JC", day(2029, 1, 31))],
        [("DNV", day(2028, 12, 31)), ("CAP", day(2028, 6, 30))],
        [],
        [("CAP", None)],
        [("CAP", None), ("DNV", day(2030, 5, 1))],
        None,
    ]
    earliest = [day(2029, 1, 31), day(2028, 6, 30), None, None, day(2030, 5, 1), None]
    kind = result.curated["accreditations"].dtype.pyarrow_dtype
    accreditations = pa.array(
        [None if found is None else [{"body": b, "id": None, "expiry_date": d} for b, d in found] for found in lists],
        kind,
    )
    dates = result.curated["first_accreditation_expiry"].dtype
    curated = result.curated.assign(
        accreditations=pd.Series(pd.arrays.ArrowExtensionArray(accreditations), index=result.curated.index),
        first_accreditation_expiry=pd.Series(earliest, dtype=dates, index=result.curated.index),
    )
    assert _earliest_is_first(curated) == [True] * 6
    late = curated.assign(first_accreditation_expiry=pd.Series([day(2031, 1, 1)] * 6, dtype=dates, index=curated.index))
    assert _earliest_is_first(late) == [False] * 6
    missing = curated.assign(first_accreditation_expiry=pd.Series([None] * 6, dtype=dates, index=curated.index))
    assert _earliest_is_first(missing) == [False, False, True, True, False, True]
    # A slice of a frame (a batch of a file) is judged by its own rows' lists.
    assert _earliest_is_first(missing.iloc[1:4]) == [False, True, True]
    assert _earliest_is_first(curated.iloc[[4, 0]]) == [True, True]
