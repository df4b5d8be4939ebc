"""DuckDB over the lake: one view per `<domain>_<asset>` table, for the pipeline's own SQL and a locked read-only path."""

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import duckdb

from hc_pipeline.scratch import scratch_folder
from hc_pipeline.sql import VIEWS, create_duckdb_views
from hc_pipeline.sql.versions import HISTORY, duckdb_current, duckdb_file_versions, duckdb_history, versions_view

MEMORY_LIMIT = "768MB"


class DuckDBLake:
    """The lake folder (local or on S3 through an fsspec filesystem), queried by short-lived DuckDB connections."""

    def __init__(self, lake_uri: str, filesystem: Any = None, threads: int = 2, memory_limit: str = MEMORY_LIMIT):
        self.lake_uri = lake_uri.rstrip("/")
        self.filesystem = filesystem  # None: a local folder
        self.threads = threads
        self.memory_limit = memory_limit

    @property
    def manifests_uri(self) -> str:
        """The run manifests beside the lake: which object version each partition is, and when it landed."""
        return f"{self.lake_uri.rsplit('/', 1)[0]}/manifests"

    def tables(self) -> dict[str, str]:
        """`<domain>_<asset>` -> the folder (URI) of each lake table with parquet files, from one listing."""
        return {name: folder for name, (folder, _) in self._layout().items()}

    def _layout(self) -> dict[str, tuple[str, bool]]:
        """`<domain>_<asset>` -> (folder, whether it holds one file per partition rather than one `data` file)."""
        found: dict[str, tuple[str, bool]] = {}
        for relative in sorted(self._files()):
            parts = relative.split("/")
            if len(parts) == 3 and parts[2].endswith(".parquet") and not parts[2].startswith("."):
                name, per_file = f"{parts[0]}_{parts[1]}", parts[2] != "data.parquet"
                folder, seen = found.get(name, (f"{self.lake_uri}/{parts[0]}/{parts[1]}", False))
                found[name] = (folder, seen or per_file)
        return found

    def _has_manifests(self, domain: str) -> bool:
        folder = f"{self.manifests_uri}/{domain}"
        if self.filesystem is None:
            return os.path.isdir(folder) and any(name.endswith(".json") for name in os.listdir(folder))
        return self.filesystem.exists(folder)  # one small listing on S3, not the folder's every manifest

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
    def connect(self, read_only: bool = False, for_sql: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with one view per lake table, closed on exit; `read_only` locks it to reading the lake.

        With `for_sql`, only the views that statement reads: binding a view reads the footer of every parquet file
        below it (on S3, one request each), so views over tables the statement never names cost the most.
        """
        # Past the limit DuckDB spills its sorts, joins and windows to disk: a report over 10M stays then holds
        # about 1 GB instead of most of the machine (DuckDB's default: 80% of it). Each connection spills to a
        # folder of its own: DuckDB names its temporary files alike in every process.
        with (
            scratch_folder("duckdb") as spill,
            duckdb.connect(
                config={"threads": self.threads, "memory_limit": self.memory_limit, "temp_directory": str(spill)}
            ) as con,
        ):
            if self.filesystem is not None:
                # httpfs is not in the duckdb wheel and cannot be fetched offline; s3fs brings endpoint and credentials.
                con.register_filesystem(self.filesystem)
            layout = self._layout()
            if for_sql is not None:
                layout = _read_by(for_sql, layout)
            self._create_table_views(con, layout)
            create_duckdb_views(con, set(layout))
            if read_only:
                lake, manifests = (f"{uri}/".replace("'", "''") for uri in (self.lake_uri, self.manifests_uri))
                con.execute(f"SET allowed_directories = ['{lake}', '{manifests}']")
                con.execute("SET enable_external_access = false")
                con.execute("SET lock_configuration = true")
            yield con

    def _create_table_views(self, con: duckdb.DuckDBPyConnection, layout: dict[str, tuple[str, bool]]) -> None:
        """`<table>` per lake table; per-file tables also get `<table>_history` and skip superseded versions."""
        versioned = set()
        for domain in {name.split("_", 1)[0] for name, (_, per_file) in layout.items() if per_file}:
            if self._has_manifests(domain):
                glob = f"{self.manifests_uri}/{domain}/*.json"
                con.execute(f"CREATE VIEW {versions_view(domain)} AS {duckdb_file_versions(glob)}")
                versioned.add(domain)
        for name, (folder, per_file) in layout.items():
            pattern, domain = f"{folder}/*.parquet", name.split("_", 1)[0]
            if not per_file:
                con.execute(f"CREATE VIEW {name} AS {duckdb_history(pattern)}")
                continue
            con.execute(f"CREATE VIEW {name}{HISTORY} AS {duckdb_history(pattern)}")
            current = duckdb_current(pattern, domain) if domain in versioned else duckdb_history(pattern)
            con.execute(f"CREATE VIEW {name} AS {current}")

    def rows(self, duckdb_sql: str, read_only: bool = False) -> tuple[list[str], list[tuple]]:
        """Column names and rows of one DuckDB-dialect statement."""
        with self.connect(read_only=read_only, for_sql=duckdb_sql) as con:
            result = con.execute(duckdb_sql)
            columns = [column[0] for column in result.description or []]
            return columns, result.fetchall()

    def frame(self, duckdb_sql: str):
        """The rows of one DuckDB-dialect statement as a pandas DataFrame."""
        with self.connect(for_sql=duckdb_sql) as con:
            return con.execute(duckdb_sql).df()

    def frames(self, duckdb_sql: str, vectors: int = 64) -> Iterator:
        """The rows of one statement as pandas DataFrames of `vectors` x 2,048 rows, typed as `frame` types them
        (one empty frame when there are none); the connection stays open until the last is taken."""
        with self.connect(for_sql=duckdb_sql) as con:
            yield from result_frames(con, duckdb_sql, vectors)

    @contextlib.contextmanager
    def computed_once(self, view: str, columns: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection on which the shared `view` is a temporary table of its `columns`, computed once for the
        statements of the block (which read it, not other tables); beyond the memory limit it spills to disk."""
        with self.connect(for_sql=f"SELECT * FROM {view}") as con:
            con.execute(f"CREATE TEMP TABLE {view}_once AS SELECT {', '.join(columns)} FROM {view}")
            con.execute(f"DROP VIEW {view}")
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM {view}_once")
            yield con


def result_frames(con: duckdb.DuckDBPyConnection, duckdb_sql: str, vectors: int = 64) -> Iterator:
    """The rows of one statement on `con` as DataFrames of `vectors` x 2,048 rows (one empty frame when none)."""
    result = con.execute(duckdb_sql)
    chunk = result.fetch_df_chunk(vectors)
    yield chunk
    while len(chunk):
        chunk = result.fetch_df_chunk(vectors)
        if len(chunk):
            yield chunk


def _read_by(duckdb_sql: str, layout: dict[str, tuple[str, bool]]) -> dict[str, tuple[str, bool]]:
    """The lake tables `duckdb_sql` reads, directly, as `<table>_history` or through a shared view; all if unsure.

    Any name that is neither one of ours nor a CTE of the statement (a typo, a catalog table) keeps every view, so
    what the statement returns, and the error DuckDB raises with its "did you mean", stay as with every view.
    """
    import sqlglot
    from sqlglot import exp

    try:
        trees = [tree for tree in sqlglot.parse(duckdb_sql, read="duckdb") if tree is not None]
    except sqlglot.errors.SqlglotError:
        return layout
    ctes = {cte.alias_or_name.lower() for tree in trees for cte in tree.find_all(exp.CTE)}
    per_file = {name for name, (_, one_file_each) in layout.items() if one_file_each}
    wanted: set[str] = set()
    for table in (node for tree in trees for node in tree.find_all(exp.Table)):
        name = VIEWS.get(table.name.lower(), table.name.lower())
        if table.args.get("db") or table.args.get("catalog"):
            return layout  # another schema or catalog: DuckDB resolves it, not this
        if name in layout:
            wanted.add(name)
        elif name.endswith(HISTORY) and name.removesuffix(HISTORY) in per_file:
            wanted.add(name.removesuffix(HISTORY))
        elif name and name not in ctes:  # no name: a table function such as read_parquet(...)
            return layout  # also `<domain>_file_versions` read directly: rare enough to create every view for
    return {name: folder for name, folder in layout.items() if name in wanted}
