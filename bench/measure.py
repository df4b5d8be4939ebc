"""Run each measured piece in a fresh process: wall time, peak RSS of the work, peak RSS of the process."""

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.inputs import CACHE

MARK = "BENCH-RESULT "
LOGS = CACHE / "logs"
ROOT = Path(__file__).resolve().parent.parent


def run_piece(target: str, timeout: float = 3600, env: dict | None = None, **kwargs) -> dict:
    """`bench.child` running `target` ("module:function") with kwargs; its result plus process wall and peak RSS."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{target.replace(':', '.')}.log"
    cmd = [sys.executable, "-m", "bench.child", target, json.dumps(kwargs)]
    result = run_process(cmd, log, timeout, env)
    lines = [line for line in result.pop("stdout").splitlines() if line.startswith(MARK)]
    if result["returncode"] != 0 or not lines:
        raise RuntimeError(f"{target} failed (exit {result['returncode']}); see {log}")
    return {**json.loads(lines[-1][len(MARK) :]), **result}


def run_process(cmd: list[str], log: Path, timeout: float = 3600, env: dict | None = None) -> dict:
    """Run a command; wall clock from fork to exit and the peak RSS of it and its descendants (wait4)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", **(env or {})}
    with open(log, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=full_env, cwd=ROOT, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        out = proc.stdout.read()  # small: one result line
        # Reap with wait4 for this child's own rusage (its peak RSS, not the max over every child so far).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "stdout": out,
        "returncode": proc.returncode,
        "process_wall_s": wall,
        "process_cpu_s": usage.ru_utime + usage.ru_stime,
        "process_peak_rss_mb": usage.ru_maxrss / 1024,
    }


def median_of(runs: list[dict], key: str = "wall_s") -> dict:
    """Field-wise median of numeric results (the run with the median `key` for anything else)."""
    ordered = sorted(runs, key=lambda r: r[key])
    middle = dict(ordered[len(ordered) // 2])
    for field, value in middle.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            middle[field] = statistics.median(r[field] for r in runs)
    middle["runs"] = len(runs)
    middle["all_" + key] = [round(r[key], 3) for r in runs]
    return middle


def repeat(n: int, target: str, key: str = "wall_s", **kwargs) -> dict:
    """`run_piece` n times in fresh processes; the field-wise median."""
    return median_of([run_piece(target, **kwargs) for _ in range(n)], key)


def machine() -> dict:
    """Cores, memory, CPU model, Python and the versions that matter, for the results table."""
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    versions = {}
    for name in ("dagster", "pandas", "pyarrow", "duckdb", "pandera", "numpy", "moto"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024**2, 1),
        "cpu": model,
        "python": platform.python_version(),
        "versions": versions,
    }
