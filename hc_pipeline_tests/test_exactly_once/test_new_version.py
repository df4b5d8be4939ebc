"""A file landed again under the same name: the tables show the new version's rows only, `_history` both."""

import csv
import io
import json
import os
import time
from pathlib import Path

from hc_pipeline_tests.test_exactly_once.conftest import hc

AS_OF = ("--as-of", "2025-06-30")
NAME = "admissions.csv"
PER_FILE = ("raw_records", "curated_records", "quarantined_records", "exceptions")


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *rows])
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


def _all_records(samples: Path) -> tuple[list[str], list[list[str]]]:
    """The generated admissions of every sample CSV, in the first file's column order."""
    header, records = None, []
    for source in sorted((samples / "patients").glob("*.csv")):
        with source.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = header or list(reader.fieldnames)
            records += [[row.get(column, "") for column in header] for row in reader]
    return header, records


def _one(home: Path, sql: str) -> dict:
    out = hc(home, "query", sql, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)[0]


def _rows_of(home: Path, *tables: str) -> dict[str, dict]:
    """Rows and distinct source rows of the file in each table, from one `hc-pipeline query` process for all."""
    sql = " UNION ALL ".join(
        f"SELECT '{table}' AS name, count(*) AS n, count(DISTINCT source_row) AS distinct_rows "
        f"FROM {table} WHERE source_file = 'patients/{NAME}'"
        for table in tables
    )
    out = hc(home, "query", sql, "--format", "json")
    assert out.returncode == 0, out.stderr
    return {row.pop("name"): row for row in json.loads(out.stdout)}


def test_a_new_version_of_a_file_replaces_the_old_in_the_tables_and_both_stay_in_history(tmp_path, samples):
    header, records = _all_records(samples)
    assert len(records) >= 500
    first = _write_rows(tmp_path / "v1" / NAME, header, records[:500])
    correction = _write_rows(tmp_path / "v2" / NAME, header, records[200:300])
    home = tmp_path / "home"

    assert hc(home, "ingest", "patients", str(first)).returncode == 0
    assert hc(home, "run", *AS_OF).returncode == 0
    assert _rows_of(home, "patients_raw_records")["patients_raw_records"]["n"] == 500

    assert hc(home, "ingest", "patients", str(correction)).returncode == 0
    ran = hc(home, "run", *AS_OF)
    assert ran.returncode == 0, ran.stderr
    assert "patients: processed 1 new file(s)" in ran.stdout

    rows = _rows_of(home, *(f"patients_{asset}{suffix}" for asset in PER_FILE for suffix in ("", "_history")))
    raw = rows["patients_raw_records"]
    assert raw["n"] == raw["distinct_rows"] == 100
    kept = rows["patients_curated_records"]["n"] + rows["patients_quarantined_records"]["n"]
    assert kept == 100
    assert rows["patients_raw_records_history"]["n"] == 600
    for asset in PER_FILE:
        current, history = rows[f"patients_{asset}"], rows[f"patients_{asset}_history"]
        assert current["n"] == current["distinct_rows"], asset  # no source_row twice for one source_file
        assert history["n"] > current["n"] or asset == "exceptions", asset
    versions = _one(
        home,
        "SELECT count(*) AS versions, count_if(is_current) AS current FROM patients_file_versions "
        f"WHERE source_file = 'patients/{NAME}'",
    )
    assert versions == {"versions": 2, "current": 1}
    # The reports read the current version: every stay of the file in them is one of the correction's 100 rows.
    stays = _one(home, f"SELECT count(*) AS n FROM patients_stays WHERE source_file = 'patients/{NAME}'")
    assert stays["n"] == rows["patients_curated_records"]["n"]
    # Stewards are asked about the current version's exceptions only.
    exported = hc(home, "review", "export", "patients", str(tmp_path / "open.csv"), "--file", f"patients/{NAME}")
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "open.csv").open(newline="", encoding="utf-8") as handle:
        open_rows = list(csv.DictReader(handle))
    current_open = _one(
        home, f"SELECT count(*) AS n FROM patients_exceptions WHERE source_file = 'patients/{NAME}' AND status = 'open'"
    )
    history_open = _one(
        home,
        f"SELECT count(*) AS n FROM patients_exceptions_history WHERE source_file = 'patients/{NAME}' "
        "AND status = 'open'",
    )
    assert len(open_rows) == current_open["n"] < history_open["n"]


def test_a_file_still_being_copied_in_is_left_for_a_later_run(tmp_path, samples):
    home = tmp_path / "home"
    folder = home / "landing" / "patients"
    folder.mkdir(parents=True)
    copying = folder / "copying.csv"
    source = sorted((samples / "patients").glob("*.csv"))[0]
    copying.write_bytes(source.read_bytes()[:2000])  # the first part of a file, written just now

    env = {"HC_LANDING_SETTLE_SECONDS": "30"}
    ran = hc(home, "run", *AS_OF, env=env)
    assert ran.returncode == 0, ran.stderr
    assert "patients: processed 0 new file(s)" in ran.stdout

    settled = time.time() - 60
    os.utime(copying, (settled, settled))  # unchanged for a minute: the copy is complete
    ran = hc(home, "run", *AS_OF, env=env)
    assert "patients: processed 1 new file(s)" in ran.stdout, ran.stderr
