"""Many small files: 300 admissions CSVs of 100 rows through `ingest + run`, against the same 30,000 rows as one
file through `ingest + run`, each in a fresh HC_HOME, in the same run; on the default SQLite instance, then on
the production storage (PostgreSQL with its default durability, as in deploy/dagster.yaml)."""

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.inputs import RUN_DATE
from bench.measure import LOGS, run_piece, run_process

FILES, ROWS_EACH = 300, 100
# deploy/dagster.yaml's storage, the port from the environment (the bench's server listens on a free one).
POSTGRES_STORAGE = """storage:
  postgres:
    postgres_db:
      hostname: {env: DAGSTER_PG_HOST}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: {env: DAGSTER_PG_DB}
      port: {env: DAGSTER_PG_PORT}
      scheme: postgresql+psycopg2
telemetry:
  enabled: false
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hc_pipeline.cli", *args]


@contextlib.contextmanager
def _home(name: str, postgres: dict | None = None) -> Iterator[tuple[Path, dict]]:
    """A fresh HC_HOME and the environment that points there (and at `postgres`'s DAGSTER_PG_* if given)."""
    from bench.p1 import scratch

    home = scratch(f"{name}-")
    env = {"HC_HOME": str(home), **(postgres or {})}
    if postgres:
        (home / "dagster").mkdir()
        (home / "dagster" / "dagster.yaml").write_text(POSTGRES_STORAGE)
    try:
        yield home, env
    finally:
        shutil.rmtree(home, ignore_errors=True)


def ingest_and_run(files: list[str], name: str, postgres: dict | None = None) -> dict:
    """Time `hc-pipeline ingest` of the files plus one `hc-pipeline run`; then a run with nothing new.

    `postgres`: the DAGSTER_PG_* variables of a database the instance keeps its storage in (else SQLite).
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    with _home(name, postgres) as (_, env):
        ingest = run_process(_cli("ingest", "patients", *files), LOGS / f"{name}_ingest.log", env=env)
        full = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / f"{name}_run.log", env=env)
        again = run_process(_cli("run", "--as-of", RUN_DATE.isoformat()), LOGS / f"{name}_again.log", env=env)
        if full["returncode"] != 0:
            raise RuntimeError(f"hc-pipeline run failed; see {LOGS / f'{name}_run.log'}")
        return {"ingest": ingest, "run": full, "again": again, "stdout": full["stdout"]}


def event_floor(name: str, postgres: dict | None = None) -> dict:
    """Dagster alone: one run recording the FILES files' materializations and check results, nothing else."""
    with _home(name, postgres) as (home, env):
        found = run_piece("bench.event_floor:record_events", env=env, home=str(home), files=FILES)
    recorded = found["materializations"] + found["check_evaluations"]
    if not found["success"] or recorded != FILES * found["events_per_file"]:
        raise RuntimeError(f"the event floor run recorded {recorded} events, not {FILES * found['events_per_file']}")
    return found


def run(opts):
    from bench.inputs import patients_csv, small_patient_files
    from bench.report import Figures

    figures = Figures("small_files")
    files = [str(f) for f in small_patient_files(FILES, ROWS_EACH)]
    one = [str(patients_csv(FILES * ROWS_EACH))]
    many_result = ingest_and_run(files, "small")
    one_result = ingest_and_run(one, "one")
    many, single = _walls(many_result), _walls(one_result)
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
    _add_floor(figures, "small_files_event_floor", event_floor("floor"), single, "")
    _on_postgres(figures, files, one)
    return figures


def _walls(result: dict) -> float:
    return result["ingest"]["process_wall_s"] + result["run"]["process_wall_s"]


def _on_postgres(figures, files: list[str], one: list[str]) -> None:
    """The same pair with the instance's storage in PostgreSQL (fsync on), each in a database of its own."""
    from bench.p1 import scratch
    from bench.postgres import PostgresServer, postgres_bin

    found = postgres_bin()
    if found is None:
        figures.note("PostgreSQL is not installed (`make postgres`): the production-storage pair was not measured.")
        return
    server = PostgresServer(found, scratch("pg-"), durable=True).start()
    try:
        walls = {}
        for name, chosen in (("small_pg", files), ("one_pg", one)):
            server.create_database(name)
            walls[name] = _walls(ingest_and_run(chosen, name, {**server.env, "DAGSTER_PG_DB": name}))
        server.create_database("floor_pg")
        floor = event_floor("floor_pg", {**server.env, "DAGSTER_PG_DB": "floor_pg"})
    finally:
        server.stop()
    figures.add("small_files_pg_total_wall_s", walls["small_pg"], "s", "the many files, instance storage in Postgres")
    figures.add("small_files_pg_one_file_wall_s", walls["one_pg"], "s", "the one file, instance storage in Postgres")
    figures.add("small_files_pg_ratio", walls["small_pg"] / walls["one_pg"], "x", "many / one on Postgres; target <= 5")
    _add_floor(figures, "small_files_pg_event_floor", floor, walls["one_pg"], " on Postgres")


def _add_floor(figures, name: str, floor: dict, single: float, where: str) -> None:
    """The floor run's wall, per event, and against the one file's `ingest` + `run`."""
    events = floor["files"] * floor["events_per_file"]
    what = f"{floor['files']} files x {floor['events_per_file']} events (materializations, check results)"
    figures.add(f"{name}_s", floor["wall_s"], "s", f"Dagster recording only the {what}{where}")
    figures.add(f"{name}_ms_per_event", floor["wall_s"] / events * 1000, "ms", f"the floor run per event{where}")
    figures.add(
        f"{name}_ratio",
        floor["wall_s"] / single,
        "x",
        f"the floor run / one file{where}: the least the many files can cost",
    )
