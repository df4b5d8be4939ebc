"""A new version of a landed file supersedes the old: `<table>` reads the current version, `<table>_history` all."""

HISTORY = "_history"
# The partition key is the stem of each per-file parquet and of each manifest (`manifests/<domain>/<key>.json`).
STEM = r"regexp_extract({column}, '([^/]+)\.{extension}$', 1)"
_FILE = "hc_parquet_file"
_PATH = '"$path"'  # Athena's hidden column: the S3 object each row was read from


def versions_view(domain: str) -> str:
    """The view of every version of the domain's landed files, `is_current` on the newest per object key."""
    return f"{domain}_file_versions"


def _current_versions(select_manifests: str) -> str:
    return (
        "SELECT partition_key, source_file, version, landed_at,\n"
        "  row_number() OVER (PARTITION BY source_file ORDER BY landed_at DESC, partition_key DESC) = 1 AS is_current\n"
        f"FROM ({select_manifests}) AS manifests"
    )


def _superseded(versions: str, partition_of_row: str) -> str:
    # A file with no manifest (written before manifests, or by a test) is never superseded.
    return f"{partition_of_row} NOT IN (SELECT partition_key FROM {versions} WHERE NOT is_current)"


def duckdb_file_versions(manifests_glob: str) -> str:
    """DuckDB: the domain's versions, read from its run manifests (`key`, `version`, `last_modified`)."""
    glob = manifests_glob.replace("'", "''")
    manifests = (
        f'SELECT {STEM.format(column="filename", extension="json")} AS partition_key, "key" AS source_file, '
        "version, to_timestamp(last_modified) AS landed_at "
        f"FROM read_json('{glob}', filename = true, "
        "columns = {'key': 'VARCHAR', 'version': 'VARCHAR', 'last_modified': 'DOUBLE'})"
    )
    return _current_versions(manifests)


def duckdb_history(parquet_glob: str) -> str:
    """DuckDB: every row of every version of a per-file table."""
    return f"SELECT * FROM read_parquet('{parquet_glob.replace(chr(39), chr(39) * 2)}', union_by_name = true)"


def duckdb_current(parquet_glob: str, domain: str) -> str:
    """DuckDB: the rows of a per-file table minus those of superseded versions."""
    glob = parquet_glob.replace("'", "''")
    return (
        f"SELECT * EXCLUDE ({_FILE}) FROM read_parquet('{glob}', union_by_name = true, filename = '{_FILE}') "
        f"WHERE {_superseded(versions_view(domain), STEM.format(column=_FILE, extension='parquet'))}"
    )


def athena_manifests_ddl(database: str, domain: str, location: str) -> str:
    """Athena: the domain's run manifests (one JSON object a file, on one line) as an external table."""
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{domain}_manifests` "
        "(`key` string, `version` string, `last_modified` double)\n"
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')\n"
        f"LOCATION '{location.replace(chr(39), chr(39) * 2)}'"
    )


def athena_file_versions(database: str, domain: str) -> str:
    """Athena: the domain's versions, `is_current` on the newest per object key."""
    manifests = (
        f"SELECT {STEM.format(column=_PATH, extension='json')} AS partition_key, "
        '"key" AS source_file, version, from_unixtime(last_modified) AS landed_at '
        f'FROM "{database}"."{domain}_manifests" WHERE "key" IS NOT NULL'
    )
    return _current_versions(manifests)


def athena_current(database: str, table: str, domain: str) -> str:
    """Athena: a per-file table's current rows, from `<table>_history` minus superseded versions."""
    partition = STEM.format(column=_PATH, extension="parquet")
    versions = f'"{database}".{versions_view(domain)}'
    return f'SELECT * FROM "{database}"."{table}{HISTORY}" WHERE {_superseded(versions, partition)}'
