"""Athena-dialect SQL files, one query a file, and their translation for DuckDB.

duckdb and sqlglot load on first use: a run worker that processes a landed file needs neither.
"""

import datetime
import re
from importlib.resources import files
from typing import TYPE_CHECKING

from hc_pipeline.tiers import tier_case_sql

if TYPE_CHECKING:
    import duckdb
    from sqlglot import exp

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# SQL written by code from constants defined once (never from input), filled into any file that names them.
FRAGMENTS = {"expiry_tier": tier_case_sql("days_to_expiry")}
# Shared layers every engine creates as views, each from its `<view>.sql`, over the lake table it reads.
VIEWS = {"facilities_latest_records": "facilities_curated_records", "patients_stays": "patients_curated_records"}
_COLUMN_DOC = re.compile(r"^-- column ([A-Za-z_][A-Za-z0-9_]*): (.+)$", re.MULTILINE)


def load_sql(name: str) -> str:
    """The text of `hc_pipeline/sql/<name>.sql`, in Athena (Trino) dialect."""
    return files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def column_descriptions(name: str) -> dict[str, str]:
    """The report's documented output columns: its `-- column <name>: <description>` lines."""
    return {column: text.strip() for column, text in _COLUMN_DOC.findall(load_sql(name))}


def _literal(name: str, value: object) -> str:
    """One parameter as an Athena literal; only dates and integers, so no text can reach the SQL."""
    # datetime is a date subclass: refuse it rather than silently drop its time.
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise TypeError(f"SQL parameter {name!r} must be a datetime.date or an int, not {type(value).__name__}")


def render_sql(name: str, **params: object) -> str:
    """`load_sql(name)` with each `{param}` placeholder replaced by its typed literal."""
    sql = load_sql(name)
    wanted = set(_PLACEHOLDER.findall(sql)) - FRAGMENTS.keys()
    missing, unused = wanted - params.keys(), params.keys() - wanted
    if missing or unused:
        raise ValueError(f"{name}.sql: missing parameters {sorted(missing)}, unknown parameters {sorted(unused)}")
    literals = {**FRAGMENTS, **{key: _literal(key, value) for key, value in params.items()}}
    return _PLACEHOLDER.sub(lambda match: literals[match.group(1)], sql)


def views_over(tables: set[str]) -> dict[str, str]:
    """The shared views whose table exists, as `{view: Athena-dialect SELECT}`."""
    return {view: render_sql(view) for view, table in VIEWS.items() if table in tables}


def create_duckdb_views(connection: "duckdb.DuckDBPyConnection", tables: set[str]) -> list[str]:
    """Create the shared views over `tables` on a DuckDB connection; returns the views created."""
    import duckdb

    created = []
    for view, select in views_over(tables).items():
        try:
            connection.execute(f"CREATE VIEW {view} AS {athena_to_duckdb(select)}")
        except duckdb.BinderException:
            # A table without the view's columns (not a curated table yet) must not stop queries of the others;
            # a report on the view then says the view does not exist.
            continue
        created.append(view)
    return created


def _unnest_rows_for_duckdb(node: "exp.Expression") -> "exp.Expression":
    """Rewrite Trino's `UNNEST(array_of_rows) AS t(f1, f2, ...)` into DuckDB's equivalent."""
    from sqlglot import exp

    # Trino expands each ROW element into one column per field (positional aliases); DuckDB's
    # FROM-clause UNNEST yields one struct column, so unnest two levels in a lateral subquery.
    if not (isinstance(node, exp.Unnest) and isinstance(node.parent, (exp.Join, exp.From))):
        return node
    alias = node.args.get("alias")
    if node.args.get("offset") or len(node.expressions) != 1 or not alias or len(alias.columns) < 2:
        return node
    select = exp.select(
        exp.Explode(
            this=node.expressions[0].copy(),
            expressions=[exp.PropertyEQ(this=exp.to_identifier("max_depth"), expression=exp.Literal.number(2))],
        )
    )
    return exp.Subquery(this=select, alias=alias.copy())


def athena_to_duckdb(sql: str) -> str:
    """Translate one Athena (Trino) statement to DuckDB's dialect."""
    import sqlglot

    tree = sqlglot.parse(sql, read="athena")[0]
    return tree.transform(_unnest_rows_for_duckdb).sql(dialect="duckdb")
