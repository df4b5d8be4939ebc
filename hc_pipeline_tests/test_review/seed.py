"""Seed-like files for the stewards' loop: ten admissions (five break an error rule, four only warn)."""

import csv
import io

ADMISSIONS = """patient_id,age,gender,admission_date,discharge_date,diagnosis
P001,45,M,2025-01-10,2025-01-15,Pneumonia
P002,50,X,2025-02-01,2025-02-03,Asthma
P003,,M,2025-03-01,2025-03-04,Influenza
P004,60,F,2025-03-05,2025-03-09,
P005,33,M,2025-04-01,,Fracture
P006,150,F,2025-04-02,2025-04-05,Influenza
,40,M,2025-04-03,2025-04-06,Influenza
P008,abc,F,2025-04-04,2025-04-07,Influenza
P009,70,M,2025-05-10,2025-05-01,Influenza
P010,25,F,2026-01-01,2026-01-05,Influenza
"""
# Row -> the error rule it breaks (rows 1-5 are curated, 2-5 with one warning each).
ERRORS = {
    6: "age_out_of_range",
    7: "missing_patient_id",
    8: "unparseable_age",
    9: "discharge_before_admission",
    10: "future_admission",
}
WARNINGS = {2: "invalid_gender", 3: "missing_age", 4: "missing_diagnosis", 5: "missing_discharge_date"}

FACILITIES = """[
 {"facility_id": "F1", "facility_name": "North", "state": "CA", "employee_count": 10,
  "services": ["ER"], "accreditations": [{"name": "JC", "expiry_date": "2026-01-01"}]},
 {"facility_id": "F2", "facility_name": "South", "state": "ZZ", "employee_count": 20,
  "services": ["ER"], "accreditations": [{"name": "JC", "expiry_date": "2026-02-01"}]},
 {"facility_id": "F3", "facility_name": "East", "state": "NY", "employee_count": -5,
  "services": ["Lab"], "accreditations": [{"name": "JC", "expiry_date": "2026-03-01"}]},
 {"facility_name": "West", "state": "TX", "employee_count": 7,
  "services": ["Lab"], "accreditations": [{"name": "JC", "expiry_date": "2026-04-01"}]}
]
"""


def decided(export_csv: str, decisions: dict[int, tuple[str, str, dict]]) -> str:
    """The exported CSV with `decision`, `note` and edited values filled in per source_row."""
    rows = list(csv.DictReader(io.StringIO(export_csv)))
    for row in rows:
        decision = decisions.get(int(row["source_row"]))
        if decision:
            row["decision"], row["note"] = decision[0], decision[1]
            row.update(decision[2])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
