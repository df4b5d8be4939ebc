"""The query engine: every lake table as `<domain>_<asset>`, queried in Athena-dialect SQL."""

from abc import ABC, abstractmethod

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sql import athena_to_duckdb


class QueryEngine(dg.ConfigurableResource, ABC):
    """Runs Athena (Trino) dialect SQL over the lake; DuckDB locally, Athena on AWS."""

    @abstractmethod
    def query(self, sql: str) -> pd.DataFrame:
        """Run one Athena-dialect statement and return its rows."""

    @abstractmethod
    def tables(self) -> list[str]:
        """The names of the tables that have data."""


class DuckDBQueryEngine(QueryEngine):
    """DuckDB in memory, with a view over each lake folder's parquet files."""

    storage: dg.ResourceDependency[LakeStorage]
    threads: int = Field(default=2, description="DuckDB worker threads.")

    def _lake_tables(self) -> dict[str, str]:
        lake = self.storage.path("lake")
        if not lake.exists():
            return {}
        found = {}
        for domain_dir in sorted(p for p in lake.iterdir() if p.is_dir()):
            for asset_dir in sorted(p for p in domain_dir.iterdir() if p.is_dir()):
                if any(asset_dir.glob("*.parquet")):
                    found[f"{domain_dir.name}_{asset_dir.name}"] = str(asset_dir)
        return found

    def tables(self) -> list[str]:
        return list(self._lake_tables())

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh connection with one view per lake table."""
        con = duckdb.connect(config={"threads": self.threads})
        for name, folder in self._lake_tables().items():
            pattern = f"{folder}/*.parquet".replace("'", "''")
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{pattern}', union_by_name = true)"
            )
        return con

    def query(self, sql: str) -> pd.DataFrame:
        con = self.connect()
        try:
            return con.execute(athena_to_duckdb(sql)).df()
        finally:
            con.close()
