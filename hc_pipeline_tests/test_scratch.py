"""A spill folder left by a killed process is removed by the next one to make a folder of its kind."""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from hc_pipeline.scratch import scratch_folder

HOLD = """
import sys, time
from hc_pipeline.scratch import scratch_folder
with scratch_folder(sys.argv[1]) as folder:
    (folder / "spill.parquet").write_bytes(b"x" * 1000)
    print(folder, flush=True)
    time.sleep(120)
"""


def _holding(kind: str, env: dict) -> tuple[subprocess.Popen, Path]:
    """A process inside `scratch_folder(kind)`, and its folder."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, kind], env=env, stdout=subprocess.PIPE, text=True)
    return proc, Path(proc.stdout.readline().strip())


def test_a_killed_process_folder_goes_and_a_running_one_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this process's temporary directory, as TMPDIR sets theirs
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    killed, orphan = _holding("keys", env)
    running, alive = _holding("keys", env)
    other, other_kind = _holding("duckdb", env)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert orphan.is_dir() and orphan.parent == tmp_path and str(killed.pid) in orphan.name
        with scratch_folder("keys") as mine:
            assert not orphan.exists()
            assert alive.is_dir() and other_kind.is_dir() and mine.is_dir()
        assert not mine.exists()
    finally:
        for proc in (running, other):
            proc.kill()
            proc.wait()
    with scratch_folder("duckdb"):
        assert not other_kind.exists() and alive.is_dir()  # each kind is swept by its own
    with scratch_folder("keys"):
        assert not alive.exists()
    assert not list(tmp_path.iterdir())
