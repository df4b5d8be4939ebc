"""DuckDB over the lake: one view per `<domain>_<asset>` table, for the pipeline's own SQL and a locked read-only path."""

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import duckdb

from hc_pipeline.sql import create_duckdb_views


class DuckDBLake:
    """The lake folder (local or on S3 through an fsspec filesystem), queried by short-lived DuckDB connections."""

    def __init__(self, lake_uri: str, filesystem: Any = None, threads: int = 2):
        self.lake_uri = lake_uri.rstrip("/")
        self.filesystem = filesystem  # None: a local folder
        self.threads = threads

    def tables(self) -> dict[str, str]:
        """`<domain>_<asset>` -> the folder (URI) of each lake table with parquet files, from one listing."""
        found = {}
        for relative in sorted(self._files()):
            parts = relative.split("/")
            if len(parts) == 3 and parts[2].endswith(".parquet") and not parts[2].startswith("."):
                found.setdefault(f"{parts[0]}_{parts[1]}", f"{self.lake_uri}/{parts[0]}/{parts[1]}")
        return found

    def _files(self) -> Iterator[str]:
        """Every file below the lake, relative to it; one recursive (paginated on S3) listing."""
        if self.filesystem is None:
            for parent, _, names in os.walk(self.lake_uri):
                folder = os.path.relpath(parent, self.lake_uri).replace(os.sep, "/")
                yield from (name if folder == "." else f"{folder}/{name}" for name in names)
            return
        base = self.lake_uri.split("://", 1)[-1]
        if self.filesystem.exists(self.lake_uri):
            yield from (file[len(base) + 1 :] for file in self.filesystem.find(self.lake_uri))

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with one view per lake table, closed on exit; `read_only` locks it to reading the lake."""
        with duckdb.connect(config={"threads": self.threads}) as con:
            if self.filesystem is not None:
                # httpfs is not in the duckdb wheel and cannot be fetched offline; s3fs brings endpoint and credentials.
                con.register_filesystem(self.filesystem)
            tables = self.tables()
            for name, folder in tables.items():
                pattern = f"{folder}/*.parquet".replace("'", "''")
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{pattern}', union_by_name = true)")
            create_duckdb_views(con, set(tables))
            if read_only:
                lake = f"{self.lake_uri}/".replace("'", "''")
                con.execute(f"SET allowed_directories = ['{lake}']")
                con.execute("SET enable_external_access = false")
                con.execute("SET lock_configuration = true")
            yield con

    def rows(self, duckdb_sql: str, read_only: bool = False) -> tuple[list[str], list[tuple]]:
        """Column names and rows of one DuckDB-dialect statement."""
        with self.connect(read_only=read_only) as con:
            result = con.execute(duckdb_sql)
            columns = [column[0] for column in result.description or []]
            return columns, result.fetchall()

    def frame(self, duckdb_sql: str):
        """The rows of one DuckDB-dialect statement as a pandas DataFrame."""
        with self.connect() as con:
            return con.execute(duckdb_sql).df()
