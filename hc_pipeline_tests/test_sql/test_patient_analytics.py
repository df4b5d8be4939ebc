"""The patient analytics SQL, run on DuckDB, equals the pandas references; and it stays valid Athena SQL."""

import datetime
import math
import random

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot

from hc_pipeline.curation.patients import curate
from hc_pipeline.generate.synthea import synthea_zip
from hc_pipeline.sources.synthea_zip import read_synthea_zip
from hc_pipeline.sql import VIEWS, athena_to_duckdb, create_duckdb_views, load_sql
from hc_pipeline_tests.test_sql import patient_analytics_reference as ref

REPORTS = ["readmissions", "readmission_rates", "length_of_stay", "demographics", "diagnosis_patterns"]
CURATED_SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("age", pa.int64()),
        ("gender", pa.string()),
        ("admission_date", pa.date32()),
        ("discharge_date", pa.date32()),
        ("diagnosis", pa.string()),
        ("diagnosis_code", pa.string()),
        ("length_of_stay_days", pa.int64()),
        ("warnings", pa.list_(pa.string())),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("race", pa.string()),
        ("ethnicity", pa.string()),
        ("encounter_id", pa.string()),
    ]
)
D = datetime.date(2025, 3, 1)
RUN_DATE = datetime.date(2025, 6, 15)


def day(offset: int) -> datetime.date:
    return D + datetime.timedelta(days=offset)


def stay(patient_id, start, stop, *, source_file="patients/a.csv", source_row=1, **fields) -> dict:
    """One curated row, admitted `start` and discharged `stop` days after D (None: still admitted)."""
    return {
        "patient_id": patient_id,
        "age": fields.pop("age", 50),
        "gender": fields.pop("gender", "Female"),
        "admission_date": day(start),
        "discharge_date": None if stop is None else day(stop),
        "diagnosis": fields.pop("diagnosis", "Pneumonia"),
        "diagnosis_code": None,
        "length_of_stay_days": None if stop is None else stop - start,
        "warnings": [],
        "source_file": source_file,
        "source_row": source_row,
        "race": fields.pop("race", "white"),
        "ethnicity": fields.pop("ethnicity", "nonhispanic"),
        "encounter_id": None,
        **fields,
    }


# (patient, start, stop, expected (readmitted_within_30_days, days_to_readmission) or None when still admitted)
HAND = [
    ("P-D30", 0, 4, (True, 30)),
    ("P-D30", 34, 36, (False, None)),
    ("P-D31", 0, 4, (False, 31)),
    ("P-D31", 35, 37, (False, None)),
    ("P-SAME", 0, 3, (True, 0)),
    ("P-SAME", 3, 5, (False, None)),
    # The second stay starts before the first ends: the first is not readmitted, even though a third follows.
    ("P-OVER", 0, 10, (False, None)),
    ("P-OVER", 4, 12, (True, 8)),
    ("P-OVER", 20, 22, (False, None)),
    ("P-ONE", 0, 2, (False, None)),
    ("P-OPEN", 0, 5, (True, 5)),
    ("P-OPEN", 10, None, None),
    ("P-OPEN-ONLY", 7, None, None),
]


def hand_rows() -> list[dict]:
    rows = [stay(p, start, stop, source_row=i + 1) for i, (p, start, stop, _) in enumerate(HAND)]
    rows += [
        # Same admission day: source_file decides which is first, so a.csv's stay overlaps b.csv's.
        stay("P-TIE", 60, 61, source_file="patients/b.csv", source_row=1, gender="Male"),
        stay("P-TIE", 60, 63, source_file="patients/a.csv", source_row=40, gender="Female"),
        # Same file and day: source_row decides; a 0-day stay then a same-day readmission.
        stay("P-ROW", 80, 82, source_row=51, age=80),
        stay("P-ROW", 80, 80, source_row=50, age=79),
        stay("P-NULLS", 90, 92, source_row=60, age=None, gender=None, diagnosis=None, race=None, ethnicity=None),
    ]
    return rows


def random_rows(seed: int, patients: int = 160) -> list[dict]:
    """Hand rows plus random stays: ties, overlaps, open stays, nulls, age-band edges and 26 diagnoses."""
    rng = random.Random(seed)
    rows, next_row = hand_rows(), {"patients/a.csv": 100, "patients/b.csv": 0, "patients/c.zip": 0}
    diagnoses = [f"Diagnosis {chr(65 + i)}" for i in range(26)]
    for number in range(patients):
        start = rng.randint(-400, 0)
        for _ in range(rng.choice([1, 1, 2, 3, 4, 6])):
            stop = rng.choice([None, start, start + rng.randint(1, 15), start + rng.randint(1, 60)])
            source_file = rng.choice(sorted(next_row))
            next_row[source_file] += 1
            rows.append(
                stay(
                    f"R-{number:04d}",
                    start,
                    stop,
                    source_file=source_file,
                    source_row=next_row[source_file],
                    age=rng.choice([None, 0, 17, 18, 34, 35, 49, 50, 64, 65, 79, 80, 120, rng.randint(0, 100)]),
                    gender=rng.choice([None, "Male", "Female", "Female", "Other", "Unknown"]),
                    diagnosis=rng.choice([None, *diagnoses[: rng.randint(1, 26)]]),
                    race=rng.choice([None, "white", "black", "asian"]),
                    ethnicity=rng.choice([None, "hispanic", "nonhispanic"]),
                )
            )
            gap = rng.choice([-5, 0, 0, 1, 29, 30, 31, 32, 90])
            start = (stop if stop is not None else start + 3) + gap
    rng.shuffle(rows)
    return rows


def run_sql(table: pa.Table, name: str):
    """Column names, DuckDB types and rows of one report over this curated table."""
    with duckdb.connect() as connection:
        connection.register("patients_curated_records", table)
        create_duckdb_views(connection, {"patients_curated_records"})
        cursor = connection.execute(athena_to_duckdb(load_sql(name)))
        return [c[0] for c in cursor.description], [str(c[1]) for c in cursor.description], cursor.fetchall()


def _python(value):
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def as_rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(_python(v) for v in row) for row in frame.itertuples(index=False, name=None)]


def assert_same_rows(actual: list[tuple], expected: list[tuple]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            if isinstance(a, float) and b is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (got, want)
            else:
                assert (a == b and type(a) is type(b)) or (a == b and isinstance(a, (int, float))), (got, want)


def compare(rows: list[dict], name: str, reference, columns: list[str]) -> None:
    got_columns, _, result = run_sql(pa.Table.from_pylist(rows, schema=CURATED_SCHEMA), name)
    assert got_columns == columns
    assert_same_rows(result, as_rows(reference(pd.DataFrame(rows, columns=CURATED_SCHEMA.names))))


def test_readmissions_hand_cases():
    _, _, result = run_sql(pa.Table.from_pylist(hand_rows(), schema=CURATED_SCHEMA), "readmissions")
    found = {(r[0], r[1], r[2]): (r[4], r[5]) for r in result}
    for patient, start, stop, expected in HAND:
        assert found.get((patient, day(start), None if stop is None else day(stop))) == expected
    assert found[("P-TIE", day(60), day(63))] == (False, None)  # a.csv first, b.csv's stay starts before its end
    assert found[("P-TIE", day(60), day(61))] == (False, None)
    assert found[("P-ROW", day(80), day(80))] == (True, 0)
    assert found[("P-ROW", day(80), day(82))] == (False, None)
    assert len(result) == len(hand_rows()) - 2  # the two open stays


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("name", "reference", "columns"),
    [
        ("readmissions", ref.readmissions, ref.READMISSIONS_COLUMNS),
        ("readmission_rates", ref.readmission_rates, ref.RATES_COLUMNS),
        ("demographics", ref.demographics, ref.DEMOGRAPHICS_COLUMNS),
        ("diagnosis_patterns", ref.diagnosis_patterns, ref.PATTERNS_COLUMNS),
    ],
)
def test_report_matches_reference(seed, name, reference, columns):
    compare(random_rows(seed), name, reference, columns)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_length_of_stay_matches_reference_within_percentile_rank_error(seed):
    rows = random_rows(seed, patients=600)
    columns, _, result = run_sql(pa.Table.from_pylist(rows, schema=CURATED_SCHEMA), "length_of_stay")
    assert columns == ref.LOS_COLUMNS
    frame = pd.DataFrame(rows, columns=CURATED_SCHEMA.names)
    expected = ref.length_of_stay(frame)
    assert_same_rows([r[:3] for r in result], as_rows(expected[["month", "stays", "mean_days"]]))
    stays = frame[frame["length_of_stay_days"].notna()]
    for month, _, _, median, p90 in result:
        values = stays.loc[stays["admission_date"].map(lambda d: d.replace(day=1)) == month, "length_of_stay_days"]
        # DuckDB's t-digest stayed within 2% of the rank in 400 random trials; Athena's qdigest is within 1%.
        for p, got in ((0.5, median), (0.9, p90)):
            low, high = ref.percentile_bounds(values, p, rank_error=0.02)
            assert low <= got <= high, (month, p, got, low, high)


def test_length_of_stay_is_exact_when_a_month_has_one_length():
    rows = [stay(f"L-{i}", 0, 2, source_row=i + 1) for i in range(3)] + [stay("L-9", 40, 47, source_row=9)]
    _, _, result = run_sql(pa.Table.from_pylist(rows, schema=CURATED_SCHEMA), "length_of_stay")
    assert result == [(datetime.date(2025, 3, 1), 3, 2.0, 2.0, 2.0), (datetime.date(2025, 4, 1), 1, 7.0, 7.0, 7.0)]


def test_readmission_rates_keep_only_the_top_20_diagnoses_by_stays():
    rows = [
        stay(f"T-{d}-{i}", 0, 1, diagnosis=f"D{d:02d}", source_row=100 * d + i + 1)
        for d in range(25)
        for i in range(1 + d % 7)
    ]
    _, _, result = run_sql(pa.Table.from_pylist(rows, schema=CURATED_SCHEMA), "readmission_rates")
    diagnoses = [(r[1], r[2]) for r in result if r[0] == "diagnosis"]
    expected = sorted({(f"D{d:02d}", 1 + d % 7) for d in range(25)}, key=lambda x: (-x[1], x[0]))[:20]
    assert diagnoses == expected


def test_demographics_count_each_patient_once_as_of_the_latest_admission():
    table = pa.Table.from_pylist(hand_rows(), schema=CURATED_SCHEMA)
    _, _, result = run_sql(table, "demographics")
    patients = len({r["patient_id"] for r in hand_rows()})
    for dimension in ("gender", "age_band", "race", "ethnicity"):
        assert sum(r[2] for r in result if r[0] == dimension) == patients
    by = {(r[0], r[1]): r[2] for r in result}
    assert by[("gender", "Male")] == 1  # P-TIE: b.csv's record is the latest of the same day
    assert by[("age_band", "80+")] == 1  # P-ROW: row 51 (age 80) beats row 50 (age 79)
    assert by[("race", "Unknown")] == by[("ethnicity", "Unknown")] == by[("age_band", "Unknown")] == 1


def test_reports_on_the_generated_synthea_export_match_its_expected_answers():
    data, truth = synthea_zip(RUN_DATE, seed=11, patients=200)
    raw = read_synthea_zip(data, "patients/synthea.zip")
    result = curate(raw, RUN_DATE)
    assert len(result.quarantined) == 0
    warned = result.curated[["source_row", "warnings"]].explode("warnings")
    warned = warned[warned["warnings"].notna() & (warned["warnings"] != "invalid_diagnosis_code")]
    assert sorted(map(list, warned.itertuples(index=False, name=None))) == truth["findings"]
    table = pa.Table.from_pandas(result.curated, preserve_index=False).select(CURATED_SCHEMA.names).cast(CURATED_SCHEMA)
    rows = table.to_pylist()
    _, _, found = run_sql(table, "readmissions")
    by_encounter = {r["encounter_id"]: r for r in rows}
    expected = sorted(
        (
            by_encounter[e]["patient_id"],
            by_encounter[e]["admission_date"],
            by_encounter[e]["discharge_date"],
            v["readmitted_within_30_days"],
            v["days_to_readmission"],
        )
        for e, v in truth["stays"].items()
    )
    assert sorted((r[0], r[1], r[2], r[4], r[5]) for r in found) == expected
    compare(rows, "readmissions", ref.readmissions, ref.READMISSIONS_COLUMNS)
    compare(rows, "diagnosis_patterns", ref.diagnosis_patterns, ref.PATTERNS_COLUMNS)
    compare(rows, "demographics", ref.demographics, ref.DEMOGRAPHICS_COLUMNS)
    _, _, rates = run_sql(table, "readmission_rates")
    overall = truth["overall"]
    assert rates[0] == (
        "overall",
        "all",
        overall["stays"],
        overall["readmissions"],
        overall["readmissions"] / overall["stays"],
    )
    assert all(0 <= r[4] <= 1 for r in rates)
    for case in truth["cases"].values():
        for encounter, answer in case["expected"].items():
            row = by_encounter[encounter]
            key = (row["patient_id"], row["admission_date"], row["discharge_date"])
            assert [(r[4], r[5]) for r in found if (r[0], r[1], r[2]) == key] == [tuple(answer.values())]
        for encounter, age in case["ages"].items():
            assert by_encounter[encounter]["age"] == age


def test_report_column_types():
    table = pa.Table.from_pylist(random_rows(1), schema=CURATED_SCHEMA)
    types = {name: dict(zip(*run_sql(table, name)[:2])) for name in REPORTS}
    assert types["readmissions"] == {
        "patient_id": "VARCHAR",
        "admission_date": "DATE",
        "discharge_date": "DATE",
        "length_of_stay_days": "BIGINT",
        "readmitted_within_30_days": "BOOLEAN",
        "days_to_readmission": "BIGINT",
    }
    assert types["readmission_rates"] == {
        "dimension": "VARCHAR",
        "value": "VARCHAR",
        "stays": "BIGINT",
        "readmissions": "BIGINT",
        "readmission_rate": "DOUBLE",
    }
    assert types["length_of_stay"] == {
        "month": "DATE",
        "stays": "BIGINT",
        "mean_days": "DOUBLE",
        "median_days": "DOUBLE",
        "p90_days": "DOUBLE",
    }
    assert types["demographics"] == {"dimension": "VARCHAR", "value": "VARCHAR", "patients": "BIGINT"}
    assert types["diagnosis_patterns"] == {
        "diagnosis": "VARCHAR",
        "stays": "BIGINT",
        "patients": "BIGINT",
        "mean_length_of_stay_days": "DOUBLE",
        "readmission_rate": "DOUBLE",
    }


@pytest.mark.parametrize("name", REPORTS)
def test_reports_on_an_empty_table_are_empty(name):
    assert run_sql(pa.Table.from_pylist([], schema=CURATED_SCHEMA), name)[2] == []


@pytest.mark.parametrize("name", REPORTS)
def test_sql_is_athena_sql_without_subscripts(name):
    sql = load_sql(name)
    assert sqlglot.parse_one(sql, read="athena") is not None
    assert "[" not in sql and "{" not in sql
    # Each report reads the curated table, directly or through the shared stays view.
    assert "FROM patients_curated_records" in sql or "FROM patients_stays" in sql
    assert VIEWS["patients_stays"] == "patients_curated_records"
    assert "FROM patients_curated_records" in load_sql("patients_stays")
