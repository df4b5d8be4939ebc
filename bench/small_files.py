"""Small files: 200 admissions CSVs of 100 rows through `hc-pipeline run`, in a fresh HC_HOME."""

import shutil
import sys

from bench.inputs import RUN_DATE
from bench.measure import LOGS, run_process


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hc_pipeline.cli", *args]


def run_once(files: list[str]) -> dict:
    """Land the files (untimed), then time one `hc-pipeline run` and one with nothing new."""
    from bench.p1 import scratch

    home = scratch("small-")
    env = {"HC_HOME": str(home)}
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        empty = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / "small_empty.log", env=env)
        if files:
            run_process(_cli("ingest", "patients", *files), LOGS / "small_ingest.log", env=env)
        full = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / "small_run.log", env=env)
        again = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / "small_again.log", env=env)
        if full["returncode"] != 0:
            raise RuntimeError(f"hc-pipeline run failed; see {LOGS / 'small_run.log'}")
        return {"empty": empty, "full": full, "again": again, "stdout": full["stdout"]}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(opts):
    from bench.inputs import small_patient_files
    from bench.report import Figures

    figures = Figures("small_files")
    files = [str(f) for f in small_patient_files(200, 100)]
    result = run_once(files)
    n = len(files)
    empty, full, again = (result[k]["process_wall_s"] for k in ("empty", "full", "again"))
    figures.add("small_files_files", n, "files", "admissions CSVs of 100 rows (three header/date styles)")
    figures.add("small_files_total_wall_s", full, "s", "`hc-pipeline run` over all of them, process start to exit")
    figures.add(
        "small_files_empty_run_s", empty, "s", "`hc-pipeline run` with nothing landed (start, import, instance)"
    )
    figures.add("small_files_rerun_s", again, "s", "`hc-pipeline run` again: nothing new to do")
    figures.add("small_files_per_file_s", full / n, "s", "total wall / files")
    figures.add(
        "small_files_per_file_overhead_s",
        (full - empty) / n,
        "s",
        "(run - empty run) / files: what each file costs; target <= 1 s",
    )
    figures.add("small_files_peak_rss_mb", result["full"]["process_peak_rss_mb"], "MB", "peak RSS of the run process")
    figures.note("One run each; `" + " / ".join(line for line in result["stdout"].splitlines()[:2]) + "`.")
    return figures
