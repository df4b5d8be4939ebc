"""Pandas references for the patient analytics SQL: what each query must return, written the plain way."""

import numpy as np
import pandas as pd

READMISSIONS_COLUMNS = [
    "patient_id",
    "admission_date",
    "discharge_date",
    "length_of_stay_days",
    "readmitted_within_30_days",
    "days_to_readmission",
]
RATES_COLUMNS = ["dimension", "value", "stays", "readmissions", "readmission_rate"]
LOS_COLUMNS = ["month", "stays", "mean_days", "median_days", "p90_days"]
DEMOGRAPHICS_COLUMNS = ["dimension", "value", "patients"]
PATTERNS_COLUMNS = ["diagnosis", "stays", "patients", "mean_length_of_stay_days", "readmission_rate"]
ORDER = ["admission_date", "source_file", "source_row"]


def age_band(age) -> str:
    """The age band of an age in whole years; no age is 'Unknown'."""
    if age is None or pd.isna(age):
        return "Unknown"
    for upper, band in ((18, "0-17"), (35, "18-34"), (50, "35-49"), (65, "50-64"), (80, "65-79")):
        if age < upper:
            return band
    return "80+"


def with_next_admission(curated: pd.DataFrame) -> pd.DataFrame:
    """Every stay in (patient, admission date, source_file, source_row) order, with readmission columns."""
    rows = curated.sort_values(["patient_id", *ORDER], kind="stable").to_dict("records")
    for i, row in enumerate(rows):
        following = rows[i + 1] if i + 1 < len(rows) and rows[i + 1]["patient_id"] == row["patient_id"] else None
        days = None
        if following is not None and row["discharge_date"] is not None:
            gap = (following["admission_date"] - row["discharge_date"]).days
            days = gap if gap >= 0 else None
        row["days_to_readmission"] = days
        row["readmitted_within_30_days"] = days is not None and days <= 30
    return pd.DataFrame(rows, columns=[*curated.columns, "days_to_readmission", "readmitted_within_30_days"])


def discharged(curated: pd.DataFrame) -> pd.DataFrame:
    stays = with_next_admission(curated)
    return stays[stays["discharge_date"].notna()]


def readmissions(curated: pd.DataFrame) -> pd.DataFrame:
    """Reference for readmissions.sql."""
    return discharged(curated)[READMISSIONS_COLUMNS]


def readmission_rates(curated: pd.DataFrame) -> pd.DataFrame:
    """Reference for readmission_rates.sql."""
    stays = discharged(curated)
    keys = {
        "overall": pd.Series("all", index=stays.index),
        "gender": stays["gender"].fillna("Unknown"),
        "age_band": stays["age"].map(age_band),
    }
    rows = []
    for dimension, key in keys.items():
        for value, group in stays.groupby(key, sort=True):
            rows.append(_rate_row(dimension, value, group))
    counted = stays[stays["diagnosis"].notna()]
    counts = counted.groupby("diagnosis").size().reset_index(name="n")
    top = counts.sort_values(["n", "diagnosis"], ascending=[False, True]).head(20)
    for diagnosis in top["diagnosis"]:
        rows.append(_rate_row("diagnosis", diagnosis, counted[counted["diagnosis"] == diagnosis]))
    return pd.DataFrame(rows, columns=RATES_COLUMNS)


def _rate_row(dimension: str, value: str, group: pd.DataFrame) -> dict:
    readmitted = int(group["readmitted_within_30_days"].sum())
    return {
        "dimension": dimension,
        "value": value,
        "stays": len(group),
        "readmissions": readmitted,
        "readmission_rate": readmitted / len(group),
    }


def length_of_stay(curated: pd.DataFrame) -> pd.DataFrame:
    """Reference for length_of_stay.sql, with exact (linear) percentiles where the SQL gives approximate ones."""
    stays = curated[curated["length_of_stay_days"].notna()]
    month = stays["admission_date"].map(lambda d: d.replace(day=1))
    rows = []
    for value, group in stays.groupby(month, sort=True):
        days = group["length_of_stay_days"].astype(float).to_numpy()
        rows.append(
            {
                "month": value,
                "stays": len(days),
                "mean_days": days.mean(),
                "median_days": float(np.quantile(days, 0.5)),
                "p90_days": float(np.quantile(days, 0.9)),
            }
        )
    return pd.DataFrame(rows, columns=LOS_COLUMNS)


def percentile_bounds(values, p: float, rank_error: float) -> tuple[float, float]:
    """The smallest and largest value an approximate percentile within `rank_error` of rank p may return."""
    values = np.asarray(values, dtype=float)
    low = np.quantile(values, max(0.0, p - rank_error), method="lower")
    high = np.quantile(values, min(1.0, p + rank_error), method="higher")
    return float(low), float(high)


def latest_admissions(curated: pd.DataFrame) -> pd.DataFrame:
    """One row per patient: the greatest admission_date, then source_file, then source_row."""
    return curated.sort_values(ORDER, kind="stable").groupby("patient_id", sort=False).tail(1)


def demographics(curated: pd.DataFrame) -> pd.DataFrame:
    """Reference for demographics.sql."""
    latest = latest_admissions(curated)
    keys = {
        "gender": latest["gender"].fillna("Unknown"),
        "age_band": latest["age"].map(age_band),
        "race": latest["race"].fillna("Unknown"),
        "ethnicity": latest["ethnicity"].fillna("Unknown"),
    }
    rows = [
        {"dimension": dimension, "value": value, "patients": int(count)}
        for dimension, key in keys.items()
        for value, count in key.value_counts().sort_index().items()
    ]
    return pd.DataFrame(rows, columns=DEMOGRAPHICS_COLUMNS)


def diagnosis_patterns(curated: pd.DataFrame) -> pd.DataFrame:
    """Reference for diagnosis_patterns.sql."""
    stays = with_next_admission(curated)
    stays = stays[stays["diagnosis"].notna()]
    rows = []
    for diagnosis, group in stays.groupby("diagnosis", sort=True):
        out = group[group["discharge_date"].notna()]
        los = out["length_of_stay_days"].dropna().astype(float)
        rows.append(
            {
                "diagnosis": diagnosis,
                "stays": len(group),
                "patients": group["patient_id"].nunique(),
                "mean_length_of_stay_days": los.mean() if len(los) else None,
                "readmission_rate": out["readmitted_within_30_days"].sum() / len(out) if len(out) else None,
            }
        )
    frame = pd.DataFrame(rows, columns=PATTERNS_COLUMNS)
    return frame.sort_values(["stays", "diagnosis"], ascending=[False, True], kind="stable")
