"""Write a sample landing zone (patients CSVs, facilities JSON) and the ground truth of its injected defects."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import numpy as np
import pandas as pd

from hc_pipeline.generate.facilities import FACILITY_RULES, build_facility_files
from hc_pipeline.generate.patients import PATIENT_RULES, build_patient_files
from hc_pipeline.generate.synthea import synthea_zip

GROUND_TRUTH_COLUMNS = ["domain", "file", "row", "rule"]
SYNTHEA_FILE = "synthea_export.zip"


def generate(
    out: pathlib.Path,
    patients: int = 10_000,
    facilities: int = 200,
    defect_rate: float = 0.05,
    seed: int = 7,
    run_date: dt.date | None = None,
    patient_files: int = 2,
    facility_files: int = 4,
    synthea_patients: int = 0,
) -> dict:
    """Write sample files under out/patients/ and out/facilities/ plus out/ground_truth.csv; return a summary.

    With `synthea_patients`, also a Synthea export `patients/synthea_export.zip` and `synthea_truth.json`.
    """
    if not 0 <= defect_rate <= 1:
        raise ValueError(f"defect_rate must be within [0, 1], got {defect_rate}")
    if patient_files < 1 or facility_files < 1 or patients < patient_files:
        raise ValueError("need at least one file per domain and one patient row per patients file")
    run_date = run_date or dt.datetime.now(dt.UTC).date()
    out = pathlib.Path(out)
    # Separate streams, so changing one domain's size leaves the other's files unchanged.
    patient_rng, facility_rng = (np.random.default_rng([seed, stream]) for stream in (0, 1))
    patient_set = build_patient_files(patient_rng, patients, patient_files, defect_rate, run_date)
    facility_set = build_facility_files(facility_rng, facilities, facility_files, defect_rate, run_date)

    (out / "patients").mkdir(parents=True, exist_ok=True)
    (out / "facilities").mkdir(parents=True, exist_ok=True)
    truth = []
    for p in patient_set:
        p.frame.to_csv(out / "patients" / p.name, index=False, lineterminator="\n", encoding="utf-8")
        truth += [("patients", p.name, row, rule) for row, rule in p.defects]
    # Written in name order so modification times agree with the landing order duplicates assume.
    for f in sorted(facility_set, key=lambda f: f.name):
        data = ("\ufeff" if f.bom else "") + f.text
        (out / "facilities" / f.name).write_bytes(data.encode("utf-8"))
        truth += [("facilities", f.name, row, rule) for row, rule in f.defects]
    if synthea_patients:
        export, synthea_truth = synthea_zip(run_date, seed, patients=synthea_patients)
        (out / "patients" / SYNTHEA_FILE).write_bytes(export)
        (out / "synthea_truth.json").write_text(json.dumps(synthea_truth, indent=2))
        truth += [("patients", SYNTHEA_FILE, row, rule) for row, rule in synthea_truth["findings"]]
    ground_truth = pd.DataFrame(truth, columns=GROUND_TRUTH_COLUMNS).sort_values(["domain", "file", "row"])
    ground_truth.to_csv(out / "ground_truth.csv", index=False, lineterminator="\n")

    counts = ground_truth["rule"].value_counts()
    return {
        "patients_files": [p.name for p in patient_set] + ([SYNTHEA_FILE] if synthea_patients else []),
        "facilities_files": [f.name for f in facility_set],
        "patients_rows": patients,
        "facilities_records": facilities,
        "defects": {rule: int(counts.get(rule, 0)) for rule in PATIENT_RULES + FACILITY_RULES},
    }
