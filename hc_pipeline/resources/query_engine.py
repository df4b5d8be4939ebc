"""The query engine: every lake table as `<domain>_<asset>`, queried in Athena-dialect SQL."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sql import athena_to_duckdb, create_duckdb_views


@dataclass(frozen=True)
class QueryStats:
    """What one query cost where the engine bills it (Athena): its id, the bytes it scanned and the engine time."""

    query_id: str
    data_scanned_bytes: int
    engine_ms: int

    def to_metadata(self) -> dict[str, Any]:
        return {
            "athena/query_id": self.query_id,
            "athena/data_scanned_bytes": self.data_scanned_bytes,
            "athena/engine_ms": self.engine_ms,
        }


class QueryEngine(dg.ConfigurableResource, ABC):
    """Runs Athena (Trino) dialect SQL over the lake; DuckDB locally, Athena on AWS."""

    @abstractmethod
    def query(self, sql: str) -> pd.DataFrame:
        """Run one Athena-dialect statement and return its rows."""

    def query_with_stats(self, sql: str) -> tuple[pd.DataFrame, QueryStats | None]:
        """The rows and what the query cost; None where the engine does not measure it (DuckDB)."""
        return self.query(sql), None

    @abstractmethod
    def tables(self) -> list[str]:
        """The names of the tables that have data."""


class DuckDBQueryEngine(QueryEngine):
    """DuckDB in memory, with a view over each lake folder's parquet files."""

    storage: dg.ResourceDependency[LakeStorage]
    threads: int = Field(default=2, description="DuckDB worker threads.")

    def _lake_tables(self) -> dict[str, str]:
        """`<domain>_<asset>` -> the folder (URI) of each lake table with parquet files, from one listing."""
        lake = self.storage.path("lake")
        fs, base = lake.fs, lake.path.rstrip("/")
        if not fs.exists(base):
            return {}
        found = {}
        # One recursive listing (paginated on S3) instead of a request per folder.
        for file in sorted(fs.find(base)):
            parts = file[len(base) + 1 :].split("/")
            if len(parts) == 3 and parts[2].endswith(".parquet") and not parts[2].startswith("."):
                found.setdefault(f"{parts[0]}_{parts[1]}", str(lake / parts[0] / parts[1]))
        return found

    def tables(self) -> list[str]:
        return list(self._lake_tables())

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh connection with one view per lake table and the shared views; on S3 DuckDB reads through s3fs."""
        con = duckdb.connect(config={"threads": self.threads})
        if self.storage.is_s3:
            # httpfs is not in the duckdb wheel and cannot be fetched offline; s3fs brings endpoint and credentials.
            con.register_filesystem(self.storage.filesystem())
        tables = self._lake_tables()
        for name, folder in tables.items():
            pattern = f"{folder}/*.parquet".replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{pattern}', union_by_name = true)")
        create_duckdb_views(con, set(tables))
        return con

    def query(self, sql: str) -> pd.DataFrame:
        con = self.connect()
        try:
            return con.execute(athena_to_duckdb(sql)).df()
        finally:
            con.close()
