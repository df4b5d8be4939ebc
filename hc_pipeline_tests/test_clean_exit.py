"""The test suite's own exit is clean, as every command's is: no duckdb "nanobind: leaked ..." screens."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_tests_that_run_the_cli_in_process_leave_pytest_a_clean_exit():
    # `hc-pipeline run` freezes what it has loaded; called in this process, that had included DuckDB's objects.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "test_run_failures.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "passed" in done.stdout and "nanobind" not in done.stdout + done.stderr, done.stderr[-2000:]
