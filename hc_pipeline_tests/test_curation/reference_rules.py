"""The cross-row rules as they were before the file-wide state, kept as the reference the state must match."""

from dataclasses import replace

import numpy as np
import pandas as pd

from hc_pipeline.schemas import facilities, patients
from hc_pipeline.schemas.rules import RuleGroup, Staging


def patient_key(df: pd.DataFrame) -> pd.Series:
    """patient_id as an integer code (-1 when blank), as staging computed it then."""
    return pd.Series(pd.factorize(df["patient_id"])[0], index=df.index)


def duplicated_rows(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    candidates = patient_key(df).duplicated(keep=False).to_numpy()
    repeated = np.zeros(len(df), dtype=bool)
    repeated[candidates] = df.loc[candidates, columns].duplicated(keep="first").to_numpy()
    return pd.Series(repeated, index=df.index)


def los_outliers(df: pd.DataFrame) -> pd.Series:
    population = (df["_los"].notna() & (df["_los"] >= 0) & df["diagnosis"].notna() & ~df["_is_error"]).to_numpy()
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
    flagged[population] = ((size >= patients.LOS_MIN_GROUP) & (z > patients.LOS_Z_LIMIT)).to_numpy()
    return pd.Series(flagged, index=df.index)


def duplicate_row(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~duplicated_rows(df, list(staging.raw_columns))


def duplicate_stay(df: pd.DataFrame, staging: Staging) -> pd.Series:
    keyed = df["patient_id"].notna() & df["_admission"].notna() & ~df["_is_duplicate_row"]
    repeated = (
        df.assign(_patient_key=patient_key(df)).loc[keyed, ["_patient_key", "_admission"]].duplicated(keep="first")
    )
    return ~repeated.reindex(df.index, fill_value=False)


def los_outlier(df: pd.DataFrame, staging: Staging) -> pd.Series:
    return ~los_outliers(df)


def duplicate_facility(df: pd.DataFrame, staging: Staging) -> pd.Series:
    ids = df["facility_id"]
    earlier = ids.notna() & ids.duplicated(keep="first")
    return facilities._passes_unless(df, earlier | df["_known_id"])


REFERENCE = {f.__name__: f for f in (duplicate_row, duplicate_stay, los_outlier, duplicate_facility)}


def reference_groups(groups: tuple[RuleGroup, ...]) -> tuple[RuleGroup, ...]:
    """The rule groups with the cross-row rules judged as before."""
    return tuple(
        replace(g, rules=tuple(replace(r, passes=REFERENCE.get(r.id, r.passes)) for r in g.rules)) for g in groups
    )
