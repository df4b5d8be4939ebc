"""The lake on S3 with one Athena external table per asset, `<domain>_<asset>`, kept in step with each write."""

import re

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from hc_pipeline.io_managers.parquet import ParquetUPathIOManager
from hc_pipeline.resources.athena import AthenaQueryEngine, AthenaQueryError, CatalogTable
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sql import views_over
from hc_pipeline.sql.versions import HISTORY, athena_current, athena_file_versions, athena_manifests_ddl, versions_view

_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_SIGNED = {8: "tinyint", 16: "smallint", 32: "int", 64: "bigint"}
_UNSIGNED = {8: "smallint", 16: "int", 32: "bigint"}


def athena_type(arrow_type: pa.DataType) -> str:
    """The Hive DDL type Athena reads a parquet column of this Arrow type as."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return athena_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_signed_integer(t):
        return _SIGNED[t.bit_width]
    if pa.types.is_unsigned_integer(t) and t.bit_width in _UNSIGNED:
        return _UNSIGNED[t.bit_width]
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{athena_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{_field_name(f.name)}:{athena_type(f.type)}" for f in t) + ">"
    if pa.types.is_map(t):
        return f"map<{athena_type(t.key_type)},{athena_type(t.item_type)}>"
    raise TypeError(f"no Athena column type for Arrow type {t}")


def _field_name(name: str) -> str:
    return name if _PLAIN_NAME.match(name) else quote(name)


def quote(identifier: str) -> str:
    """A Hive DDL identifier in backticks."""
    return "`" + identifier.replace("`", "``") + "`"


def table_name(asset_key: dg.AssetKey) -> str:
    """The contract SQL name of an asset's table: `<domain>_<asset>`."""
    return "_".join(asset_key.path).lower()


def athena_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(field.name.lower(), athena_type(field.type)) for field in schema]


def untyped_columns(schema: pa.Schema) -> set[str]:
    """Columns whose written type is (or holds) Arrow null, e.g. all-None object columns: they prove no type."""

    def has_null(t: pa.DataType) -> bool:
        return pa.types.is_null(t) or any(has_null(t.field(i).type) for i in range(t.num_fields))

    return {field.name.lower() for field in schema if has_null(field.type)}


def create_table_ddl(database: str, table: str, columns: list[tuple[str, str]], location: str) -> str:
    body = ",\n".join(f"  {quote(name)} {kind}" for name, kind in columns)
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {quote(database)}.{quote(table)} (\n{body}\n)\n"
        f"STORED AS PARQUET\nLOCATION '{location.replace(chr(39), chr(39) * 2)}'"
    )


def add_columns_ddl(database: str, table: str, columns: list[tuple[str, str]]) -> str:
    added = ", ".join(f"{quote(name)} {kind}" for name, kind in columns)
    return f"ALTER TABLE {quote(database)}.{quote(table)} ADD COLUMNS ({added})"


def create_view_ddl(database: str, view: str, select: str) -> str:
    """A Trino view (Athena runs view DDL in Trino, so names take double quotes)."""
    return f'CREATE OR REPLACE VIEW "{database}"."{view}" AS\n{select}'


def drop_table_ddl(database: str, table: str) -> str:
    return f"DROP TABLE IF EXISTS {quote(database)}.{quote(table)}"


def _same_type(a: str, b: str) -> bool:
    return re.sub(r"[\s`]", "", a.lower()) == re.sub(r"[\s`]", "", b.lower())


def plan_ddl(
    database: str,
    table: str,
    columns: list[tuple[str, str]],
    location: str,
    current: CatalogTable | None,
    untyped: set[str] = frozenset(),
) -> list[str]:
    """The statements that bring the catalog table in line with the parquet just written; none if it is."""
    create = create_table_ddl(database, table, columns, location)
    if current is None:
        return [create]
    # An all-null column in one partition must not flip the table's type back and forth.
    changed = [
        name for name, kind in columns if name not in untyped and not _same_type(current.columns.get(name, kind), kind)
    ]
    if changed or current.location.rstrip("/") != location.rstrip("/"):
        # ADD COLUMNS cannot retype a column or move a table; dropping an EXTERNAL table leaves its files alone.
        return [drop_table_ddl(database, table), create]
    added = [(name, kind) for name, kind in columns if name not in current.columns]
    # Columns gone from the frame stay: older files still hold them, newer ones read as NULL.
    return [add_columns_ddl(database, table, added)] if added else []


class AthenaTablesUPathIOManager(ParquetUPathIOManager):
    """Parquet in the S3 lake, then the asset's Athena table created or altered to match its schema."""

    def __init__(self, storage: LakeStorage, engine: AthenaQueryEngine, read_via_sql: bool = False):
        if not storage.root.startswith("s3://"):
            raise ValueError(f"Athena tables need an s3:// storage root, not {storage.root!r}")
        super().__init__(storage)
        self._engine = engine
        self._read_via_sql = read_via_sql

    def after_write(self, asset_key: dg.AssetKey, partitioned: bool, path: UPath) -> dict:
        # The footer of the file just written is exactly the schema Athena will read.
        with path.open("rb") as handle:
            schema = pq.read_schema(handle)
        table = table_name(asset_key)
        # One file per partition: the files are `<table>_history`, and `<table>` a view of each key's newest version.
        stored = f"{table}{HISTORY}" if partitioned else table
        statements = self.sync_table(stored, athena_columns(schema), f"{path.parent}/", untyped_columns(schema))
        if partitioned:
            statements += self.sync_current_view(asset_key.path[0], table, history_changed=bool(statements))
        return {
            "athena/table": f"{self._engine.database}.{table}",
            "athena/ddl": dg.MetadataValue.md("\n\n".join(f"```sql\n{s}\n```" for s in statements) or "unchanged"),
        }

    def sync_table(
        self, table: str, columns: list[tuple[str, str]], location: str, untyped: set[str] = frozenset()
    ) -> list[str]:
        """Run the DDL that makes `table` match `columns` at `location`; returns the statements run."""
        database = self._engine.database
        statements = plan_ddl(database, table, columns, location, self._engine.catalog_table(table), untyped)
        for statement in statements:
            try:
                self._engine.query(statement)
            except AthenaQueryError:
                # A parallel partition run may have added the same columns a moment earlier.
                if plan_ddl(database, table, columns, location, self._engine.catalog_table(table), untyped):
                    raise
                break
        if statements:
            # A Trino view keeps the columns it was created with: recreate the shared views over a changed table.
            views = [create_view_ddl(database, view, select) for view, select in views_over({table}).items()]
            for statement in views:
                self._engine.query(statement)
            statements = [*statements, *views]
        return statements

    def sync_current_view(self, domain: str, table: str, history_changed: bool) -> list[str]:
        """Create the view `<table>` over `<table>_history` minus superseded versions; returns the statements run."""
        database = self._engine.database
        current = self._engine.catalog_table(table)
        if current is not None and current.kind == "VIRTUAL_VIEW" and not history_changed:
            return []
        # A table from before versions were kept apart: dropping the EXTERNAL table leaves its files, now `_history`.
        statements = [drop_table_ddl(database, table)] if current is not None and current.kind != "VIRTUAL_VIEW" else []
        statements += [
            athena_manifests_ddl(database, domain, f"{self._storage.path('manifests', domain)}/"),
            create_view_ddl(database, versions_view(domain), athena_file_versions(database, domain)),
            create_view_ddl(database, table, athena_current(database, table, domain)),
            *(create_view_ddl(database, view, select) for view, select in views_over({table}).items()),
        ]
        for statement in statements:
            self._engine.query(statement)
        return statements

    def load_input(self, context: dg.InputContext):
        if not (self._read_via_sql and context.has_asset_key):
            return super().load_input(context)
        table = f'"{self._engine.database}"."{table_name(context.asset_key)}"'
        if not context.has_asset_partitions:
            return self._engine.query(f"SELECT * FROM {table}")
        table = f'"{self._engine.database}"."{table_name(context.asset_key)}{HISTORY}"'  # "$path" is the table's
        # "$path" names the one file the IO manager wrote: no partition column or Hive layout needed.
        frames = {
            key: self._engine.query(f"""SELECT * FROM {table} WHERE "$path" = '{str(path).replace("'", "''")}'""")
            for key, path in self.partition_paths(context).items()
        }
        # Like UPathIOManager: one partition loads as a frame, several as {partition: frame}.
        return next(iter(frames.values())) if len(frames) == 1 else frames


class LakeAthenaIOManager(dg.ConfigurableIOManagerFactory):
    """The S3 lake plus one Athena external table per asset; reads back from parquet or through SQL."""

    storage: dg.ResourceDependency[LakeStorage]
    engine: dg.ResourceDependency[AthenaQueryEngine]
    read_via_sql: bool = False

    def create_io_manager(self, context) -> AthenaTablesUPathIOManager:
        return AthenaTablesUPathIOManager(self.storage, self.engine, self.read_via_sql)
