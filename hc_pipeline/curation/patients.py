"""Admission rows: parse once, judge by the pandera rules, split into curated and quarantined."""

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from hc_pipeline.curation.extra import extra_from_columns
from hc_pipeline.curation.rules import REASONS_DTYPE, Curation, evaluate, first_pass, reasons_column
from hc_pipeline.schemas.file_state import FileState
from hc_pipeline.schemas.patients import RULE_GROUPS, RULES, los_stays
from hc_pipeline.schemas.rules import ERROR, Staging
from hc_pipeline.scratch import scratch_folder

GENDERS = {
    "m": "Male",
    "male": "Male",
    "f": "Female",
    "female": "Female",
    "o": "Other",
    "other": "Other",
    "u": "Unknown",
    "unknown": "Unknown",
}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
DATE = pd.ArrowDtype(pyarrow.date32())
STRING = pd.StringDtype("pyarrow")
# Present in Synthea exports; null for plain CSVs so every file's table has the same columns.
OPTIONAL_TEXT = ("diagnosis_code_system", "race", "ethnicity", "encounter_id")
ROW_COLUMNS = ("source_file", "source_row", "parse_error")
# The raw columns curated columns are read from; any other column of the file goes to `extra`.
READ_COLUMNS = frozenset(
    {"patient_id", "age", "gender", "admission_date", "discharge_date", "diagnosis", "diagnosis_code", *OPTIONAL_TEXT}
)


def per_value(text: pd.Series, parse) -> pd.Series:
    """`parse` run once per distinct value, spread back over the rows; nulls stay null.

    A column holds few distinct dates, ages or genders: parsing each distinct text once instead of
    a million Python strings one by one is what makes staging fast.
    """
    codes, values = pd.factorize(text)
    parsed = parse(pd.Series(values))
    return pd.Series(parsed.array.take(codes, allow_fill=True), index=text.index, dtype=parsed.dtype)


def _parse_dates(text: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(text, format=DATE_FORMATS[0], errors="coerce")
    for fmt in DATE_FORMATS[1:]:
        parsed = parsed.fillna(pd.to_datetime(text.where(parsed.isna()), format=fmt, errors="coerce"))
    return parsed


def parse_dates(text: pd.Series) -> pd.Series:
    """ISO or US dates; anything else, or a date that does not exist, is NaT."""
    return per_value(text, _parse_dates)


def _parse_age(text: pd.Series) -> pd.Series:
    number = pd.to_numeric(text.astype(object), errors="coerce").astype(float)
    return number.where(number % 1 == 0)


def parse_age(text: pd.Series) -> pd.Series:
    """Whole numbers as floats; fractions and non-numbers are NaN."""
    return per_value(text, _parse_age)


def _parse_gender(text: pd.Series) -> pd.Series:
    return text.str.lower().map(GENDERS, na_action="ignore").astype(STRING)


def _curated_gender(text: pd.Series) -> pd.Series:
    """Male, Female, Other or Unknown; an unrecognised spelling is Unknown."""
    return _parse_gender(text).fillna("Unknown")


def stage(raw: pd.DataFrame) -> pd.DataFrame:
    """The raw text plus parsed values, the frame the rules run on."""
    staged = raw.assign(
        _age=parse_age(raw["age"]),
        _admission=parse_dates(raw["admission_date"]),
        _discharge=parse_dates(raw["discharge_date"]),
        _gender=per_value(raw["gender"], _parse_gender),
    )
    staged["_los"] = (staged["_discharge"] - staged["_admission"]).dt.days
    return staged


def staging_for(raw: pd.DataFrame, run_date: dt.date) -> Staging:
    """The run date, and the columns that make two rows exact copies (all but the row number and parse error)."""
    return Staging(run_date, tuple(c for c in raw.columns if c not in ("source_row", "parse_error")))


def file_staging(batches: Callable[[], Iterable[pd.DataFrame]], run_date: dt.date) -> Staging | None:
    """The staging of a file judged in batches: one sweep counts its LOS groups and its keys. None for a file without
    batches.

    `batches()` yields the file's raw rows in order, in the same batches each time it is called. The keys go to a
    temporary folder, gone once the sweep is settled: the judging sweep needs only what settling kept in memory.
    """
    staging = None
    with scratch_folder("keys") as spill:
        for raw in batches():
            staging = staging or replace(staging_for(raw, run_date), file=FileState(spill))
            first = first_pass(stage(raw), staging, RULE_GROUPS)
            RULES["duplicate_stay"].passes(first, staging)  # only logs the stays' keys: it judges in the second sweep
            population, diagnosis, los = los_stays(first)
            staging.file.los.add(diagnosis, los, first["source_row"].to_numpy()[population])
        if staging:
            # Exact copies were counted as stays while no row was a copy yet: the copies found now come back out.
            staging.file.settle(discounted=("duplicate_row",))
    return staging


def masks_in_batches(batches: Callable[[], Iterable[pd.DataFrame]], run_date: dt.date) -> Iterator[pd.DataFrame]:
    """Each batch's rule masks, the same as the whole file's: one sweep counts the LOS groups, a second judges."""
    staging = file_staging(batches, run_date)
    for raw in batches():
        yield evaluate(stage(raw), staging, RULE_GROUPS)


def curate_batches(
    batches: Callable[[], Iterable[pd.DataFrame]], run_date: dt.date, keep: Callable[[pd.DataFrame], np.ndarray | None]
) -> Iterator[Curation]:
    """`curate` over a file's batches, one curation per batch, the same as the whole file's."""
    sweep = iter(batches())
    first, second = itertools.islice(itertools.chain(sweep, [None, None]), 2)
    if second is None:  # one batch: the whole file at once, no sweep ahead
        if first is not None:
            yield curate(first, run_date, keep(first))
        return
    ahead = itertools.chain([first, second], sweep)  # the sweep that counts the LOS groups goes on from here
    del first, second
    staging = file_staging(lambda: ahead, run_date)
    for raw in batches():
        yield curate(raw, run_date, keep(raw), staging)


def curate(
    raw: pd.DataFrame, run_date: dt.date, keep: np.ndarray | None = None, staging: Staging | None = None
) -> Curation:
    """Split one file's raw rows into curated and quarantined, with every finding.

    `keep` marks rows curated as recorded whatever they break (exceptions a steward accepted); `staging` carries
    the file's cross-row state when `raw` is one batch of it.
    """
    staged = stage(raw)
    masks = evaluate(staged, staging or staging_for(raw, run_date), RULE_GROUPS)
    errors = [r for r in masks.columns if RULES[r].severity == ERROR]
    quarantine = masks[errors].any(axis=1).to_numpy() & (True if keep is None else ~keep)
    extra = [c for c in raw.columns if c not in READ_COLUMNS and c not in ROW_COLUMNS]

    # Only the columns the curated table is built from: copying the rest of 1M rows costs seconds.
    needed = [
        "patient_id",
        "_age",
        "gender",
        "_admission",
        "_discharge",
        "diagnosis",
        "diagnosis_code",
        "_los",
        "source_file",
        "source_row",
        *OPTIONAL_TEXT,
        *extra,
    ]
    good = staged.loc[~quarantine, [c for c in needed if c in staged]]
    nulls = _nulls(good.index)
    curated = pd.DataFrame(
        {
            "patient_id": good["patient_id"],
            "age": _int64(good["_age"]),
            "gender": per_value(good["gender"], _curated_gender),
            "admission_date": good["_admission"].astype(DATE),
            "discharge_date": good["_discharge"].astype(DATE),
            "diagnosis": good["diagnosis"],
            "diagnosis_code": (good["diagnosis_code"].str.upper() if "diagnosis_code" in good else nulls),
            "length_of_stay_days": _int64(good["_los"]),
            **{c: good.get(c, nulls) for c in OPTIONAL_TEXT},
            "warnings": reasons_column(masks.loc[~quarantine, [r for r in masks if r not in errors]]),
            "source_file": good["source_file"],
            "source_row": good["source_row"],
            "extra": extra_from_columns(good, extra),
        }
    ).reset_index(drop=True)

    bad = raw[quarantine]
    quarantined = (
        bad.drop(columns=["parse_error"])
        .assign(
            parse_error=bad["parse_error"],
            reasons=reasons_column(masks[quarantine]),
        )
        .reset_index(drop=True)
    )
    quarantined["reasons"] = quarantined["reasons"].astype(REASONS_DTYPE)

    return Curation(curated=curated, quarantined=quarantined, masks=masks, keys=raw[["source_row", "patient_id"]])


def _int64(values: pd.Series) -> pd.Series:
    """Whole floats as nullable Int64, as `astype("Int64")` gives them without its value-by-value checks."""
    floats = values.to_numpy(dtype=float)
    missing = np.isnan(floats)
    whole = np.where(missing, 0, floats).astype(np.int64)
    if not np.array_equal(whole[~missing], floats[~missing]):
        return values.astype("Int64")  # raises on a fraction, as before
    return pd.Series(pd.arrays.IntegerArray(whole, missing), index=values.index)


def _nulls(index: pd.Index) -> pd.Series:
    """An all-null text column."""
    return pd.Series(pd.arrays.ArrowStringArray(pyarrow.nulls(len(index), pyarrow.large_string())), index=index)


def report_findings(curated: Iterable[pd.DataFrame], quarantined: pd.DataFrame) -> pd.DataFrame:
    """The anomaly report's rows, one per finding, from the curated warnings (batch by batch) and quarantine reasons."""
    parts = [*(_explode(batch, "warnings") for batch in curated), _explode(quarantined, "reasons")]
    found = pd.concat(parts, ignore_index=True)
    del parts  # at most two copies of the findings at once: millions of rows for a large file
    # By row, then rule id, with rule ids coded in Arrow: sorting their text in pandas makes a Python string each.
    ids = sorted(RULES)
    codes = pc.index_in(pyarrow.array(found["rule"].array), value_set=pyarrow.array(ids)).to_numpy()
    order = np.lexsort((codes, found["source_row"].to_numpy()))
    found, codes = found.take(order).reset_index(drop=True), codes[order]
    field = pc.take(pyarrow.array([RULES[r].field for r in ids], pyarrow.large_string()), codes)
    # Only a raw row tells which of the two dates could not be read.
    bad_discharge = (codes == ids.index("unparseable_date")) & found.pop("_admission_ok").to_numpy()
    found["field"] = pd.arrays.ArrowStringArray(pc.if_else(bad_discharge, "discharge_date", field))
    severity = pc.take(pyarrow.array([RULES[r].severity for r in ids], pyarrow.large_string()), codes)
    found["severity"] = pd.arrays.ArrowStringArray(severity)
    return found.astype({"field": STRING, "severity": STRING})


def _explode(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    admission_ok = (
        parse_dates(frame["admission_date"]).notna() | frame["admission_date"].isna()
        if column == "reasons" and len(frame)
        else pd.Series(True, index=frame.index)
    )
    # One row per list element, flattened in Arrow: only flagged rows are touched, not every row of the file.
    lists = _rule_lists(frame[column])
    rows = pc.list_parent_indices(lists).to_numpy()
    long = (
        frame[["source_file", "source_row", "patient_id"]]
        .iloc[rows]
        .assign(
            rule=pd.arrays.ArrowStringArray(pc.cast(pc.list_flatten(lists), pyarrow.large_string())),
            _admission_ok=admission_ok.to_numpy()[rows],
        )
    )
    long = long[long["rule"].notna()]
    return long.astype({"source_file": STRING, "patient_id": STRING, "rule": STRING, "source_row": "int64"})


def _rule_lists(column: pd.Series) -> pyarrow.Array:
    """A column of rule-id lists as an Arrow list array (it is one already when curated or read from parquet)."""
    if isinstance(column.dtype, pd.ArrowDtype) and pyarrow.types.is_list(column.dtype.pyarrow_dtype):
        return pyarrow.array(column.array)
    values = [
        [v] if isinstance(v, str) else None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else list(v)
        for v in column
    ]
    return pyarrow.array(values, pyarrow.list_(pyarrow.string()))
