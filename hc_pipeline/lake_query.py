"""`hc-pipeline query`: one read-only SELECT over the lake tables, printed as a table, CSV or JSON."""

import csv
import datetime as dt
import decimal
import json
import os
from collections.abc import Mapping
from typing import TextIO

from hc_pipeline.sql import athena_to_duckdb
from hc_pipeline.sql.read_only import NotAQuery, single_select


class QueryRefused(Exception):
    """The statement was refused or failed; the message says why in one line."""


def run_query(sql: str, env: Mapping[str, str] | None = None) -> tuple[list[str], list[tuple]]:
    """Columns and rows of one SELECT on the configured engine; anything else raises QueryRefused."""
    env = os.environ if env is None else env
    try:
        single_select(sql)
    except NotAQuery as refused:
        raise QueryRefused(f"refused: {refused}") from None
    if (env.get("HC_QUERY_ENGINE") or "duckdb").strip().lower() == "athena":
        return _athena_rows(sql, env)
    import duckdb

    from hc_pipeline.stores.environment import lake_from_env

    lake = lake_from_env(env)
    try:
        return lake.rows(athena_to_duckdb(sql), read_only=True)
    except duckdb.PermissionException as error:
        raise QueryRefused(f"refused: only the lake's tables can be read here ({_first_line(error)})") from None
    except duckdb.Error as error:  # the engine's own message names the table or column at fault
        tables = ", ".join(lake.tables()) or "(none yet: run `hc-pipeline run`)"
        raise QueryRefused(f"{type(error).__name__}: {_first_line(error)}\ntables: {tables}") from None


def _athena_rows(sql: str, env: Mapping[str, str]) -> tuple[list[str], list[tuple]]:
    """The rows from Athena, through the Dagster-free client the query engine resource wraps."""
    from hc_pipeline.stores.athena import AthenaClient
    from hc_pipeline.stores.environment import athena_settings

    try:
        frame = AthenaClient(**athena_settings(env)).query(sql)
    except Exception as error:
        raise QueryRefused(f"{type(error).__name__}: {_first_line(error)}") from None
    return list(frame.columns), list(frame.astype(object).where(frame.notna(), None).itertuples(index=False))


def _first_line(error: Exception) -> str:
    return " ".join(str(error).split("\n")[:2]).strip()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def _json_value(value):
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _no_nan(value):
    return None if isinstance(value, float) and value != value else value


def write_rows(columns: list[str], rows: list[tuple], fmt: str, out: TextIO) -> None:
    """Print the rows as `table` (aligned), `csv` or `json` (a list of objects)."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in row] for row in rows)
    elif fmt == "json":
        records = [dict(zip(columns, map(_no_nan, row))) for row in rows]
        out.write(json.dumps(records, indent=2, default=_json_value, ensure_ascii=False) + "\n")
    elif not rows:
        out.write("(no rows)\n")
    else:
        cells = [columns, *([_text(v) for v in row] for row in rows)]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        for line in cells:
            out.write(" ".join(cell.rjust(width) for cell, width in zip(line, widths)).rstrip() + "\n")
