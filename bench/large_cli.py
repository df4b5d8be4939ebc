"""One large admissions file through the whole CLI as a user meets it (`hc-pipeline ingest` + `hc-pipeline run`,
process starts included), against one DuckDB rules+COPY pass over the same file, in the same run; peak RSS of
each command. Issue 15's targets: ratio <= 4 at 1M and 10M rows, each command's peak RSS <= 1.5 GB.

Where `run`'s time goes: the file's Dagster run, the reports' run over the lake, and what a `run` with nothing new
costs (process start, imports, the instance, the plan, the exit), measured by running it again."""

import json
import shutil
import statistics
import sys

from bench.inputs import RUN_DATE
from bench.measure import LOGS, run_piece, run_process


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hc_pipeline.cli", *args]


# Each Dagster run's wall in a home, and whether it is a file's (partitioned) run or the reports'.
_RUN_WALLS = (
    "import json, pathlib, sys; from hc_pipeline.runner import instance_for; "
    "runs = instance_for(pathlib.Path(sys.argv[1])).get_run_records(); "
    "print(json.dumps([['dagster/partition' in r.dagster_run.tags, r.end_time - r.start_time] for r in runs]))"
)


def cli_pass(csv: str, label: str) -> dict:
    """`ingest` then `run` in a fresh HC_HOME: each process's wall and peak RSS."""
    from bench.p1 import scratch

    home = scratch(f"cli-{label}-")
    env = {"HC_HOME": str(home)}
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        ingest = run_process(_cli("ingest", "patients", csv), LOGS / f"large_{label}_ingest.log", env=env)
        run = run_process(
            _cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / f"large_{label}_run.log", timeout=7200, env=env
        )
        again = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / f"large_{label}_again.log", env=env)
        runs = run_process([sys.executable, "-c", _RUN_WALLS, str(home)], LOGS / f"large_{label}_runs.log")
        for name, result in (("ingest", ingest), ("run", run), ("again", again), ("runs", runs)):
            if result["returncode"] != 0:
                raise RuntimeError(f"hc-pipeline {name} failed; see {LOGS / f'large_{label}_{name}.log'}")
        walls = json.loads(runs["stdout"])
        return {"ingest": ingest, "run": run, "again": again, "walls": walls, "stdout": run["stdout"]}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(opts):
    from bench.report import Figures

    figures = Figures("large_cli")
    for size in (n.strip() for n in opts.large_rows.split(",") if n.strip()):
        # "10000000x5": the 10M-row file five times over, patient ids distinct per copy.
        rows, copies = (int(n) for n in size.split("x")) if "x" in size else (int(size), 1)
        csv = _generated(rows, copies)
        rows *= copies
        label = f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"
        cli = cli_pass(csv, label)
        duck = [run_piece("bench.p1:duckdb_baseline", timeout=3600, csv=csv) for _ in range(opts.repeat)]
        duck_wall = statistics.median(d["wall_s"] for d in duck)
        total = cli["ingest"]["process_wall_s"] + cli["run"]["process_wall_s"]
        figures.add(f"large_cli_{label}_ingest_s", cli["ingest"]["process_wall_s"], "s", "`hc-pipeline ingest`")
        figures.add(f"large_cli_{label}_run_s", cli["run"]["process_wall_s"], "s", "`hc-pipeline run`")
        figures.add(
            f"large_cli_{label}_duckdb_s",
            duck_wall,
            "s",
            f"one DuckDB rules+COPY pass (the pass, as the issue's 1.03 s), median of {len(duck)}",
        )
        figures.add(
            f"large_cli_{label}_ratio", total / duck_wall, "x", f"{rows:,} rows: (ingest + run) / DuckDB; target <= 4"
        )
        again, reports = cli["again"]["process_wall_s"], sum(wall for file, wall in cli["walls"] if not file)
        figures.add(
            f"large_cli_{label}_file_run_s",
            sum(wall for file, wall in cli["walls"] if file),
            "s",
            "within `run`: the file's Dagster run (raw_records, curated_records, anomaly_report)",
        )
        figures.add(f"large_cli_{label}_reports_run_s", reports, "s", "within `run`: the reports' Dagster run")
        figures.add(
            f"large_cli_{label}_again_s", again, "s", "`hc-pipeline run` again with nothing new: what every run costs"
        )
        figures.add(
            f"large_cli_{label}_floor_ratio",
            (cli["ingest"]["process_wall_s"] + again + reports) / duck_wall,
            "x",
            "(ingest + a run with nothing new + the reports' run) / DuckDB: the ratio before the file's own run",
        )
        figures.add(
            f"large_cli_{label}_ingest_rss_mb",
            cli["ingest"]["process_peak_rss_mb"],
            "MB",
            "peak RSS of `ingest`; target <= 1,536",
        )
        figures.add(
            f"large_cli_{label}_run_rss_mb",
            cli["run"]["process_peak_rss_mb"],
            "MB",
            "peak RSS of `run`; target <= 1,536",
        )
        figures.add(
            f"large_cli_{label}_duckdb_rss_mb",
            statistics.median(d["process_peak_rss_mb"] for d in duck),
            "MB",
            "peak RSS of the DuckDB pass",
        )
        figures.note(
            f"{label}: `{cli['stdout'].splitlines()[0] if cli['stdout'] else ''}`; DuckDB walls {[round(d['process_wall_s'], 2) for d in duck]} s."
        )
    return figures


def _generated(rows: int, copies: int = 1) -> str:
    """The cached CSV, generated in a child process: a child forked from a process that holds the generated
    frame counts that memory in its own peak RSS (the 10M file made `ingest` look like 2.7 GB)."""
    code = f"from bench.inputs import patients_csv_copies as made; print(made({rows}, {copies}))"
    if copies == 1:
        code = f"from bench.inputs import patients_csv as made; print(made({rows}))"
    LOGS.mkdir(parents=True, exist_ok=True)
    out = run_process([sys.executable, "-c", code], LOGS / f"large_generate_{rows}.log", timeout=3600)
    if out["returncode"] != 0:
        raise RuntimeError(f"generating {rows:,} rows failed; see {LOGS / f'large_generate_{rows}.log'}")
    return out["stdout"].strip()
