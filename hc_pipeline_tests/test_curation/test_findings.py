"""The anomaly report's rows: one per finding, by row then rule id, with the field and severity of each rule."""

import datetime as dt

from hc_pipeline.curation.patients import curate, report_findings
from hc_pipeline.schemas.patients import RULES
from hc_pipeline.sources.patients_csv import read_admissions

CSV = b"""patient_id,age,gender,admission_date,discharge_date,diagnosis
P1,40,F,2024-01-01,2024-01-03,Gout
P2,40,F,2024-13-45,2024-01-03,Gout
P3,40,F,2024-01-01,not a date,Gout
P4,,x,2024-01-01,2024-01-03,
P1,40,F,2024-01-01,2024-01-03,Gout
"""


def test_findings_come_by_row_then_rule_and_a_bad_discharge_date_names_its_field():
    result = curate(read_admissions(CSV, "patients/f.csv"), dt.date(2025, 6, 30))
    found = report_findings([result.curated], result.quarantined)
    keys = list(zip(found["source_row"], found["rule"], strict=True))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    fields = {(row, rule): field for row, rule, field in zip(found["source_row"], found["rule"], found["field"])}
    assert fields[(2, "unparseable_date")] == "admission_date"
    assert fields[(3, "unparseable_date")] == "discharge_date"
    assert len({rule for row, rule in keys if row == 4}) > 1  # several rules of one row, in rule-id order
    assert (5, "duplicate_row") in fields
    assert found["severity"].tolist() == [RULES[rule].severity for rule in found["rule"]]
    assert found.dtypes.astype(str).tolist() == ["string", "int64", "string", "string", "string", "string"]
