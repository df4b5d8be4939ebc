"""Rules are plain predicates with their declaration; pandera wraps the same predicates and agrees with curation."""

import datetime as dt

import pandera.errors
import pytest

from hc_pipeline.curation import facilities as facility_curation
from hc_pipeline.curation import patients as patient_curation
from hc_pipeline.curation.rules import evaluate
from hc_pipeline.schemas import facilities, patients
from hc_pipeline.schemas.rules import ERROR, WARNING, Staging
from hc_pipeline.sources.facilities_json import read_facilities
from hc_pipeline.sources.patients_csv import read_admissions

RUN_DATE = dt.date(2025, 6, 30)
CSV = (
    b"patient_id,age,gender,admission_date,discharge_date,diagnosis\n"
    b"P1,40,M,2025-01-01,2025-01-03,Flu\n"
    b",abc,X,2025-13-01,,\n"
    b"P3,130,F,2025-03-01,2025-02-01,Flu\n"
    b"P4,50,F,2026-01-01,2026-01-02,Flu\n"
    b"P1,40,M,2025-01-01,2025-01-03,Flu\n"
)
JSON = (
    b'[{"facility_id": "F1", "state": "TX", "employee_count": 3, "accreditations": '
    b'[{"name": "JC", "expiry_date": "2024-01-01"}]}, {"facility_id": "F1", "state": "ZZ", "employee_count": -1}, 7]'
)


def _cases():
    raw = read_admissions(CSV, "patients/a.csv")
    yield patients.RULE_GROUPS, patient_curation.stage(raw), patient_curation.staging_for(raw, RUN_DATE)
    raw = read_facilities(JSON, "facilities/a.json")
    yield facilities.RULE_GROUPS, facility_curation.stage(raw), Staging(RUN_DATE)


@pytest.mark.filterwarnings("ignore::pandera.errors.SchemaWarning")
@pytest.mark.parametrize(("groups", "staged", "staging"), list(_cases()), ids=["patients", "facilities"])
def test_the_pandera_checks_fail_exactly_the_rows_curation_flags(groups, staged, staging):
    masks = evaluate(staged, staging, groups)
    assert masks.to_numpy().any(), "the sample must break some rules"
    # Second-pass rules read the first pass's `_is_*` columns, which only `evaluate` adds.
    first_pass = [rule for group in groups for rule in group.rules if not rule.second_pass]
    for rule in first_pass:
        passed = rule.check(staging)(staged).check_output
        assert (~passed.fillna(False).astype(bool)).tolist() == masks[rule.id].tolist(), rule.id
    for group in groups:
        if any(rule.second_pass for rule in group.rules):
            continue
        try:
            group.schema(staging).validate(staged, lazy=True)
            found = set()
        except pandera.errors.SchemaErrors as errors:
            cases = errors.failure_cases
            found = {(check, int(index)) for check, index in zip(cases["check"], cases["index"])}
        # Warnings are pandera SchemaWarnings, not errors: the schema raises for the error rules alone.
        flagged = {(r.id, int(i)) for r in group.rules if r.severity == ERROR for i in masks.index[masks[r.id]]}
        assert found == flagged, group.name


def test_every_rule_declares_id_severity_field_and_group():
    for groups in (patients.RULE_GROUPS, facilities.RULE_GROUPS):
        for group in groups:
            for rule in group.rules:
                assert rule.group == group.name and rule.severity in (ERROR, WARNING) and rule.field
                assert rule.check(Staging(RUN_DATE)).name == rule.id


def test_staging_travels_as_an_argument_not_in_frame_attrs():
    raw = read_admissions(CSV, "patients/a.csv")
    staged = patient_curation.stage(raw)
    assert not staged.attrs
    staging = patient_curation.staging_for(raw, RUN_DATE)
    assert staging.run_date == RUN_DATE and "patient_id" in staging.raw_columns
    assert "source_row" not in staging.raw_columns and "parse_error" not in staging.raw_columns
    result = patient_curation.curate(raw, RUN_DATE)
    assert not result.curated.attrs and not result.quarantined.attrs
