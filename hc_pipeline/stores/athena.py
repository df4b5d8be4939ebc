"""Athena without Dagster: boto3's Athena client with polling, paging and typed results, and the Glue catalog."""

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from hc_pipeline.resources import aws
from hc_pipeline.stores.query_stats import QueryStats

_INTEGERS = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOATS = {"double", "float", "real", "decimal"}


class AthenaQueryError(RuntimeError):
    """An Athena query that ended FAILED or CANCELLED."""

    def __init__(self, query_id: str, state: str, reason: str, sql: str = ""):
        self.query_id, self.state, self.reason = query_id, state, reason
        statement = " ".join(sql.split())
        statement = statement if len(statement) <= 160 else statement[:157] + "..."
        super().__init__(f"Athena query {query_id} {state}: {reason}" + (f" [{statement}]" if statement else ""))


class AthenaQueryTimeout(AthenaQueryError, TimeoutError):
    """An Athena query still running at the timeout; it has been stopped."""

    def __init__(self, query_id: str, timeout_seconds: float, sql: str = ""):
        super().__init__(query_id, "TIMED_OUT", f"still running after {timeout_seconds:g} s, stopped", sql)


@dataclass(frozen=True)
class CatalogTable:
    """A table as the Glue catalog holds it: lower-cased column names to Hive types, and LOCATION."""

    columns: dict[str, str]
    location: str
    kind: str = "EXTERNAL_TABLE"  # or VIRTUAL_VIEW


def poll_delays(start: float, cap: float) -> Iterator[float]:
    """Seconds to wait between status polls: start, doubling, never above cap."""
    delay = start
    while True:
        yield delay
        delay = min(delay * 2, cap)


@dataclass
class AthenaClient:
    """Amazon Athena over the Glue database that holds one table (or view) per lake asset."""

    region_name: str | None = None
    endpoint_url: str | None = None
    database: str = "hc_pipeline"
    workgroup: str = "primary"
    output_location: str | None = None
    poll_interval_seconds: float = 0.25
    max_poll_interval_seconds: float = 5.0
    timeout_seconds: float = 600.0
    _clients: dict = field(default_factory=dict, repr=False)

    def _client(self, service: str):
        if service not in self._clients:
            self._clients[service] = aws.client(service, self.region_name, self.endpoint_url)
        return self._clients[service]

    def query(self, sql: str) -> pd.DataFrame:
        return self.query_with_stats(sql)[0]

    def query_with_stats(self, sql: str) -> tuple[pd.DataFrame, QueryStats]:
        """Run one Athena statement as written and return its rows with what it cost."""
        athena = self._client("athena")
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        query_id = athena.start_query_execution(**request)["QueryExecutionId"]
        execution = self._wait(athena, query_id, sql)
        statistics = execution.get("Statistics", {})
        stats = QueryStats(
            query_id=query_id,
            data_scanned_bytes=int(statistics.get("DataScannedInBytes", 0)),
            engine_ms=int(statistics.get("EngineExecutionTimeInMillis", 0)),
        )
        return self._results(athena, query_id), stats

    def _wait(self, athena, query_id: str, sql: str) -> dict:
        deadline = time.monotonic() + self.timeout_seconds
        delays = poll_delays(self.poll_interval_seconds, self.max_poll_interval_seconds)
        try:
            while True:
                execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
                status = execution["Status"]
                if status["State"] == "SUCCEEDED":
                    return execution
                if status["State"] in ("FAILED", "CANCELLED"):
                    reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage")
                    raise AthenaQueryError(query_id, status["State"], reason or "no reason given", sql)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AthenaQueryTimeout(query_id, self.timeout_seconds, sql)
                time.sleep(min(next(delays), remaining))
        except AthenaQueryTimeout:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise
        except AthenaQueryError:
            raise
        except BaseException:
            # A terminated run must not leave a query scanning (and billing) behind it.
            with contextlib.suppress(Exception):
                athena.stop_query_execution(QueryExecutionId=query_id)
            raise

    def _results(self, athena, query_id: str) -> pd.DataFrame:
        columns: list[dict] | None = None
        values: list[list[str | None]] = []
        request = {"QueryExecutionId": query_id, "MaxResults": 1000}
        while True:
            page = athena.get_query_results(**request)
            rows = page["ResultSet"].get("Rows", [])
            if columns is None:
                columns = page["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
                # SELECT results repeat the column labels as their first row; DDL results do not.
                if rows and _cells(rows[0], len(columns)) == [c.get("Label", c["Name"]) for c in columns]:
                    rows = rows[1:]
            values.extend(_cells(row, len(columns)) for row in rows)
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        return _frame(columns or [], values)

    def tables(self) -> list[str]:
        """The names of the database's tables and views."""
        # Glue, not SHOW TABLES: one catalog call instead of a queued, polled, billed query with a result file.
        paginator = self._client("glue").get_paginator("get_tables")
        return sorted(
            table["Name"] for page in paginator.paginate(DatabaseName=self.database) for table in page["TableList"]
        )

    def catalog_table(self, table: str) -> CatalogTable | None:
        """The Glue catalog's columns and LOCATION of one table, or None if it does not exist."""
        try:
            found = self._client("glue").get_table(DatabaseName=self.database, Name=table)["Table"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return None
            raise
        descriptor = found.get("StorageDescriptor", {})
        columns = [*descriptor.get("Columns", []), *found.get("PartitionKeys", [])]
        return CatalogTable(
            columns={column["Name"].lower(): column["Type"] for column in columns},
            location=descriptor.get("Location", ""),
            kind=found.get("TableType") or "EXTERNAL_TABLE",
        )


def _cells(row: dict, width: int) -> list[str | None]:
    """One result row's values; Athena omits VarCharValue for NULL, and moto sends NULL as ''."""
    data = row.get("Data", [])
    cells = [datum.get("VarCharValue") or None for datum in data[:width]]
    return cells + [None] * (width - len(cells))


def _frame(columns: list[dict], values: list[list[str | None]]) -> pd.DataFrame:
    names = [column["Name"] for column in columns]
    by_column = list(zip(*values)) if values else [()] * len(columns)
    series = [_series(name, list(raw), column["Type"]) for name, raw, column in zip(names, by_column, columns)]
    return pd.concat(series, axis=1) if series else pd.DataFrame()


def _series(name: str, raw: list[str | None], athena_type: str) -> pd.Series:
    """One column typed by its Athena result type; arrays, maps, rows and json stay as Athena prints them."""
    kind = athena_type.lower().split("(")[0].strip()
    if kind == "boolean":
        return pd.Series([None if v is None else v.lower() == "true" for v in raw], dtype="boolean", name=name)
    if kind in _INTEGERS:
        return pd.Series(pd.array([None if v is None else int(v) for v in raw], dtype="Int64"), name=name)
    if kind in _FLOATS:
        # float64 for decimal too: DuckDBQueryEngine's .df() does the same, so both engines agree.
        return pd.Series([float("nan") if v is None else float(v) for v in raw], dtype="float64", name=name)
    if kind == "date":
        return pd.Series([None if v is None else dt.date.fromisoformat(v) for v in raw], dtype=object, name=name)
    if kind == "timestamp":
        return pd.to_datetime(pd.Series(raw, dtype=object, name=name), format="ISO8601")
    return pd.Series(raw, dtype=pd.StringDtype("pyarrow"), name=name)
