"""Fast commands: process walls of `--help`, `query "select 1"` and `ingest` of a small file, their import time
breakdown, and local landing listings of 10,000 files with and without remembered digests."""

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.measure import LOGS, run_process

HC = str(Path(sys.executable).parent / "hc-pipeline")


CPU_S: dict[str, float] = {}


def _median_wall(cmd: list[str], env: dict, runs: int, name: str) -> float:
    """Median process wall; the median CPU (user + system) goes to CPU_S: on a loaded machine it is the steadier."""
    walls, cpus = [], []
    for _ in range(runs):
        result = run_process(cmd, LOGS / f"fast_{name}.log", env=env)
        if result["returncode"] != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed; see {LOGS / f'fast_{name}.log'}")
        walls.append(result["process_wall_s"])
        cpus.append(result["process_cpu_s"])
    CPU_S[name] = statistics.median(cpus)
    return statistics.median(walls)


def import_breakdown(args: list[str], env: dict) -> dict[str, float]:
    """Cumulative import milliseconds of each top-level module the command imports (`python -X importtime`)."""
    code = f"import sys; from hc_pipeline.cli import main; sys.exit(main({args!r}))"
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    top = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|"))
        # Top-level lines carry no indentation before the module name.
        if not line.rsplit("|", 1)[-1].startswith("  ") and cumulative.isdigit():
            top[name] = top.get(name, 0) + int(cumulative) / 1000
    return dict(sorted(top.items(), key=lambda item: -item[1]))


def listing(count: int, scratch: Path) -> dict[str, float]:
    """Seconds to list `count` landed files: the old way (MD5 of every file), first listing, listing again."""
    from hc_pipeline.stores.local_landing import LocalLanding

    folder = scratch / "landing" / "patients"
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"adm_{i:05}.csv").write_bytes(b"patient_id,age\n" + f"P{i},{i % 90}\n".encode() * 200)
    copied_in = time.time() - 60  # files copied in a minute ago: settled, so listed
    for path in folder.iterdir():
        os.utime(path, (copied_in, copied_in))
    start = time.perf_counter()
    for path in sorted(folder.iterdir()):  # what LocalLandingZone.list_objects did on every call
        hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    old = time.perf_counter() - start
    first_landing = LocalLanding(scratch)
    start = time.perf_counter()
    first_landing.list_objects("patients")
    first = time.perf_counter() - start
    again_landing = LocalLanding(scratch)
    start = time.perf_counter()
    assert len(again_landing.list_objects("patients")) == count
    again = time.perf_counter() - start
    return {
        "old_s": old,
        "first_s": first,
        "again_s": again,
        "bytes_hashed_first": first_landing.bytes_hashed,
        "bytes_hashed_again": again_landing.bytes_hashed,
    }


def run(opts):
    from bench.p1 import scratch
    from bench.report import Figures

    figures = Figures("fast_commands")
    runs = max(5, opts.repeat)
    home = scratch("fast-")
    env = {"HC_HOME": str(home / "home")}
    small = home / "small.csv"
    small.write_text("patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,F,2024-01-02,,Asthma\n")
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        start = _median_wall([sys.executable, "-c", "pass"], env, runs, "python")
        floor = _median_wall([sys.executable, "-c", "import duckdb, sqlglot"], env, runs, "floor")
        dagster = _median_wall([sys.executable, "-c", "import hc_pipeline.definitions"], env, runs, "defs")
        help_s = _median_wall([HC, "--help"], env, runs, "help")
        query = _median_wall([HC, "query", "select 1"], env, runs, "query")
        ingest = _median_wall([HC, "ingest", "patients", str(small)], env, runs, "ingest")
        figures.add("fast_python_start_s", start, "s", "`python -c pass`: the interpreter alone")
        figures.add("fast_duckdb_sqlglot_import_s", floor, "s", "`python -c 'import duckdb, sqlglot'`: query's floor")
        figures.add(
            "fast_definitions_import_s", dagster, "s", "`import hc_pipeline.definitions`: what each command paid before"
        )
        figures.add("fast_help_s", help_s, "s", "`hc-pipeline --help`, process start to exit")
        figures.add("fast_query_select_1_s", query, "s", '`hc-pipeline query "select 1"`; target <= 0.5 s')
        figures.add("fast_ingest_small_s", ingest, "s", "`hc-pipeline ingest patients small.csv`; target <= 0.5 s")
        for name, what in (("defs", "import of the code location"), ("query", "query"), ("ingest", "ingest")):
            figures.add(f"fast_{name}_cpu_s", CPU_S[name], "s", f"CPU (user + system) of {what}")
        figures.add("fast_query_over_floor", query / floor, "x", "query wall / (import duckdb, sqlglot) wall")
        figures.add("fast_query_over_definitions", query / dagster, "x", "query wall / import of the code location")
        for command, args in (("query", ["query", "select 1"]), ("ingest", ["ingest", "patients", str(small)])):
            top = list(import_breakdown(args, env).items())[:6]
            figures.note(f"`{command}` imports (cumulative ms, top 6): " + ", ".join(f"{n} {ms:.0f}" for n, ms in top))
        listed = listing(opts.landing_files, home / "listing")
        n = opts.landing_files
        figures.add("landing_list_files", n, "files", "files in the local landing folder")
        figures.add("landing_list_old_md5_all_s", listed["old_s"], "s", "MD5 of every file: what each listing did")
        figures.add("landing_list_first_s", listed["first_s"], "s", "first listing: hashes every file, fills the index")
        figures.add("landing_list_again_s", listed["again_s"], "s", "listing again, nothing new (a new process's view)")
        figures.add(
            "landing_list_again_bytes_read", listed["bytes_hashed_again"], "bytes", "file content read by that listing"
        )
        figures.add("landing_list_again_over_old", listed["again_s"] / listed["old_s"], "x", "again / old way")
        figures.note(f"Medians of {runs} fresh processes per command; the machine's load shows in the floor figures.")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return figures
