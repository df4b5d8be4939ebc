"""The facilities pieces: hc_pipeline (readers, curation, three reports) vs DuckDB read_json_objects."""

import shutil
from pathlib import Path

from bench.inputs import RUN_DATE
from bench.p1 import scratch

HORIZON_DAYS = 180
REPORTS = ("facility_metrics", "expiring_accreditations", "state_counts")


def hc_pipeline(meter, files: list[str]) -> dict:
    """Every file through the per-file assets (one materialize each), then the three reports, as `run` does."""
    import pandas as pd

    from hc_pipeline.definitions import make_definitions
    from hc_pipeline.deployment import build_resources
    from hc_pipeline.runner import instance_for, run_pending

    home = scratch("fac-")
    try:
        resources = build_resources({"HC_HOME": str(home)})
        for name in files:  # landed in name order: the order the reports' "latest record" follows
            resources["landing"].put(f"facilities/{Path(name).name}", Path(name).read_bytes())
        defs = make_definitions(resources)
        instance = instance_for(home)
        with meter:
            summary = run_pending(defs, instance, RUN_DATE, HORIZON_DAYS)
        rows = {name: len(pd.read_parquet(home / "lake" / "facilities" / name / "data.parquet")) for name in REPORTS}
        return {
            "files": len(summary.processed.get("facilities", [])),
            "failed": summary.failed,
            "stopped": summary.stopped_by_checks,
            "report_rows": rows,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _source(number: int, path: str) -> str:
    """One file's JSON objects with their record number, whatever the container."""
    quoted = path.replace("'", "''")
    if path.endswith(".ndjson"):
        return (
            f"SELECT {number} AS file_no, row_number() OVER () AS source_row, json AS j "
            f"FROM read_json_objects('{quoted}', format = 'newline_delimited', ignore_errors = true)"
        )
    head = Path(path).read_bytes()[:4096].decode("utf-8-sig", "ignore").lstrip()
    if head.startswith("["):
        return (
            f"SELECT {number} AS file_no, row_number() OVER () AS source_row, json AS j "
            f"FROM read_json_objects('{quoted}', format = 'array')"
        )
    # An object: a facility itself, or a wrapper holding one list of them.
    return f"""
        SELECT {number} AS file_no, generate_subscripts(items, 1) AS source_row, unnest(items) AS j
        FROM (
            SELECT CASE WHEN json_exists(json, '$.facility_id') THEN [json]
                ELSE (SELECT from_json(json -> ('$.' || k), '["JSON"]') FROM unnest(json_keys(json)) AS t(k)
                      WHERE json_type(json -> ('$.' || k)) = 'ARRAY' LIMIT 1) END AS items
            FROM read_json_objects('{quoted}', format = 'unstructured')
        )"""


def facilities_sql(files: list[str], out: str, as_of: str, horizon: int) -> list[str]:
    """Read every file, type the fields of both variants, drop error records, write the three reports."""
    # ISO, US, or an ISO date-time (its date as written), as the curation reads expiries.
    date = (
        "coalesce(try_strptime({0}, '%Y-%m-%d'), try_strptime({0}, '%m/%d/%Y'), CASE WHEN "
        "regexp_full_match({0}, '\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]\\d{{2}}:\\d{{2}}.*') "
        "THEN try_strptime(left({0}, 10), '%Y-%m-%d') END)::DATE"
    )
    from hc_pipeline.schemas.facilities import USPS_CODES

    states = ", ".join(f"'{code}'" for code in sorted(USPS_CODES))
    records = "\nUNION ALL\n".join(_source(i, f) for i, f in enumerate(sorted(files), start=1))
    typed = f"""
        CREATE TEMP TABLE latest AS
        WITH records AS ({records}),
        typed AS (
            SELECT file_no, source_row,
                nullif(trim(j ->> '$.facility_id'), '') AS facility_id,
                j ->> '$.facility_name' AS facility_name,
                upper(trim(coalesce(j ->> '$.location.state', j ->> '$.state'))) AS state,
                j ->> '$.employee_count' AS employee_text,
                try_cast(j ->> '$.employee_count' AS DOUBLE) AS employee_number,
                json_array_length(j -> '$.services') AS n_services,
                [{{'body': coalesce(a ->> '$.accreditation_body', a ->> '$.name'),
                   'id': coalesce(a ->> '$.accreditation_id', a ->> '$.id'),
                   'expiry_date': {date.format("coalesce(a ->> '$.valid_until', a ->> '$.expiry_date')")}}}
                 for a in from_json(coalesce(j -> '$.accreditations', '[]'), '["JSON"]')] AS accreditations
            FROM records
        ),
        valid AS (
            SELECT * FROM typed
            WHERE facility_id IS NOT NULL
              AND (employee_text IS NULL OR (employee_number = floor(employee_number) AND employee_number >= 0))
              AND state IN ({states})
              AND list_bool_and([x.expiry_date IS NOT NULL for x in accreditations] || [true])
        )
        SELECT * EXCLUDE (employee_text, employee_number), employee_number::BIGINT AS employee_count
        FROM valid
        QUALIFY row_number() OVER (PARTITION BY facility_id ORDER BY file_no DESC, source_row DESC) = 1
    """
    tiers = """
        CASE WHEN days < 0 THEN 'expired' WHEN days <= 30 THEN 'critical' WHEN days <= 60 THEN 'high'
             WHEN days <= 90 THEN 'medium' ELSE 'upcoming' END"""
    expiring = f"""
        SELECT facility_id, facility_name, state, a.body AS accreditation_body, a.id AS accreditation_id,
               a.expiry_date, date_diff('day', DATE '{as_of}', a.expiry_date) AS days
        FROM latest, unnest(accreditations) AS t(a)"""
    return [
        typed,
        f"""COPY (SELECT facility_id, facility_name, employee_count, n_services AS number_of_offered_services,
                   accreditations[1].expiry_date AS expiry_date_of_first_accreditation,
                   list_min([x.expiry_date for x in accreditations]) AS earliest_accreditation_expiry
                   FROM latest ORDER BY 6 NULLS LAST, facility_id) TO '{out}/facility_metrics.parquet'""",
        f"""COPY (SELECT * EXCLUDE (days), days AS days_to_expiry, {tiers} AS tier
                   FROM ({expiring}) WHERE days <= {horizon} ORDER BY days, facility_id)
            TO '{out}/expiring_accreditations.parquet'""",
        f"""COPY (SELECT state, count(*) AS facility_count, sum(employee_count)::BIGINT AS total_employees,
                   sum(len(accreditations))::BIGINT AS total_accreditations,
                   sum(len([x for x in accreditations
                            if date_diff('day', DATE '{as_of}', x.expiry_date) BETWEEN 0 AND {horizon}]))::BIGINT
                       AS expiring_count
                   FROM latest GROUP BY state ORDER BY state NULLS LAST) TO '{out}/state_counts.parquet'""",
    ]


def duckdb_baseline(meter, files: list[str], threads: int = 2) -> dict:
    """DuckDB: read_json_objects over every container, both variants typed in SQL, the three reports."""
    import duckdb

    out = scratch("facb-")
    try:
        con = duckdb.connect(config={"threads": threads})
        statements = facilities_sql(files, str(out), RUN_DATE.isoformat(), HORIZON_DAYS)
        with meter:
            for statement in statements:
                con.execute(statement)
        rows = {name: con.execute(f"SELECT count(*) FROM '{out}/{name}.parquet'").fetchall()[0][0] for name in REPORTS}
        return {"report_rows": rows}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(opts):
    """Facilities: hc_pipeline (4 files + reports) vs DuckDB, medians of `opts.repeat`."""
    from bench.inputs import facility_files
    from bench.measure import repeat
    from bench.report import Figures

    figures = Figures("facilities")
    files = [str(f) for f in facility_files()]
    records = 99_999
    figures.add(
        "facilities_records",
        records,
        "records",
        "facility records in 4 files: object, array (BOM), NDJSON, wrapper; both variants, 5% defects",
    )
    a = repeat(opts.repeat, "bench.facilities:hc_pipeline", files=files)
    b = repeat(opts.repeat, "bench.facilities:duckdb_baseline", files=files)
    for prefix, label, result in (
        ("facilities_a", "hc_pipeline: 4 per-file runs + 3 reports", a),
        ("facilities_b", "DuckDB read_json_objects + 3 reports", b),
    ):
        figures.add(f"{prefix}_wall_s", result["wall_s"], "s", f"{label}: wall")
        figures.add(f"{prefix}_records_per_s", records / result["wall_s"], "records/s", f"{label}: records per second")
        figures.add(f"{prefix}_cpu_s", result["cpu_s"], "s", f"{label}: CPU time, all threads")
        figures.add(f"{prefix}_peak_rss_mb", result["peak_rss_mb"], "MB", f"{label}: peak RSS during the work")
    figures.add("facilities_a_over_b", a["wall_s"] / b["wall_s"], "ratio", "wall (a) / wall (b)")
    figures.note(
        f"Medians of {opts.repeat} (walls (a) {a['all_wall_s']}, (b) {b['all_wall_s']}). "
        f"Report rows, hc_pipeline {a['report_rows']} vs DuckDB {b['report_rows']}: the baseline applies "
        "the error rules but not every nuance (e.g. duplicate ids across files are judged by landing time)."
    )
    return figures
