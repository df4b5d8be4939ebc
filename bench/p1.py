"""The measured pieces of P1: (a) hc_pipeline through Dagster, (b) one DuckDB pass, (c) a Lambda-style script."""

import json
import shutil
import tempfile
from pathlib import Path

from bench.inputs import CACHE, RUN_DATE
from bench.report import Figures

ERROR_RULES = (
    "missing_patient_id",
    "missing_admission_date",
    "unparseable_date",
    "unparseable_age",
    "age_out_of_range",
    "discharge_before_admission",
    "future_admission",
    "duplicate_row",
)


def scratch(prefix: str) -> Path:
    (CACHE / "tmp").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=CACHE / "tmp"))


def startup(meter) -> dict:
    """Process start + import of the code location (what `hc-pipeline run` and `dagster` pay first)."""
    import hc_pipeline.definitions  # noqa: F401

    return {}


def hc_pipeline(meter, csv: str, profile: str | None = None) -> dict:
    """(a) raw_records -> curated + quarantined + checks -> anomaly_report, one `materialize`, local storage."""
    import dagster as dg

    from hc_pipeline.assets import patients
    from hc_pipeline.deployment import build_resources
    from hc_pipeline.partitions import files_partitions, partition_key_for
    from hc_pipeline.planner import run_tags
    from hc_pipeline.runner import instance_for

    home = scratch("p1a-")
    try:
        resources = build_resources({"HC_HOME": str(home)})
        obj = resources["landing"].put(f"patients/{Path(csv).name}", Path(csv).read_bytes())
        instance = instance_for(home)
        key = partition_key_for(obj.key, obj.version)
        instance.add_dynamic_partitions(files_partitions["patients"].name, [key])
        run_config = {"ops": {"patients_curated_records": {"config": {"run_date": RUN_DATE.isoformat()}}}}
        profiler = _profiler(profile)
        with meter:
            result = dg.materialize(
                patients.per_file_assets,
                partition_key=key,
                instance=instance,
                resources=resources,
                tags=run_tags(obj),
                run_config=run_config,
                raise_on_error=False,
            )
        if profiler:
            _save_profile(profiler, profile)
        steps = {
            s.step_key: round(s.end_time - s.start_time, 3)
            for s in instance.get_run_step_stats(result.run_id)
            if s.end_time and s.start_time
        }
        insight = json.loads(next((home / "insights" / "patients").glob("*.json")).read_text())
        checks = {
            e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }
        return {
            "success": result.success,
            "steps_s": steps,
            "records": insight["records"],
            "counts_per_rule": insight["counts_per_rule"],
            "checks_passed": checks,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _profiler(path: str | None):
    if not path:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.005)
    profiler.start()
    return profiler


def _save_profile(profiler, path: str) -> None:
    profiler.stop()
    Path(path).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    Path(path).with_suffix(".all.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=True))
    Path(path).with_suffix(".html").write_text(profiler.output_html())


def duckdb_sql(csv: str, out: str, run_date: str) -> list[str]:
    """(b) as SQL: read every column as text, flag the error rules once, count them, copy the passing rows."""
    path = csv.replace("'", "''")
    columns = "patient_id, age, gender, admission_date, discharge_date, diagnosis, diagnosis_code"
    trimmed = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in columns.split(", "))
    return [
        f"""
        CREATE TEMP TABLE flagged AS
        WITH raw AS (
            SELECT row_number() OVER () AS source_row, {trimmed}
            FROM read_csv('{path}', all_varchar = true, header = true)
        ),
        parsed AS (
            SELECT *,
                try_cast(age AS DOUBLE) AS age_n,
                coalesce(try_strptime(admission_date, '%Y-%m-%d'), try_strptime(admission_date, '%m/%d/%Y'))::DATE AS adm,
                coalesce(try_strptime(discharge_date, '%Y-%m-%d'), try_strptime(discharge_date, '%m/%d/%Y'))::DATE AS dis,
                row_number() OVER (PARTITION BY {columns} ORDER BY source_row) > 1 AS duplicate_row
            FROM raw
        )
        SELECT *,
            patient_id IS NULL AS missing_patient_id,
            admission_date IS NULL AS missing_admission_date,
            (admission_date IS NOT NULL AND adm IS NULL) OR (discharge_date IS NOT NULL AND dis IS NULL) AS unparseable_date,
            age IS NOT NULL AND (age_n IS NULL OR age_n <> floor(age_n)) AS unparseable_age,
            coalesce(age_n = floor(age_n) AND (age_n < 0 OR age_n > 120), false) AS age_out_of_range,
            coalesce(dis < adm, false) AS discharge_before_admission,
            coalesce(adm > DATE '{run_date}', false) AS future_admission
        FROM parsed
        """,
        "SELECT " + ", ".join(f"count_if({r}) AS {r}" for r in ERROR_RULES) + " FROM flagged",
        f"""
        COPY (
            SELECT patient_id, age_n::BIGINT AS age,
                CASE lower(gender) WHEN 'm' THEN 'Male' WHEN 'male' THEN 'Male' WHEN 'f' THEN 'Female'
                    WHEN 'female' THEN 'Female' WHEN 'o' THEN 'Other' WHEN 'other' THEN 'Other'
                    WHEN 'u' THEN 'Unknown' WHEN 'unknown' THEN 'Unknown'
                    ELSE CASE WHEN gender IS NULL THEN NULL ELSE 'Unknown' END END AS gender,
                adm AS admission_date, dis AS discharge_date, diagnosis, upper(diagnosis_code) AS diagnosis_code,
                dis - adm AS length_of_stay_days, source_row
            FROM flagged
            WHERE NOT ({" OR ".join(ERROR_RULES)})
            ORDER BY source_row
        ) TO '{out.replace("'", "''")}' (FORMAT parquet)
        """,
    ]


def duckdb_baseline(meter, csv: str, threads: int = 2) -> dict:
    """(b) the near-limit: one DuckDB pass over the CSV, error rules counted, curated rows to parquet."""
    import duckdb

    out = scratch("p1b-")
    try:
        con = duckdb.connect(config={"threads": threads})
        create, count, copy = duckdb_sql(csv, str(out / "curated.parquet"), RUN_DATE.isoformat())
        with meter:
            con.execute(create)
            counts = con.execute(count).fetchall()[0]
            con.execute(copy)
        curated = con.execute(f"SELECT count(*) FROM read_parquet('{out}/curated.parquet')").fetchall()[0][0]
        return {"counts_per_rule": dict(zip(ERROR_RULES, counts)), "curated_rows": curated}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def lambda_style(meter, csv: str) -> dict:
    """(c) what teams run in Lambdas today, written plainly: read, strip every cell, loop over rows."""
    import datetime
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore", FutureWarning)  # applymap is deprecated in pandas 2.1; teams still call it
    out = scratch("p1c-")
    today = RUN_DATE

    def parse_date(value):
        for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
            try:
                return datetime.datetime.strptime(value, fmt).date()
            except ValueError:
                pass
        return None

    try:
        with meter:
            df = pd.read_csv(csv, dtype=str, keep_default_na=False)
            df = df.applymap(lambda v: v.strip() if isinstance(v, str) else v)
            findings, clean = [], []
            for index, row in df.iterrows():
                problems = []
                if not row["patient_id"]:
                    problems.append("missing_patient_id")
                if row["age"]:
                    try:
                        age = float(row["age"])
                        if age != int(age):
                            problems.append("unparseable_age")
                        elif age < 0 or age > 120:
                            problems.append("age_out_of_range")
                    except ValueError:
                        problems.append("unparseable_age")
                admitted = discharged = None
                if not row["admission_date"]:
                    problems.append("missing_admission_date")
                else:
                    admitted = parse_date(row["admission_date"])
                if row["discharge_date"]:
                    discharged = parse_date(row["discharge_date"])
                if (row["admission_date"] and admitted is None) or (row["discharge_date"] and discharged is None):
                    problems.append("unparseable_date")
                if admitted and discharged and discharged < admitted:
                    problems.append("discharge_before_admission")
                if admitted and admitted > today:
                    problems.append("future_admission")
                for problem in problems:
                    findings.append({"row": index + 1, "patient_id": row["patient_id"], "rule": problem})
                if not problems:
                    clean.append(index)
            df.loc[clean].to_csv(out / "clean.csv", index=False)
            with open(out / "findings.json", "w") as handle:
                json.dump({"records": len(df), "anomalies_detected": len(findings), "findings": findings}, handle)
        counts = pd.Series([f["rule"] for f in findings], dtype=object).value_counts().to_dict()
        return {"counts_per_rule": {k: int(v) for k, v in sorted(counts.items())}, "curated_rows": len(clean)}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _add_piece(figures, prefix: str, label: str, result: dict, rows: int, csv_mb: float) -> None:
    figures.add(f"{prefix}_wall_s", result["wall_s"], "s", f"{label}: wall")
    figures.add(f"{prefix}_rows_per_s", rows / result["wall_s"], "rows/s", f"{label}: rows per second")
    figures.add(f"{prefix}_cpu_s", result["cpu_s"], "s", f"{label}: CPU time, all threads")
    figures.add(f"{prefix}_peak_rss_mb", result["peak_rss_mb"], "MB", f"{label}: peak RSS during the work")
    growth = result["peak_rss_mb"] - result["base_rss_mb"]
    figures.add(f"{prefix}_rss_growth_mb", growth, "MB", f"{label}: peak RSS minus RSS before the work (imports)")


def run(opts) -> Figures:
    """P1 at `opts.rows` rows: (a), (b) medians of `opts.repeat`, (c) once; ratios a/b and c/a."""
    from bench.inputs import patients_csv
    from bench.measure import repeat, run_piece

    figures = Figures("p1")
    rows = opts.rows
    csv = patients_csv(rows)
    csv_mb = csv.stat().st_size / 1e6
    figures.add("p1_rows", rows, "rows", "admission rows in the one CSV (5% defects, 15% US dates)")
    figures.add("p1_csv_mb", csv_mb, "MB", "CSV size")
    startup = repeat(opts.repeat, "bench.p1:startup", key="process_wall_s")
    figures.add(
        "p1_startup_s",
        startup["process_wall_s"],
        "s",
        "process start + `import hc_pipeline.definitions` (Dagster, pandas, pandera, pyarrow, duckdb)",
    )
    a = repeat(opts.repeat, "bench.p1:hc_pipeline", csv=str(csv))
    b = repeat(opts.repeat, "bench.p1:duckdb_baseline", csv=str(csv))
    c = run_piece("bench.p1:lambda_style", csv=str(csv)) if not opts.skip_lambda else None
    _add_piece(figures, "p1_a", "(a) hc_pipeline materialize", a, rows, csv_mb)
    for step, seconds in a["steps_s"].items():
        figures.add(
            f"p1_a_step_{step.split('__')[-1].removeprefix('patients_')}_s",
            seconds,
            "s",
            f"(a) Dagster step `{step}` (one run)",
        )
    figures.add("p1_a_with_startup_s", a["wall_s"] + startup["process_wall_s"], "s", "(a) plus process start + import")
    _add_piece(figures, "p1_b", "(b) DuckDB one pass", b, rows, csv_mb)
    if c:
        _add_piece(figures, "p1_c", "(c) Lambda-style pandas", c, rows, csv_mb)
    figures.add("p1_a_over_b", a["wall_s"] / b["wall_s"], "ratio", "wall (a) / wall (b); target <= 2.0")
    if c:
        figures.add("p1_c_over_a", c["wall_s"] / a["wall_s"], "ratio", "wall (c) / wall (a); target >= 5")
    figures.add(
        "p1_a_cpu_over_b", a["cpu_s"] / b["cpu_s"], "ratio", "CPU (a) / CPU (b): less sensitive to a busy machine"
    )
    figures.add(
        "p1_a_rss_over_csv",
        (a["peak_rss_mb"] - a["base_rss_mb"]) / csv_mb,
        "ratio",
        "(a) peak RSS growth / CSV size; target <= 3",
    )
    figures.add(
        "p1_a_peak_rss_over_csv", a["peak_rss_mb"] / csv_mb, "ratio", "(a) peak RSS, imports included / CSV size"
    )
    _compare_counts(figures, a, b, c)
    figures.note(
        f"(a) and (b): medians of {opts.repeat} fresh processes (walls (a) {a['all_wall_s']}, "
        f"(b) {b['all_wall_s']}); (c) one run. (a) checks passed: {a['checks_passed']}."
    )
    return figures


def _compare_counts(figures, a: dict, b: dict, c: dict | None) -> None:
    """The three engines must agree on the error rules, or the comparison is void."""
    hc = {r: a["counts_per_rule"].get(r, 0) for r in ERROR_RULES}
    differs = {r: (hc[r], b["counts_per_rule"][r]) for r in ERROR_RULES if hc[r] != b["counts_per_rule"][r]}
    figures.note(
        "Error-rule counts, hc_pipeline vs DuckDB: " + ("identical: " + str(hc) if not differs else f"DIFFER {differs}")
    )
    if c:
        lam = c["counts_per_rule"]
        differs = {r: (hc[r], lam.get(r, 0)) for r in lam if hc.get(r) != lam.get(r, 0)}
        figures.note(
            "Lambda-style checks age and dates only (no duplicates); its counts "
            + ("match hc_pipeline's." if not differs else f"differ: {differs}")
        )


def run_5m(opts) -> Figures:
    """P1 at 5,000,000 rows, (a) and (b) once each: does it complete, and the ratio."""
    from bench.inputs import patients_csv
    from bench.measure import run_piece

    figures = Figures("p1_5m")
    rows = 5_000_000
    csv = patients_csv(rows)
    csv_mb = csv.stat().st_size / 1e6
    figures.add("p1_5m_csv_mb", csv_mb, "MB", "CSV size")
    try:
        a = run_piece("bench.p1:hc_pipeline", csv=str(csv))
        completed = int(bool(a.get("success")))
    except RuntimeError as error:
        a, completed = None, 0
        figures.note(f"(a) failed at 5M rows: {error}")
    figures.add("p1_5m_a_completed", completed, "bool", "(a) finished successfully on this machine")
    b = run_piece("bench.p1:duckdb_baseline", csv=str(csv))
    if a:
        _add_piece(figures, "p1_5m_a", "(a) hc_pipeline materialize", a, rows, csv_mb)
    _add_piece(figures, "p1_5m_b", "(b) DuckDB one pass", b, rows, csv_mb)
    if a:
        figures.add("p1_5m_a_over_b", a["wall_s"] / b["wall_s"], "ratio", "wall (a) / wall (b)")
        figures.add(
            "p1_5m_a_rss_over_csv",
            (a["peak_rss_mb"] - a["base_rss_mb"]) / csv_mb,
            "ratio",
            "(a) peak RSS growth / CSV size",
        )
        figures.note(f"(a) steps: {a['steps_s']}")
    figures.note("One run each (minutes).")
    return figures
