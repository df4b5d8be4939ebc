"""Admission rules (one predicate each, grouped by category) and the curated contract as a pandera model.

The rules run on the staged frame (`curation.patients.stage`): the raw text columns plus parsed
`_age`, `_admission`, `_discharge`, `_gender` and `_los`, with the run date, raw columns and the file's
cross-row state in `Staging`.
"""

from typing import Annotated

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.typing import Series

from hc_pipeline.schemas.file_rows import SOURCE_FILE, SOURCE_ROW, FileRows
from hc_pipeline.schemas.file_state import LosHistograms
from hc_pipeline.schemas.rules import Predicate, Staging, rule, rule_group, rules_by_id
from hc_pipeline.vocabulary import EXTRA_TYPE, SNOMED_CT, UNKNOWN_PATIENT

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


@rule("malformed_row", "record", "The CSV record has more or fewer fields than the header.")
def malformed_row(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return df["parse_error"].isna() | df["parse_error"].eq(UNKNOWN_PATIENT).fillna(False)


@rule("unknown_patient", "patient_id", "The encounter's patient is not in the export's patients.csv.")
def unknown_patient(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~df["parse_error"].eq(UNKNOWN_PATIENT).fillna(False)


@rule("unparseable_date", "admission_date", "A date is neither YYYY-MM-DD nor MM/DD/YYYY, or does not exist.")
def unparseable_date(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~(_unparsed(df, "admission_date", "_admission") | _unparsed(df, "discharge_date", "_discharge"))


@rule("unparseable_age", "age", "Age is not a whole number.")
def unparseable_age(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~_unparsed(df, "age", "_age")


@rule("invalid_gender", "gender", "Gender is not M/F/Male/Female/Other/Unknown; curated as Unknown.", warning=True)
def invalid_gender(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~_unparsed(df, "gender", "_gender")


@rule(
    "invalid_diagnosis_code",
    "diagnosis_code",
    "Diagnosis code does not have the ICD-10 shape (SNOMED CT shape for Synthea exports).",
    warning=True,
)
def invalid_diagnosis_code(df: pd.DataFrame, staging: Staging) -> pd.Series:
    if "diagnosis_code" not in df:
        return pd.Series(True, index=df.index)
    code = df["diagnosis_code"].str.upper()
    shaped = code.str.match(ICD10_SHAPE)
    if "diagnosis_code_system" in df:
        snomed = df["diagnosis_code_system"].eq(SNOMED_CT).fillna(False)
        shaped = shaped.where(~snomed, code.str.match(SNOMED_SHAPE))
    return (code.isna() | shaped).fillna(False)


def given(column: str) -> Predicate:
    """A predicate passing the rows where `column` is not blank."""

    def is_given(df: pd.DataFrame, staging: Staging) -> pd.Series:
        return ~_blank(df, column)

    is_given.__name__ = f"{column}_given"
    return is_given


missing_patient_id = rule("missing_patient_id", "patient_id", "No patient identifier: the stay cannot be attributed.")(
    given("patient_id")
)
missing_admission_date = rule(
    "missing_admission_date", "admission_date", "No admission date: the stay cannot be placed in time."
)(given("admission_date"))
missing_age = rule("missing_age", "age", "Age is blank.", warning=True)(given("age"))
missing_gender = rule("missing_gender", "gender", "Gender is blank.", warning=True)(given("gender"))
missing_diagnosis = rule("missing_diagnosis", "diagnosis", "Diagnosis is blank.", warning=True)(given("diagnosis"))
missing_discharge_date = rule(
    "missing_discharge_date", "discharge_date", "No discharge date: the patient is still admitted.", warning=True
)(given("discharge_date"))


@rule("age_out_of_range", "age", "Age is below 0 or above 120.")
def age_out_of_range(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~((df["_age"] < 0) | (df["_age"] > 120)).fillna(False)


@rule("discharge_before_admission", "discharge_date", "Discharged before being admitted.")
def discharge_before_admission(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~(df["_discharge"] < df["_admission"]).fillna(False)


@rule("future_admission", "admission_date", "Admitted after the run date.")
def future_admission(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~(df["_admission"] > pd.Timestamp(staging.run_date)).fillna(False)


@rule(
    "los_outlier",
    "length_of_stay_days",
    f"Length of stay far from its diagnosis group (robust z > {LOS_Z_LIMIT}, groups of {LOS_MIN_GROUP}+).",
    warning=True,
    second_pass=True,
)
def los_outlier(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~los_outliers(df, staging.file.los if staging.file else None)


@rule("duplicate_row", "record", "Exact copy of an earlier row; the first copy is kept.")
def duplicate_row(df: pd.DataFrame, staging: Staging) -> pd.Series:
    repeated = staging.first_seen("duplicate_row").repeats(df, list(staging.raw_columns))
    return pd.Series(~repeated, index=df.index)


@rule(
    "duplicate_stay",
    "admission_date",
    "Same patient and admission date as an earlier row, with different values.",
    warning=True,
    second_pass=True,
)
def duplicate_stay(df: pd.DataFrame, staging: Staging) -> pd.Series:
    keyed = (df["patient_id"].notna() & df["_admission"].notna() & ~df["_is_duplicate_row"]).to_numpy()
    stays = df.loc[keyed, ["patient_id", "_admission", "source_row"]]
    repeated = np.zeros(len(df), dtype=bool)
    repeated[keyed] = staging.first_seen("duplicate_stay").repeats(stays, ["patient_id", "_admission"])
    return pd.Series(~repeated, index=df.index)


def los_stays(df: pd.DataFrame) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray, np.ndarray]:
    """The rows whose stays make the diagnosis groups (a stay, a diagnosis, no error), their diagnoses and stays."""
    population = (df["_los"].notna() & (df["_los"] >= 0) & df["diagnosis"].notna() & ~df["_is_error"]).to_numpy()
    return population, df["diagnosis"].array[population], df["_los"].to_numpy(dtype=float)[population]


def los_outliers(df: pd.DataFrame, histograms: LosHistograms | None = None) -> pd.Series:
    """Robust z-score of length of stay within each diagnosis group of the rows without errors.

    `histograms` hold the whole file's groups when `df` is one batch of it; by default `df` is the file.
    """
    population, diagnosis, los = los_stays(df)
    if histograms is None:
        histograms = LosHistograms().add(diagnosis, los)
    size, z = histograms.robust_z(diagnosis, los)
    flagged = np.zeros(len(df), dtype=bool)
    flagged[population] = (size >= LOS_MIN_GROUP) & (z > LOS_Z_LIMIT)
    return pd.Series(flagged, index=df.index)


class CuratedAdmissions(pa.DataFrameModel):
    """The curated contract: what every row in `patients_curated_records` guarantees."""

    patient_id: Series[ArrowString] = pa.Field(
        nullable=False, description="The patient's identifier as landed (an identifier: never shown unmasked)."
    )
    age: Series[pd.Int64Dtype] = pa.Field(
        ge=0, le=120, nullable=True, description="Age in whole years at admission, 0-120; null when blank."
    )
    gender: Series[ArrowString] = pa.Field(
        isin=["Male", "Female", "Other", "Unknown"],
        nullable=True,
        description="Male, Female, Other or Unknown (spellings such as M/f normalised; unrecognised ones Unknown).",
    )
    admission_date: Series[Annotated[pd.ArrowDtype, pyarrow.date32()]] = pa.Field(
        nullable=False, description="The day the stay began (from YYYY-MM-DD or MM/DD/YYYY)."
    )
    discharge_date: Series[Annotated[pd.ArrowDtype, pyarrow.date32()]] = pa.Field(
        nullable=True, description="The day the stay ended, on or after admission; null while still admitted."
    )
    diagnosis: Series[ArrowString] = pa.Field(nullable=True, description="The diagnosis text as landed.")
    diagnosis_code: Series[ArrowString] = pa.Field(
        nullable=True, description="ICD-10 code (SNOMED CT for Synthea exports), upper-cased; null when not given."
    )
    length_of_stay_days: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, description="Whole days from admission to discharge; null while still admitted."
    )
    # Synthea exports fill these; plain CSVs leave them null. Optional: validated when present.
    diagnosis_code_system: Series[ArrowString] | None = pa.Field(
        nullable=True, description="The code system of diagnosis_code, e.g. SNOMED CT (Synthea exports)."
    )
    race: Series[ArrowString] | None = pa.Field(nullable=True, description="Race as exported by Synthea.")
    ethnicity: Series[ArrowString] | None = pa.Field(nullable=True, description="Ethnicity as exported by Synthea.")
    encounter_id: Series[ArrowString] | None = pa.Field(
        nullable=True, description="The Synthea encounter the stay comes from (an identifier: never shown unmasked)."
    )
    warnings: Series[Annotated[pd.ArrowDtype, pyarrow.list_(pyarrow.string())]] = pa.Field(
        nullable=False, description="Warning rule ids the row broke (kept, but worth a look); empty when none."
    )
    source_file: Series[ArrowString] = pa.Field(nullable=False, description=SOURCE_FILE)
    source_row: Series[int] = pa.Field(ge=1, unique=True, description=SOURCE_ROW)
    extra: Series[Annotated[pd.ArrowDtype, EXTRA_TYPE]] = pa.Field(
        nullable=False, description="What the source sent beyond the contract: field name -> text, nothing lost."
    )

    class Config:
        title = "curated_admissions"
        strict = False

    @pa.dataframe_check(name="discharge_on_or_after_admission", ignore_na=False)
    def _discharge_order(cls, df):
        return ~(df["discharge_date"] < df["admission_date"]).fillna(False)


class Findings(FileRows):
    """The anomaly report's contract: one row per finding in one file."""

    patient_id: Series[ArrowString] = pa.Field(
        nullable=True, description="The patient's identifier as landed (never shown unmasked)."
    )
    rule: Series[ArrowString] = pa.Field(description="The rule id the row broke, e.g. age_out_of_range.")
    field: Series[ArrowString] = pa.Field(description="The column the rule judges (record for whole-row rules).")
    severity: Series[ArrowString] = pa.Field(
        isin=["error", "warning"], description="error: the row is quarantined; warning: curated with a warning."
    )


RULE_GROUPS = (
    rule_group(
        "conformance",
        "Every value can be read as its type: dates, ages, gender codes, ICD-10 codes, whole records.",
        0.01,
        *(malformed_row, unknown_patient, unparseable_date, unparseable_age, invalid_gender, invalid_diagnosis_code),
    ),
    rule_group(
        "completeness",
        "Required values are present: patient, admission date; age, gender, diagnosis, discharge expected.",
        0.05,
        *(missing_patient_id, missing_admission_date, missing_age, missing_gender, missing_diagnosis),
        missing_discharge_date,
    ),
    rule_group(
        "plausibility",
        "Values are believable: age 0-120, discharge after admission, no future admissions, usual stays.",
        0.02,
        *(age_out_of_range, discharge_before_admission, future_admission, los_outlier),
    ),
    rule_group(
        "uniqueness",
        "Each stay appears once: no repeated rows, no two records of one patient's admission.",
        0.01,
        *(duplicate_row, duplicate_stay),
    ),
)
RULES = rules_by_id(RULE_GROUPS)
