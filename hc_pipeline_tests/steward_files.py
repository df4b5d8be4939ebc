"""Seed-like admissions files for the stewards' tests: 10 rows with 5 breaking error rules and 4 with warnings."""

HEADER = "patient_id,age,gender,admission_date,discharge_date,diagnosis\n"

# Rows 1-5 break one error rule each; rows 6-9 carry one warning each; row 10 is clean (run date 2025-06-30).
BAD_ROWS = [
    ",40,M,2024-01-01,2024-01-03,Flu",  # missing_patient_id
    "P2,abc,F,2024-01-02,2024-01-05,Flu",  # unparseable_age
    "P3,150,F,2024-01-02,2024-01-05,Asthma",  # age_out_of_range
    "P4,33,M,2024-02-10,2024-02-01,Flu",  # discharge_before_admission
    "P5,51,F,2026-01-01,2026-01-04,Flu",  # future_admission
    "P6,60,,2024-03-01,2024-03-04,Flu",  # missing_gender (warning)
    "P7,61,F,2024-03-01,2024-03-04,",  # missing_diagnosis (warning)
    "P8,62,M,2024-03-02,,Asthma",  # missing_discharge_date (warning)
    "P9,63,X,2024-03-03,2024-03-05,Flu",  # invalid_gender (warning)
    "P10,64,F,2024-03-04,2024-03-06,Asthma",
]
BAD_FILE = ("patients/ward 7 (bad).csv", (HEADER + "\n".join(BAD_ROWS) + "\n").encode())
GOOD_FILE = (
    "patients/ward 8 clean.csv",
    (HEADER + "".join(f"Q{i},{30 + i},F,2024-04-0{i},2024-04-0{i + 1},Flu\n" for i in range(1, 7))).encode(),
)
BAD_ERRORS = {
    "missing_patient_id",
    "unparseable_age",
    "age_out_of_range",
    "discharge_before_admission",
    "future_admission",
}
BAD_WARNINGS = {"missing_gender", "missing_diagnosis", "missing_discharge_date", "invalid_gender"}
# What the WARN checks make of the bad file: share of its 10 rows breaking any rule of the group vs the threshold.
BAD_FAILING_GROUPS = {"conformance", "completeness", "plausibility"}
