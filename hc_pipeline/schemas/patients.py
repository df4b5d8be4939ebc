"""Admission rules as pandera models: each check's name is its rule id; `raise_warning` marks warnings.

The models run on the staged frame (`curation.patients.stage`): the raw text columns plus parsed
`_age`, `_admission`, `_discharge`, `_gender`, `_los` and `_patient_key` (patient_id as an integer code, -1
when blank), with the run date in `attrs["run_date"]`.
"""

from typing import Annotated

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.typing import Series

from hc_pipeline.curation.rules import rule, rule_group
from hc_pipeline.sources.synthea_zip import SNOMED_CT, UNKNOWN_PATIENT

ICD10_SHAPE = r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$"
SNOMED_SHAPE = r"^[1-9][0-9]{5,17}$"
LOS_MIN_GROUP = 30
LOS_Z_LIMIT = 3.5
# Text columns are Arrow strings: pandera checks that dtype at once, where `str` tests every value in Python.
ArrowString = Annotated[pd.StringDtype, "pyarrow", pd.NA]


def _blank(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column].isna()


def _unparsed(df: pd.DataFrame, text: str, parsed: str) -> pd.Series:
    return df[text].notna() & df[parsed].isna()


class Conformance(pa.DataFrameModel):
    """Values have the shape the schema promises."""

    class Config:
        title = "conformance"
        description = "Every value can be read as its type: dates, ages, gender codes, ICD-10 codes, whole records."
        metadata = {"warn_above": 0.01}

    @rule("malformed_row", "record", "The CSV record has more or fewer fields than the header.")
    def _malformed_row(cls, df):
        return df["parse_error"].isna() | df["parse_error"].eq(UNKNOWN_PATIENT).fillna(False)

    @rule("unknown_patient", "patient_id", "The encounter's patient is not in the export's patients.csv.")
    def _unknown_patient(cls, df):
        return ~df["parse_error"].eq(UNKNOWN_PATIENT).fillna(False)

    @rule("unparseable_date", "admission_date", "A date is neither YYYY-MM-DD nor MM/DD/YYYY, or does not exist.")
    def _unparseable_date(cls, df):
        return ~(_unparsed(df, "admission_date", "_admission") | _unparsed(df, "discharge_date", "_discharge"))

    @rule("unparseable_age", "age", "Age is not a whole number.")
    def _unparseable_age(cls, df):
        return ~_unparsed(df, "age", "_age")

    @rule("invalid_gender", "gender", "Gender is not M/F/Male/Female/Other/Unknown; curated as Unknown.", warning=True)
    def _invalid_gender(cls, df):
        return ~_unparsed(df, "gender", "_gender")

    @rule(
        "invalid_diagnosis_code",
        "diagnosis_code",
        "Diagnosis code does not have the ICD-10 shape (SNOMED CT shape for Synthea exports).",
        warning=True,
    )
    def _invalid_diagnosis_code(cls, df):
        if "diagnosis_code" not in df:
            return pd.Series(True, index=df.index)
        code = df["diagnosis_code"].str.upper()
        shaped = code.str.match(ICD10_SHAPE)
        if "diagnosis_code_system" in df:
            snomed = df["diagnosis_code_system"].eq(SNOMED_CT).fillna(False)
            shaped = shaped.where(~snomed, code.str.match(SNOMED_SHAPE))
        return (code.isna() | shaped).fillna(False)


class Completeness(pa.DataFrameModel):
    """The values a stay needs are present."""

    class Config:
        title = "completeness"
        description = (
            "Required values are present: patient, admission date; age, gender, diagnosis, discharge expected."
        )
        metadata = {"warn_above": 0.05}

    @rule("missing_patient_id", "patient_id", "No patient identifier: the stay cannot be attributed.")
    def _missing_patient_id(cls, df):
        return ~_blank(df, "patient_id")

    @rule("missing_admission_date", "admission_date", "No admission date: the stay cannot be placed in time.")
    def _missing_admission_date(cls, df):
        return ~_blank(df, "admission_date")

    @rule("missing_age", "age", "Age is blank.", warning=True)
    def _missing_age(cls, df):
        return ~_blank(df, "age")

    @rule("missing_gender", "gender", "Gender is blank.", warning=True)
    def _missing_gender(cls, df):
        return ~_blank(df, "gender")

    @rule("missing_diagnosis", "diagnosis", "Diagnosis is blank.", warning=True)
    def _missing_diagnosis(cls, df):
        return ~_blank(df, "diagnosis")

    @rule("missing_discharge_date", "discharge_date", "No discharge date: the patient is still admitted.", warning=True)
    def _missing_discharge_date(cls, df):
        return ~_blank(df, "discharge_date")


class Plausibility(pa.DataFrameModel):
    """Values are believable for a hospital stay."""

    class Config:
        title = "plausibility"
        description = "Values are believable: age 0-120, discharge after admission, no future admissions, usual stays."
        metadata = {"warn_above": 0.02}

    @rule("age_out_of_range", "age", "Age is below 0 or above 120.")
    def _age_out_of_range(cls, df):
        return ~((df["_age"] < 0) | (df["_age"] > 120)).fillna(False)

    @rule("discharge_before_admission", "discharge_date", "Discharged before being admitted.")
    def _discharge_before_admission(cls, df):
        return ~(df["_discharge"] < df["_admission"]).fillna(False)

    @rule("future_admission", "admission_date", "Admitted after the run date.")
    def _future_admission(cls, df):
        return ~(df["_admission"] > df.attrs["run_date"]).fillna(False)

    @rule(
        "los_outlier",
        "length_of_stay_days",
        f"Length of stay far from its diagnosis group (robust z > {LOS_Z_LIMIT}, groups of {LOS_MIN_GROUP}+).",
        warning=True,
        second_pass=True,
    )
    def _los_outlier(cls, df):
        return ~los_outliers(df)


class Uniqueness(pa.DataFrameModel):
    """Each stay is recorded once."""

    class Config:
        title = "uniqueness"
        description = "Each stay appears once: no repeated rows, no two records of one patient's admission."
        metadata = {"warn_above": 0.01}

    @rule("duplicate_row", "record", "Exact copy of an earlier row; the first copy is kept.")
    def _duplicate_row(cls, df):
        return ~duplicated_rows(df, df.attrs["raw_columns"])

    @rule(
        "duplicate_stay",
        "admission_date",
        "Same patient and admission date as an earlier row, with different values.",
        warning=True,
        second_pass=True,
    )
    def _duplicate_stay(cls, df):
        keyed = df["patient_id"].notna() & df["_admission"].notna() & ~df["_is_duplicate_row"]
        repeated = df.loc[keyed, ["_patient_key", "_admission"]].duplicated(keep="first")
        return ~repeated.reindex(df.index, fill_value=False)


def duplicated_rows(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    """`df[columns].duplicated(keep="first")`, compared only among rows whose patient id repeats.

    Equal rows have equal ids, so rows with a unique id cannot be copies; skipping them spares
    hashing every text column of every row.
    """
    candidates = df["_patient_key"].duplicated(keep=False).to_numpy()
    repeated = np.zeros(len(df), dtype=bool)
    repeated[candidates] = df.loc[candidates, columns].duplicated(keep="first").to_numpy()
    return pd.Series(repeated, index=df.index)


def los_outliers(df: pd.DataFrame) -> pd.Series:
    """Robust z-score of length of stay within each diagnosis group of the rows without errors."""
    population = (df["_los"].notna() & (df["_los"] >= 0) & df["diagnosis"].notna() & ~df["_is_error"]).to_numpy()
    # Plain arrays: integer codes group alike without Python strings, and no index to align.
    los = pd.Series(df["_los"].to_numpy(dtype=float)[population])
    groups = pd.factorize(df["diagnosis"])[0][population]
    size = los.groupby(groups).transform("size")
    median = los.groupby(groups).transform("median")
    deviation = (los - median).abs()
    mad = deviation.groupby(groups).transform("median")
    mean_ad = deviation.groupby(groups).transform("mean")
    scale = (mad / 0.6745).where(mad > 0, 1.253314 * mean_ad)
    z = (deviation / scale).where(scale > 0, 0.0)
    flagged = np.zeros(len(df), dtype=bool)
    flagged[population] = ((size >= LOS_MIN_GROUP) & (z > LOS_Z_LIMIT)).to_numpy()
    return pd.Series(flagged, index=df.index)


class CuratedAdmissions(pa.DataFrameModel):
    """The curated contract: what every row in `patients_curated_records` guarantees."""

    patient_id: Series[ArrowString] = pa.Field(nullable=False)
    age: Series[pd.Int64Dtype] = pa.Field(ge=0, le=120, nullable=True)
    gender: Series[ArrowString] = pa.Field(isin=["Male", "Female", "Other", "Unknown"], nullable=True)
    admission_date: Series[Annotated[pd.ArrowDtype, pyarrow.date32()]] = pa.Field(nullable=False)
    discharge_date: Series[Annotated[pd.ArrowDtype, pyarrow.date32()]] = pa.Field(nullable=True)
    diagnosis: Series[ArrowString] = pa.Field(nullable=True)
    source_file: Series[ArrowString] = pa.Field(nullable=False)
    source_row: Series[int] = pa.Field(ge=1, unique=True)

    class Config:
        title = "curated_admissions"
        strict = False

    @pa.dataframe_check(name="discharge_on_or_after_admission", ignore_na=False)
    def _discharge_order(cls, df):
        return ~(df["discharge_date"] < df["admission_date"]).fillna(False)


RULE_GROUPS = tuple(rule_group(model) for model in (Conformance, Completeness, Plausibility, Uniqueness))
RULES = {rule.id: rule for group in RULE_GROUPS for rule in group.rules}
