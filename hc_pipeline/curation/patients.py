"""Admission rows: parse once, judge by the pandera rules, split into curated and quarantined."""

import datetime as dt

import pandas as pd
import pyarrow

from hc_pipeline.curation.rules import (
    ERROR,
    REASONS_DTYPE,
    Curation,
    evaluate,
    reasons_column,
)
from hc_pipeline.schemas.patients import RULE_GROUPS, RULES

GENDERS = {"m": "Male", "male": "Male", "f": "Female", "female": "Female",
           "o": "Other", "other": "Other", "u": "Unknown", "unknown": "Unknown"}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
DATE = pd.ArrowDtype(pyarrow.date32())
STRING = pd.StringDtype("pyarrow")
CURATED_COLUMNS = ["patient_id", "age", "gender", "admission_date", "discharge_date", "diagnosis",
                   "diagnosis_code", "length_of_stay_days", "warnings", "source_file", "source_row"]
ROW_COLUMNS = ("source_file", "source_row", "parse_error")


def parse_dates(text: pd.Series) -> pd.Series:
    """ISO or US dates; anything else, or a date that does not exist, is NaT."""
    parsed = pd.to_datetime(text, format=DATE_FORMATS[0], errors="coerce")
    for fmt in DATE_FORMATS[1:]:
        parsed = parsed.fillna(pd.to_datetime(text.where(parsed.isna()), format=fmt, errors="coerce"))
    return parsed


def parse_age(text: pd.Series) -> pd.Series:
    """Whole numbers as floats; fractions and non-numbers are NaN."""
    number = pd.to_numeric(text.astype(object), errors="coerce").astype(float)
    return number.where(number % 1 == 0)


def stage(raw: pd.DataFrame, run_date: dt.date) -> pd.DataFrame:
    """The raw text plus parsed values, the frame the pandera rules run on."""
    staged = raw.assign(
        _age=parse_age(raw["age"]),
        _admission=parse_dates(raw["admission_date"]),
        _discharge=parse_dates(raw["discharge_date"]),
        _gender=raw["gender"].str.lower().map(GENDERS, na_action="ignore").astype(STRING),
    )
    staged["_los"] = (staged["_discharge"] - staged["_admission"]).dt.days
    staged.attrs["run_date"] = pd.Timestamp(run_date)
    staged.attrs["raw_columns"] = [c for c in raw.columns if c not in ("source_row", "parse_error")]
    return staged


def curate(raw: pd.DataFrame, run_date: dt.date) -> Curation:
    """Split one file's raw rows into curated and quarantined, with every finding."""
    staged = stage(raw, run_date)
    masks = evaluate(staged, RULE_GROUPS)
    errors = [r for r in masks.columns if RULES[r].severity == ERROR]
    quarantine = masks[errors].any(axis=1).to_numpy()

    good = staged[~quarantine]
    curated = pd.DataFrame(
        {
            "patient_id": good["patient_id"],
            "age": good["_age"].astype("Int64"),
            "gender": good["_gender"].where(good["gender"].isna(), good["_gender"].fillna("Unknown")),
            "admission_date": good["_admission"].astype(DATE),
            "discharge_date": good["_discharge"].astype(DATE),
            "diagnosis": good["diagnosis"],
            "diagnosis_code": (good["diagnosis_code"].str.upper() if "diagnosis_code" in good
                               else pd.Series(pd.NA, index=good.index, dtype=STRING)),
            "length_of_stay_days": good["_los"].astype("Int64"),
            "warnings": reasons_column(masks.loc[~quarantine, [r for r in masks if r not in errors]]),
            "source_file": good["source_file"],
            "source_row": good["source_row"],
        }
    ).reset_index(drop=True)

    bad = raw[quarantine]
    quarantined = bad.drop(columns=["parse_error"]).assign(
        parse_error=bad["parse_error"],
        reasons=reasons_column(masks[quarantine]),
    ).reset_index(drop=True)
    quarantined["reasons"] = quarantined["reasons"].astype(REASONS_DTYPE)

    return Curation(curated=curated, quarantined=quarantined, masks=masks, keys=raw[["source_row", "patient_id"]])


def report_findings(curated: pd.DataFrame, quarantined: pd.DataFrame) -> pd.DataFrame:
    """The anomaly report's rows, one per finding, from the curated warnings and quarantine reasons."""
    parts = [
        _explode(curated, "warnings"),
        _explode(quarantined, "reasons"),
    ]
    found = pd.concat(parts, ignore_index=True).sort_values(["source_row", "rule"], kind="stable")
    found["severity"] = found["rule"].map(lambda r: RULES[r].severity).astype(STRING)
    found["field"] = found["rule"].map(lambda r: RULES[r].field).astype(STRING)
    # Only a raw row tells which of the two dates could not be read.
    bad_discharge = (found["rule"] == "unparseable_date") & found["_admission_ok"]
    found.loc[bad_discharge, "field"] = "discharge_date"
    return found[["source_file", "source_row", "patient_id", "rule", "field", "severity"]].reset_index(drop=True)


def _explode(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    admission_ok = (
        parse_dates(frame["admission_date"]).notna() | frame["admission_date"].isna()
        if column == "reasons" and len(frame) else pd.Series(True, index=frame.index)
    )
    long = frame[["source_file", "source_row", "patient_id"]].assign(
        rule=frame[column], _admission_ok=admission_ok
    ).explode("rule")
    long = long[long["rule"].notna()]
    return long.astype({"source_file": STRING, "patient_id": STRING, "rule": STRING, "source_row": "int64"})
