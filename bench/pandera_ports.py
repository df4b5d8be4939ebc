"""The patients rules ported to pandera's polars and ibis backends, for the backend spike only.

Each port returns `{rule id: pandera Check}` whose function passes the rows that keep the rule, as
`hc_pipeline.schemas.patients` does for pandas. Second-pass rules read `_is_error` and `_is_duplicate_row`.
"""

import datetime as dt

import pandera.ibis as pi
import pandera.polars as pp
import polars as pl
from ibis import _

from hc_pipeline.schemas.patients import ICD10_SHAPE, LOS_MIN_GROUP, LOS_Z_LIMIT
from hc_pipeline.vocabulary import UNKNOWN_PATIENT


def _unparsed(text, parsed):
    return text.is_not_null() & parsed.is_null()


def polars_rules(run_date: dt.date, raw_columns: tuple[str, ...]) -> dict[str, pl.Expr]:
    """Each rule as a polars expression, True where the row passes."""
    col, error = pl.col, pl.col("parse_error")
    unknown = (error == UNKNOWN_PATIENT).fill_null(False)
    code = col("diagnosis_code").str.to_uppercase()
    keyed = col("patient_id").is_not_null() & col("_admission").is_not_null() & ~col("_is_duplicate_row")
    return {
        "malformed_row": error.is_null() | unknown,
        "unknown_patient": ~unknown,
        "unparseable_date": ~(
            _unparsed(col("admission_date"), col("_admission")) | _unparsed(col("discharge_date"), col("_discharge"))
        ),
        "unparseable_age": ~_unparsed(col("age"), col("_age")),
        "invalid_gender": ~_unparsed(col("gender"), col("_gender")),
        "invalid_diagnosis_code": (code.is_null() | code.str.contains(ICD10_SHAPE)).fill_null(False),
        **{f"missing_{c}": col(c).is_not_null() for c in ("patient_id", "admission_date", "age", "gender")},
        "missing_diagnosis": col("diagnosis").is_not_null(),
        "missing_discharge_date": col("discharge_date").is_not_null(),
        "age_out_of_range": ~((col("_age") < 0) | (col("_age") > 120)).fill_null(False),
        "discharge_before_admission": ~(col("_discharge") < col("_admission")).fill_null(False),
        "future_admission": ~(col("_admission") > pl.lit(run_date).cast(pl.Datetime("ns"))).fill_null(False),
        "los_outlier": ~_polars_los_outlier(),
        "duplicate_row": pl.struct(list(raw_columns)).is_first_distinct(),
        "duplicate_stay": ~(keyed & ~pl.struct(keyed.alias("k"), "_patient_key", "_admission").is_first_distinct()),
    }


def _polars_los_outlier() -> pl.Expr:
    los, group = pl.col("_los"), "diagnosis"
    population = los.is_not_null() & (los >= 0) & pl.col(group).is_not_null() & ~pl.col("_is_error")
    kept = pl.when(population).then(los)
    deviation = (kept - kept.median().over(group)).abs()
    mad = deviation.median().over(group)
    scale = pl.when(mad > 0).then(mad / 0.6745).otherwise(1.253314 * deviation.mean().over(group))
    z = pl.when(scale > 0).then(deviation / scale).otherwise(0.0)
    return (population & (kept.count().over(group) >= LOS_MIN_GROUP) & (z > LOS_Z_LIMIT)).fill_null(False)


def polars_checks(run_date: dt.date, raw_columns: tuple[str, ...]) -> dict[str, pp.Check]:
    """The polars rules as pandera.polars checks (a check returns a one-column boolean LazyFrame)."""

    def check(rule_id: str, expr: pl.Expr) -> pp.Check:
        return pp.Check(lambda data: data.lazyframe.select(expr.alias(rule_id)), name=rule_id, ignore_na=False)

    return {rule_id: check(rule_id, expr) for rule_id, expr in polars_rules(run_date, raw_columns).items()}


def ibis_rules(run_date: dt.date, raw_columns: tuple[str, ...]) -> dict:
    """Each rule as an ibis deferred boolean expression, True where the row passes; los_outlier left out.

    duplicate_stay partitions by patient_id itself: `_patient_key` is only its integer code (a global sort in SQL).
    """
    unknown = (_.parse_error == UNKNOWN_PATIENT).fill_null(False)
    code = _.diagnosis_code.upper()
    keyed = _.patient_id.notnull() & _._admission.notnull() & ~_._is_duplicate_row

    def unparsed(text: str, parsed: str):
        return _[text].notnull() & _[parsed].isnull()

    def first(*keys):
        import ibis

        return ibis.row_number().over(group_by=list(keys), order_by=_.source_row) == 0

    return {
        "malformed_row": _.parse_error.isnull() | unknown,
        "unknown_patient": ~unknown,
        "unparseable_date": ~(unparsed("admission_date", "_admission") | unparsed("discharge_date", "_discharge")),
        "unparseable_age": ~unparsed("age", "_age"),
        "invalid_gender": ~unparsed("gender", "_gender"),
        "invalid_diagnosis_code": (code.isnull() | code.re_search(ICD10_SHAPE)).fill_null(False),
        **{f"missing_{c}": _[c].notnull() for c in ("patient_id", "admission_date", "age", "gender")},
        "missing_diagnosis": _.diagnosis.notnull(),
        "missing_discharge_date": _.discharge_date.notnull(),
        "age_out_of_range": ~((_._age < 0) | (_._age > 120)).fill_null(False),
        "discharge_before_admission": ~(_._discharge < _._admission).fill_null(False),
        "future_admission": ~(_._admission > run_date).fill_null(False),
        "duplicate_row": first(*raw_columns),
        "duplicate_stay": ~(keyed & ~first(keyed, _.patient_id, _._admission)),
    }


def ibis_checks(run_date: dt.date, raw_columns: tuple[str, ...]) -> dict[str, pi.Check]:
    """The ibis rules as pandera.ibis checks (a check returns a boolean column of the checked table)."""

    def check(rule_id: str, deferred) -> pi.Check:
        return pi.Check(lambda data: deferred.resolve(data.table), name=rule_id, ignore_na=False)

    return {rule_id: check(rule_id, d) for rule_id, d in ibis_rules(run_date, raw_columns).items()}
