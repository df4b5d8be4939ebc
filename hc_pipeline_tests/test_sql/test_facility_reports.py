"""The facilities report SQL, run on DuckDB, equals the pandas references; and it stays valid Athena SQL."""

import datetime
import random

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot

from hc_pipeline.sql import VIEWS, athena_to_duckdb, create_duckdb_views, load_sql, render_sql
from hc_pipeline_tests.test_sql.facility_reports_reference import (
    EXPIRING_COLUMNS,
    FACILITY_METRICS_COLUMNS,
    STATE_COUNTS_COLUMNS,
    expiring_accreditations,
    facility_metrics,
    state_counts,
)

REPORTS = ["facility_metrics", "expiring_accreditations", "state_counts"]
ACCREDITATION = pa.struct([("body", pa.string()), ("id", pa.string()), ("expiry_date", pa.date32())])
LAB = pa.struct([("name", pa.string()), ("certifications", pa.list_(pa.string()))])
CURATED_SCHEMA = pa.schema(
    [
        ("facility_id", pa.string()),
        ("facility_name", pa.string()),
        ("address", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("zip", pa.string()),
        ("employee_count", pa.int64()),
        ("services", pa.list_(pa.string())),
        ("n_services", pa.int64()),
        ("labs", pa.list_(LAB)),
        ("accreditations", pa.list_(ACCREDITATION)),
        ("first_accreditation_expiry", pa.date32()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("landed_at", pa.timestamp("us")),
        ("warnings", pa.list_(pa.string())),
        ("extra", pa.map_(pa.string(), pa.string())),
    ]
)
LANDED = {
    "facilities/a.json": datetime.datetime(2028, 1, 1, 9, 0),
    "facilities/b.json": datetime.datetime(2028, 1, 2, 9, 0),
    "facilities/c.ndjson": datetime.datetime(2028, 1, 2, 9, 0),  # same second as b: source_file breaks the tie
}
STATES = ["CA", "DC", "NY", "PR", "TX"]


def record(facility_id, accreditations=(), *, source_file="facilities/a.json", source_row=1, **fields):
    """One curated row; n_services and first_accreditation_expiry derived as curation does."""
    accreditations = (
        None
        if accreditations is None
        else [{"body": body, "id": acc_id, "expiry_date": expiry} for body, acc_id, expiry in accreditations]
    )
    services = fields.pop("services", ["Radiology"])
    expiries = [a["expiry_date"] for a in accreditations or [] if a["expiry_date"]]
    return {
        "facility_id": facility_id,
        "facility_name": fields.pop("facility_name", f"Facility {facility_id}"),
        "address": fields.pop("address", None),
        "city": fields.pop("city", None),
        "state": fields.pop("state", "TX"),
        "zip": fields.pop("zip", None),
        "employee_count": fields.pop("employee_count", 10),
        "services": services,
        "n_services": None if services is None else len(services),
        "labs": fields.pop("labs", None),
        "accreditations": accreditations,
        "first_accreditation_expiry": min(expiries) if expiries else None,
        "source_file": source_file,
        "source_row": source_row,
        "landed_at": fields.pop("landed_at", LANDED[source_file]),
        "warnings": fields.pop("warnings", []),
        "extra": fields.pop("extra", []),
        **fields,
    }


def edge_records(as_of: datetime.date, horizon_days: int) -> list[dict]:
    """Hand-picked rows for every boundary the reports must get right."""
    day = lambda offset: as_of + datetime.timedelta(days=offset)  # noqa: E731
    return [
        record("E-EMPTY", [], state="CA"),
        record("E-NULL", None, services=None, employee_count=None, state="CA"),
        record("E-ONE", [("JCI", "J-1", day(0))], state="NY"),
        record("E-HORIZON", [("TJC", "T-1", day(horizon_days)), ("TJC", "T-2", day(horizon_days + 1))], state="NY"),
        record("E-LEAP", [("CAP", "C-29", datetime.date(2028, 2, 29)), ("CAP", None, datetime.date(2029, 3, 1))]),
        record("E-EXPIRED", [("JCI", "J-9", day(-1)), ("DNV", "D-9", day(-400))], state="DC"),
        record("E-TIERS", [("T", str(d), day(d)) for d in (30, 31, 60, 61, 90, 91)], state="PR"),
        record("E-NOEXPIRY", [("X", "X-1", None)], state="PR", employee_count=None),
        # Duplicates: later landing wins; at the same landed_at, the greater source_file; then the greater row.
        record("E-DUP", [("OLD", "O-1", day(5))], state="CA", facility_name="Old name"),
        record("E-DUP", [("NEW", "N-1", day(7))], source_file="facilities/b.json", state="NY", facility_name="New"),
        record("E-TIE", [("B", "B-1", day(3))], source_file="facilities/b.json", source_row=9, state="CA"),
        record("E-TIE", [("C", "C-1", day(4))], source_file="facilities/c.ndjson", source_row=2, state="TX"),
        record("E-ROW", [("R", "R-2", day(1))], source_file="facilities/c.ndjson", source_row=3, employee_count=1),
        record("E-ROW", [("R", "R-9", day(2))], source_file="facilities/c.ndjson", source_row=8, employee_count=2),
    ]


def generated_records(seed: int, as_of: datetime.date, horizon_days: int, n: int = 150) -> list[dict]:
    """Edge rows plus random facilities, about a third of them landed again in a later file."""
    rng = random.Random(seed)
    rows = edge_records(as_of, horizon_days)
    for number in range(n):
        for source_file in rng.sample(sorted(LANDED), k=rng.choice([1, 1, 2, 3])):
            accreditations = [
                (
                    rng.choice(["JCI", "TJC", "CAP", "DNV"]),
                    rng.choice([None, f"A-{rng.randrange(999)}"]),
                    as_of + datetime.timedelta(days=rng.randint(-200, horizon_days + 200)),
                )
                for _ in range(rng.choice([0, 1, 1, 2, 3]))
            ]
            rows.append(
                record(
                    f"G-{number:04d}",
                    accreditations if accreditations else rng.choice([accreditations, accreditations, None]),
                    source_file=source_file,
                    source_row=rng.randint(1, 500),
                    state=rng.choice(STATES),
                    employee_count=rng.choice([None, rng.randint(0, 5000)]),
                    services=rng.choice([None, [], ["ER"], ["ER", "Lab", "ICU"]]),
                )
            )
    rng.shuffle(rows)
    return rows


def as_arrow(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CURATED_SCHEMA)


def run_sql(rows: list[dict], name: str, **params) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one report run on DuckDB over these curated rows."""
    with duckdb.connect() as connection:
        connection.register("facilities_curated_records", as_arrow(rows))
        create_duckdb_views(connection, {"facilities_curated_records"})
        cursor = connection.execute(athena_to_duckdb(render_sql(name, **params)))
        columns = [column[0] for column in cursor.description]
        return columns, cursor.fetchall()


def _python(value):
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def as_rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(_python(value) for value in row) for row in frame.itertuples(index=False, name=None)]


PARAMS = [
    (datetime.date(2028, 2, 29), 180),
    (datetime.date(2028, 1, 30), 30),  # as_of + horizon lands on the leap day
    (datetime.date(2027, 12, 31), 0),
    (datetime.date(2028, 3, 1), 365),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_facility_metrics_matches_reference(seed):
    rows = generated_records(seed, datetime.date(2028, 2, 29), 180)
    columns, result = run_sql(rows, "facility_metrics")
    assert columns == FACILITY_METRICS_COLUMNS
    assert result == as_rows(facility_metrics(pd.DataFrame(rows)))


def test_facility_metrics_first_accreditation_follows_record_order_and_earliest_orders_the_list():
    rows = [
        # Seed 001's FAC001: its first accreditation is not the one that expires first.
        record("FAC001", [("AAAHC", None, datetime.date(2027, 10, 25)), ("CAP", None, datetime.date(2027, 2, 4))]),
        record("FAC002", [("JCI", None, datetime.date(2027, 3, 1)), ("DNV", None, datetime.date(2027, 12, 1))]),
        record("FAC003", []),
        record("FAC004", None),
    ]
    columns, result = run_sql(rows, "facility_metrics")
    first, earliest = (
        columns.index("expiry_date_of_first_accreditation"),
        columns.index("earliest_accreditation_expiry"),
    )
    by_id = {row[0]: (row[first], row[earliest]) for row in result}
    assert by_id["FAC001"] == (datetime.date(2027, 10, 25), datetime.date(2027, 2, 4))
    assert by_id["FAC002"] == (datetime.date(2027, 3, 1), datetime.date(2027, 3, 1))
    assert by_id["FAC003"] == by_id["FAC004"] == (None, None)
    assert [row[0] for row in result] == ["FAC001", "FAC002", "FAC003", "FAC004"]  # seed 004: earliest first


def test_element_at_on_the_extra_map_returns_the_value_on_duckdb():
    sql = athena_to_duckdb("SELECT facility_id, element_at(extra, 'ward') AS ward FROM facilities_curated_records")
    rows = [
        record("X1", extra=[("ward", "W3"), ("bed", "12")]),
        record("X2", extra=[("bed", "7")]),
        record("X3", extra=[]),
        record("X4", extra=None),
    ]
    connection = duckdb.connect()
    connection.register("facilities_curated_records", as_arrow(rows))
    cursor = connection.execute(sql + " ORDER BY facility_id")
    assert str(cursor.description[1][1]) == "VARCHAR"  # the value, not DuckDB's list from its own element_at
    assert cursor.fetchall() == [("X1", "W3"), ("X2", None), ("X3", None), ("X4", None)]


@pytest.mark.parametrize(("as_of", "horizon_days"), PARAMS)
@pytest.mark.parametrize("seed", [1, 2])
def test_expiring_accreditations_matches_reference(seed, as_of, horizon_days):
    rows = generated_records(seed, as_of, horizon_days)
    columns, result = run_sql(rows, "expiring_accreditations", as_of=as_of, horizon_days=horizon_days)
    assert columns == EXPIRING_COLUMNS
    assert result == as_rows(expiring_accreditations(pd.DataFrame(rows), as_of, horizon_days))


@pytest.mark.parametrize(("as_of", "horizon_days"), PARAMS)
@pytest.mark.parametrize("seed", [1, 2])
def test_state_counts_matches_reference(seed, as_of, horizon_days):
    rows = generated_records(seed, as_of, horizon_days)
    columns, result = run_sql(rows, "state_counts", as_of=as_of, horizon_days=horizon_days)
    assert columns == STATE_COUNTS_COLUMNS
    assert result == as_rows(state_counts(pd.DataFrame(rows), as_of, horizon_days))


def test_expiring_accreditations_boundaries_and_tiers():
    as_of, horizon = datetime.date(2028, 2, 1), 180
    _, result = run_sql(edge_records(as_of, horizon), "expiring_accreditations", as_of=as_of, horizon_days=horizon)
    found = {(row[0], row[4]): (row[6], row[7]) for row in result}
    assert found[("E-ONE", "J-1")] == (0, "critical")
    assert found[("E-HORIZON", "T-1")] == (horizon, "upcoming")
    assert ("E-HORIZON", "T-2") not in found
    assert found[("E-LEAP", "C-29")] == (28, "critical")
    assert found[("E-EXPIRED", "J-9")] == (-1, "expired")
    assert [found[("E-TIERS", str(d))][1] for d in (30, 31, 60, 61, 90, 91)] == [
        "critical",
        "high",
        "high",
        "medium",
        "medium",
        "upcoming",
    ]
    assert {key[0] for key in found} >= {"E-DUP", "E-TIE", "E-ROW"}
    assert found[("E-DUP", "N-1")] == (7, "critical") and ("E-DUP", "O-1") not in found
    assert ("E-TIE", "C-1") in found and ("E-TIE", "B-1") not in found
    assert ("E-ROW", "R-9") in found and ("E-ROW", "R-2") not in found
    assert not any(key[0] in {"E-EMPTY", "E-NULL", "E-NOEXPIRY"} for key in found)


def test_state_counts_uses_latest_record_and_bigint_columns():
    as_of = datetime.date(2028, 2, 1)
    with duckdb.connect() as connection:
        connection.register("facilities_curated_records", as_arrow(edge_records(as_of, 180)))
        create_duckdb_views(connection, {"facilities_curated_records"})
        cursor = connection.execute(athena_to_duckdb(render_sql("state_counts", as_of=as_of, horizon_days=180)))
        assert [str(column[1]) for column in cursor.description[1:]] == ["BIGINT"] * 4
        by_state = {row[0]: row for row in cursor.fetchall()}
        assert by_state["CA"] == ("CA", 2, 10, 0, 0)  # E-EMPTY, E-NULL; E-DUP and E-TIE moved state in later records
        assert by_state["NY"] == ("NY", 3, 30, 4, 3)  # E-ONE, E-HORIZON (one past horizon), E-DUP from b.json


@pytest.mark.parametrize("name", REPORTS)
def test_reports_on_an_empty_table_are_empty(name):
    params = {} if name == "facility_metrics" else {"as_of": datetime.date(2028, 1, 1), "horizon_days": 180}
    assert run_sql([], name, **params)[1] == []


@pytest.mark.parametrize("name", REPORTS)
def test_sql_is_athena_sql_without_subscripts(name):
    params = {} if name == "facility_metrics" else {"as_of": datetime.date(2028, 1, 1), "horizon_days": 180}
    sql = render_sql(name, **params)
    assert sqlglot.parse_one(sql, read="athena") is not None
    assert "[" not in load_sql(name)
    # Each report reads the curated table through the shared latest-record view.
    assert "FROM facilities_latest_records" in sql
    assert VIEWS["facilities_latest_records"] == "facilities_curated_records"
    assert "FROM facilities_curated_records" in load_sql("facilities_latest_records")


def test_render_sql_writes_typed_literals():
    sql = render_sql("state_counts", as_of=datetime.date(2028, 2, 29), horizon_days=90)
    assert "DATE '2028-02-29'" in sql and "BETWEEN 0 AND 90" in sql and "{" not in sql


@pytest.mark.parametrize(
    "params",
    [
        {"as_of": "2028-01-01'; DROP TABLE x; --", "horizon_days": 180},
        {"as_of": datetime.datetime(2028, 1, 1, 12, 0), "horizon_days": 180},
        {"as_of": datetime.date(2028, 1, 1), "horizon_days": "180"},
        {"as_of": datetime.date(2028, 1, 1), "horizon_days": 180.0},
        {"as_of": datetime.date(2028, 1, 1), "horizon_days": True},
    ],
)
def test_render_sql_refuses_untyped_parameters(params):
    with pytest.raises(TypeError):
        render_sql("expiring_accreditations", **params)


@pytest.mark.parametrize(
    "params",
    [{"as_of": datetime.date(2028, 1, 1)}, {"as_of": datetime.date(2028, 1, 1), "horizon_days": 1, "extra": 2}],
)
def test_render_sql_refuses_missing_or_unknown_parameters(params):
    with pytest.raises(ValueError, match=r"expiring_accreditations\.sql"):
        render_sql("expiring_accreditations", **params)


def test_athena_to_duckdb_unnests_rows_into_columns_and_leaves_plain_arrays():
    sql = (
        "SELECT f.facility_id, a.body, s.service FROM facilities_curated_records AS f "
        "CROSS JOIN UNNEST(f.accreditations) AS a (body, id, expiry_date) "
        "CROSS JOIN UNNEST(f.services) AS s (service)"
    )
    translated = athena_to_duckdb(sql)
    assert "max_depth := 2" in translated and "UNNEST(f.services) AS s(service)" in translated
    rows = [record("F1", [("JCI", "J", datetime.date(2028, 1, 1))], services=["ER", "Lab"])]
    with duckdb.connect() as connection:
        connection.register("facilities_curated_records", as_arrow(rows))
        assert connection.execute(translated).fetchall() == [("F1", "JCI", "ER"), ("F1", "JCI", "Lab")]
