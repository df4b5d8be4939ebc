"""Many small files: 300 admissions CSVs of 100 rows through `ingest + run`, against the same 30,000 rows as one
file through `ingest + run`, each in a fresh HC_HOME, in the same run."""

import shutil
import sys

from bench.inputs import RUN_DATE
from bench.measure import LOGS, run_process

FILES, ROWS_EACH = 300, 100


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hc_pipeline.cli", *args]


def ingest_and_run(files: list[str], name: str) -> dict:
    """Time `hc-pipeline ingest` of the files plus one `hc-pipeline run`; then a run with nothing new."""
    from bench.p1 import scratch

    home = scratch(f"{name}-")
    env = {"HC_HOME": str(home)}
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        ingest = run_process(_cli("ingest", "patients", *files), LOGS / f"{name}_ingest.log", env=env)
        full = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / f"{name}_run.log", env=env)
        again = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / f"{name}_again.log", env=env)
        if full["returncode"] != 0:
            raise RuntimeError(f"hc-pipeline run failed; see {LOGS / f'{name}_run.log'}")
        return {"ingest": ingest, "run": full, "again": again, "stdout": full["stdout"]}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(opts):
    from bench.inputs import patients_csv, small_patient_files
    from bench.report import Figures

    figures = Figures("small_files")
    files = [str(f) for f in small_patient_files(FILES, ROWS_EACH)]
    one = [str(patients_csv(FILES * ROWS_EACH))]
    many_result = ingest_and_run(files, "small")
    one_result = ingest_and_run(one, "one")
    many = many_result["ingest"]["process_wall_s"] + many_result["run"]["process_wall_s"]
    single = one_result["ingest"]["process_wall_s"] + one_result["run"]["process_wall_s"]
    figures.add("small_files_files", len(files), "files", f"admissions CSVs of {ROWS_EACH} rows (three styles)")
    figures.add("small_files_total_wall_s", many, "s", "`ingest` + `run` of all of them, process starts included")
    figures.add(
        "small_files_one_file_wall_s", single, "s", f"`ingest` + `run` of {FILES * ROWS_EACH:,} rows as one file"
    )
    figures.add("small_files_ratio", many / single, "x", "many files / one file; target <= 5")
    figures.add("small_files_per_file_s", many / len(files), "s", "total wall / files")
    figures.add("small_files_rerun_s", many_result["again"]["process_wall_s"], "s", "`run` again: nothing new")
    figures.add("small_files_peak_rss_mb", many_result["run"]["process_peak_rss_mb"], "MB", "peak RSS of the run")
    figures.note("`" + " / ".join(line for line in many_result["stdout"].splitlines()[-4:]) + "`.")
    return figures
