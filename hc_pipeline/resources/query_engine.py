"""The query engine: every lake table as `<domain>_<asset>`, queried in Athena-dialect SQL."""

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import dagster as dg
import pandas as pd
from pydantic import Field
from upath import UPath

from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sql import athena_to_duckdb
from hc_pipeline.stores.file_table import FileTable, write_table
from hc_pipeline.stores.query_stats import QueryStats

if TYPE_CHECKING:  # duckdb loads when a query runs, not with the code location
    import duckdb

    from hc_pipeline.stores.duckdb_lake import DuckDBLake


class Queries(Protocol):
    """Runs Athena-dialect statements: an engine, or a block of statements sharing what it computed once."""

    def query_with_stats(self, sql: str) -> tuple[pd.DataFrame, QueryStats | None]: ...

    def query_to_table(self, sql: str, path: UPath) -> tuple[FileTable, QueryStats | None]: ...


class QueryEngine(dg.ConfigurableResource, ABC):
    """Runs Athena (Trino) dialect SQL over the lake; DuckDB locally, Athena on AWS."""

    @abstractmethod
    def query(self, sql: str) -> pd.DataFrame:
        """Run one Athena-dialect statement and return its rows."""

    def query_with_stats(self, sql: str) -> tuple[pd.DataFrame, QueryStats | None]:
        """The rows and what the query cost; None where the engine does not measure it (DuckDB)."""
        return self.query(sql), None

    def query_to_table(self, sql: str, path: UPath) -> tuple[FileTable, QueryStats | None]:
        """The rows written to `path` as parquet, and what the query cost."""
        frame, stats = self.query_with_stats(sql)
        return write_table(path, [frame]), stats

    @contextlib.contextmanager
    def sharing(self, view: str, columns: list[str]) -> Iterator[Queries]:
        """Queries for a block of statements that read the shared `view`; an engine that can computes the view
        once for all of them (only `columns`), any other computes it in each statement."""
        yield self

    @abstractmethod
    def tables(self) -> list[str]:
        """The names of the tables that have data."""


class DuckDBQueryEngine(QueryEngine):
    """DuckDB in memory, with a view over each lake folder's parquet files and the shared views."""

    storage: dg.ResourceDependency[LakeStorage]
    threads: int = Field(default=2, description="DuckDB worker threads.")

    @property
    def lake(self) -> "DuckDBLake":
        """The Dagster-free implementation, shared with `hc-pipeline query`."""
        from hc_pipeline.stores.duckdb_lake import DuckDBLake

        filesystem = self.storage.filesystem() if self.storage.is_s3 else None
        return DuckDBLake(str(self.storage.path("lake")), filesystem, self.threads)

    def tables(self) -> list[str]:
        return list(self.lake.tables())

    @contextlib.contextmanager
    def connect(self) -> Iterator["duckdb.DuckDBPyConnection"]:
        """A connection with one view per lake table and the shared views, closed when the block ends."""
        with self.lake.connect() as con:
            yield con

    def query(self, sql: str) -> pd.DataFrame:
        return self.lake.frame(athena_to_duckdb(sql))

    def query_to_table(self, sql: str, path: UPath) -> tuple[FileTable, QueryStats | None]:
        # Written as DuckDB hands the rows over: a report of one row per stay never sits whole in pandas.
        return write_table(path, self.lake.frames(athena_to_duckdb(sql))), None

    @contextlib.contextmanager
    def sharing(self, view: str, columns: list[str]) -> Iterator[Queries]:
        with self.lake.computed_once(view, columns) as con:
            yield _OnConnection(con)


class _OnConnection:
    """Queries on one open DuckDB connection."""

    def __init__(self, con: "duckdb.DuckDBPyConnection"):
        self.con = con

    def query_with_stats(self, sql: str) -> tuple[pd.DataFrame, None]:
        return self.con.execute(athena_to_duckdb(sql)).df(), None

    def query_to_table(self, sql: str, path: UPath) -> tuple[FileTable, None]:
        from hc_pipeline.stores.duckdb_lake import result_frames

        return write_table(path, result_frames(self.con, athena_to_duckdb(sql))), None
